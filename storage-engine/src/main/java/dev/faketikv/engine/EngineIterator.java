package dev.faketikv.engine;

import java.util.concurrent.atomic.AtomicBoolean;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Slice;
import org.rocksdb.Snapshot;

/**
 * A bounded forward/backward cursor over one column family. Owns its native read options and bound
 * slices and releases them in {@link #close()}; the engine counts it as open until then. Not
 * thread-safe; use after close is undefined. {@link #close()} is idempotent (a compare-and-set flag): only
 * the first call frees the native iterator, options and slices.
 */
public final class EngineIterator implements AutoCloseable {
    private final ReadOptions options;
    private final Slice lowerSlice;
    private final Slice upperSlice;
    private final RocksIterator it;
    private final Engine engine;
    /** Set by the first {@link #close()}, which alone frees the native parts. */
    private final AtomicBoolean closed = new AtomicBoolean();

    EngineIterator(Engine engine, Cf cf, Snapshot snapshot, byte[] lower, byte[] upper) {
        this.engine = engine;
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
        engine.iteratorOpened();
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
        } catch (RocksDBException e) {
            throw new EngineException("iterator failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        engine.iteratorClosed();
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
