package dev.faketikv.server.backup;

import dev.faketikv.engine.mvcc.TxnEntry;
import dev.faketikv.engine.sst.SstCompression;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds the {@code default} and {@code write} SSTs of one txn file group: TiKV's {@code BackupWriter}
 * ({@code components/backup/src/writer.rs}). For each scanned entry the write record always goes to the
 * write SST and the default record (long values) to the default SST; the logical KV is accounted to the
 * default file when it has a default record, else to the write file.
 *
 * <p>{@link #finish()} yields [] , [write] or [default, write]: the default file when any KV was
 * accounted to it, the write file when any KV was accounted at all. Not thread-safe; close it to drop
 * unfinished files.
 */
public final class BackupWriter implements AutoCloseable {
    private final CfWriter defaultWriter;
    private final CfWriter writeWriter;

    public BackupWriter(Path scratchDir, String uniqueStem, SstCompression compression, int level) {
        this.defaultWriter = new CfWriter("default", scratchDir.resolve(uniqueStem + "_default.sst"), compression, level);
        this.writeWriter = new CfWriter("write", scratchDir.resolve(uniqueStem + "_write.sst"), compression, level);
    }

    public void write(List<TxnEntry> entries, boolean checksum) {
        for (TxnEntry e : entries) {
            if (e.hasDefault()) {
                defaultWriter.put(e.defaultKey(), e.defaultValue());
                writeWriter.put(e.writeKey(), e.writeValue());
                defaultWriter.account(e.rawKey(), e.value(), checksum);
            } else {
                writeWriter.put(e.writeKey(), e.writeValue());
                writeWriter.account(e.rawKey(), e.value(), checksum);
            }
        }
    }

    /** Logical bytes of both files, the quantity compared with {@code sst-max-size}. */
    public long totalBytes() {
        return defaultWriter.totalBytes() + writeWriter.totalBytes();
    }

    public List<BuiltFile> finish() {
        List<BuiltFile> out = new ArrayList<>(2);
        try {
            if (defaultWriter.totalKvs() > 0) {
                out.add(defaultWriter.finish());
            }
            if (writeWriter.totalKvs() > 0 || defaultWriter.totalKvs() > 0) {
                out.add(writeWriter.finish());
            }
            return out;
        } catch (RuntimeException e) {
            RequestContext.deleteFiles(out);
            throw e;
        }
    }

    /** Drops files not finished; finished ones belong to the caller. */
    @Override
    public void close() {
        defaultWriter.close();
        writeWriter.close();
    }
}
