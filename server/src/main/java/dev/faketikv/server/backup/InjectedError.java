package dev.faketikv.server.backup;

/** A failure injected by a failpoint or a fault rule; its message becomes {@code error.msg} verbatim. */
final class InjectedError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    InjectedError(String message) {
        super(message, null, false, false);
    }
}
