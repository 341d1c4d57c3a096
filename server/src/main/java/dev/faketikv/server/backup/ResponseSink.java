package dev.faketikv.server.backup;

import io.grpc.Status;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.tikv.kvproto.Brpb.BackupResponse;

/**
 * Where one request's responses go: the counterpart of the unbounded response channel TiKV's
 * {@code Service::backup} creates, whose stream ends (gRPC OK) when every sender is dropped.
 *
 * <p>Java has no "last sender dropped" signal, so the sink counts its holders: it starts with one
 * reference (the request setup), every scan worker and every queued save job {@link #retain()}s one, and
 * each {@link #release()}s it when done; the stream completes when the count reaches zero. The cancel
 * flag is TiKV's shared {@code cancel: Arc<AtomicBool>}: set when the client goes away.
 *
 * <p>Thread-safe: {@link #send} may be called from any worker.
 */
public abstract class ResponseSink {
    private final AtomicInteger refs = new AtomicInteger(1);
    private final AtomicBoolean cancelled = new AtomicBoolean();
    private final List<Runnable> onComplete = new CopyOnWriteArrayList<>();

    /** Delivers one response; false when the client is gone (the sink is then cancelled). */
    public abstract boolean send(BackupResponse response);

    /** Ends the stream with OK (called once, when the last holder releases). */
    protected abstract void complete();

    /**
     * Ends the call now with gRPC status {@code code} and {@code description}, and cancels the request:
     * a fault rule's {@code grpc_status}, a bad request, or a failure that TiKV would crash on.
     */
    public abstract void fail(Status.Code code, String description);

    public final void retain() {
        if (refs.getAndIncrement() <= 0) {
            throw new IllegalStateException("sink already completed");
        }
    }

    public final void release() {
        int left = refs.decrementAndGet();
        if (left == 0) {
            try {
                onComplete.forEach(Runnable::run);
            } finally {
                complete();
            }
        } else if (left < 0) {
            throw new IllegalStateException("sink released too often");
        }
    }

    /** Adds {@code hook}, run (in order of adding) just before the stream completes. */
    public final void onComplete(Runnable hook) {
        onComplete.add(hook);
    }

    public final boolean cancelled() {
        return cancelled.get();
    }

    /** Marks the request cancelled (client gone); workers stop at their next check. */
    public final void cancel() {
        cancelled.set(true);
    }
}
