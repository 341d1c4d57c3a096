package dev.faketikv.server.worker;

/**
 * A task handler run by a {@link Worker}: TiKV's {@code Runnable} trait
 * ({@code components/tikv_util/src/worker/pool.rs}). Named like TiKV's on purpose; it lives in its own
 * package so it does not shadow {@link java.lang.Runnable} elsewhere.
 *
 * <p>{@link #run} is called for one task at a time, in the order the tasks were scheduled, never
 * concurrently with itself; {@link #shutdown} is called once after the last task, when the scheduler is
 * stopped and drained.
 */
public interface Runnable<T> {
    void run(T task);

    default void shutdown() {}
}
