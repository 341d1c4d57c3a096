package dev.faketikv.server.backup;

/**
 * The file's cipher cannot be set up: TiKV's "new EncrypterReader error" raised by the writer's save
 * ({@code components/backup/src/writer.rs}). The message is TiKV's Debug text of the error.
 */
public final class EncrypterException extends Exception {
    private static final long serialVersionUID = 1L;

    EncrypterException(String debugText) {
        super(debugText);
    }
}
