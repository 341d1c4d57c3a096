package dev.faketikv.server.control;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The life of each request, one line per step, for people learning how TiKV's backup works inside
 * ({@code serve --trace}, {@code fake.trace}, {@code GET /trace}): accepted, scheduled on the
 * {@code backup-endpoint} worker, set up, batches handed out, each region scanned and its SSTs built,
 * saved, answered, done — with the thread that did it, the pool queue level (the pool is single-level:
 * always 0) and timings. Lines go to the log (logger {@code fake-tikv.trace}, INFO) and to a ring of the
 * newest {@value #CAPACITY} lines. Off by default; cheap when off. Thread-safe.
 */
public final class Trace {
    static final int CAPACITY = 10_000;
    private static final Logger LOG = LoggerFactory.getLogger("fake-tikv.trace");

    private volatile boolean enabled;
    private final Deque<String> lines = new ArrayDeque<>();

    public Trace(boolean enabled) {
        this.enabled = enabled;
    }

    public boolean enabled() {
        return enabled;
    }

    public void enable(boolean on) {
        enabled = on;
    }

    /** Records {@code step} of request {@code request} (a format string with %s/%d arguments). */
    public void step(long request, String step, Object... args) {
        if (!enabled) {
            return;
        }
        String line = Instant.now() + " req=" + request + " thread=" + Thread.currentThread().getName() + " level=0 "
                + String.format(step, args);
        LOG.info(line);
        synchronized (lines) {
            if (lines.size() >= CAPACITY) {
                lines.removeFirst();
            }
            lines.addLast(line);
        }
    }

    public List<String> lines() {
        synchronized (lines) {
            return List.copyOf(lines);
        }
    }

    public void clear() {
        synchronized (lines) {
            lines.clear();
        }
    }
}
