package dev.faketikv.server.worker;

import dev.faketikv.server.worker.yatp.ThreadPool;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A pool that runs {@link Runnable}s: TiKV's {@code Worker} ({@code components/tikv_util/src/worker/pool.rs}),
 * built by {@link Builder} over a single-level {@link ThreadPool} with {@code thread_count} threads named
 * {@code {name}-{i}}. Several runnables can share one worker (TiKV's shared {@code background} worker
 * hosts {@code backup-endpoint} among others); each runs its own tasks in order, and different runnables
 * run in parallel on the pool's threads. One pending counter is shared by every scheduler this worker
 * creates.
 *
 * <p>Thread-safe.
 */
public final class Worker {
    private final ThreadPool pool;
    private final long pendingCapacity;
    private final AtomicLong counter = new AtomicLong();
    private final AtomicBoolean stopped = new AtomicBoolean();

    private Worker(String name, int threadCount, long pendingCapacity) {
        this.pool = new ThreadPool(name, threadCount);
        this.pendingCapacity = pendingCapacity;
    }

    /** {@code Worker::new(name)}: one thread. */
    public static Worker create(String name) {
        return new Builder(name).create();
    }

    /** TiKV's {@code GLOBAL_TIMER_HANDLE}: one daemon thread named {@code timer} that arms timeouts. */
    static final java.util.concurrent.ScheduledExecutorService GLOBAL_TIMER =
            java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "timer");
                t.setDaemon(true);
                return t;
            });

    /** {@code start_with_timer}: like {@link #start}, plus a timeout every {@code runner.getInterval()}. */
    public <T> Scheduler<T> startWithTimer(String name, RunnableWithTimer<T> runner) {
        LazyWorker<T> lazy = lazyBuild(name);
        lazy.startWithTimer(runner);
        return lazy.scheduler();
    }

    /** Starts {@code runner} now and returns its scheduler. */
    public <T> Scheduler<T> start(String name, Runnable<T> runner) {
        LazyWorker<T> lazy = lazyBuild(name);
        lazy.start(runner);
        return lazy.scheduler();
    }

    /** A channel whose runner is attached later; tasks scheduled before then wait. */
    public <T> LazyWorker<T> lazyBuild(String name) {
        return new LazyWorker<>(name, this, new Mailbox<>(pool, counter));
    }

    <T> Scheduler<T> schedulerFor(Mailbox<T> mailbox) {
        return new Scheduler<>(mailbox, counter, pendingCapacity);
    }

    /** Stopped, or at least one task per thread pending. */
    public boolean isBusy() {
        return stopped.get() || counter.get() >= pool.threadCount();
    }

    public ThreadPool pool() {
        return pool;
    }

    /** Shuts the pool down (first call only). */
    public void stop() {
        if (stopped.compareAndSet(false, true)) {
            pool.shutdown();
        }
    }

    /** {@code WorkerBuilder}: name, thread count (default 1), pending capacity (default unbounded). */
    public static final class Builder {
        private final String name;
        private int threadCount = 1;
        private long pendingCapacity = Long.MAX_VALUE;

        public Builder(String name) {
            this.name = name;
        }

        public Builder threadCount(int n) {
            this.threadCount = n;
            return this;
        }

        public Builder pendingCapacity(long n) {
            this.pendingCapacity = n;
            return this;
        }

        public Worker create() {
            return new Worker(name, threadCount, pendingCapacity);
        }
    }
}
