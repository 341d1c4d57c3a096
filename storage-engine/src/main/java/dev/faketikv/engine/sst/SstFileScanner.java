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
 * Reads every entry of an SST file in key order with RocksDB's {@link SstFileReader}, after verifying
 * its block checksums. Used by verifiers and tests to recompute what a backup file holds.
 */
public final class SstFileScanner {
    static {
        RocksDB.loadLibrary();
    }

    private SstFileScanner() {}

    /** Receives entries in order. */
    @FunctionalInterface
    public interface EntryConsumer {
        void accept(byte[] key, byte[] value);
    }

    /** What the file's table properties say. */
    public record Info(long entries, String compressionName) {}

    /** Verifies checksums, feeds every entry to {@code consumer}, returns the table properties. */
    public static Info scan(Path file, EntryConsumer consumer) {
        try (Options options = new Options();
             SstFileReader reader = new SstFileReader(options)) {
            reader.open(file.toString());
            reader.verifyChecksum();
            TableProperties props = reader.getTableProperties();
            try (ReadOptions ro = new ReadOptions();
                 SstFileReaderIterator it = reader.newIterator(ro)) {
                for (it.seekToFirst(); it.isValid(); it.next()) {
                    consumer.accept(it.key(), it.value());
                }
                it.status();
            }
            return new Info(props.getNumEntries(), props.getCompressionName());
        } catch (RocksDBException e) {
            throw new EngineException("cannot read SST " + file + ": " + e.getMessage(), e);
        }
    }
}
