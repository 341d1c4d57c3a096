package dev.faketikv.server.backup;

import java.util.concurrent.Semaphore;

/**
 * The cap on how many scan workers may hold a batch at once, across all requests: TiKV's
 * {@code SoftLimit} ({@code components/backup/src/softlimit.rs}), a semaphore with a resizable cap.
 *
 * <p>Shrinking differs from TiKV in mechanism, not effect: TiKV waits to acquire and forget the surplus
 * permits; here the surplus is removed at once ({@link Semaphore#reducePermits}), so new acquirers wait
 * until enough running batches end. Thread-safe.
 */
public final class SoftLimit {
    private final Sem sem;
    private int cap;

    public SoftLimit(int cap) {
        this.sem = new Sem(cap);
        this.cap = cap;
    }

    public void acquire() throws InterruptedException {
        sem.acquire();
    }

    public void release() {
        sem.release();
    }

    /** Permits free now (negative while a shrink waits for running batches). */
    public int available() {
        return sem.availablePermits();
    }

    public synchronized int cap() {
        return cap;
    }

    /** Changes the cap to {@code target} (≥ 1). */
    public synchronized void resize(int target) {
        if (target < 1) {
            throw new IllegalArgumentException("soft limit must be >= 1");
        }
        if (target > cap) {
            sem.release(target - cap);
        } else if (target < cap) {
            sem.reduce(cap - target);
        }
        cap = target;
    }

    private static final class Sem extends Semaphore {
        private static final long serialVersionUID = 1L;

        Sem(int permits) {
            super(permits, true);
        }

        void reduce(int n) {
            reducePermits(n);
        }
    }
}
