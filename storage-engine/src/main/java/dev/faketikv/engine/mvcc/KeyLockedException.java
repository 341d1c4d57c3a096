package dev.faketikv.engine.mvcc;

/**
 * A read met a lock that blocks it ({@code txn::Error(Mvcc(KeyIsLocked(LockInfo)))} in TiKV). Carries
 * the raw user key and the lock so the server can build {@code kvrpcpb.LockInfo}.
 */
public class KeyLockedException extends MvccException {
    private static final long serialVersionUID = 1L;
    private final transient byte[] rawKey;
    private final transient Lock lock;

    public KeyLockedException(byte[] rawKey, Lock lock) {
        super("key is locked (backoff or cleanup) lock_version: " + lock.ts());
        this.rawKey = rawKey;
        this.lock = lock;
    }

    public byte[] rawKey() {
        return rawKey;
    }

    public Lock lock() {
        return lock;
    }
}
