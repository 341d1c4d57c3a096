package dev.faketikv.engine.mvcc;

import dev.faketikv.engine.Cf;
import dev.faketikv.engine.Engine;
import dev.faketikv.engine.codec.Keys;

/**
 * Writes committed MVCC data the way a finished TiKV transaction leaves it (default-CF value for long
 * values, write-CF record at the commit ts) and pending locks, into an {@link Engine.Batch}. This is
 * what the seed generator and tests use; it does not run the percolator protocol.
 *
 * <p>Not thread-safe (one batch).
 */
public final class MvccWriter {
    private final Engine.Batch batch;

    public MvccWriter(Engine.Batch batch) {
        this.batch = batch;
    }

    /** A committed Put of {@code value} for raw key {@code rawKey}. */
    public MvccWriter put(byte[] rawKey, byte[] value, long startTs, long commitTs) {
        byte[] userDataKey = Keys.dataKeyOfRaw(rawKey);
        Write w;
        if (value.length <= Write.SHORT_VALUE_MAX_LEN) {
            w = Write.put(startTs, value);
        } else {
            batch.put(Cf.DEFAULT, Keys.appendTs(userDataKey, startTs), value);
            w = Write.put(startTs, null);
        }
        batch.put(Cf.WRITE, Keys.appendTs(userDataKey, commitTs), w.toBytes());
        return this;
    }

    /** A committed record of another type ({@code Delete}, {@code Lock}, {@code Rollback}). */
    public MvccWriter write(byte[] rawKey, WriteType type, long startTs, long commitTs) {
        batch.put(Cf.WRITE, Keys.appendTs(Keys.dataKeyOfRaw(rawKey), commitTs), Write.of(type, startTs).toBytes());
        return this;
    }

    /** A raw write record (any fields) at {@code commitTs}. */
    public MvccWriter write(byte[] rawKey, Write write, long commitTs) {
        batch.put(Cf.WRITE, Keys.appendTs(Keys.dataKeyOfRaw(rawKey), commitTs), write.toBytes());
        return this;
    }

    /** A pending lock on {@code rawKey} (and the default-CF value of a long Put prewrite). */
    public MvccWriter lock(byte[] rawKey, Lock lock, byte[] longValue) {
        byte[] userDataKey = Keys.dataKeyOfRaw(rawKey);
        if (longValue != null) {
            batch.put(Cf.DEFAULT, Keys.appendTs(userDataKey, lock.ts()), longValue);
        }
        batch.put(Cf.LOCK, userDataKey, lock.toBytes());
        return this;
    }
}
