package dev.faketikv.server.worker;

/**
 * A task could not be scheduled: TiKV's {@code ScheduleError} ({@code Stopped} → "channel has been
 * closed", {@code Full} → "channel is full"). Carries the task back.
 */
public final class ScheduleException extends Exception {
    private static final long serialVersionUID = 1L;

    public enum Kind {
        STOPPED("channel has been closed"),
        FULL("channel is full");

        private final String text;

        Kind(String text) {
            this.text = text;
        }
    }

    private final Kind kind;
    private final transient Object task;

    public ScheduleException(Kind kind, Object task) {
        super(kind.text);
        this.kind = kind;
        this.task = task;
    }

    public Kind kind() {
        return kind;
    }

    public Object task() {
        return task;
    }

    /** Rust's Debug form, e.g. {@code Stopped(..)}, which TiKV puts in the gRPC status. */
    public String debug() {
        return (kind == Kind.STOPPED ? "Stopped" : "Full") + "(..)";
    }
}
