package dev.faketikv.client;

import com.google.protobuf.ByteString;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.List;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;

/**
 * BR's backup loop against one store, reduced to its core (BR {@code br/pkg/backup/push.go} and the
 * fine-grained retry in {@code client.go}): send the request, keep every successful response in a
 * {@link RangeTree}, classify every error with {@link BrErrors}, and re-send the ranges still missing,
 * up to {@code maxRounds} times; give up on a fatal error, cancelling the call. No PD, no leader lookup, no backoff sleeps
 * (the fake answers at once). Not thread-safe.
 */
public final class RetryingBackup {
    /** What happened: the good responses, the errors that were retried, and why it gave up (or null). */
    public record Outcome(List<BackupResponse> responses, List<String> retried, String gaveUp, int rounds, RangeTree tree) {
        public boolean complete(BackupRequest req) {
            return gaveUp == null && tree.gaps(req.getStartKey().toByteArray(), req.getEndKey().toByteArray()).isEmpty();
        }
    }

    private RetryingBackup() {}

    public static Outcome run(BackupClient client, BackupRequest req, int maxRounds) {
        RangeTree tree = new RangeTree();
        List<BackupResponse> good = new ArrayList<>();
        List<String> retried = new ArrayList<>();
        byte[] start = req.getStartKey().toByteArray();
        byte[] end = req.getEndKey().toByteArray();
        int round = 0;
        while (round < maxRounds) {
            List<byte[][]> gaps = tree.gaps(start, end);
            if (gaps.isEmpty()) {
                break;
            }
            round++;
            for (byte[][] gap : gaps) {
                BackupRequest sub = req.toBuilder().setStartKey(ByteString.copyFrom(gap[0])).setEndKey(ByteString.copyFrom(gap[1])).build();
                // like BR cancelling its context: giving up (or returning) ends the call on the server too
                io.grpc.Context.CancellableContext call = io.grpc.Context.current().withCancellation();
                io.grpc.Context previous = call.attach();
                try {
                    for (var it = client.stream(sub); it.hasNext(); ) {
                        BackupResponse r = it.next();
                        if (!r.hasError()) {
                            tree.add(r.getStartKey().toByteArray(), r.getEndKey().toByteArray());
                            good.add(r);
                            continue;
                        }
                        BrErrors.Decision d = BrErrors.classify(r.getError());
                        if (d.verdict() == BrErrors.Verdict.GIVE_UP) {
                            return new Outcome(good, retried, d.reason() + ": " + r.getError().toString().trim(), round, tree);
                        }
                        retried.add(d.reason());
                    }
                } catch (StatusRuntimeException e) {
                    BrErrors.Decision d = BrErrors.classify(e.getStatus());
                    if (d.verdict() == BrErrors.Verdict.GIVE_UP) {
                        return new Outcome(good, retried, d.reason(), round, tree);
                    }
                    retried.add(d.reason());
                } finally {
                    call.detach(previous);
                    call.cancel(null);
                }
            }
        }
        return new Outcome(good, retried, null, round, tree);
    }
}
