package dev.faketikv.server.backup;

import dev.faketikv.engine.sst.SstCompression;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Builds the single SST of a raw range: TiKV's {@code BackupRawKVWriter}
 * ({@code components/backup/src/writer.rs}). Keys go in as stored (data keys), statistics count the key
 * without {@code z} and the value; 5.4 computes no checksum for raw backups, so crc64xor stays 0.
 * Not thread-safe.
 */
public final class BackupRawKvWriter implements AutoCloseable {
    private final CfWriter writer;

    public BackupRawKvWriter(Path scratchDir, String uniqueStem, String cf, SstCompression compression, int level) {
        this.writer = new CfWriter(cf, scratchDir.resolve(uniqueStem + "_" + cf + ".sst"), compression, level);
    }

    /** Adds one stored pair; {@code dataKey} is {@code z ++ key}. */
    public void write(byte[] dataKey, byte[] value) {
        writer.put(dataKey, value);
        writer.account(Arrays.copyOfRange(dataKey, 1, dataKey.length), value, false);
    }

    public List<BuiltFile> finish() {
        return writer.totalKvs() > 0 ? List.of(writer.finish()) : List.of();
    }

    @Override
    public void close() {
        writer.close();
    }
}
