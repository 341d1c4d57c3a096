package dev.faketikv.server.kv;

import dev.faketikv.engine.Cf;
import dev.faketikv.engine.Engine;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.mvcc.Lock;
import dev.faketikv.engine.mvcc.LockType;
import dev.faketikv.engine.mvcc.Write;
import dev.faketikv.engine.mvcc.WriteType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.tikv.kvproto.Kvrpcpb;

/**
 * TiKV 5.4's transactional write commands over the engine, each under the latches of its keys and
 * applied as one atomic batch: prewrite ({@code src/storage/txn/actions/prewrite.rs}), commit
 * ({@code actions/commit.rs}), cleanup and batch rollback ({@code actions/cleanup.rs}), check txn status,
 * rollback and missing-lock handling ({@code actions/check_txn_status.rs}), resolve lock
 * ({@code commands/resolve_lock.rs}, {@code resolve_lock_lite.rs}) and txn heart beat
 * ({@code commands/txn_heart_beat.rs}). Optimistic transactions only: pessimistic locks, async commit
 * and 1PC are not taken (a prewrite asking for them gets an abort error).
 *
 * <p>Keys passed in are memcomparable-encoded user keys (no {@code z}); errors are {@link TxnError}s.
 * Lock expiry compares physical milliseconds ({@code ts >> 18}) as TiKV does. Thread-safe: commands on
 * overlapping keys run one after the other ({@link Latches}).
 */
final class Percolator {
    /** {@code txn_types::write::PROTECTED_ROLLBACK_SHORT_VALUE}. */
    private static final byte[] PROTECTED_ROLLBACK = {'p'};
    private final Engine engine;
    private final Latches latches;

    Percolator(Engine engine) {
        this.engine = engine;
        this.latches = Latches.of(engine);
    }

    static long physical(long ts) {
        return ts >>> 18;
    }

    /** The writes one command makes, applied at once by {@link #run}. */
    private static final class Txn {
        final MvccReader reader;
        final Engine.Batch batch;

        Txn(MvccReader reader, Engine.Batch batch) {
            this.reader = reader;
            this.batch = batch;
        }

        void putLock(byte[] key, Lock lock) {
            batch.put(Cf.LOCK, Keys.dataKey(key), lock.toBytes());
        }

        void unlock(byte[] key) {
            batch.delete(Cf.LOCK, Keys.dataKey(key));
        }

        void putWrite(byte[] key, long commitTs, Write w) {
            batch.put(Cf.WRITE, Keys.appendTs(Keys.dataKey(key), commitTs), w.toBytes());
        }

        void deleteWrite(byte[] key, long commitTs) {
            batch.delete(Cf.WRITE, Keys.appendTs(Keys.dataKey(key), commitTs));
        }

        void putValue(byte[] key, long startTs, byte[] value) {
            batch.put(Cf.DEFAULT, Keys.appendTs(Keys.dataKey(key), startTs), value);
        }

        void deleteValue(byte[] key, long startTs) {
            batch.delete(Cf.DEFAULT, Keys.appendTs(Keys.dataKey(key), startTs));
        }
    }

    private interface Command<T> {
        T apply(Txn txn);
    }

    /** Runs {@code cmd} under the latches of {@code keys} on a fresh snapshot and applies its writes. */
    private <T> T run(List<byte[]> keys, Command<T> cmd) {
        try (Latches.Guard g = latches.acquire(keys); MvccReader reader = new MvccReader(engine); Engine.Batch batch = engine.batch()) {
            T result = cmd.apply(new Txn(reader, batch));
            if (batch.count() > 0) {
                batch.commit(false);
            }
            return result;
        }
    }

    // ---- prewrite

