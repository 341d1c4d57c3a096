package dev.faketikv.server.backup;

import dev.faketikv.engine.codec.Crc64;
import dev.faketikv.engine.sst.SstCompression;
import dev.faketikv.engine.sst.SstCfOptions;
import dev.faketikv.engine.sst.SstFileBuilder;
import java.nio.file.Path;

/**
 * One SST being built for one column family, with its statistics: TiKV's {@code Writer}
 * ({@code components/backup/src/writer.rs}). Entries go into the SST as given (data keys);
 * the statistics count logical KVs (raw user key and value) through {@link #account}: total_kvs,
 * total_bytes = Σ(len(key) + len(value)), and crc64xor = XOR of CRC-64/XZ(key ++ value) when a checksum
 * is wanted.
 *
 * <p>The SST file is opened on the first entry. Not thread-safe; close it to drop an unfinished file.
 */
final class CfWriter implements AutoCloseable {
    private final String cf;
    private final Path file;
    private final SstCompression compression;
    private final int level;
    private SstFileBuilder builder;
    private long totalKvs;
    private long totalBytes;
    private long crc64xor;

    CfWriter(String cf, Path file, SstCompression compression, int level) {
        this.cf = cf;
        this.file = file;
        this.compression = compression;
        this.level = level;
    }

    void put(byte[] key, byte[] value) {
        if (builder == null) {
            builder = new SstFileBuilder(file, compression, level, SstCfOptions.of(cf));
        }
        builder.put(key, value);
    }

    void account(byte[] rawKey, byte[] value, boolean checksum) {
        totalKvs++;
        totalBytes += rawKey.length + value.length;
        if (checksum) {
            crc64xor ^= Crc64.ofPair(rawKey, value);
        }
    }

    long totalKvs() {
        return totalKvs;
    }

    long totalBytes() {
        return totalBytes;
    }

    boolean hasEntries() {
        return builder != null && builder.entries() > 0;
    }

    BuiltFile finish() {
        SstFileBuilder.SstFile f = builder.finish();
        return new BuiltFile(cf, f.path(), f.size(), totalKvs, totalBytes, crc64xor);
    }

    @Override
    public void close() {
        if (builder != null) {
            builder.close();
        }
    }
}
