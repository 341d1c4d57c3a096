package dev.faketikv.server.backup;

import com.google.protobuf.ByteString;
import dev.faketikv.engine.EngineException;
import dev.faketikv.engine.codec.CodecException;
import dev.faketikv.engine.mvcc.KeyLockedException;
import dev.faketikv.engine.mvcc.Lock;
import dev.faketikv.engine.mvcc.MvccException;
import dev.faketikv.server.control.FailPoints.FailPointPanic;
import dev.faketikv.server.metrics.BackupMetrics;
import dev.faketikv.server.storage.StorageException;
import java.io.IOException;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Kvrpcpb;

/**
 * Turns what went wrong into a {@code backup.Error}: TiKV's {@code From<Error> for brpb::Error}
 * ({@code components/backup/src/errors.rs}). Exactly one of: {@code region_error} (msg empty),
 * {@code kv_error.locked} (msg empty), {@code cluster_id_error}, or {@code msg} alone holding the
 * Rust-Debug-like text of the error.
 *
 * <p>As in TiKV, where each match arm of the conversion also bumps {@code tikv_backup_error_counter{error}}
 * (errors.rs:74-112 at b5262299), converting and counting happen here together: every error that reaches a
 * response goes through {@link #convert} or {@link #clusterIdMismatch}, which count its label (uncommon
 * region errors are not counted, as in TiKV). Stateless.
 */
public final class BackupErrors {
    private BackupErrors() {}

    /** {@code e} as a {@code backup.Error}, counted in {@code metrics} under its label. */
    public static Brpb.Error convert(Throwable e, BackupMetrics metrics) {
        if (e instanceof RegionErrorException re) {
            return counted(Brpb.Error.newBuilder().setRegionError(re.error()).build(), re.label(), metrics);
        }
        if (e instanceof KeyLockedException kl) {
            Kvrpcpb.KeyError ke = Kvrpcpb.KeyError.newBuilder().setLocked(lockInfo(kl.rawKey(), kl.lock())).build();
            return counted(Brpb.Error.newBuilder().setKvError(ke).build(), "key_is_locked", metrics);
        }
        return counted(Brpb.Error.newBuilder().setMsg(debugText(e)).build(), "other", metrics);
    }

    /** {@code ClusterIDError{current, request}}, counted as {@code cluster_mismatch}. */
    public static Brpb.Error clusterIdMismatch(long current, long request, BackupMetrics metrics) {
        Brpb.ClusterIDError c = Brpb.ClusterIDError.newBuilder().setCurrent(current).setRequest(request).build();
        return counted(Brpb.Error.newBuilder().setClusterIdError(c).build(), "cluster_mismatch", metrics);
    }

    /** Counts {@code label} (null = not counted) and returns {@code error}. */
    private static Brpb.Error counted(Brpb.Error error, String label, BackupMetrics metrics) {
        if (label != null) {
            metrics.countError(label);
        }
        return error;
    }

    /** {@code Lock::into_lock_info}. */
    public static Kvrpcpb.LockInfo lockInfo(byte[] rawKey, Lock lock) {
        Kvrpcpb.LockInfo.Builder b = Kvrpcpb.LockInfo.newBuilder()
                .setPrimaryLock(ByteString.copyFrom(lock.primary()))
                .setLockVersion(lock.ts())
                .setKey(ByteString.copyFrom(rawKey))
                .setLockTtl(lock.ttl())
                .setTxnSize(lock.txnSize())
                .setLockType(switch (lock.type()) {
                    case PUT -> Kvrpcpb.Op.Put;
                    case DELETE -> Kvrpcpb.Op.Del;
                    case LOCK -> Kvrpcpb.Op.Lock;
                    case PESSIMISTIC -> Kvrpcpb.Op.PessimisticLock;
                })
                .setLockForUpdateTs(lock.forUpdateTs())
                .setUseAsyncCommit(lock.useAsyncCommit())
                .setMinCommitTs(lock.minCommitTs());
        for (byte[] s : lock.secondaries()) {
            b.addSecondaries(ByteString.copyFrom(s));
        }
        return b.build();
    }

    /** TiKV-style Debug text for {@code msg}: {@code Io(...)}, {@code Txn(...)}, {@code Other(...)}, ... */
    static String debugText(Throwable e) {
        if (e instanceof StorageException se) {
            return se.debug();
        }
        if (e instanceof IOException io) {
            return StorageException.of(io).debug();
        }
        if (e instanceof EncrypterException || e instanceof InjectedError) {
            return e.getMessage();
        }
        if (e instanceof FailPointPanic) {
            return "Other(" + StorageException.quote(e.getMessage()) + ")";
        }
        if (e instanceof MvccException || e instanceof CodecException) {
            return "Txn(Error(Mvcc(Error(" + e.getMessage() + "))))";
        }
        if (e instanceof EngineException) {
            return "EngineTrait(Engine(" + StorageException.quote(e.getMessage()) + "))";
        }
        return "Other(" + StorageException.quote(e.getClass().getSimpleName() + ": " + e.getMessage()) + ")";
    }
}
