package dev.faketikv.client;

import io.grpc.Status;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.tikv.kvproto.Brpb;

/**
 * How BR classifies a {@code backup.Error} (pingcap/tidb {@code br/pkg/utils} backup error handling):
 * kv and region errors are retried; {@code cluster_id_error} is fatal; a bare {@code msg} is matched
 * case-insensitively: "io" and "notfound", "permissiondenied" or "context canceled" are fatal; the
 * listed storage/transport phrases are retryable; anything else is retried until BR's per-store limit.
 * Also restore's download-error rule ({@link #classifyDownload}). Stateless.
 */
public final class BrErrors {
    /** BR 5.4's {@code retryableServerError} phrases (pingcap/br {@code pkg/utils/retry.go}). */
    private static final List<String> RETRYABLE_SERVER_ERRORS = List.of("server closed", "connection refused",
            "connection reset by peer", "channel closed", "error trying to connect", "connection closed before message completed",
            "body write aborted", "error during dispatch");
    private static final List<String> RETRYABLE = Stream.concat(RETRYABLE_SERVER_ERRORS.stream(), Stream.of("put object timeout",
            "timeout after", "internalerror", "not read from or written to within the timeout period", "<code>requesttimeout</code>",
            "<code>invalidpart</code>", "end of file before message length reached")).toList();

    private BrErrors() {}

    /** Retry the range, or give up on the backup. */
    public enum Verdict { RETRY, GIVE_UP }

    /** A verdict and BR's reason. */
    public record Decision(Verdict verdict, String reason) {}

    public static Decision classify(Brpb.Error e) {
        if (e.hasKvError()) {
            return new Decision(Verdict.RETRY, "retry on kv error");
        }
        if (e.hasRegionError()) {
            return new Decision(Verdict.RETRY, "retry on region error");
        }
        if (e.hasClusterIdError()) {
            return new Decision(Verdict.GIVE_UP, "cluster id mismatch");
        }
        String msg = e.getMsg().toLowerCase(Locale.ROOT);
        if (msg.contains("io") && msg.contains("notfound")) {
            return new Decision(Verdict.GIVE_UP, "File or directory not found on TiKV Node");
        }
        if (msg.contains("permissiondenied")) {
            return new Decision(Verdict.GIVE_UP, "permission denied");
        }
        if (msg.contains("context canceled")) {
            return new Decision(Verdict.GIVE_UP, "context canceled");
        }
        for (String r : RETRYABLE) {
            if (msg.contains(r)) {
                return new Decision(Verdict.RETRY, "retryable storage error");
            }
        }
        return new Decision(Verdict.RETRY, "unknown error, retry until the per-store limit");
    }

    /** BR's {@code MessageIsRetryableStorageError}: {@code message} holds one of its server-error phrases (any case). */
    public static boolean isRetryableServerError(String message) {
        String m = message.toLowerCase(Locale.ROOT);
        return RETRYABLE_SERVER_ERRORS.stream().anyMatch(m::contains);
    }

    /** Download errors a second try cannot fix, matched case-insensitively in {@code DownloadResponse.error.message}. */
    private static final List<String> DOWNLOAD_FATAL = List.of("not a valid sst", "wrongkeyprefix", "has wrong prefix", "downloaded size",
            "notfound", "invalid");

    /**
     * BR restore's rule for a {@code DownloadResponse.error}: BR maps every one to {@code ErrKVDownloadFailed} and
     * retries it ({@code downloadSSTRetryTimes = 8}, pingcap/br {@code pkg/restore/import.go}, {@code backoff.go}).
     * Deliberate difference: a bad file (not a valid SST, a wrong key prefix, a wrong length, a missing file,
     * an invalid request) gives up at once, since a second download of the same bytes cannot fix it; anything
     * else (timeouts, I/O) is retried.
     */
    public static Decision classifyDownload(String message) {
        String m = message.toLowerCase(Locale.ROOT);
        for (String f : DOWNLOAD_FATAL) {
            if (m.contains(f)) {
                return new Decision(Verdict.GIVE_UP, "the file cannot be downloaded: " + f);
            }
        }
        return new Decision(Verdict.RETRY, "retry the download");
    }

    /** BR's backup loop retries a store on UNAVAILABLE (it re-dials); other statuses end that attempt as errors. */
    public static Decision classify(Status status) {
        return status.getCode() == Status.Code.UNAVAILABLE || status.getCode() == Status.Code.CANCELLED
                ? new Decision(Verdict.RETRY, "retry on " + status.getCode())
                : new Decision(Verdict.GIVE_UP, "gRPC " + status.getCode() + ": " + status.getDescription());
    }

    /**
     * A gRPC status as one line for a person: code, description and the root cause's message, never the
     * stack trace that {@link Status#toString()} carries (e.g. {@code UNAVAILABLE: io exception (Connection
     * refused: /127.0.0.1:2379)}).
     */
    public static String oneLine(Status status) {
        StringBuilder b = new StringBuilder(status.getCode().name());
        if (status.getDescription() != null) {
            b.append(": ").append(status.getDescription());
        }
        Throwable root = status.getCause();
        while (root != null && root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        if (root != null && root.getMessage() != null && (status.getDescription() == null || !status.getDescription().contains(root.getMessage()))) {
            b.append(" (").append(root.getMessage()).append(')');
        }
        return b.toString();
    }
}