    /**
     * Prewrites {@code mutations} (keys encoded) for {@code start_ts}: locks by other transactions are
     * collected as KeyIsLocked errors and nothing is written; any other error fails the whole request.
     */
    List<Kvrpcpb.KeyError> prewrite(Kvrpcpb.PrewriteRequest req, List<byte[]> keys) {
        if (req.getUseAsyncCommit() || req.getTryOnePc() || req.getForUpdateTs() != 0) {
            throw TxnError.abort("fake-tikv takes optimistic two-phase commit only (no async commit, 1PC or pessimistic locks)");
        }
        long startTs = req.getStartVersion();
        byte[] primary = req.getPrimaryLock().toByteArray();
        return run(keys, txn -> {
            List<Kvrpcpb.KeyError> locked = new ArrayList<>();
            for (int i = 0; i < keys.size(); i++) {
                Kvrpcpb.Mutation m = req.getMutations(i);
                byte[] key = keys.get(i);
                try {
                    prewriteKey(txn, key, m, primary, startTs, req.getLockTtl(), req.getTxnSize(), req.getMinCommitTs());
                } catch (TxnError e) {
                    if (!e.keyError().hasLocked()) {
                        throw e;
                    }
                    locked.add(e.keyError());
                }
            }
            if (!locked.isEmpty()) {
                throw new Locked(locked);
            }
            return List.of();
        });
    }

    /** Internal: the KeyIsLocked errors of a prewrite, after which nothing is written. */
    static final class Locked extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final transient List<Kvrpcpb.KeyError> errors;

