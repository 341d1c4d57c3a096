package dev.faketikv.engine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.FlushOptions;
import org.rocksdb.IngestExternalFileOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The kv engine: one RocksDB with TiKV's column families ({@link Cf}). Keys in the data CFs are TiKV
 * data keys ({@code 'z'}-prefixed) laid out exactly as TiKV stores them, so an SST built from them
 * is what TiKV's backup would write.
 *
 * <p>Mirrors the role of {@code engine_rocks::RocksEngine} (kv DB) in TiKV v5.4.0. Thread-safe: RocksDB
 * handles concurrent readers and writers.
 *
 * <p>Lifecycle: the engine counts the {@link EngineSnapshot}s and {@link EngineIterator}s it handed out
 * and not yet closed; {@link #close()} refuses (an {@link IllegalStateException} naming how many are
 * open) while any remains, since freeing the DB under them would crash in native code. The engine stays
 * usable after such a refusal, and closes once they are closed. A second {@code close()} does nothing.
 */
public final class Engine implements AutoCloseable {
    static {
        RocksDB.loadLibrary();
    }

    private final Path dir;
    private final DBOptions dbOptions;
    private final ColumnFamilyOptions cfOptions;
    private final RocksDB db;
    private final List<ColumnFamilyHandle> handles;
    private final Map<Cf, ColumnFamilyHandle> byCf = new EnumMap<>(Cf.class);
    /** Snapshots handed out and not yet closed. */
    private final AtomicInteger openSnapshots = new AtomicInteger();
    /** Iterators handed out (by snapshots) and not yet closed. */
    private final AtomicInteger openIterators = new AtomicInteger();
    /** Set once by the {@link #close()} that frees the native DB. */
    private final AtomicBoolean closed = new AtomicBoolean();

    private Engine(Path dir, DBOptions dbOptions, ColumnFamilyOptions cfOptions, RocksDB db, List<ColumnFamilyHandle> handles) {
        this.dir = dir;
        this.dbOptions = dbOptions;
        this.cfOptions = cfOptions;
        this.db = db;
        this.handles = handles;
        List<Cf> order = cfOrder();
        for (int i = 0; i < order.size(); i++) {
            byCf.put(order.get(i), handles.get(i));
        }
    }

    /** TiKV's "default" CF is RocksDB's default CF, so it comes first; the others follow. */
    private static List<Cf> cfOrder() {
        List<Cf> order = new ArrayList<>();
        order.add(Cf.DEFAULT);
        for (Cf cf : Cf.values()) {
            if (cf != Cf.DEFAULT) {
                order.add(cf);
            }
        }
        return order;
    }

    /** Opens (creating if missing) the engine in {@code dir}. */
    public static Engine open(Path dir) {
        DBOptions dbOptions = null;
        ColumnFamilyOptions cfOptions = null;
        try {
            Files.createDirectories(dir);
            dbOptions = new DBOptions()
                    .setCreateIfMissing(true)
                    .setCreateMissingColumnFamilies(true)
                    .setMaxBackgroundJobs(2);
            cfOptions = new ColumnFamilyOptions();
            List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
            for (Cf cf : cfOrder()) {
                byte[] name = cf == Cf.DEFAULT ? RocksDB.DEFAULT_COLUMN_FAMILY : cf.cfName().getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                descriptors.add(new ColumnFamilyDescriptor(name, cfOptions));
            }
            List<ColumnFamilyHandle> handles = new ArrayList<>();
            RocksDB db = RocksDB.open(dbOptions, dir.toString(), descriptors, handles);
            return new Engine(dir, dbOptions, cfOptions, db, handles);
        } catch (RocksDBException | java.io.IOException e) {
            if (cfOptions != null) {
                cfOptions.close();
            }
            if (dbOptions != null) {
                dbOptions.close();
            }
            throw new EngineException("cannot open engine at " + dir + ": " + e.getMessage(), e);
        }
    }

    public Path dir() {
        return dir;
    }

    RocksDB db() {
        return db;
    }

    ColumnFamilyHandle handle(Cf cf) {
        return byCf.get(cf);
    }

    /** A consistent point-in-time view; close it when done. */
    public EngineSnapshot snapshot() {
        if (closed.get()) {
            throw new IllegalStateException("engine at " + dir + " is closed");
        }
        openSnapshots.incrementAndGet();
        try {
            return new EngineSnapshot(this, db.getSnapshot());
        } catch (RuntimeException | Error e) {
            openSnapshots.decrementAndGet();
            throw e;
        }
    }

    /** Called once by each snapshot's first {@code close()}. */
    void snapshotClosed() {
        openSnapshots.decrementAndGet();
    }

