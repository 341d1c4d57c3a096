package dev.faketikv.engine.mvcc;

import dev.faketikv.engine.Cf;
import dev.faketikv.engine.EngineIterator;
import dev.faketikv.engine.EngineSnapshot;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.codec.Keys;
import java.util.Arrays;
import java.util.List;

/**
 * The scanner TiKV's backup reads a txn range with: {@code SnapshotStore::entry_scanner}, i.e. a
 * {@code ForwardScanner} with {@code LatestEntryPolicy} ({@code src/storage/mvcc/reader/scanner/forward.rs}
 * at v5.4.0).
 *
 * <p>It walks the lock CF and the write CF together in user-key order over {@code [start, end)}
 * (encoded user keys, no {@code z}; null = unbounded) and, for each user key:
 * <ul>
 *   <li>a lock that blocks a snapshot read at {@code backupTs} ({@link Lock#blocksRead}) ends the scan
 *       with {@link KeyLockedException};
 *   <li>otherwise the newest write with commit_ts &le; backupTs is considered; versions with commit_ts
 *       &le; {@code afterTs} produce nothing; a version whose GC fence is at or before backupTs ends the key
 *       with nothing; {@code Lock}/{@code Rollback} records are skipped in favour of
 *       the next older version; a {@code Put} is output (with its default-CF record when the value is not
 *       inline, {@link MvccException} "DefaultNotFound" if that record is missing); a {@code Delete} is output
 *       only when {@code outputDelete} (incremental backup).
 * </ul>
 *
 * <p>Owned by one thread. Close it to release its iterators (the snapshot stays the caller's).
 */
public final class EntryScanner implements AutoCloseable {
    /** Versions walked with {@code next()} before the scanner seeks past the rest of a key. */
    private static final int SEEK_BOUND = 8;

    private final EngineSnapshot snapshot;
    private final long backupTs;
    private final long afterTs;
    private final boolean outputDelete;
    private final EngineIterator writes;
    private final EngineIterator locks;
    private boolean done;

    /**
     * @param start        encoded start key (no {@code z}), or null
     * @param end          encoded end key (no {@code z}), or null
     * @param backupTs     snapshot ts (request end_version)
     * @param afterTs      exclusive lower bound on commit ts (request start_version; 0 = full backup)
     * @param outputDelete emit deletes (TiKV: {@code afterTs != 0})
     */
    public EntryScanner(EngineSnapshot snapshot, byte[] start, byte[] end, long backupTs, long afterTs, boolean outputDelete) {
        this.snapshot = snapshot;
        this.backupTs = backupTs;
        this.afterTs = afterTs;
        this.outputDelete = outputDelete;
        byte[] lower = start == null ? new byte[] {Keys.DATA_PREFIX} : Keys.dataKey(start);
        byte[] upper = end == null ? new byte[] {Keys.DATA_PREFIX + 1} : Keys.dataKey(end);
        this.writes = snapshot.iterator(Cf.WRITE, lower, upper);
        EngineIterator lockIt;
        try {
            lockIt = snapshot.iterator(Cf.LOCK, lower, upper);
        } catch (RuntimeException e) {
            writes.close();
            throw e;
        }
        this.locks = lockIt;
        writes.seek(lower);
        locks.seek(lower);
    }

    /**
     * Appends up to {@code limit} entries to {@code out}.
     *
     * @return false once the range is exhausted (possibly after appending some entries)
     */
    public boolean nextBatch(List<TxnEntry> out, int limit) {
        int added = 0;
        while (!done && added < limit) {
            byte[] writeUser = writes.valid() ? userKeyOfWrite(writes.key()) : null;
            byte[] lockUser = locks.valid() ? locks.key() : null;
            if (writeUser == null && lockUser == null) {
                writes.checkStatus();
                locks.checkStatus();
                done = true;
                break;
            }
            int cmp = writeUser == null ? 1 : lockUser == null ? -1 : Arrays.compareUnsigned(writeUser, lockUser);
            if (cmp >= 0) {
                // lockUser is the smallest key (or ties with the write key): check the lock first.
                checkLock(lockUser, locks.value());
                locks.next();
            }
            if (cmp <= 0) {
                TxnEntry e = readKey(writeUser);
                if (e != null) {
                    out.add(e);
                    added++;
                }
            }
        }
        return !done;
    }

