package dev.faketikv.server.coprocessor;

import dev.faketikv.engine.Cf;
import dev.faketikv.engine.EngineIterator;
import dev.faketikv.engine.EngineSnapshot;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.mvcc.Lock;
import dev.faketikv.engine.mvcc.Write;
import dev.faketikv.server.backup.BackupErrors;
import java.util.Arrays;
import java.util.Set;
import org.tikv.kvproto.Kvrpcpb;

/**
 * The forward snapshot scan a coprocessor request reads through: TiKV's {@code SnapshotStore} scanner
 * ({@code src/storage/mvcc/reader/scanner/forward.rs}) as {@code RangesScanner} drives it
 * ({@code components/tidb_query_common/src/storage/scanner.rs}): every user key in
 * {@code [lower, upper)} in order, a lock on it checked first ({@code Lock::check_ts_conflict},
 * {@code components/txn_types/src/lock.rs}: a Put/Delete lock with {@code ts <= read_ts} and
 * {@code min_commit_ts <= read_ts} not among the bypassed locks stops the scan with
 * {@link LockedException}), then the newest committed Put at or below {@code read_ts} (Rollback and Lock
 * records skipped, a Delete hides the key, a GC fence at or before the read ts ends the search).
 * Read-committed reads ignore locks. Keys are handed out raw (decoded), values whole.
 *
 * <p>Bounds are memcomparable-encoded keys without {@code z}; an empty upper bound is unbounded. Not
 * thread-safe; the snapshot belongs to the caller.
 */
final class SnapshotScanner {
    /** Receives each visible pair. */
    interface Sink {
        void accept(byte[] rawKey, byte[] value);
    }

    /** A lock met by the scan, as TiKV's coprocessor reports it ({@code Error::Locked}). */
    static final class LockedException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final transient Kvrpcpb.LockInfo info;

        LockedException(Kvrpcpb.LockInfo info) {
            super("Key is locked (will clean up) " + info.getKey().toStringUtf8(), null, false, false);
            this.info = info;
        }

        Kvrpcpb.LockInfo info() {
            return info;
        }
    }

    private final EngineSnapshot snap;
    private final long readTs;
    private final boolean ignoreLocks;
    private final Set<Long> bypassLocks;

    SnapshotScanner(EngineSnapshot snap, long readTs, Kvrpcpb.Context ctx) {
        this.snap = snap;
        this.readTs = readTs;
        this.ignoreLocks = ctx.getIsolationLevel() == Kvrpcpb.IsolationLevel.RC;
        this.bypassLocks = Set.copyOf(ctx.getResolvedLocksList());
    }

    /** Scans {@code [lower, upper)}, handing every visible pair to {@code sink}. */
    void scan(byte[] lower, byte[] upper, Sink sink) {
        byte[] lo = Keys.dataKey(lower);
        byte[] hi = upper.length == 0 ? new byte[] {Keys.DATA_PREFIX + 1} : Keys.dataKey(upper);
        try (EngineIterator locks = snap.iterator(Cf.LOCK, lo, hi); EngineIterator writes = snap.iterator(Cf.WRITE, lo, hi)) {
            locks.seek(lo);
            writes.seek(lo);
            while (locks.valid() || writes.valid()) {
                byte[] lk = locks.valid() ? locks.key() : null;
                byte[] wk = writes.valid() ? Keys.truncateTs(writes.key()) : null;
                byte[] dk = lk == null ? wk : wk == null ? lk : Keys.compare(lk, wk) <= 0 ? lk : wk;
                if (lk != null && Arrays.equals(lk, dk)) {
                    Lock lock = Lock.parse(locks.value());
                    locks.next();
                    if (!ignoreLocks && !bypassLocks.contains(lock.ts())) {
                        byte[] raw = BytesCodec.decode(Keys.originKey(dk));
                        if (lock.blocksRead(raw, readTs)) {
                            throw new LockedException(BackupErrors.lockInfo(raw, lock));
                        }
                    }
                }
                if (wk != null && Arrays.equals(wk, dk)) {
                    byte[] v = visibleValue(writes, dk);
                    if (v != null) {
                        sink.accept(BytesCodec.decode(Keys.originKey(dk)), v);
                    }
                    writes.seek(Keys.prefixNext(dk));
                }
            }
            locks.checkStatus();
            writes.checkStatus();
        }
    }

    /** The value of the newest Put of data key {@code dk} at or below the read ts, or null; {@code it} is on {@code dk}'s records. */
    private byte[] visibleValue(EngineIterator it, byte[] dk) {
        for (it.seek(Keys.appendTs(dk, readTs)); it.valid(); it.next()) {
            byte[] k = it.key();
            if (k.length != dk.length + Keys.TS_LEN || !Keys.startsWith(k, dk)) {
                return null;
            }
            Write w = Write.parse(it.value());
            if (!w.validAsLatestVersion(readTs)) {
                return null;
            }
            switch (w.type()) {
                case PUT:
                    if (w.shortValue() != null) {
                        return w.shortValue();
                    }
                    byte[] v = snap.get(Cf.DEFAULT, Keys.appendTs(dk, w.startTs()));
                    if (v == null) {
                        throw new IllegalStateException("default not found: key:" + Keys.hex(Keys.originKey(dk)) + ", write start_ts: " + w.startTs());
                    }
                    return v;
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