    /** Called by each new iterator once its native parts exist. */
    void iteratorOpened() {
        openIterators.incrementAndGet();
    }

    /** Called once by each iterator's first {@code close()}. */
    void iteratorClosed() {
        openIterators.decrementAndGet();
    }

    /** Snapshots not yet closed (for tests and diagnostics). */
    public int openSnapshots() {
        return openSnapshots.get();
    }

    /** Iterators not yet closed (for tests and diagnostics). */
    public int openIterators() {
        return openIterators.get();
    }

    /** Reads the latest value of {@code key} in {@code cf}, or null. */
    public byte[] get(Cf cf, byte[] key) {
        try {
            return db.get(handle(cf), key);
        } catch (RocksDBException e) {
            throw new EngineException("get failed: " + e.getMessage(), e);
        }
    }

    /** Starts a batch of writes applied atomically by {@link Batch#commit(boolean)}. */
    public Batch batch() {
        return new Batch();
    }

    /** An atomic group of puts and deletes. Not thread-safe; close it (commit does not). */
    public final class Batch implements AutoCloseable {
        private final WriteBatch wb = new WriteBatch();

        public Batch put(Cf cf, byte[] key, byte[] value) {
            try {
                wb.put(handle(cf), key, value);
            } catch (RocksDBException e) {
                throw new EngineException("batch put failed: " + e.getMessage(), e);
            }
            return this;
        }

        public Batch delete(Cf cf, byte[] key) {
            try {
                wb.delete(handle(cf), key);
            } catch (RocksDBException e) {
                throw new EngineException("batch delete failed: " + e.getMessage(), e);
            }
            return this;
        }

        public int count() {
            return wb.count();
        }

        public long dataSize() {
            return wb.getDataSize();
        }

        /** Applies the batch (WAL on; {@code sync} fsyncs the WAL). */
        public void commit(boolean sync) {
            try (WriteOptions wo = new WriteOptions().setSync(sync)) {
                db.write(wo, wb);
                wb.clear();
            } catch (RocksDBException e) {
                throw new EngineException("write failed: " + e.getMessage(), e);
            }
        }

        @Override
        public void close() {
            wb.close();
        }
    }

    /** Flushes memtables of every CF to SST files. */
    public void flush() {
        try (FlushOptions fo = new FlushOptions().setWaitForFlush(true)) {
            db.flush(fo, handles);
        } catch (RocksDBException e) {
            throw new EngineException("flush failed: " + e.getMessage(), e);
        }
    }

    /** Compacts every CF fully and waits, so no background compaction runs afterwards (bench set-up). */
    public void compact() {
        try {
            for (ColumnFamilyHandle h : handles) {
                db.compactRange(h);
            }
        } catch (RocksDBException e) {
            throw new EngineException("compaction failed: " + e.getMessage(), e);
        }
    }

    /**
     * Ingests finished SST files into {@code cf} (RocksDB's {@code IngestExternalFile}, moving the files,
     * as TiKV's {@code ingest_external_file_cf} does for SST import). The files' keys are data keys;
     * ingested keys hide older values of the same keys. On failure nothing of the files is visible.
     */
    public void ingest(Cf cf, List<Path> files) {
        if (files.isEmpty()) {
            return;
        }
        List<String> paths = new ArrayList<>();
        for (Path f : files) {
            paths.add(f.toString());
        }
        try (IngestExternalFileOptions o = new IngestExternalFileOptions()) {
            o.setMoveFiles(true);
            o.setSnapshotConsistency(true);
            o.setAllowGlobalSeqNo(true);
            o.setAllowBlockingFlush(true);
            db.ingestExternalFile(byCf.get(cf), paths, o);
        } catch (RocksDBException e) {
            throw new EngineException("ingest into " + cf.cfName() + " failed: " + e.getMessage(), e);
        }
    }

    /**
     * Frees the native DB. Throws {@link IllegalStateException} naming the snapshots and iterators still
     * open (the engine is then left open and usable); a second call does nothing.
     */
    @Override
    public synchronized void close() {
        if (closed.get()) {
            return;
        }
        int snapshots = openSnapshots.get();
        int iterators = openIterators.get();
        if (snapshots > 0 || iterators > 0) {
            throw new IllegalStateException("engine at " + dir + " still has " + snapshots + " open snapshot(s) and "
                    + iterators + " open iterator(s); close them before the engine");
        }
        closed.set(true);
        for (ColumnFamilyHandle h : handles) {
            h.close();
        }
        db.close();
        cfOptions.close();
        dbOptions.close();
    }
}
