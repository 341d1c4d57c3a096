package dev.faketikv.client.inspect;

import com.google.protobuf.ByteString;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Kvrpcpb;

/**
 * What inspect shows of a {@code backupmeta} ({@link Brpb.BackupMeta}, BR's {@code pkg/metautil}), read
 * from the protobuf once; the text and JSON renderers format this model and never read the protobuf.
 * Files are the top-level ones plus the file index's data files; {@code ranges} are the distinct key
 * ranges they cover; {@code totals} sum kvs, bytes and size and xor crc64xor, as BR combines them.
 *
 * @param metaFiles the file index's meta files, or null when there is no file index
 */
public record BackupMetaView(Path file, long clusterId, String clusterVersion, String brVersion, int version,
                             long startVersion, long endVersion, boolean isRawKv, String apiVersion,
                             String newCollationsEnabled, String backupResult, List<RawRange> rawRanges,
                             List<Range> ranges, List<Schema> schemas, List<MetaFile> metaFiles, int indexDataFiles,
                             List<DataFile> files, Totals totals) {
    /** A raw range BR asked for. */
    record RawRange(String cf, byte[] start, byte[] end) {}

    /** A {@code [start, end)} key range; empty end = unbounded. */
    record Range(byte[] start, byte[] end) {}

    /** A table's schema entry: names from TiDB's JSON (best effort, null when not found) and checksums. */
    record Schema(String db, String table, long totalKvs, long totalBytes, long crc64xor) {}

    /** A meta file of the file index. */
    record MetaFile(String name, long size, byte[] sha256) {}

    /** A backup data file. */
    record DataFile(String name, String cf, byte[] startKey, byte[] endKey, long startVersion, long endVersion,
                    long totalKvs, long totalBytes, long crc64xor, long size, byte[] sha256, byte[] cipherIv) {}

    /** Sums over the files (xor for crc64xor). */
    record Totals(int files, long kvs, long bytes, long crc64xor, long size) {}

    private static final Pattern DB_NAME = Pattern.compile("\"db_name\"\\s*:\\s*\\{\\s*\"O\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");
    private static final Pattern TABLE_NAME = Pattern.compile("\"name\"\\s*:\\s*\\{\\s*\"O\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");

    /** The model of {@code m}, read from {@code file}. */
    public static BackupMetaView of(Path file, Brpb.BackupMeta m) {
        List<Brpb.File> pbFiles = new ArrayList<>(m.getFilesList());
        if (m.hasFileIndex()) {
            pbFiles.addAll(m.getFileIndex().getDataFilesList());
        }
        List<DataFile> files = pbFiles.stream().map(f -> new DataFile(f.getName(), f.getCf(), f.getStartKey().toByteArray(),
                f.getEndKey().toByteArray(), f.getStartVersion(), f.getEndVersion(), f.getTotalKvs(), f.getTotalBytes(),
                f.getCrc64Xor(), f.getSize(), f.getSha256().toByteArray(), f.getCipherIv().toByteArray())).toList();
        List<MetaFile> metaFiles = m.hasFileIndex()
                ? m.getFileIndex().getMetaFilesList().stream()
                        .map(f -> new MetaFile(f.getName(), f.getSize(), f.getSha256().toByteArray())).toList()
                : null;
        Kvrpcpb.APIVersion v = m.getApiVersion();
        String apiVersion = v == Kvrpcpb.APIVersion.UNRECOGNIZED ? "UNKNOWN(" + m.getApiVersionValue() + ")" : v.name();
        return new BackupMetaView(file, m.getClusterId(), m.getClusterVersion(), m.getBrVersion(), m.getVersion(),
                m.getStartVersion(), m.getEndVersion(), m.getIsRawKv(), apiVersion, m.getNewCollationsEnabled(),
                m.getBackupResult(),
                m.getRawRangesList().stream()
                        .map(r -> new RawRange(r.getCf(), r.getStartKey().toByteArray(), r.getEndKey().toByteArray())).toList(),
                ranges(files),
                m.getSchemasList().stream().map(s -> new Schema(schemaName(s.getDb(), DB_NAME),
                        schemaName(s.getTable(), TABLE_NAME), s.getTotalKvs(), s.getTotalBytes(), s.getCrc64Xor())).toList(),
                metaFiles, m.hasFileIndex() ? m.getFileIndex().getDataFilesCount() : 0, files, totals(files));
    }

    /** The distinct [start, end) key ranges the files cover, by start key. */
    private static List<Range> ranges(List<DataFile> files) {
        List<Range> out = new ArrayList<>();
        for (DataFile f : files) {
            Range r = new Range(f.startKey(), f.endKey());
            boolean seen = out.stream().anyMatch(x -> Arrays.equals(x.start(), r.start()) && Arrays.equals(x.end(), r.end()));
            if (!seen) {
                out.add(r);
            }
        }
        out.sort(Comparator.<Range, byte[]>comparing(Range::start, Arrays::compareUnsigned)
                .thenComparing(Range::end, BackupMetaView::endCompare));
        return out;
    }

    /** End keys compare with the empty key (unbounded) last. */
    private static int endCompare(byte[] a, byte[] b) {
        if (a.length == 0 || b.length == 0) {
            return Boolean.compare(a.length == 0, b.length == 0);
        }
        return Arrays.compareUnsigned(a, b);
    }

    private static Totals totals(List<DataFile> files) {
        long kvs = 0;
        long bytes = 0;
        long crc = 0;
        long size = 0;
        for (DataFile f : files) {
            kvs += f.totalKvs();
            bytes += f.totalBytes();
            crc ^= f.crc64xor();
            size += f.size();
        }
        return new Totals(files.size(), kvs, bytes, crc, size);
    }

    /** The {@code O} name in TiDB's JSON DB/table info, best effort; null when not found. */
    private static String schemaName(ByteString json, Pattern p) {
        if (json.isEmpty()) {
            return null;
        }
        Matcher m = p.matcher(json.toStringUtf8());
        return m.find() ? m.group(1) : null;
    }
}
