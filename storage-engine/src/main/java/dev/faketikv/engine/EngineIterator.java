package dev.faketikv.engine;

import org.rocksdb.ReadOptions;
import org.rocksdb.RocksIterator;
import org.rocksdb.Slice;
import org.rocksdb.Snapshot;

/**
 * A bounded forward/backward cursor over one column family. Owns its native read options and bound
 * slices and releases them in {@link #close()}. Not thread-safe.
 */
public final class EngineIterator implements AutoCloseable {
    private final ReadOptions options;
    private final Slice lowerSlice;
    private final Slice upperSlice;
    private final RocksIterator it;

    EngineIterator(Engine engine, Cf cf, Snapshot snapshot, byte[] lower, byte[] upper) {
        options = new ReadOptions().setFillCache(false);
        if (snapshot != null) {
            options.setSnapshot(snapshot);
        }
        lowerSlice = lower == null ? null : new Slice(lower);
        upperSlice = upper == null ? null : new Slice(upper);
        if (lowerSlice != null) {
            options.setIterateLowerBound(lowerSlice);
        }
        if (upperSlice != null) {
            options.setIterateUpperBound(upperSlice);
        }
        it = engine.db().newIterator(engine.handle(cf), options);
    }

    public void seekToFirst() {
        it.seekToFirst();
    }

    public void seek(byte[] key) {
        it.seek(key);
    }

    public boolean valid() {
        return it.isValid();
    }

    public void next() {
        it.next();
    }

    public byte[] key() {
        return it.key();
    }

    public byte[] value() {
        return it.value();
    }

    /** Throws if the iterator stopped because of an error rather than the end of data. */
    public void checkStatus() {
        try {
            it.status();
        } catch (org.rocksdb.RocksDBException e) {
            throw new EngineException("iterator failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        it.close();
        options.close();
        if (lowerSlice != null) {
            lowerSlice.close();
        }
        if (upperSlice != null) {
            upperSlice.close();
        }
    }
}
