package dev.faketikv.client.br;

/** A BR command failed; the message is what the user sees. */
public final class BrException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public BrException(String message) {
        super(message);
    }

    public BrException(String message, Throwable cause) {
        super(message, cause);
    }
}
