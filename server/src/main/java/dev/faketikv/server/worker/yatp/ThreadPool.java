package dev.faketikv.server.worker.yatp;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small yatp-style thread pool ({@code tikv/yatp} {@code src/pool}, {@code src/queue/single_level.rs} and
 * {@code src/queue/multilevel.rs}): global injectors that any thread can push to (one, or three levels with
 * a {@link LevelManager}), one local deque per worker thread, and stealing between workers.
 *
 * <p>A task spawned from inside one of the pool's workers goes to that worker's local deque (as
 * yatp's {@code Local::spawn}); a task spawned from outside goes to the injector ({@code Remote::spawn}).
 * A worker looks for work in this order: its own deque (newest first), the injector (oldest first), the
 * other workers' deques (oldest first), then (multilevel) the other levels' injectors; with none, it parks
 * until a spawn wakes it. In a multilevel pool the injector tried first is drawn by the level manager.
 *
 * <p>All {@code max} threads start at once; {@link #resize(int)} changes how many of them take tasks
 * (later yatp's core thread count). Simplified against yatp: no spin-then-park back-off, no batch steals,
 * no futures (tasks are plain {@link Runnable}s run to completion).
 *
 * <p>Thread-safe. Threads are named {@code {name}-{index}} and are daemons.
 */
public final class ThreadPool {
    private static final Logger LOG = LoggerFactory.getLogger(ThreadPool.class);

    private final String name;
    private final List<ConcurrentLinkedQueue<Runnable>> injectors = new ArrayList<>();
    private final List<ConcurrentLinkedDeque<Runnable>> locals = new ArrayList<>();
    private final LevelManager levels;
    private final List<Thread> threads = new ArrayList<>();
    private final ReentrantLock parkLock = new ReentrantLock();
    private final Condition wake = parkLock.newCondition();
    private final ThreadLocal<Integer> workerIndex = new ThreadLocal<>();
    private final AtomicLong completed = new AtomicLong();
    private int parked;
    private volatile boolean shutdown;
    /** Workers with an index below this take tasks; the others stay parked (yatp's core thread count). */
    private volatile int active;

    public ThreadPool(String name, int threadCount) {
        this(name, threadCount, null);
    }

    /**
     * A pool with yatp's multilevel feedback queue when {@code levels} is given (three level injectors;
     * {@link #spawn(long, Runnable)} queues a task at the level its task id's running time puts it), else
     * the single-level queue.
     */
    public ThreadPool(String name, int threadCount, LevelManager levels) {
        if (threadCount <= 0) {
            throw new IllegalArgumentException("thread count must be > 0");
        }
        this.name = name;
        this.levels = levels;
        for (int i = 0; i < (levels == null ? 1 : LevelManager.LEVELS); i++) {
            injectors.add(new ConcurrentLinkedQueue<>());
        }
        this.active = threadCount;
        for (int i = 0; i < threadCount; i++) {
            locals.add(new ConcurrentLinkedDeque<>());
        }
        for (int i = 0; i < threadCount; i++) {
            final int idx = i;
            Thread t = new Thread(() -> workerLoop(idx), name + "-" + i);
            t.setDaemon(true);
            threads.add(t);
        }
        threads.forEach(Thread::start);
    }

    public String name() {
        return name;
    }

    public int threadCount() {
        return threads.size();
    }

    /** Tasks run to completion so far. */
    public long completedTasks() {
        return completed.get();
    }

    /** Queues {@code task}: locally when called from one of this pool's workers, else on the injector. */
    public void spawn(Runnable task) {
        spawn(0, task);
    }

    /**
     * Queues {@code task} of task id {@code taskId}: locally when called from one of this pool's workers
     * (a local push ignores the level, as in yatp), else on the injector of its level.
     */
    public void spawn(long taskId, Runnable task) {
        if (shutdown) {
            throw new IllegalStateException("thread pool " + name + " is shut down");
        }
        int level = levels == null ? 0 : levels.levelOf(taskId);
        Cell cell = new Cell(taskId, level, task);
        Integer idx = workerIndex.get();
        if (idx != null) {
            locals.get(idx).addLast(cell);
        } else {
            injectors.get(level).add(cell);
        }
        parkLock.lock();
        try {
            if (parked > 0) {
                // with some workers held inactive, a single signal could wake one of them: wake all
                if (active < threads.size()) {
                    wake.signalAll();
                } else {
                    wake.signal();
                }
            }
        } finally {
            parkLock.unlock();
        }
    }

    /** Workers currently allowed to take tasks. */
    public int activeThreads() {
        return active;
    }

    /**
     * Lets only {@code n} (1..max) workers take tasks from now on: yatp's core thread count, changed at
     * runtime. Threads are not created or destroyed; the others park, and tasks in their local queues are
     * stolen by the active ones.
     */
    public void resize(int n) {
        if (n < 1 || n > threads.size()) {
            throw new IllegalArgumentException("active threads must be in [1, " + threads.size() + "]");
        }
        parkLock.lock();
        try {
            active = n;
            wake.signalAll();
        } finally {
            parkLock.unlock();
        }
    }

    private Runnable findTask(int idx) {
        if (idx >= active) {
            return null;
        }
        Runnable t = locals.get(idx).pollLast();
        if (t != null) {
            return t;
        }
        int expected = levels == null ? 0 : levels.expectedLevel();
        t = injectors.get(expected).poll();
        if (t != null) {
            return t;
        }
        for (int k = 1; k < locals.size(); k++) {
            t = locals.get((idx + k) % locals.size()).pollFirst();
            if (t != null) {
                return t;
            }
        }
        for (int k = 1; k < injectors.size(); k++) {
            t = injectors.get((expected + k) % injectors.size()).poll();
            if (t != null) {
                return t;
            }
        }
        return null;
    }

    private void workerLoop(int idx) {
        workerIndex.set(idx);
        while (true) {
            Runnable task = findTask(idx);
            if (task == null) {
                parkLock.lock();
                try {
                    parked++;
                    // Re-check under the lock: a spawn signals only after taking this lock.
                    while (!shutdown && (task = findTask(idx)) == null) {
                        wake.awaitUninterruptibly();
                    }
                    parked--;
                } finally {
                    parkLock.unlock();
                }
                if (task == null) {
                    return;
                }
            }
            long t0 = System.nanoTime();
            try {
                task.run();
            } catch (Throwable e) {
                LOG.error("task failed on {}", Thread.currentThread().getName(), e);
            }
            if (levels != null && task instanceof Cell c) {
                levels.record(c.taskId(), c.level(), (System.nanoTime() - t0) / 1_000);
            }
            completed.incrementAndGet();
        }
    }

    /**
     * yatp's {@code reschedule}: queues {@code task} on the global injector of its level even when called
     * from inside the pool, so a task that yields re-enters at the level its task id's running time has
     * reached (a plain {@link #spawn} from a worker goes to the local deque and ignores levels).
     */
    public void yieldTask(long taskId, Runnable task) {
        if (shutdown) {
            throw new IllegalStateException("thread pool " + name + " is shut down");
        }
        int level = levels == null ? 0 : levels.levelOf(taskId);
        injectors.get(level).add(new Cell(taskId, level, task));
        parkLock.lock();
        try {
            if (parked > 0) {
                wake.signalAll();
            }
        } finally {
            parkLock.unlock();
        }
    }

    /** Tasks waiting on each level's injector (one entry for a single-level pool). */
    public int[] queuedByLevel() {
        int[] out = new int[injectors.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = injectors.get(i).size();
        }
        return out;
    }

    /** A queued task with the task id and level it was queued at. */
    private record Cell(long taskId, int level, Runnable task) implements Runnable {
        @Override
        public void run() {
            task.run();
        }
    }

    /** Stops taking tasks, wakes every worker and waits for them to finish their current task. */
    public void shutdown() {
        shutdown = true;
        parkLock.lock();
        try {
            wake.signalAll();
        } finally {
            parkLock.unlock();
        }
        for (Thread t : threads) {
            if (t != Thread.currentThread()) {
                try {
                    t.join(TimeUnit.SECONDS.toMillis(10));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }
}
