package dev.faketikv.server.worker;

import dev.faketikv.server.worker.yatp.ThreadPool;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The channel and drain loop behind one runnable: TiKV's {@code start_impl} future, in mailbox form.
 * Tasks queue here; when the first task arrives (and the runner is attached) one drain job is spawned on
 * the pool, which runs queued tasks in order until the queue is empty. So a runnable never runs on two
 * threads at once, and a busy runnable keeps its thread until its queue is empty (as in TiKV, where the
 * loop never returns {@code Pending} while messages are queued).
 *
 * <p>Simplified against TiKV: Java has no "all senders dropped" signal, so end-of-stream is an explicit
 * {@link #close()}; the runner's {@code shutdown()} runs once the mailbox is closed and drained. A timeout
 * is a flag handled after the queued tasks of the current drain, not a message in the queue.
 */
final class Mailbox<T> {
    private final ThreadPool pool;
    private final AtomicLong counter;
    private final ConcurrentLinkedQueue<T> queue = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean scheduled = new AtomicBoolean();
    private final AtomicBoolean shutdownDone = new AtomicBoolean();
    private volatile Runnable<T> runner;
    private volatile boolean closed;
    private final AtomicBoolean timeoutPending = new AtomicBoolean();

    Mailbox(ThreadPool pool, AtomicLong counter) {
        this.pool = pool;
        this.counter = counter;
    }

    boolean closed() {
        return closed;
    }

    void push(T task) {
        queue.add(task);
        kick();
    }

    void attach(Runnable<T> r) {
        runner = r;
        kick();
    }

    void close() {
        closed = true;
        kick();
    }

    /** A {@code Timeout} message: the runner's {@code onTimeout} runs on this mailbox, between tasks. */
    void timeout() {
        timeoutPending.set(true);
        kick();
    }

    private void kick() {
        if (runner != null && scheduled.compareAndSet(false, true)) {
            pool.spawn(this::drain);
        }
    }

    private void drain() {
        do {
            T t;
            while ((t = queue.poll()) != null) {
                try {
                    runner.run(t);
                } catch (Throwable e) {
                    // a failing task must not stop the runnable: TiKV would have crashed; we log and go on
                    org.slf4j.LoggerFactory.getLogger(Mailbox.class).error("runnable failed on a task", e);
                } finally {
                    counter.decrementAndGet();
                }
            }
            if (timeoutPending.getAndSet(false) && runner instanceof RunnableWithTimer<T> timed && !closed) {
                try {
                    timed.onTimeout();
                } catch (Throwable e) {
                    org.slf4j.LoggerFactory.getLogger(Mailbox.class).error("runnable failed on a timeout", e);
                } finally {
                    Worker.GLOBAL_TIMER.schedule(this::timeout, timed.getInterval().toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
                }
            }
            if (closed && queue.isEmpty() && shutdownDone.compareAndSet(false, true)) {
                runner.shutdown();
            }
            scheduled.set(false);
            // A push (or close) between the last poll and the reset above must not be lost.
        } while (hasWork() && scheduled.compareAndSet(false, true));
    }

    private boolean hasWork() {
        return !queue.isEmpty() || timeoutPending.get() || (closed && !shutdownDone.get());
    }
}
