package dev.faketikv.server.backup;

import com.google.protobuf.ByteString;
import dev.faketikv.engine.mvcc.KeyLockedException;
import dev.faketikv.engine.mvcc.Lock;
import dev.faketikv.engine.mvcc.LockType;
import dev.faketikv.engine.region.Peer;
import dev.faketikv.engine.region.Region;
import dev.faketikv.server.control.FailPoints;
import dev.faketikv.server.control.FaultRules;
import dev.faketikv.server.control.FaultRules.Rule;
import io.grpc.Status;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.tikv.kvproto.Brpb.BackupResponse;
import org.tikv.kvproto.Errorpb;

/**
 * Applies fault rules and the {@code backup_before_scan} failpoint to one region range, before a scan
 * worker backs it up. A rule that answers the range (a region error, a lock, a storage error, a gRPC
 * status) replaces the backup of that range; {@code delay} and {@code hang} only hold it back.
 * Stateless; called on scan worker threads.
 */
final class FaultInjector {
    private FaultInjector() {}

    /** True when the range was answered (or the call ended) by a fault and must not be backed up. */
    static boolean beforeRange(RequestContext ctx, BackupRange range) {
        Optional<String> fp = ctx.failPoint("backup_before_scan");
        if (fp.isPresent()) {
            ctx.sendError(new InjectedError(fp.get()));
            return true;
        }
        FaultRules rules = ctx.faultRules();
        if (rules.rules().isEmpty()) {
            return false;
        }
        byte[] start = ctx.responseKey(range.startKey());
        byte[] end = ctx.responseKey(range.endKey());
        Rule r = rules.forRange(new FaultRules.Site(ctx.task().number(), ctx.storeId(), ctx.task().isRawKv(),
                ctx.task().cf().cfName(), range.region().id(), start, end));
        if (r == null) {
            return false;
        }
        return apply(ctx, r, range, start, end);
    }

    /** Applies a request-wide rule's delay or hang; true when the call was ended instead. */
    static boolean holdRequest(RequestContext ctx, Rule r) {
        return apply(ctx, r, null, null, null);
    }

    private static boolean apply(RequestContext ctx, Rule r, BackupRange range, byte[] start, byte[] end) {
        switch (r.action()) {
            case DELAY -> {
                FailPoints.sleep(r.duration().toMillis(), ctx.task()::cancelled);
                return false;
            }
            case HANG -> {
                ctx.faultRules().awaitRelease(r, ctx.task()::cancelled);
                return false;
            }
            case GRPC_STATUS -> {
                // the rule's code was checked when the rules were loaded (FaultRules)
                ctx.fail(Status.Code.valueOf(r.text("code", "UNAVAILABLE").toUpperCase(Locale.ROOT)),
                        r.text("message", "injected by fake-tikv fault rule " + r.name()));
                return true;
            }
            case STORAGE_ERROR -> {
                // msg is the rule's text as is (InjectedError's Debug text), counted as "other"
                ctx.task().sink().send(BackupResponse.newBuilder()
                        .setError(ctx.convert(new InjectedError(r.text("message", "injected storage error"))))
                        .setStartKey(ByteString.copyFrom(start)).setEndKey(ByteString.copyFrom(end))
                        .setApiVersion(ctx.apiVersion()).build());
                return true;
            }
            case KEY_LOCKED -> {
                byte[] key = r.hex("lock-key") != null ? r.hex("lock-key") : start;
                byte[] primary = r.hex("primary") != null ? r.hex("primary") : key;
                long version = r.number("lock-version", Math.max(1, ctx.task().endVersion() - 1));
                Lock lock = Lock.prewrite(LockType.PUT, primary, version, r.number("lock-ttl", 3000), null, 1);
                ctx.sendError(new KeyLockedException(key, lock));
                return true;
            }
            default -> {
                ctx.sendError(regionError(r, range.region()));
                return true;
            }
        }
    }

    private static RegionErrorException regionError(Rule r, Region region) {
        long id = region.id();
        Errorpb.Error.Builder b = Errorpb.Error.newBuilder();
        String label;
        switch (r.action()) {
            case NOT_LEADER -> {
                long leaderStore = r.number("leader-store", 0);
                Peer hint = null;
                if (leaderStore != 0) {
                    Peer p = region.peerOn(leaderStore);
                    hint = new Peer(p != null ? p.id() : 0, leaderStore);
                }
                return RegionErrorException.notLeader(id, hint);
            }
            case EPOCH_NOT_MATCH -> {
                return RegionErrorException.epochNotMatch(region, List.of(), region.confVer(), region.version());
            }
            case REGION_NOT_FOUND -> {
                return RegionErrorException.regionNotFound(id);
            }
            case SERVER_IS_BUSY -> {
                String reason = r.text("reason", "injected by fake-tikv");
                b.setMessage(reason).setServerIsBusy(Errorpb.ServerIsBusy.newBuilder().setReason(reason)
                        .setBackoffMs(r.number("backoff-ms", 0)));
                label = "server_is_busy";
            }
            case STALE_COMMAND -> {
                b.setMessage("stale command").setStaleCommand(Errorpb.StaleCommand.getDefaultInstance());
                label = "stale_command";
            }
            default -> throw new IllegalStateException("not a region error: " + r.action());
        }
        return new RegionErrorException(b.build(), label);
    }
}
