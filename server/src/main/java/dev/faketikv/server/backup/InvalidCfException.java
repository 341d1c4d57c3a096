package dev.faketikv.server.backup;

import dev.faketikv.server.storage.StorageException;

/** {@code Error::InvalidCf}: a request named a column family TiKV does not have. */
public final class InvalidCfException extends Exception {
    private static final long serialVersionUID = 1L;

    public InvalidCfException(String cf) {
        super("InvalidCf { cf: " + StorageException.quote(cf) + " }");
    }
}
