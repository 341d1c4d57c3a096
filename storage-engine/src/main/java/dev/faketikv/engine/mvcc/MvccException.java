package dev.faketikv.engine.mvcc;

/** An MVCC read failure (a blocking lock, a missing default record, a corrupt record). */
public class MvccException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public MvccException(String message) {
        super(message);
    }
}
