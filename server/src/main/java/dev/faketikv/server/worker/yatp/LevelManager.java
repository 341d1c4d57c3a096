package dev.faketikv.server.worker.yatp;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.DoubleSupplier;

/**
 * The bookkeeping of yatp's multilevel feedback queue ({@code src/queue/multilevel.rs}, {@code LevelManager}):
 * a task's level comes from the running time accumulated under its task id (below 5 ms: level 0, below
 * 100 ms: level 1, else 2); a worker looking for global work picks level 0 with probability
 * {@code level0Chance}, else level 1 four times in five and level 2 once; and every second of pool busy time
 * the chance moves by 0.06 (within [0.5, 0.98]) towards giving level-0 tasks {@value #TARGET} of the running
 * time, with a dead band of 0.05.
 *
 * <p>Simplified against yatp: task ids are never forgotten (yatp rotates its elapsed map every 10 s), and
 * counters are flushed on every run rather than per 100 ms of thread-local time. The random source is
 * injectable for tests. Thread-safe.
 */
public final class LevelManager {
    static final int LEVELS = 3;
    static final long[] THRESHOLDS_US = {5_000, 100_000};
    static final double TARGET = 0.8;
    static final double INIT_CHANCE = 0.8;
    static final double MIN_CHANCE = 0.5;
    static final double MAX_CHANCE = 0.98;
    static final double ADJUST_AMOUNT = 0.06;
    static final double ADJUST_THRESHOLD = 0.05;
    static final long ADJUST_INTERVAL_US = 1_000_000;

    private final Map<Long, AtomicLong> elapsedByTask = new ConcurrentHashMap<>();
    private final AtomicLong level0Us = new AtomicLong();
    private final AtomicLong totalUs = new AtomicLong();
    private final AtomicBoolean adjusting = new AtomicBoolean();
    private final DoubleSupplier random;
    private volatile double level0Chance = INIT_CHANCE;
    private long lastLevel0Us;
    private long lastTotalUs;

    public LevelManager(DoubleSupplier random) {
        this.random = random;
    }

    /** The level a task of {@code taskId} is queued at now. */
    public int levelOf(long taskId) {
        long us = elapsedByTask.getOrDefault(taskId, new AtomicLong()).get();
        for (int i = 0; i < THRESHOLDS_US.length; i++) {
            if (us < THRESHOLDS_US[i]) {
                return i;
            }
        }
        return LEVELS - 1;
    }

    /** Accounts {@code us} of running time of a task of {@code taskId} that ran at {@code level}. */
    public void record(long taskId, int level, long us) {
        elapsedByTask.computeIfAbsent(taskId, k -> new AtomicLong()).addAndGet(us);
        if (level == 0) {
            level0Us.addAndGet(us);
        }
        totalUs.addAndGet(us);
        maybeAdjust();
    }

    /** The level a worker tries first for global work. */
    public int expectedLevel() {
        if (random.getAsDouble() < level0Chance) {
            return 0;
        }
        return random.getAsDouble() < 0.8 ? 1 : 2;
    }

    public double level0Chance() {
        return level0Chance;
    }

    /** Accumulated running time of {@code taskId}, µs. */
    public long elapsedUs(long taskId) {
        return elapsedByTask.getOrDefault(taskId, new AtomicLong()).get();
    }

    private void maybeAdjust() {
        if (!adjusting.compareAndSet(false, true)) {
            return;
        }
        try {
            long total = totalUs.get();
            long level0 = level0Us.get();
            long dTotal = total - lastTotalUs;
            if (dTotal < ADJUST_INTERVAL_US) {
                return;
            }
            double actual = (double) (level0 - lastLevel0Us) / dTotal;
            double diff = TARGET - actual;
            if (diff > ADJUST_THRESHOLD) {
                level0Chance = Math.min(MAX_CHANCE, level0Chance + ADJUST_AMOUNT);
            } else if (diff < -ADJUST_THRESHOLD) {
                level0Chance = Math.max(MIN_CHANCE, level0Chance - ADJUST_AMOUNT);
            }
            lastTotalUs = total;
            lastLevel0Us = level0;
        } finally {
            adjusting.set(false);
        }
    }
}
