package dev.faketikv.server.kv;

import dev.faketikv.engine.Engine;
import java.util.Arrays;
import java.util.Collection;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The scheduler's key latches ({@code src/storage/txn/latch.rs}): a transactional write command holds
 * the latches of all its keys while it reads and writes, so two commands on one key run one after the
 * other. Striped (2048 slots by key hash, acquired in slot order, so no deadlock). One set per engine:
 * the stores of a fake cluster share the engine and so the latches. Thread-safe.
 */
final class Latches {
    private static final int SLOTS = 2048;
    private static final Map<Engine, Latches> BY_ENGINE = new WeakHashMap<>();
    private final ReentrantLock[] slots = new ReentrantLock[SLOTS];

    private Latches() {
        for (int i = 0; i < SLOTS; i++) {
            slots[i] = new ReentrantLock();
        }
    }

    static synchronized Latches of(Engine engine) {
        return BY_ENGINE.computeIfAbsent(engine, e -> new Latches());
    }

    /** Holds the latches of {@code keys} until the returned guard is closed. */
    Guard acquire(Collection<byte[]> keys) {
        int[] idx = keys.stream().mapToInt(k -> Math.floorMod(Arrays.hashCode(k), SLOTS)).sorted().distinct().toArray();
        for (int i : idx) {
            slots[i].lock();
        }
        return () -> {
            for (int j = idx.length - 1; j >= 0; j--) {
                slots[idx[j]].unlock();
            }
        };
    }

    /** Releases the latches. */
    interface Guard extends AutoCloseable {
        @Override
        void close();
    }
}
