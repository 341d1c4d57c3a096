package dev.faketikv.server.kv;

import dev.faketikv.server.backup.BackupErrors;
import dev.faketikv.engine.Cf;
import dev.faketikv.engine.Engine;
import dev.faketikv.engine.EngineIterator;
import dev.faketikv.engine.EngineSnapshot;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.mvcc.Lock;
import dev.faketikv.engine.mvcc.Write;
import dev.faketikv.engine.mvcc.WriteType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.tikv.kvproto.Kvrpcpb;

/**
 * Percolator reads over one engine snapshot, as TiKV's {@code MvccReader}
 * ({@code src/storage/mvcc/reader/reader.rs}: {@code load_lock}, {@code seek_write},
 * {@code get_txn_commit_record}), {@code PointGetter} ({@code reader/point_getter.rs}) and the forward
 * scanner ({@code reader/scanner/forward.rs}) do them. Keys are memcomparable-encoded user keys without
 * {@code z}; locks live at {@code z ++ key} in CF_LOCK, commit records at {@code z ++ key ++ !commit_ts}
 * in CF_WRITE, long values at {@code z ++ key ++ !start_ts} in CF_DEFAULT.
 *
 * <p>Snapshot-isolation reads: a lock of type Put/Delete with {@code ts <= read_ts} (and
 * {@code min_commit_ts <= read_ts}) not in the request's {@code resolved_locks} makes the read fail with
 * KeyIsLocked ({@code Lock::check_ts_conflict}, {@code components/txn_types/src/lock.rs}); read-committed
 * reads ignore locks. Not thread-safe; close it to release the snapshot.
 */
final class MvccReader implements AutoCloseable {
    private final EngineSnapshot snap;

    MvccReader(Engine engine) {
        this.snap = engine.snapshot();
    }

    /** A commit record and its commit ts. */
    record Version(long commitTs, Write write) {
    }

    /** The lock on {@code key}, or null. */
    Lock loadLock(byte[] key) {
        byte[] v = snap.get(Cf.LOCK, Keys.dataKey(key));
        return v == null ? null : Lock.parse(v);
    }

    /** The newest commit record of {@code key} with {@code commit_ts <= ts}, or null. */
    Version seekWrite(byte[] key, long ts) {
        byte[] dk = Keys.dataKey(key);
        try (EngineIterator it = snap.iterator(Cf.WRITE, dk, Keys.prefixNext(dk))) {
            it.seek(Keys.appendTs(dk, ts));
            if (it.valid() && it.key().length == dk.length + Keys.TS_LEN) {
                return new Version(Keys.decodeTs(it.key()), Write.parse(it.value()));
            }
            it.checkStatus();
            return null;
        }
    }

    /**
     * {@code get_txn_commit_record}: the record the transaction {@code startTs} left on {@code key}, newest
     * first among those with {@code commit_ts >= start_ts}, or null. A record whose start ts differs but
     * carries the overlapped-rollback flag at {@code commit_ts == start_ts} counts as rolled back.
     */
    Version txnCommitRecord(byte[] key, long startTs) {
        byte[] dk = Keys.dataKey(key);
        try (EngineIterator it = snap.iterator(Cf.WRITE, dk, Keys.appendTs(dk, startTs - 1))) {
            it.seek(dk);
            for (; it.valid(); it.next()) {
                if (it.key().length != dk.length + Keys.TS_LEN) {
                    continue;
                }
                long commitTs = Keys.decodeTs(it.key());
                Write w = Write.parse(it.value());
                if (w.startTs() == startTs) {
                    return new Version(commitTs, w);
                }
                if (commitTs == startTs && w.hasOverlappedRollback()) {
                    return new Version(commitTs, new Write(WriteType.ROLLBACK, startTs, null, false, 0));
                }
            }
            it.checkStatus();
            return null;
        }
    }

    /** The value a PUT record points at (its short value or CF_DEFAULT at its start ts). */
    byte[] valueOf(byte[] key, Write w) {
        if (w.shortValue() != null) {
            return w.shortValue();
        }
        byte[] v = snap.get(Cf.DEFAULT, Keys.appendTs(Keys.dataKey(key), w.startTs()));
        if (v == null) {
            throw TxnError.abort("default not found: key:" + Keys.hex(key) + ", write start_ts: " + w.startTs());
        }
        return v;
    }

    /** The committed value of {@code key} visible at {@code ts} (Rollback and Lock records skipped), or null. */
    byte[] committedValue(byte[] key, long ts) {
        byte[] dk = Keys.dataKey(key);
        try (EngineIterator it = snap.iterator(Cf.WRITE, dk, Keys.prefixNext(dk))) {
            for (it.seek(Keys.appendTs(dk, ts)); it.valid(); it.next()) {
                if (it.key().length != dk.length + Keys.TS_LEN) {
                    continue;
                }
                Write w = Write.parse(it.value());
                if (!w.validAsLatestVersion(ts)) {
                    return null;
                }
                switch (w.type()) {
                    case PUT:
                        return valueOf(key, w);
                    case DELETE:
                        return null;
                    default:
                        break;
                }
            }
            it.checkStatus();
            return null;
        }
    }

