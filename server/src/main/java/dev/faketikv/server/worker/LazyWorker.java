package dev.faketikv.server.worker;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A runnable's channel built before its runner: TiKV's {@code LazyWorker<T>}. The scheduler exists at
 * once (the gRPC service gets it); {@link #start} attaches the runner later, and tasks scheduled in
 * between are delivered then. {@code new LazyWorker(name)} in TiKV makes its own one-thread worker:
 * here {@link #create(String)}.
 *
 * <p>Thread-safe.
 */
public final class LazyWorker<T> {
    private final String name;
    private final Worker worker;
    private final Mailbox<T> mailbox;
    private final Scheduler<T> scheduler;
    private final AtomicBoolean started = new AtomicBoolean();

    LazyWorker(String name, Worker worker, Mailbox<T> mailbox) {
        this.name = name;
        this.worker = worker;
        this.mailbox = mailbox;
        this.scheduler = worker.schedulerFor(mailbox);
    }

    /** A lazy worker on a dedicated one-thread worker of the same name. */
    public static <T> LazyWorker<T> create(String name) {
        return Worker.create(name).lazyBuild(name);
    }

    public String name() {
        return name;
    }

    /** Attaches the runner; false if one was attached before. */
    public boolean start(Runnable<T> runner) {
        if (!started.compareAndSet(false, true)) {
            return false;
        }
        mailbox.attach(runner);
        return true;
    }

    /** Attaches a runner with a timer: its first timeout comes one interval from now. */
    public boolean startWithTimer(RunnableWithTimer<T> runner) {
        if (!start(runner)) {
            return false;
        }
        Worker.GLOBAL_TIMER.schedule(mailbox::timeout, runner.getInterval().toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        return true;
    }

    public Scheduler<T> scheduler() {
        return scheduler;
    }

    /** Closes the channel (queued tasks still run, then the runner's shutdown). */
    public void stop() {
        scheduler.stop();
    }

    /** {@link #stop()} and stops the whole underlying worker: only right for a dedicated one. */
    public void stopWorker() {
        stop();
        worker.stop();
    }
}
