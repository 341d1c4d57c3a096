package dev.faketikv.server.storage;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.function.LongSupplier;

/**
 * The upload rate limit of one request: the token bucket of {@code async-speed-limit} 0.4
 * ({@code Limiter}/{@code Bucket::consume}) that TiKV's backup shares between all save workers of a
 * request ({@code rate_limit}, bytes per second; 0 = unlimited).
 *
 * <p>The bucket holds up to {@code limit × 0.1 s} and starts full. Before each consumption it is
 * refilled by {@code limit × elapsed}; a read of {@code n} bytes subtracts {@code n}; if the bucket is
 * then empty or negative the reader sleeps {@code 0.1 s + deficit / limit} before its next read.
 *
 * <p>Thread-safe; the clock is injectable for tests.
 */
public final class Limiter {
    static final double REFILL_SECONDS = 0.1;
    private static final int MAX_READ = 64 << 10;
    private static final long CANCEL_CHECK_NS = 100_000_000L;

    private final double limit;
    private final LongSupplier nanoClock;
    private double value;
    private long last;

    public Limiter(double bytesPerSecond, LongSupplier nanoClock) {
        this.limit = bytesPerSecond;
        this.nanoClock = nanoClock;
        this.value = capacity();
        this.last = nanoClock.getAsLong();
    }

    /** A limiter for a request's {@code rate_limit} (0 = unlimited). */
    public static Limiter forRateLimit(long rateLimit) {
        return new Limiter(rateLimit > 0 ? rateLimit : Double.POSITIVE_INFINITY, System::nanoTime);
    }

    /** The rate, bytes per second (infinite when unlimited). */
    public double bytesPerSecond() {
        return limit;
    }

    public boolean unlimited() {
        return Double.isInfinite(limit);
    }

    private double capacity() {
        return limit * REFILL_SECONDS;
    }

    /** Accounts {@code n} bytes and returns how long (ns) the reader must now wait. */
    public synchronized long consume(long n) {
        if (unlimited()) {
            return 0;
        }
        long now = nanoClock.getAsLong();
        value = Math.min(capacity(), value + limit * (now - last) / 1e9);
        last = now;
        value -= n;
        if (value > 0) {
            return 0;
        }
        return (long) ((REFILL_SECONDS + (-value) / limit) * 1e9);
    }

    /** {@code in}, throttled by this limiter. */
    public InputStream wrap(InputStream in) {
        return wrap(in, () -> false);
    }

    /**
     * {@code in}, throttled by this limiter; a wait ends early with {@link InterruptedIOException} once
     * {@code cancelled} turns true, so an absurdly low limit cannot pin a thread after the client left.
     */
    public InputStream wrap(InputStream in, java.util.function.BooleanSupplier cancelled) {
        if (unlimited()) {
            return in;
        }
        return throttled(in, () -> this, cancelled);
    }

    /**
     * {@code in}, throttled by whatever limiter {@code current} holds at each read (null = unlimited): a
     * replaced limiter (a new limit) also ends a wait in progress. Waits run in slices of at most 100 ms
     * and end with {@link InterruptedIOException} once {@code cancelled} turns true.
     */
    public static InputStream throttled(InputStream in, java.util.function.Supplier<Limiter> current,
                                        java.util.function.BooleanSupplier cancelled) {
        return new FilterInputStream(in) {
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                int n = read(one, 0, 1);
                return n < 0 ? -1 : one[0] & 0xFF;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = super.read(b, off, Math.min(len, MAX_READ));
                Limiter l = current.get();
                if (n > 0 && l != null) {
                    long until = System.nanoTime() + l.consume(n);
                    for (long left = until - System.nanoTime(); left > 0 && current.get() == l; left = until - System.nanoTime()) {
                        if (cancelled.getAsBoolean()) {
                            throw new InterruptedIOException("rate-limited transfer cancelled");
                        }
                        try {
                            long slice = Math.min(left, CANCEL_CHECK_NS);
                            Thread.sleep(slice / 1_000_000, (int) (slice % 1_000_000));
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new InterruptedIOException("rate-limited transfer interrupted");
                        }
                    }
                }
                return n;
            }
        };
    }
}
