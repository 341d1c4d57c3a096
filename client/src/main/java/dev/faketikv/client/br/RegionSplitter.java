package dev.faketikv.client.br;

import com.google.protobuf.ByteString;
import dev.faketikv.engine.codec.BytesCodec;
import io.grpc.Channel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.LongFunction;
import org.tikv.kvproto.Kvrpcpb;
import org.tikv.kvproto.Metapb;
import org.tikv.kvproto.Pdpb;
import org.tikv.kvproto.TikvGrpc;

/**
 * Split and scatter before a restore, as BR 5.4's {@code br/pkg/restore/split.go} {@code RegionSplitter.Split}
 * does it: scan the regions of {@code [min, max)} ({@code PaginateScanRegion}); for each region that holds check
 * keys strictly inside it ({@code NeedSplit}), one batch {@code Tikv/SplitRegion} on its leader
 * ({@code split_client.go} {@code sendSplitRegionRequest}: NotLeader with a leader is retried on it, ServerIsBusy
 * and StaleCommand retried, other region errors end the round); a failed round is rescanned and retried up to
 * {@value #SPLIT_RETRY_TIMES} times with doubling backoff. Then every new region is waited for in PD
 * ({@code GetRegionByID}), scattered ({@code ScatterRegion}) and its operator waited for ({@code GetOperator}
 * until it is not a running {@code scatter-region}; REGION_NOT_FOUND counts as finished), at most
 * {@value #SCATTER_WAIT_SECONDS} s in all, as BR's {@code ScatterWaitUpperInterval}.
 *
 * <p>Keys: check keys are user keys; regions are compared in region-key form (memcomparable for txn keys, as
 * is for raw). The keys are sent as user keys; for raw data {@code is_raw_kv} is set, so TiKV splits at the raw
 * key. BR 5.4 does not set it (TiKV then splits a raw key space at encoded keys, which it does not use); later
 * BR versions set it, as here.
 *
 * <p>Not thread-safe: one restore uses one instance.
 */
final class RegionSplitter {
    static final int SPLIT_RETRY_TIMES = 10;
    static final long SCATTER_WAIT_SECONDS = 180;
    private static final int SPLIT_REGION_MAX_RETRY = 4;

    private final PdClient pd;
    private final LongFunction<Channel> store;
    private final boolean raw;
    private final double backoffScale;

    RegionSplitter(PdClient pd, LongFunction<Channel> store, boolean raw, double backoffScale) {
        this.pd = pd;
        this.store = store;
        this.raw = raw;
        this.backoffScale = backoffScale;
    }

    private byte[] regionKey(byte[] userKey) {
        return raw || userKey.length == 0 ? userKey : BytesCodec.encode(userKey);
    }

    /** Splits at {@code checkKeys} within {@code [min, max)} (user keys; empty max = +inf), scatters; returns the new regions. */
    List<Metapb.Region> split(byte[] min, byte[] max, List<byte[]> checkKeys) {
        long interval = 50;
        BrException last = null;
        for (int round = 0; round < SPLIT_RETRY_TIMES; round++) {
            try {
                List<Metapb.Region> created = splitOnce(min, max, checkKeys);
                scatter(created);
                return created;
            } catch (BrException e) {
                last = e;
                sleep((long) (interval * backoffScale));
                interval = Math.min(interval * 2, 1000);
            }
        }
        throw last;
    }

