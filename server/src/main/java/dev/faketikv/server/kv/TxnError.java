package dev.faketikv.server.kv;

import com.google.protobuf.ByteString;
import dev.faketikv.engine.codec.Keys;
import org.tikv.kvproto.Kvrpcpb;

/**
 * A transactional error as TiKV's {@code extract_key_error} turns it into {@code kvrpcpb.KeyError}
 * ({@code src/storage/errors.rs}): KeyIsLocked → {@code locked}, WriteConflict → {@code conflict} (plus a
 * {@code retryable} text), AlreadyExist, TxnLockNotFound → {@code retryable}, TxnNotFound,
 * CommitTsExpired, anything else → {@code abort}. {@code committedTs} is set for {@code Committed}, which
 * Cleanup reports as {@code commit_version} instead of an error. Immutable; no stack trace.
 */
final class TxnError extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient Kvrpcpb.KeyError keyError;
    private final long committedTs;

    private TxnError(Kvrpcpb.KeyError keyError, long committedTs, String message) {
        super(message, null, false, false);
        this.keyError = keyError;
        this.committedTs = committedTs;
    }

    Kvrpcpb.KeyError keyError() {
        return keyError;
    }

    /** The commit ts of {@code Committed}, else 0. */
    long committedTs() {
        return committedTs;
    }

    static TxnError locked(Kvrpcpb.LockInfo info) {
        return new TxnError(Kvrpcpb.KeyError.newBuilder().setLocked(info).build(), 0, "key is locked");
    }

    static TxnError writeConflict(long startTs, long conflictStartTs, long conflictCommitTs, byte[] key, byte[] primary) {
        String text = "Error(Txn(Error(Mvcc(Error(WriteConflict { start_ts: TimeStamp(" + startTs + "), conflict_start_ts: TimeStamp("
                + conflictStartTs + "), conflict_commit_ts: TimeStamp(" + conflictCommitTs + "), key: ..., primary: ... })))))";
        return new TxnError(Kvrpcpb.KeyError.newBuilder().setConflict(Kvrpcpb.WriteConflict.newBuilder().setStartTs(startTs)
                .setConflictTs(conflictStartTs).setConflictCommitTs(conflictCommitTs)
                .setKey(ByteString.copyFrom(key)).setPrimary(ByteString.copyFrom(primary)))
                .setRetryable(text).build(), 0, text);
    }

    static TxnError alreadyExist(byte[] key) {
        return new TxnError(Kvrpcpb.KeyError.newBuilder().setAlreadyExist(Kvrpcpb.AlreadyExist.newBuilder()
                .setKey(ByteString.copyFrom(key))).build(), 0, "already exists");
    }

    /** {@code TxnLockNotFound}: commit found neither the lock nor a commit record. */
    static TxnError lockNotFound(long startTs, long commitTs, byte[] encodedKey) {
        String text = "Error(Txn(Error(Mvcc(Error(TxnLockNotFound { start_ts: TimeStamp(" + startTs + "), commit_ts: TimeStamp("
                + commitTs + "), key: " + Keys.hex(encodedKey) + " })))))";
        return new TxnError(Kvrpcpb.KeyError.newBuilder().setRetryable(text).build(), 0, text);
    }

    static TxnError txnNotFound(long startTs, byte[] primary) {
        return new TxnError(Kvrpcpb.KeyError.newBuilder().setTxnNotFound(Kvrpcpb.TxnNotFound.newBuilder().setStartTs(startTs)
                .setPrimaryKey(ByteString.copyFrom(primary))).build(), 0, "txn not found");
    }

    static TxnError commitTsExpired(long startTs, long commitTs, byte[] key, long minCommitTs) {
        return new TxnError(Kvrpcpb.KeyError.newBuilder().setCommitTsExpired(Kvrpcpb.CommitTsExpired.newBuilder().setStartTs(startTs)
                .setAttemptedCommitTs(commitTs).setKey(ByteString.copyFrom(key)).setMinCommitTs(minCommitTs))
                .build(), 0, "commit ts expired");
    }

    /** {@code Committed}: the transaction is already committed at {@code commitTs} (reported as abort elsewhere). */
    static TxnError committed(long startTs, long commitTs) {
        String text = "Error(Txn(Error(Mvcc(Error(Committed { start_ts: TimeStamp(" + startTs + "), commit_ts: TimeStamp(" + commitTs + "), ... })))))";
        return new TxnError(Kvrpcpb.KeyError.newBuilder().setAbort(text).build(), commitTs, text);
    }

    static TxnError abort(String text) {
        return new TxnError(Kvrpcpb.KeyError.newBuilder().setAbort(text).build(), 0, text);
    }
}