        Locked(List<Kvrpcpb.KeyError> errors) {
            super(null, null, false, false);
            this.errors = errors;
        }
    }

    private void prewriteKey(Txn txn, byte[] key, Kvrpcpb.Mutation m, byte[] primary, long startTs, long ttl, long txnSize, long minCommitTs) {
        LockType type = switch (m.getOp()) {
            case Put, Insert -> LockType.PUT;
            case Del -> LockType.DELETE;
            case Lock, CheckNotExists -> LockType.LOCK;
            default -> throw TxnError.abort("invalid op " + m.getOp() + " in prewrite");
        };
        boolean shouldNotExist = m.getOp() == Kvrpcpb.Op.Insert || m.getOp() == Kvrpcpb.Op.CheckNotExists;
        Lock existing = txn.reader.loadLock(key);
        if (existing != null) {
            if (existing.ts() != startTs) {
                throw TxnError.locked(MvccReader.lockInfo(BytesCodec.decode(key), existing));
            }
            return; // a duplicated prewrite
        }
        MvccReader.Version newest = txn.reader.seekWrite(key, -1L);
        if (newest != null) {
            int c = Long.compareUnsigned(newest.commitTs(), startTs);
            Write w = newest.write();
            if (c > 0 || c == 0 && (w.type() == WriteType.ROLLBACK || w.hasOverlappedRollback())) {
                throw TxnError.writeConflict(startTs, w.startTs(), newest.commitTs(), BytesCodec.decode(key), primary);
            }
            if (shouldNotExist && txn.reader.committedValue(key, -1L) != null) {
                throw TxnError.alreadyExist(BytesCodec.decode(key));
            }
        }
        if (m.getOp() == Kvrpcpb.Op.CheckNotExists) {
            return;
        }
        byte[] value = type == LockType.PUT ? m.getValue().toByteArray() : null;
        byte[] shortValue = null;
        if (value != null) {
            if (value.length <= Write.SHORT_VALUE_MAX_LEN) {
                shortValue = value;
            } else {
                txn.putValue(key, startTs, value);
            }
        }
        txn.putLock(key, new Lock(type, primary, startTs, ttl, shortValue, 0, txnSize, minCommitTs, false, List.of(), List.of()));
    }

    // ---- commit

    /** Commits {@code keys} of {@code start_ts} at {@code commit_ts}. */
    void commit(List<byte[]> keys, long startTs, long commitTs) {
        if (Long.compareUnsigned(commitTs, startTs) <= 0) {
            throw TxnError.abort("Error(Txn(Error(InvalidTxnTso { start_ts: TimeStamp(" + startTs + "), commit_ts: TimeStamp(" + commitTs + ") })))");
        }
        run(keys, txn -> {
            for (byte[] key : keys) {
                commitKey(txn, key, startTs, commitTs);
            }
            return null;
        });
    }

    private static void commitKey(Txn txn, byte[] key, long startTs, long commitTs) {
        Lock lock = txn.reader.loadLock(key);
        if (lock != null && lock.ts() == startTs) {
            if (Long.compareUnsigned(commitTs, lock.minCommitTs()) < 0) {
                throw TxnError.commitTsExpired(startTs, commitTs, BytesCodec.decode(key), lock.minCommitTs());
            }
            if (lock.type() == LockType.PESSIMISTIC) {
                txn.unlock(key);
                return;
            }
            WriteType wt = switch (lock.type()) {
                case PUT -> WriteType.PUT;
                case DELETE -> WriteType.DELETE;
                default -> WriteType.LOCK;
            };
            txn.putWrite(key, commitTs, new Write(wt, startTs, lock.shortValue(), false, 0));
            txn.unlock(key);
            return;
        }
        MvccReader.Version rec = txn.reader.txnCommitRecord(key, startTs);
        if (rec != null && rec.write().type() != WriteType.ROLLBACK) {
            return; // already committed
        }
        throw TxnError.lockNotFound(startTs, commitTs, key);
    }

    // ---- rollback, cleanup

    /** {@code rollback_lock}: removes this transaction's lock and leaves a rollback record. */
    private static void rollbackLock(Txn txn, byte[] key, Lock lock, long startTs, boolean collapse) {
        MvccReader.Version rec = txn.reader.txnCommitRecord(key, startTs);
        if (rec != null) {
            txn.unlock(key);
            return;
        }
        if (lock.shortValue() == null && lock.type() == LockType.PUT) {
            txn.deleteValue(key, startTs);
        }
        boolean isPessimistic = lock.forUpdateTs() != 0;
        boolean protect = isPessimistic && Arrays.equals(BytesCodec.decode(key), lock.primary());
        writeRollback(txn, key, startTs, protect);
        if (collapse) {
            collapsePrevRollback(txn, key, startTs);
        }
        txn.unlock(key);
    }

    /** {@code make_rollback}: a rollback record at {@code start_ts}, or the overlapped-rollback flag on a commit there. */
    private static void writeRollback(Txn txn, byte[] key, long startTs, boolean protect) {
        MvccReader.Version at = txn.reader.seekWrite(key, startTs);
        if (at != null && at.commitTs() == startTs && at.write().type() != WriteType.ROLLBACK) {
            if (protect) {
                Write w = at.write();
                txn.putWrite(key, startTs, new Write(w.type(), w.startTs(), w.shortValue(), true, w.gcFence()));
            }
            return;
        }
        txn.putWrite(key, startTs, new Write(WriteType.ROLLBACK, startTs, protect ? PROTECTED_ROLLBACK : null, false, 0));
    }

    /** {@code collapse_prev_rollback}: drops an older unprotected rollback record of the key. */
    private static void collapsePrevRollback(Txn txn, byte[] key, long startTs) {
        MvccReader.Version prev = txn.reader.seekWrite(key, startTs - 1);
        if (prev != null && prev.write().type() == WriteType.ROLLBACK
                && !Arrays.equals(prev.write().shortValue(), PROTECTED_ROLLBACK)) {
            txn.deleteWrite(key, prev.commitTs());
        }
    }

    /** Outcome of {@code check_txn_status_missing_lock}. */
    private enum Missing { COMMITTED, ROLLED_BACK, ROLLBACK_WRITTEN }

    private static Missing missingLock(Txn txn, byte[] key, long startTs, boolean protect, long[] commitTsOut) {
        MvccReader.Version rec = txn.reader.txnCommitRecord(key, startTs);
        if (rec != null) {
            if (rec.write().type() == WriteType.ROLLBACK) {
                return Missing.ROLLED_BACK;
            }
            commitTsOut[0] = rec.commitTs();
            return Missing.COMMITTED;
        }
        if (!protect) {
            collapsePrevRollback(txn, key, startTs);
        }
        writeRollback(txn, key, startTs, protect);
        return Missing.ROLLBACK_WRITTEN;
    }

    /** {@code cleanup}: rolls back the key's lock of {@code start_ts} unless still alive at {@code current_ts}. */
    private static void cleanupKey(Txn txn, byte[] key, long startTs, long currentTs, boolean protect) {
        Lock lock = txn.reader.loadLock(key);
        if (lock != null && lock.ts() == startTs) {
            if (currentTs != 0 && physical(lock.ts()) + lock.ttl() >= physical(currentTs)) {
                throw TxnError.locked(MvccReader.lockInfo(BytesCodec.decode(key), lock));
            }
            rollbackLock(txn, key, lock, startTs, !protect);
            return;
        }
        long[] committed = new long[1];
        if (missingLock(txn, key, startTs, protect, committed) == Missing.COMMITTED) {
            throw TxnError.committed(startTs, committed[0]);
        }
    }

    /** KvBatchRollback: {@code cleanup(key, current_ts = 0, protect = false)} for each key. */
    void batchRollback(List<byte[]> keys, long startTs) {
        run(keys, txn -> {
            for (byte[] key : keys) {
                cleanupKey(txn, key, startTs, 0, false);
            }
            return null;
        });
    }

    /** KvCleanup: {@code cleanup(key, current_ts, protect = true)}. */
    void cleanup(byte[] key, long startTs, long currentTs) {
        run(List.of(key), txn -> {
            cleanupKey(txn, key, startTs, currentTs, true);
            return null;
        });
    }

    // ---- check txn status, heart beat

    /** KvCheckTxnStatus as {@code commands/check_txn_status.rs} and {@code future_check_txn_status} answer it. */
    Kvrpcpb.CheckTxnStatusResponse.Builder checkTxnStatus(byte[] primary, Kvrpcpb.CheckTxnStatusRequest req) {
        long lockTs = req.getLockTs();
        long callerStartTs = req.getCallerStartTs();
        long currentTs = req.getCurrentTs();
        return run(List.of(primary), txn -> {
            Kvrpcpb.CheckTxnStatusResponse.Builder resp = Kvrpcpb.CheckTxnStatusResponse.newBuilder();
            Lock lock = txn.reader.loadLock(primary);
            if (lock != null && lock.ts() == lockTs) {
                if (lock.useAsyncCommit() && !req.getForceSyncCommit()) {
                    return resp.setLockTtl(lock.ttl()).setLockInfo(MvccReader.lockInfo(lock.primary(), lock));
                }
                if (physical(lock.ts()) + lock.ttl() < physical(currentTs)) {
                    rollbackLock(txn, primary, lock, lockTs, true);
                    return resp.setAction(Kvrpcpb.Action.TTLExpireRollback);
                }
                boolean callerMax = callerStartTs == -1L;
                if (lock.minCommitTs() != 0 && !callerMax && Long.compareUnsigned(callerStartTs, lock.minCommitTs()) >= 0) {
                    long min = callerStartTs + 1;
                    if (Long.compareUnsigned(min, currentTs) < 0) {
                        min = currentTs;
                    }
                    lock = new Lock(lock.type(), lock.primary(), lock.ts(), lock.ttl(), lock.shortValue(), lock.forUpdateTs(),
                            lock.txnSize(), min, lock.useAsyncCommit(), lock.secondaries(), lock.rollbackTs());
                    txn.putLock(primary, lock);
                }
                boolean pushed = callerStartTs != 0 && Long.compareUnsigned(lock.minCommitTs(), callerStartTs) > 0 || callerMax;
                if (pushed) {
                    resp.setAction(Kvrpcpb.Action.MinCommitTSPushed);
                }
                return resp.setLockTtl(lock.ttl()).setLockInfo(MvccReader.lockInfo(lock.primary(), lock));
            }
            MvccReader.Version rec = txn.reader.txnCommitRecord(primary, lockTs);
            if (rec != null) {
                if (rec.write().type() != WriteType.ROLLBACK) {
                    resp.setCommitVersion(rec.commitTs());
                }
                return resp.setAction(Kvrpcpb.Action.NoAction);
            }
            if (!req.getRollbackIfNotExist()) {
                throw TxnError.txnNotFound(lockTs, BytesCodec.decode(primary));
            }
            writeRollback(txn, primary, lockTs, true);
            return resp.setAction(Kvrpcpb.Action.LockNotExistRollback);
        });
    }

    /** KvTxnHeartBeat: raises the primary lock's TTL to {@code advise_ttl}; returns the TTL. */
    long heartBeat(byte[] primary, long startTs, long adviseTtl) {
        return run(List.of(primary), txn -> {
            Lock lock = txn.reader.loadLock(primary);
            if (lock == null || lock.ts() != startTs) {
                throw TxnError.txnNotFound(startTs, BytesCodec.decode(primary));
            }
            if (Long.compareUnsigned(lock.ttl(), adviseTtl) < 0) {
                lock = new Lock(lock.type(), lock.primary(), lock.ts(), adviseTtl, lock.shortValue(), lock.forUpdateTs(),
                        lock.txnSize(), lock.minCommitTs(), lock.useAsyncCommit(), lock.secondaries(), lock.rollbackTs());
                txn.putLock(primary, lock);
            }
            return lock.ttl();
        });
    }

    // ---- resolve lock

    /**
     * KvResolveLock: commits ({@code commit_ts > 0}) or rolls back ({@code 0}) the locks of the given
     * transactions, on {@code keys} when given (ResolveLockLite), else on every lock in {@code [lower, upper)}.
     */
    void resolveLock(Map<Long, Long> txnStatus, List<byte[]> keys, byte[] lower, byte[] upper) {
        List<MvccReader.KeyLock> targets;
        try (MvccReader r = new MvccReader(engine)) {
            if (!keys.isEmpty()) {
                targets = new ArrayList<>();
                for (byte[] k : keys) {
                    Lock l = r.loadLock(k);
                    if (l != null && txnStatus.containsKey(l.ts())) {
                        targets.add(new MvccReader.KeyLock(k, l));
                    }
                }
            } else {
                targets = r.scanLocks(lower, upper, 0, 0, txnStatus.keySet());
            }
        }
        List<byte[]> targetKeys = targets.stream().map(MvccReader.KeyLock::key).toList();
        run(targetKeys, txn -> {
            for (MvccReader.KeyLock kl : targets) {
                Lock now = txn.reader.loadLock(kl.key());
                if (now == null || now.ts() != kl.lock().ts()) {
                    continue; // resolved meanwhile
                }
                long startTs = now.ts();
                long commitTs = txnStatus.get(startTs);
                if (commitTs == 0) {
                    cleanupKey(txn, kl.key(), startTs, 0, false);
                } else if (Long.compareUnsigned(commitTs, startTs) > 0) {
                    commitKey(txn, kl.key(), startTs, commitTs);
                } else {
                    throw TxnError.abort("Error(Txn(Error(InvalidTxnTso { start_ts: TimeStamp(" + startTs + "), commit_ts: TimeStamp(" + commitTs + ") })))");
                }
            }
            return null;
        });
    }

    /** KvScanLock: locks with {@code ts <= max_version} in {@code [lower, upper)}, at most {@code limit}. */
    List<Kvrpcpb.LockInfo> scanLock(long maxVersion, byte[] lower, byte[] upper, int limit) {
        try (MvccReader r = new MvccReader(engine)) {
            List<Kvrpcpb.LockInfo> out = new ArrayList<>();
            for (MvccReader.KeyLock kl : r.scanLocks(lower, upper, maxVersion, limit, null)) {
                out.add(MvccReader.lockInfo(BytesCodec.decode(kl.key()), kl.lock()));
            }
            return out;
        }
    }
}