    /** Throws KeyIsLocked if the lock on {@code key} blocks a read at {@code ts} (see the class doc). */
    void checkLock(byte[] key, long ts, Kvrpcpb.Context ctx) {
        if (ctx.getIsolationLevel() == Kvrpcpb.IsolationLevel.RC) {
            return;
        }
        Lock lock = loadLock(key);
        if (lock != null) {
            checkLock(key, lock, ts, ctx);
        }
    }

    private static void checkLock(byte[] key, Lock lock, long ts, Kvrpcpb.Context ctx) {
        if (ctx.getIsolationLevel() == Kvrpcpb.IsolationLevel.RC || ctx.getResolvedLocksList().contains(lock.ts())) {
            return;
        }
        byte[] raw = BytesCodec.decode(key);
        if (lock.blocksRead(raw, ts)) {
            throw TxnError.locked(lockInfo(raw, lock));
        }
    }

    /** Snapshot read of one key: the lock check, then the committed value, or null. */
    byte[] get(byte[] key, long ts, Kvrpcpb.Context ctx) {
        checkLock(key, ts, ctx);
        return committedValue(key, ts);
    }

    /** One entry of a scan: a pair or, for a locked key, its KeyIsLocked error. */
    record Entry(byte[] rawKey, byte[] value, TxnError error) {
    }

    /**
     * Forward snapshot scan of {@code [lower, upper)} (encoded keys; empty upper = unbounded) at {@code ts},
     * at most {@code limit} entries; keys whose newest visible record is not a Put are skipped; a locked key
     * yields its error and the scan goes on, as {@code Scanner::scan} in {@code src/storage/txn/store.rs}.
     */
    List<Entry> scan(byte[] lower, byte[] upper, int limit, long ts, boolean keyOnly, Kvrpcpb.Context ctx) {
        List<Entry> out = new ArrayList<>();
        byte[] lo = Keys.dataKey(lower);
        byte[] hi = upper.length == 0 ? new byte[] {Keys.DATA_PREFIX + 1} : Keys.dataKey(upper);
        try (EngineIterator locks = snap.iterator(Cf.LOCK, lo, hi); EngineIterator writes = snap.iterator(Cf.WRITE, lo, hi)) {
            locks.seek(lo);
            writes.seek(lo);
            while (out.size() < limit && (locks.valid() || writes.valid())) {
                byte[] lk = locks.valid() ? locks.key() : null;
                byte[] wk = writes.valid() ? Keys.truncateTs(writes.key()) : null;
                byte[] dk = lk == null ? wk : wk == null ? lk : Keys.compare(lk, wk) <= 0 ? lk : wk;
                byte[] key = Keys.originKey(dk);
                boolean emitted = false;
                if (lk != null && Arrays.equals(lk, dk)) {
                    Lock lock = Lock.parse(locks.value());
                    locks.next();
                    try {
                        checkLock(key, lock, ts, ctx);
                    } catch (TxnError e) {
                        out.add(new Entry(null, null, e));
                        emitted = true;
                    }
                }
                if (wk != null && Arrays.equals(wk, dk)) {
                    if (!emitted) {
                        byte[] v = committedValue(key, ts);
                        if (v != null) {
                            out.add(new Entry(BytesCodec.decode(key), keyOnly ? new byte[0] : v, null));
                        }
                    }
                    writes.seek(Keys.prefixNext(dk));
                }
            }
            locks.checkStatus();
            writes.checkStatus();
        }
        return out;
    }

    /** A lock and the encoded key it sits on. */
    record KeyLock(byte[] key, Lock lock) {
    }

    /** Locks in {@code [lower, upper)} with {@code ts <= maxTs} (0 = any), at most {@code limit} (0 = all). */
    List<KeyLock> scanLocks(byte[] lower, byte[] upper, long maxTs, int limit, Set<Long> onlyTs) {
        List<KeyLock> out = new ArrayList<>();
        byte[] lo = Keys.dataKey(lower);
        byte[] hi = upper.length == 0 ? new byte[] {Keys.DATA_PREFIX + 1} : Keys.dataKey(upper);
        try (EngineIterator it = snap.iterator(Cf.LOCK, lo, hi)) {
            for (it.seek(lo); it.valid() && (limit == 0 || out.size() < limit); it.next()) {
                Lock lock = Lock.parse(it.value());
                if ((maxTs == 0 || Long.compareUnsigned(lock.ts(), maxTs) <= 0) && (onlyTs == null || onlyTs.contains(lock.ts()))) {
                    out.add(new KeyLock(Keys.originKey(it.key()), lock));
                }
            }
            it.checkStatus();
        }
        return out;
    }

    /** {@code kvrpcpb.LockInfo} of a lock on raw key {@code rawKey}, as {@code Lock::into_lock_info} builds it (one builder, shared with backup). */
    static Kvrpcpb.LockInfo lockInfo(byte[] rawKey, Lock lock) {
        return BackupErrors.lockInfo(rawKey, lock);
    }

    @Override
    public void close() {
        snap.close();
    }
}
