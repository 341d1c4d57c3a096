package dev.faketikv.server.worker;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The sending side of a runnable's channel: TiKV's {@code Scheduler<T>}
 * ({@code components/tikv_util/src/worker/pool.rs}). Clones share the worker-wide pending counter
 * ("queued + running"); {@link #schedule} fails with {@code FULL} at the worker's pending capacity and
 * with {@code STOPPED} once {@link #stop()} closed the channel.
 *
 * <p>Thread-safe.
 */
public final class Scheduler<T> {
    private final Mailbox<T> mailbox;
    private final AtomicLong counter;
    private final long pendingCapacity;

    Scheduler(Mailbox<T> mailbox, AtomicLong counter, long pendingCapacity) {
        this.mailbox = mailbox;
        this.counter = counter;
        this.pendingCapacity = pendingCapacity;
    }

    public void schedule(T task) throws ScheduleException {
        if (counter.get() >= pendingCapacity) {
            throw new ScheduleException(ScheduleException.Kind.FULL, task);
        }
        scheduleForce(task);
    }

    public void scheduleForce(T task) throws ScheduleException {
        if (mailbox.closed()) {
            throw new ScheduleException(ScheduleException.Kind.STOPPED, task);
        }
        counter.incrementAndGet();
        mailbox.push(task);
    }

    /** Whether any task is queued or running on the worker. */
    public boolean isBusy() {
        return counter.get() > 0;
    }

    /** Closes the channel: queued tasks still run, new ones are refused. */
    public void stop() {
        mailbox.close();
    }
}