    private List<Metapb.Region> splitOnce(byte[] min, byte[] max, List<byte[]> checkKeys) {
        List<PdClient.RegionInfo> regions = pd.scanRegions(regionKey(min), max.length == 0 ? max : regionKey(max));
        Map<Long, List<byte[]>> keysOf = new LinkedHashMap<>();
        Map<Long, PdClient.RegionInfo> byId = new LinkedHashMap<>();
        for (byte[] k : checkKeys) {
            if (k.length == 0) {
                continue;
            }
            byte[] rk = regionKey(k);
            for (PdClient.RegionInfo r : regions) {
                byte[] s = r.region().getStartKey().toByteArray();
                byte[] e = r.region().getEndKey().toByteArray();
                if (Arrays.equals(s, rk)) {
                    break;
                }
                if (Arrays.compareUnsigned(rk, s) > 0 && (e.length == 0 || Arrays.compareUnsigned(rk, e) < 0)) {
                    List<byte[]> ks = keysOf.computeIfAbsent(r.region().getId(), id -> new ArrayList<>());
                    if (ks.stream().noneMatch(x -> Arrays.equals(x, k))) {
                        ks.add(k);
                    }
                    byId.put(r.region().getId(), r);
                    break;
                }
            }
        }
        List<Metapb.Region> created = new ArrayList<>();
        for (Map.Entry<Long, List<byte[]>> e : keysOf.entrySet()) {
            Kvrpcpb.SplitRegionResponse resp = send(byId.get(e.getKey()), e.getValue());
            for (Metapb.Region n : resp.getRegionsList()) {
                if (n.getId() != e.getKey()) {
                    created.add(n);
                }
            }
        }
        return created;
    }

    private Kvrpcpb.SplitRegionResponse send(PdClient.RegionInfo info, List<byte[]> keys) {
        Metapb.Peer leader = info.leader() != null && info.leader().getId() != 0 ? info.leader() : info.region().getPeers(0);
        for (int i = 0; i < SPLIT_REGION_MAX_RETRY; i++) {
            Kvrpcpb.SplitRegionRequest.Builder req = Kvrpcpb.SplitRegionRequest.newBuilder().setIsRawKv(raw)
                    .setContext(Kvrpcpb.Context.newBuilder().setRegionId(info.region().getId())
                            .setRegionEpoch(info.region().getRegionEpoch()).setPeer(leader));
            keys.forEach(k -> req.addSplitKeys(ByteString.copyFrom(k)));
            Kvrpcpb.SplitRegionResponse resp = TikvGrpc.newBlockingStub(store.apply(leader.getStoreId()))
                    .withDeadlineAfter(PdClient.CALL_TIMEOUT_SECONDS, TimeUnit.SECONDS).splitRegion(req.build());
            if (!resp.hasRegionError()) {
                return resp;
            }
            var err = resp.getRegionError();
            if (err.hasNotLeader() && err.getNotLeader().hasLeader()) {
                leader = err.getNotLeader().getLeader();
                continue;
            }
            if (err.hasServerIsBusy() || err.hasStaleCommand()) {
                continue;
            }
            throw new BrException("[BR:Restore:ErrRestoreSplitFailed]fail to split region: split region " + info.region().getId()
                    + " failed: " + err.getMessage());
        }
        throw new BrException("[BR:Restore:ErrRestoreSplitFailed]fail to split region " + info.region().getId() + " after "
                + SPLIT_REGION_MAX_RETRY + " tries");
    }

    /** {@code ScatterRegions} then {@code waitForScatterRegion} of each, within {@link #SCATTER_WAIT_SECONDS}. */
    private void scatter(List<Metapb.Region> created) {
        for (Metapb.Region n : created) {
            for (int i = 0; i < 8 && pd.regionById(n.getId()) == null; i++) {
                sleep((long) (50 * backoffScale) << i);
            }
            try {
                pd.scatterRegion(n.getId());
            } catch (RuntimeException e) {
                // BR gives up scattering a region after its retries and restores anyway
            }
        }
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(SCATTER_WAIT_SECONDS);
        for (Metapb.Region n : created) {
            long wait = 50;
            while (System.nanoTime() < until) {
                Pdpb.GetOperatorResponse op = pd.operator(n.getId());
                if (op.getHeader().hasError() || !op.getDesc().toStringUtf8().equals("scatter-region")
                        || op.getStatus() != Pdpb.OperatorStatus.RUNNING) {
                    break;
                }
                sleep((long) (wait * backoffScale));
                wait = Math.min(wait * 2, 2000);
            }
        }
    }

    private static void sleep(long ms) {
        if (ms <= 0) {
            return;
        }
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BrException("interrupted");
        }
    }
}
