package dev.faketikv.server.backup;

/** The client went away; the worker stops without sending anything. */
final class CancelledException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    CancelledException() {
        super("backup task has canceled", null, false, false);
    }
}
