package dev.faketikv.engine.sst;

import dev.faketikv.engine.EngineException;
import java.nio.file.Path;
import org.rocksdb.Options;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.SstFileReader;
import org.rocksdb.SstFileReaderIterator;
import org.rocksdb.TableProperties;

/**
 * A cursor over every entry of one SST file in key order, read with RocksDB's {@link SstFileReader}
 * after its block checksums are verified. Verifiers and tests use it to recompute what a backup file
 * holds. Owns native handles: close it. Not thread-safe.
 */
public final class SstFileScanner implements AutoCloseable {
    static {
        RocksDB.loadLibrary();
    }

    private final Options options;
    private final SstFileReader reader;
    private final ReadOptions readOptions;
    private final SstFileReaderIterator it;
    private final long entries;
    private final String compressionName;

    private SstFileScanner(Path file) throws RocksDBException {
        options = new Options();
        reader = new SstFileReader(options);
        ReadOptions ro = null;
        try {
            reader.open(file.toString());
            reader.verifyChecksum();
            TableProperties props = reader.getTableProperties();
            entries = props.getNumEntries();
            compressionName = props.getCompressionName();
            ro = new ReadOptions();
            it = reader.newIterator(ro);
            readOptions = ro;
        } catch (RocksDBException | RuntimeException e) {
            if (ro != null) {
                ro.close();
            }
            reader.close();
            options.close();
            throw e;
        }
        it.seekToFirst();
    }

    /** Opens {@code file}, verifies its checksums and positions on the first entry. */
    public static SstFileScanner open(Path file) {
        try {
            return new SstFileScanner(file);
        } catch (RocksDBException e) {
            throw new EngineException("cannot read SST " + file + ": " + e.getMessage(), e);
        }
    }

    public boolean valid() {
        return it.isValid();
    }

    public byte[] key() {
        return it.key();
    }

    public byte[] value() {
        return it.value();
    }

    public void next() {
        it.next();
    }

    /** Entries according to the table properties. */
    public long entries() {
        return entries;
    }

    /** RocksDB's name of the file's compression ("LZ4", "Snappy", "ZSTD", "NoCompression"). */
    public String compressionName() {
        return compressionName;
    }

    @Override
    public void close() {
        it.close();
        readOptions.close();
        reader.close();
        options.close();
    }
}
