package dev.faketikv.server.worker;

import java.time.Duration;

/**
 * A {@link Runnable} that is also woken every {@link #getInterval()}: TiKV's {@code RunnableWithTimer}
 * ({@code components/tikv_util/src/worker/pool.rs}). {@link #onTimeout()} runs on the runnable's own
 * mailbox, never at the same time as {@code run}; the next timeout is armed after the previous one was
 * handled, with the interval read again (a fixed delay, not a fixed rate).
 */
public interface RunnableWithTimer<T> extends Runnable<T> {
    void onTimeout();

    Duration getInterval();
}
