package dev.faketikv.engine;

import java.util.concurrent.atomic.AtomicBoolean;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDBException;
import org.rocksdb.Snapshot;

/**
 * A point-in-time view of the engine, the counterpart of {@code engine_rocks::RocksSnapshot} that
 * TiKV's backup reads a region from. Reads do not fill the block cache ({@code fill_cache = false},
 * as backup asks).
 *
 * <p>Thread-safe for reads; iterators it hands out belong to one thread each. Close iterators first,
 * then the snapshot. As with RocksDB's own native references, use after close is undefined; the intended
 * path is try-with-resources. {@link #close()} is idempotent: only the first call releases the native
 * snapshot (RocksDB's {@code Snapshot} is freed by the database, not by the object), later calls do nothing.
 */
public final class EngineSnapshot implements AutoCloseable {
    private final Engine engine;
    private final Snapshot snapshot;
    private final ReadOptions pointRead;
    /** Set by the first {@link #close()}, which alone releases the native snapshot. */
    private final AtomicBoolean closed = new AtomicBoolean();

    EngineSnapshot(Engine engine, Snapshot snapshot) {
        this.engine = engine;
        this.snapshot = snapshot;
        this.pointRead = new ReadOptions().setSnapshot(snapshot).setFillCache(false);
    }

    /** The value of {@code key} in {@code cf} as of this snapshot, or null. */
    public byte[] get(Cf cf, byte[] key) {
        try {
            return engine.db().get(engine.handle(cf), pointRead, key);
        } catch (RocksDBException e) {
            throw new EngineException("snapshot get failed: " + e.getMessage(), e);
        }
    }

    /**
     * An iterator over {@code cf} restricted to {@code [lower, upper)}; either bound may be null
     * (unbounded). Positioned before the first key: call {@link EngineIterator#seekToFirst()} or
     * {@link EngineIterator#seek(byte[])}.
     */
    public EngineIterator iterator(Cf cf, byte[] lower, byte[] upper) {
        return new EngineIterator(engine, cf, snapshot, lower, upper);
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        engine.snapshotClosed();
        pointRead.close();
        engine.db().releaseSnapshot(snapshot);
        snapshot.close();
    }
}
