package dev.faketikv.server.storage;

import dev.faketikv.server.config.ReadableDuration;
import dev.faketikv.server.config.ReadableSize;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * Storage faults for S3 uploads, set with {@code [fake] s3-faults} (until the control plane's fault
 * rules take them over). Each rule applies to the next S3 calls (PutObject, CreateMultipartUpload,
 * UploadPart, CompleteMultipartUpload) across the whole server:
 *
 * <pre>
 *   SlowDown*3          the next 3 calls fail with 503 SlowDown (retryable)
 *   InternalError*2     500 InternalError (retryable)
 *   RequestTimeout*1    400 RequestTimeout (not retried: TiKV 5.4 retries only 5xx and 408)
 *   AccessDenied        403 AccessDenied on every call (permanent); no count = forever
 *   stall=2s*1          the next call waits 2 s before it is sent
 *   throttle=1MB        uploads are capped at 1 MB/s in total (a bytes/s token bucket)
 * </pre>
 *
 * The injected errors are real {@link S3Exception}s with S3's status and error code, so they take the
 * same retry path as errors from a server. Thread-safe.
 */
public final class S3Faults {
    private record Rule(String kind, String arg, AtomicLong remaining) {}

    private final List<Rule> rules;
    private final Limiter throttle;

    private S3Faults(List<Rule> rules, Limiter throttle) {
        this.rules = rules;
        this.throttle = throttle;
    }

    public static S3Faults none() {
        return new S3Faults(List.of(), null);
    }

    /** Parses rule strings; a bad one fails naming it. */
    public static S3Faults parse(List<String> specs) {
        List<Rule> rules = new ArrayList<>();
        Limiter throttle = null;
        for (String spec : specs) {
            String s = spec.trim();
            long count = Long.MAX_VALUE;
            int star = s.lastIndexOf('*');
            if (star > 0) {
                count = Long.parseLong(s.substring(star + 1).trim());
                s = s.substring(0, star).trim();
            }
            int eq = s.indexOf('=');
            String kind = eq < 0 ? s : s.substring(0, eq).trim();
            String arg = eq < 0 ? "" : s.substring(eq + 1).trim();
            switch (kind.toLowerCase(Locale.ROOT)) {
                case "slowdown", "internalerror", "requesttimeout", "accessdenied", "serviceunavailable" -> {
                    // validated by kind
                }
                case "stall" -> ReadableDuration.parse(arg);
                case "throttle" -> {
                    long rate = ReadableSize.parse(arg);
                    if (rate <= 0) {
                        throw new IllegalArgumentException("S3 fault '" + spec + "': throttle must be > 0");
                    }
                    throttle = new Limiter(rate, System::nanoTime);
                }
                default -> throw new IllegalArgumentException("unknown S3 fault '" + spec
                        + "' (SlowDown, InternalError, RequestTimeout, AccessDenied, ServiceUnavailable, stall=DUR, throttle=SIZE)");
            }
            if (!kind.equalsIgnoreCase("throttle")) {
                rules.add(new Rule(kind.toLowerCase(Locale.ROOT), arg, new AtomicLong(count)));
            }
        }
        return new S3Faults(List.copyOf(rules), throttle);
    }

    /** Called before each S3 call: may sleep, may throw the injected error. */
    void beforeCall(String operation) throws InterruptedException {
        for (Rule r : rules) {
            if (!take(r.remaining)) {
                continue;
            }
            switch (r.kind) {
                case "stall" -> Thread.sleep(ReadableDuration.parse(r.arg).toMillis());
                case "slowdown" -> throw error(503, "SlowDown", "Please reduce your request rate.", operation);
                case "serviceunavailable" -> throw error(503, "ServiceUnavailable", "Service is unable to handle request.", operation);
                case "internalerror" -> throw error(500, "InternalError", "We encountered an internal error. Please try again.", operation);
                case "requesttimeout" -> throw error(400, "RequestTimeout",
                        "Your socket connection to the server was not read from or written to within the timeout period.", operation);
                case "accessdenied" -> throw error(403, "AccessDenied", "Access Denied", operation);
                default -> {
                    // parse() admits no other kind
                }
            }
        }
    }

    /** Takes one use of a rule ({@code Long.MAX_VALUE} = forever); false once it is used up. Shared with {@link CloudFaults}. */
    static boolean take(AtomicLong remaining) {
        while (true) {
            long left = remaining.get();
            if (left <= 0) {
                return false;
            }
            if (left == Long.MAX_VALUE || remaining.compareAndSet(left, left - 1)) {
                return true;
            }
        }
    }

    /** The upload throttle, or null. */
    Limiter throttle() {
        return throttle;
    }

    /** The error as S3 sends it: status, request id, and the XML body a real S3 answers with. */
    private static S3Exception error(int status, String code, String message, String operation) {
        String requestId = "FAKE" + Long.toHexString(ThreadLocalRandom.current().nextLong()).toUpperCase(Locale.ROOT);
        String body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code + "</Code><Message>" + message
                + "</Message><RequestId>" + requestId + "</RequestId></Error>";
        return (S3Exception) S3Exception.builder()
                .statusCode(status)
                .requestId(requestId)
                .message(message + " (injected by fake-tikv on " + operation + ")")
                .awsErrorDetails(AwsErrorDetails.builder().errorCode(code).errorMessage(message).serviceName("S3")
                        .rawResponse(SdkBytes.fromUtf8String(body)).build())
                .build();
    }

    /** For logs: the rules without their counters. */
    @Override
    public String toString() {
        return rules.stream().map(r -> r.kind + (r.arg.isEmpty() ? "" : "=" + r.arg)).toList()
                + (throttle != null ? " + throttle" : "");
    }

}
