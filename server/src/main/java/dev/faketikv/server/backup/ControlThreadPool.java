package dev.faketikv.server.backup;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * The pool scan workers run on, threads named {@code bkwkr}: TiKV's {@code ControlThreadPool}
 * ({@code components/backup/src/utils.rs}). {@link #adjustWith(int)} keeps the current pool when it has at
 * least {@code n} threads and no more than 10 too many; otherwise it builds a new pool of exactly
 * {@code n} threads and retires the old one, whose queued and running tasks still finish (TiKV's
 * {@code DaemonRuntime}). So the pool grows at once and shrinks only when far too big.
 *
 * <p>After {@link #close()} no pool is built any more: {@code adjustWith} keeps what there is and a task
 * submitted to {@link #current()} is refused with {@link RejectedExecutionException}, as by a pool that was
 * shut down (the endpoint answers it as a stopped endpoint does).
 *
 * <p>Thread-safe.
 */
public final class ControlThreadPool implements AutoCloseable {
    static final int SHRINK_SLACK = 10;

    private final IntConsumer sizeGauge;
    private final AtomicInteger threadSeq = new AtomicInteger();
    private final List<ThreadPoolExecutor> retired = new ArrayList<>();
    private ThreadPoolExecutor pool;
    private int size;
    private boolean closed;

    public ControlThreadPool(IntConsumer sizeGauge) {
        this.sizeGauge = sizeGauge;
    }

    public synchronized void adjustWith(int n) {
        if (closed || pool != null && size >= n && size - n <= SHRINK_SLACK) {
            return;
        }
        ThreadPoolExecutor old = pool;
        pool = new ThreadPoolExecutor(n, n, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "bkwkr-" + threadSeq.getAndIncrement());
            t.setDaemon(true);
            return t;
        });
        size = n;
        sizeGauge.accept(n);
        if (old != null) {
            old.shutdown();
            retired.removeIf(ThreadPoolExecutor::isTerminated);
            retired.add(old);
        }
    }

    public synchronized int size() {
        return size;
    }

    /** The current pool (a retired pool refuses new tasks, so always submit here). */
    public synchronized ExecutorService current() {
        if (pool == null && closed) {
            throw new RejectedExecutionException("bkwkr pool closed before it was built");
        }
        if (pool == null) {
            throw new IllegalStateException("bkwkr pool used before adjust_with");
        }
        return pool;
    }

    /** Stops every pool, current and retired, and waits for their threads (scan workers end at their next check). */
    @Override
    public synchronized void close() {
        closed = true;
        if (pool != null) {
            retired.add(pool);
        }
        for (ThreadPoolExecutor p : retired) {
            p.shutdown();
        }
        try {
            for (ThreadPoolExecutor p : retired) {
                if (!p.awaitTermination(30, TimeUnit.SECONDS)) {
                    p.shutdownNow();
                    p.awaitTermination(10, TimeUnit.SECONDS);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
