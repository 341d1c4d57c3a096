package dev.faketikv.engine.sst;

import dev.faketikv.engine.EngineException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.rocksdb.BloomFilter;
import org.rocksdb.CompressionOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.EnvOptions;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.SstFileWriter;

/**
 * Builds one SST file with RocksDB's {@link SstFileWriter}, configured the way TiKV's
 * {@code RocksSstWriterBuilder} is for backup ({@code components/engine_rocks/src/sst.rs:197-247} v5.4.0):
 * the CF's block-based table options from TiKV's KV DB ({@link SstCfOptions}: format_version 2, CRC32c
 * block checksums, 64 KiB blocks, full bloom filter, so RocksDB 6.4 — TiKV 5.4's engine — reads the file),
 * the chosen codec on every level, no bottommost override, and, for a non-zero level, compression options
 * (window_bits -14, level, strategy 0, max_dict_bytes 0). Like TiKV's writer it passes no CF handle, so
 * the file records no CF name and CF id 2147483647 ({@code rocksdb/table/sst_file_writer.cc:228-236}).
 *
 * <p>TiKV builds backup SSTs in an in-memory env; this builder writes to a file under a scratch folder so
 * memory stays flat, and {@link #close()} deletes the file unless {@link #finish()} handed it over.
 * Keys must be added in strictly increasing order. Not thread-safe.
 */
public final class SstFileBuilder implements AutoCloseable {
    static {
        RocksDB.loadLibrary();
    }

    /**
     * The native options of each (compression, level, CF) combination, built once and shared by every
     * builder for the life of the process: creating RocksDB {@code Options} with a table factory and a
     * bloom filter per file cost about as much CPU as building a small SST (a backup of many small regions
     * builds one or two files per region). {@link SstFileWriter} copies what it needs from them when it is
     * created, so sharing them between threads is safe; they are never closed (a handful of small objects).
     */
    private static final ConcurrentMap<NativeKey, NativeOptions> NATIVE = new ConcurrentHashMap<>();

    private record NativeKey(SstCompression compression, int level, SstCfOptions cf) {}

    private record NativeOptions(EnvOptions env, Options options, CompressionOptions compression, BloomFilter bloom) {
        static NativeOptions of(NativeKey k) {
            EnvOptions env = new EnvOptions();
            CompressionOptions compressionOptions = new CompressionOptions();
            BloomFilter bloom = new BloomFilter(SstCfOptions.BLOOM_BITS_PER_KEY, false);
            Options options = new Options();
            options.setTableFormatConfig(k.cf().tableConfig(bloom));
            options.setCompressionType(k.compression().rocks());
            options.setCompressionPerLevel(List.of());
            options.setBottommostCompressionType(CompressionType.DISABLE_COMPRESSION_OPTION);
            if (k.level() != 0) {
                compressionOptions.setWindowBits(-14).setLevel(k.level()).setStrategy(0).setMaxDictBytes(0);
                options.setCompressionOptions(compressionOptions);
            }
            return new NativeOptions(env, options, compressionOptions, bloom);
        }
    }

    private final Path file;
    private final SstFileWriter writer;
    private long entries;
    private long dataBytes;
    private boolean finished;

    /** A builder with the default CF's table options. */
    public SstFileBuilder(Path file, SstCompression compression, int level) {
        this(file, compression, level, SstCfOptions.DEFAULT);
    }

    /** A builder with the table options of {@code cf} (TiKV's KV DB CF the file's entries belong to). */
    public SstFileBuilder(Path file, SstCompression compression, int level, SstCfOptions cf) {
        this.file = file;
        NativeOptions o = NATIVE.computeIfAbsent(new NativeKey(compression, level, cf), NativeOptions::of);
        this.writer = new SstFileWriter(o.env(), o.options());
        try {
            writer.open(file.toString());
        } catch (RocksDBException e) {
            closeNative();
            throw new EngineException("cannot open SST writer at " + file + ": " + e.getMessage(), e);
        }
    }

    public void put(byte[] key, byte[] value) {
        try {
            writer.put(key, value);
        } catch (RocksDBException e) {
            throw new EngineException("SST put failed: " + e.getMessage(), e);
        }
        entries++;
        dataBytes += key.length + value.length;
    }

    /** Entries added so far. */
    public long entries() {
        return entries;
    }

    /** Key+value bytes added so far. */
    public long dataBytes() {
        return dataBytes;
    }

    /**
     * Finishes the file (at least one entry must have been added) and returns its path and size; the file
     * then belongs to the caller.
     */
    public SstFile finish() {
        try {
            writer.finish();
            finished = true;
            return new SstFile(file, Files.size(file), entries);
        } catch (RocksDBException | IOException e) {
            throw new EngineException("SST finish failed: " + e.getMessage(), e);
        } finally {
            closeNative();
        }
    }

    private void closeNative() {
        writer.close();
    }

    @Override
    public void close() {
        if (!finished) {
            if (writer.isOwningHandle()) {
                closeNative();
            }
            try {
                Files.deleteIfExists(file);
            } catch (IOException ignored) {
                // best effort: the scratch folder is cleared at start-up too
            }
        }
    }

    /** A finished SST file. */
    public record SstFile(Path path, long size, long entries) {}
}
