package dev.faketikv.server.storage;

import dev.faketikv.server.config.ReadableDuration;
import dev.faketikv.server.config.ReadableSize;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Storage faults for the GCS and Azure Blob backends, set with {@code [fake] gcs-faults} and
 * {@code [fake] azure-faults}, in the vocabulary of {@link S3Faults} ({@code [fake] s3-faults}):
 *
 * <pre>
 *   SlowDown*3          the next 3 calls are throttled by the service (GCS: 429, Azure: 503 ServerBusy)
 *   ServiceUnavailable  503 (GCS: 503 backendError, Azure: 503 ServerBusy)
 *   InternalError*2     500 (GCS: 500 backendError, Azure: 500 InternalError)
 *   RequestTimeout*1    GCS: 408; Azure: 500 OperationTimedOut
 *   AccessDenied        403 on every call (permanent); no count = forever
 *   stall=2s*1          the next call waits 2 s before it is sent
 *   throttle=1MB        uploads are capped at 1 MB/s in total (a bytes/s token bucket)
 * </pre>
 *
 * Each backend turns a {@link Fault} into the error its SDK raises for that answer, so injected errors
 * take the same retry path as errors from a server. Which of them TiKV 5.4 retries differs per backend:
 * GCS retries 429, 408 and 5xx ({@code components/cloud/gcp/src/gcs.rs:211-228}), Azure only errors whose
 * text says "busy" ({@code components/cloud/azure/src/azblob.rs:233-237,303-309}).
 *
 * <p>{@link #injected()} and {@link #calls()} count what happened, for tests and logs. Thread-safe: one
 * instance serves every request of a server.
 */
public final class CloudFaults {
    /** An injected answer: the kind as written in the rule (lower case). */
    public enum Fault { SLOWDOWN, SERVICEUNAVAILABLE, INTERNALERROR, REQUESTTIMEOUT, ACCESSDENIED }

    private record Rule(String kind, String arg, AtomicLong remaining) {}

    private final String service;
    private final List<Rule> rules;
    private final Limiter throttle;
    private final AtomicLong injected = new AtomicLong();
    private final AtomicLong calls = new AtomicLong();

    private CloudFaults(String service, List<Rule> rules, Limiter throttle) {
        this.service = service;
        this.rules = rules;
        this.throttle = throttle;
    }

    public static CloudFaults none() {
        return new CloudFaults("", List.of(), null);
    }

    /**
     * Parses rule strings; a bad one fails naming it and {@code service} ({@code GCS}, {@code Azure}).
     */
    public static CloudFaults parse(String service, List<String> specs) {
        List<Rule> rules = new ArrayList<>();
        Limiter throttle = null;
        for (String spec : specs) {
            String s = spec.trim();
            long count = Long.MAX_VALUE;
            int star = s.lastIndexOf('*');
            if (star > 0) {
                try {
                    count = Long.parseLong(s.substring(star + 1).trim());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(service + " fault '" + spec + "': count is not a number");
                }
                s = s.substring(0, star).trim();
            }
            int eq = s.indexOf('=');
            String kind = (eq < 0 ? s : s.substring(0, eq).trim()).toLowerCase(Locale.ROOT);
            String arg = eq < 0 ? "" : s.substring(eq + 1).trim();
            switch (kind) {
                case "slowdown", "internalerror", "requesttimeout", "accessdenied", "serviceunavailable" -> {
                    // validated by kind
                }
                case "stall" -> ReadableDuration.parse(arg);
                case "throttle" -> {
                    long rate = ReadableSize.parse(arg);
                    if (rate <= 0) {
                        throw new IllegalArgumentException(service + " fault '" + spec + "': throttle must be > 0");
                    }
                    throttle = new Limiter(rate, System::nanoTime);
                }
                default -> throw new IllegalArgumentException("unknown " + service + " fault '" + spec
                        + "' (SlowDown, InternalError, RequestTimeout, AccessDenied, ServiceUnavailable, stall=DUR, throttle=SIZE)");
            }
            if (!kind.equals("throttle")) {
                rules.add(new Rule(kind, arg, new AtomicLong(count)));
            }
        }
        return new CloudFaults(service, List.copyOf(rules), throttle);
    }

    /**
     * Called before each call to the service: may sleep (stall); returns the fault to answer with
     * instead of sending the call, or null to send it.
     */
    Fault beforeCall() throws InterruptedException {
        calls.incrementAndGet();
        for (Rule r : rules) {
            if (!S3Faults.take(r.remaining)) {
                continue;
            }
            if (r.kind.equals("stall")) {
                Thread.sleep(ReadableDuration.parse(r.arg).toMillis());
                continue;
            }
            injected.incrementAndGet();
            return Fault.valueOf(r.kind.toUpperCase(Locale.ROOT));
        }
        return null;
    }


    /** The upload throttle, or null. */
    Limiter throttle() {
        return throttle;
    }

    /** Errors injected so far. */
    public long injected() {
        return injected.get();
    }

    /** Calls seen so far (injected ones included). */
    public long calls() {
        return calls.get();
    }

    @Override
    public String toString() {
        return service + " faults " + rules.size() + " rule(s)" + (throttle == null ? "" : " + throttle");
    }
}