    private void checkLock(byte[] lockDataKey, byte[] lockValue) {
        Lock lock = Lock.parse(lockValue);
        byte[] rawKey = BytesCodec.decode(lockDataKey, 1, lockDataKey.length - 1);
        if (lock.blocksRead(rawKey, backupTs)) {
            throw new KeyLockedException(rawKey, lock);
        }
    }

    /** Data key without its ts: {@code z ++ memcomparable(key)}. */
    private static byte[] userKeyOfWrite(byte[] writeKey) {
        return Arrays.copyOf(writeKey, writeKey.length - Keys.TS_LEN);
    }

    /** Chooses the version of {@code userDataKey} to output; leaves {@code writes} on the next user key. */
    private TxnEntry readKey(byte[] userDataKey) {
        TxnEntry result = null;
        int stepped = 0;
        while (writes.valid()) {
            byte[] key = writes.key();
            if (!sameUserKey(key, userDataKey)) {
                return result;
            }
            long commitTs = Keys.decodeTs(key);
            if (Long.compareUnsigned(commitTs, backupTs) > 0) {
                writes.next();
                stepped++;
                continue;
            }
            if (Long.compareUnsigned(commitTs, afterTs) <= 0) {
                break;
            }
            byte[] value = writes.value();
            Write w = Write.parse(value);
            if (!w.validAsLatestVersion(backupTs)) {
                // a GC fence at or before the read ts: this key has no valid latest version
                break;
            }
            if (w.type() == WriteType.LOCK || w.type() == WriteType.ROLLBACK) {
                writes.next();
                stepped++;
                continue;
            }
            if (w.type() == WriteType.PUT) {
                result = putEntry(userDataKey, key, value, w);
            } else if (w.type() == WriteType.DELETE && outputDelete) {
                result = new TxnEntry(decodeRaw(userDataKey), key, value, null, null, new byte[0]);
            }
            break;
        }
        skipRestOf(userDataKey, stepped);
        return result;
    }

    private TxnEntry putEntry(byte[] userDataKey, byte[] writeKey, byte[] writeValue, Write w) {
        byte[] raw = decodeRaw(userDataKey);
        if (w.shortValue() != null) {
            return new TxnEntry(raw, writeKey, writeValue, null, null, w.shortValue());
        }
        byte[] defaultKey = Keys.appendTs(userDataKey, w.startTs());
        byte[] defaultValue = snapshot.get(Cf.DEFAULT, defaultKey);
        if (defaultValue == null) {
            throw new MvccException("DefaultNotFound { key: " + Keys.hex(raw) + ", start_ts: " + w.startTs() + " }");
        }
        return new TxnEntry(raw, writeKey, writeValue, defaultKey, defaultValue, defaultValue);
    }

    private void skipRestOf(byte[] userDataKey, int alreadyStepped) {
        int steps = alreadyStepped;
        while (writes.valid() && sameUserKey(writes.key(), userDataKey)) {
            if (steps++ >= SEEK_BOUND) {
                // The oldest possible version of this key is ts 0, i.e. suffix ~0 = all ones.
                byte[] last = Keys.appendTs(userDataKey, 0);
                writes.seek(last);
                if (writes.valid() && Arrays.equals(writes.key(), last)) {
                    writes.next();
                }
                return;
            }
            writes.next();
        }
    }

    private static boolean sameUserKey(byte[] writeKey, byte[] userDataKey) {
        return writeKey.length == userDataKey.length + Keys.TS_LEN
                && Arrays.equals(writeKey, 0, userDataKey.length, userDataKey, 0, userDataKey.length);
    }

    private static byte[] decodeRaw(byte[] userDataKey) {
        return BytesCodec.decode(userDataKey, 1, userDataKey.length - 1);
    }

    @Override
    public void close() {
        writes.close();
        locks.close();
    }
}
