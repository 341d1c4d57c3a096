package dev.faketikv.server.status;

/** Thrown by a status handler: the HTTP status code and a one-line reason. */
final class HttpError extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final int code;

    HttpError(int code, String reason) {
        super(reason);
        this.code = code;
    }
}
