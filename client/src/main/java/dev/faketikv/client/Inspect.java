package dev.faketikv.client;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.faketikv.engine.EngineException;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.codec.CodecException;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.codec.NumberCodec;
import dev.faketikv.engine.mvcc.Write;
import dev.faketikv.engine.sst.SstFileScanner;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Kvrpcpb;

/**
 * Decodes one backup file into readable text or JSON: a backup SST (a RocksDB block-based table, as
 * TiKV's backup writes it) or a {@code backupmeta} ({@link Brpb.BackupMeta}, as BR writes it).
 *
 * <p>The output plays the part of BR's {@code br debug decode} (backupmeta to readable form) and of
 * {@code tikv-ctl}'s SST dump (one line per entry with the key and value decoded), written from scratch
 * for this project's formats:
 *
 * <ul>
 *   <li>SST entries: the {@code z} data prefix is stripped; a key that is {@code memcomparable(user key)
 *       ++ BE64(~ts)} is shown as a txn key with its timestamp (commit ts in the write CF, start ts in the
 *       default CF); anything else is shown as a raw (API V1) key, in hex and escaped ASCII. User keys
 *       shaped like TiDB row or index keys ({@code t{table}_r{handle}}, {@code t{table}_i{index}...})
 *       are shown by table id and handle or index id. In a file named {@code *_write.sst} the values are
 *       decoded as TiKV write records (type, start ts, short value).
 *   <li>backupmeta: cluster and version fields, raw ranges, the key ranges the files cover, every file
 *       (name, cf, keys, kvs, bytes, crc64xor, size, sha256) and the totals over the files (sum of kvs, sum
 *       of bytes, xor of crc64xor, which is how BR combines them).
 * </ul>
 *
 * <p>The kind of file is decided by the RocksDB table magic number in the last 8 bytes; an SST is then
 * read with {@link SstFileScanner} (which verifies its block checksums). Anything else is parsed as a
 * backupmeta and rejected when that yields nothing recognisable. Encrypted backup files are not
 * decrypted, so they are rejected too. JSON integers are written as exact unsigned decimals; timestamps
 * and checksums above 2^53 need a parser that keeps 64-bit integers. Stateless and thread-safe.
 */
public final class Inspect {
    /** Output format of {@link #render}. */
    public enum Format { TEXT, JSON }

    /** RocksDB {@code kBlockBasedTableMagicNumber}, stored little-endian in a table's last 8 bytes. */
    static final long BLOCK_BASED_TABLE_MAGIC = 0x88e241b785f4cff7L;
    /** {@code kLegacyBlockBasedTableMagicNumber}. */
    static final long LEGACY_BLOCK_BASED_TABLE_MAGIC = 0xdb4775248b80fb57L;
    /** {@code kPlainTableMagicNumber} and its legacy form. */
    static final long PLAIN_TABLE_MAGIC = 0x8242229663bf9564L;
    static final long LEGACY_PLAIN_TABLE_MAGIC = 0x4f3418eb7a8f13b8L;

    /** Bytes of a value shown in TEXT output; JSON always carries the whole value. */
    private static final int TEXT_PREVIEW = 64;
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private Inspect() {}

    /**
     * Decodes {@code file}: an SST (recognised by the RocksDB table magic and read with
     * {@link SstFileScanner}) or a backupmeta (protobuf).
     *
     * @throws IllegalArgumentException when the file is neither, or is an SST RocksDB cannot read
     * @throws IOException when the file cannot be read
     */
    public static String render(Path file, Format format) throws IOException {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(format, "format");
        if (Files.isDirectory(file)) {
            throw new IllegalArgumentException("not an SST or a backupmeta (a directory): " + file);
        }
        if (hasTableMagic(file)) {
            SstView sst = readSst(file);
            return format == Format.JSON ? sstJson(sst) : sstText(sst);
        }
        Brpb.BackupMeta meta = readBackupMeta(file);
        return format == Format.JSON ? metaJson(file, meta) : metaText(file, meta);
    }

    // ---------------------------------------------------------------- detection

    static boolean hasTableMagic(Path file) throws IOException {
        try (SeekableByteChannel ch = Files.newByteChannel(file)) {
            long size = ch.size();
            if (size < 8) {
                return false;
            }
            ByteBuffer buf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.position(size - 8);
            while (buf.hasRemaining()) {
                if (ch.read(buf) < 0) {
                    return false;
                }
            }
            long magic = buf.flip().getLong();
            return magic == BLOCK_BASED_TABLE_MAGIC || magic == LEGACY_BLOCK_BASED_TABLE_MAGIC
                    || magic == PLAIN_TABLE_MAGIC || magic == LEGACY_PLAIN_TABLE_MAGIC;
        }
    }

    private static Brpb.BackupMeta readBackupMeta(Path file) throws IOException {
        long size = Files.size(file);
        Brpb.BackupMeta meta;
        try (InputStream in = Files.newInputStream(file)) {
            meta = Brpb.BackupMeta.parseFrom(in);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("not an SST or a backupmeta: " + file, e);
        }
        if (!looksLikeBackupMeta(meta, size)) {
            throw new IllegalArgumentException("not an SST or a backupmeta: " + file);
        }
        return meta;
    }

    /**
     * Protobuf parses many byte strings without error, so a parse only counts when it found some
     * BackupMeta field and the bytes it could not place are not most of the file.
     */
    private static boolean looksLikeBackupMeta(Brpb.BackupMeta m, long fileSize) {
        boolean known = m.getClusterId() != 0 || !m.getClusterVersion().isEmpty() || !m.getBrVersion().isEmpty()
                || m.getFilesCount() > 0 || m.getStartVersion() != 0 || m.getEndVersion() != 0
                || m.getSchemasCount() > 0 || m.getRawRangesCount() > 0 || m.getIsRawKv() || !m.getDdls().isEmpty()
                || m.hasFileIndex() || m.hasSchemaIndex() || m.hasRawRangeIndex() || m.hasDdlIndexes()
                || !m.getBackupResult().isEmpty() || !m.getNewCollationsEnabled().isEmpty();
        long unknown = m.getUnknownFields().getSerializedSize();
        return known && unknown * 2 <= fileSize;
    }

    // ---------------------------------------------------------------- SST

    /** One decoded SST. {@code cf} is taken from the file name ({@code *_write.sst}, ...), or null. */
    record SstView(Path file, String cf, String compression, long propertyEntries, List<EntryView> entries) {}

    /**
     * One SST entry. For a txn entry {@code userKey} and {@code ts} are set; for a raw one {@code userKey}
     * is the key without {@code z}. {@code write} is set for a decodable write-CF record, else
     * {@code writeError} may say why it is not.
     */
    record EntryView(byte[] storedKey, boolean txn, byte[] userKey, long ts, byte[] value, Write write,
                     String writeError) {}

    private static SstView readSst(Path file) {
        String name = file.getFileName() == null ? "" : file.getFileName().toString();
        String cf = cfOfName(name);
        List<EntryView> entries = new ArrayList<>();
        String compression;
        long propertyEntries;
        try (SstFileScanner s = SstFileScanner.open(file)) {
            compression = s.compressionName();
            propertyEntries = s.entries();
            for (; s.valid(); s.next()) {
                entries.add(decodeEntry(s.key(), s.value(), "write".equals(cf)));
            }
        } catch (EngineException e) {
            throw new IllegalArgumentException("not a readable SST: " + file + ": " + e.getMessage(), e);
        }
        return new SstView(file, cf, compression, propertyEntries, entries);
    }

    private static String cfOfName(String name) {
        for (String cf : new String[] {"write", "default", "lock"}) {
            if (name.endsWith("_" + cf + ".sst")) {
                return cf;
            }
        }
        return null;
    }

    static EntryView decodeEntry(byte[] key, byte[] value, boolean writeCf) {
        boolean hasPrefix = key.length > 0 && key[0] == Keys.DATA_PREFIX;
        byte[] body = hasPrefix ? Arrays.copyOfRange(key, 1, key.length) : key;
        if (hasPrefix && body.length >= BytesCodec.encodedLength(0) + Keys.TS_LEN) {
            try {
                int end = body.length - Keys.TS_LEN;
                BytesCodec.Decoded d = BytesCodec.decodePrefix(body, 0, end);
                if (d.end() == end) {
                    long ts = Keys.decodeTs(body);
                    Write write = null;
                    String writeError = null;
                    if (writeCf) {
                        try {
                            write = Write.parse(value);
                        } catch (CodecException e) {
                            writeError = e.getMessage();
                        }
                    }
                    return new EntryView(key, true, d.raw(), ts, value, write, writeError);
                }
            } catch (CodecException notTxn) {
                // fall through: a raw key
            }
        }
        return new EntryView(key, false, body, 0, value, null, null);
    }

    private static String tsLabel(String cf) {
        if ("write".equals(cf)) {
            return "commit_ts";
        }
        if ("default".equals(cf) || "lock".equals(cf)) {
            return "start_ts";
        }
        return "ts";
    }

    private static String sstText(SstView v) {
        StringBuilder sb = new StringBuilder();
        long txn = v.entries().stream().filter(EntryView::txn).count();
        sb.append("SST file: ").append(v.file()).append('\n');
        sb.append("cf: ").append(v.cf() == null ? "(unknown from the file name)" : v.cf()).append('\n');
        sb.append("compression: ").append(v.compression()).append('\n');
        sb.append("entries: ").append(v.entries().size());
        if (v.propertyEntries() != v.entries().size()) {
            sb.append(" (table properties say ").append(v.propertyEntries()).append(')');
        }
        sb.append(" (txn ").append(txn).append(", raw ").append(v.entries().size() - txn).append(")\n");
        String tsLabel = tsLabel(v.cf());
        int i = 0;
        for (EntryView e : v.entries()) {
            sb.append('#').append(i++).append(' ');
            if (e.txn()) {
                sb.append("txn key=").append(describeKey(e.userKey()));
                sb.append(" user_key_hex=").append(hex(e.userKey()));
                sb.append(' ').append(tsLabel).append('=').append(Long.toUnsignedString(e.ts()));
                if (e.write() != null) {
                    Write w = e.write();
                    sb.append(" write=").append(w.type()).append(" start_ts=").append(Long.toUnsignedString(w.startTs()));
                    if (w.shortValue() != null) {
                        sb.append(" short_value_len=").append(w.shortValue().length)
                                .append(" short_value=").append(preview(w.shortValue()));
                    } else {
                        sb.append(" short_value=none");
                    }
                    if (w.hasOverlappedRollback()) {
                        sb.append(" overlapped_rollback");
                    }
                    if (w.gcFence() != 0) {
                        sb.append(" gc_fence=").append(Long.toUnsignedString(w.gcFence()));
                    }
                } else {
                    if (e.writeError() != null) {
                        sb.append(" write=invalid(").append(e.writeError()).append(')');
                    }
                    sb.append(" value_len=").append(e.value().length).append(" value=").append(preview(e.value()));
                }
            } else {
                sb.append("raw key_hex=").append(hex(e.userKey())).append(" key=").append(escaped(e.userKey()));
                if (e.storedKey().length == e.userKey().length) {
                    sb.append(" (no 'z' prefix)");
                }
                sb.append(" value_len=").append(e.value().length).append(" value=").append(preview(e.value()));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private static String sstJson(SstView v) {
        Json j = new Json();
        j.beginObject();
        j.name("type").value("sst");
        j.name("file").value(v.file().toString());
        j.name("cf").value(v.cf());
        j.name("compression").value(v.compression());
        j.name("entries").value(v.entries().size());
        j.name("property_entries").value(v.propertyEntries());
        String tsLabel = tsLabel(v.cf());
        j.name("kvs").beginArray();
        for (EntryView e : v.entries()) {
            j.beginObject();
            j.name("key_hex").value(hex(e.storedKey()));
            if (e.txn()) {
                j.name("format").value("txn");
                j.name("user_key_hex").value(hex(e.userKey()));
                userKeyJson(j, e.userKey());
                j.name(tsLabel).value(e.ts());
                j.name("value_len").value(e.value().length);
                if (e.write() != null) {
                    Write w = e.write();
                    j.name("write").beginObject();
                    j.name("type").value(w.type().name());
                    j.name("start_ts").value(w.startTs());
                    if (w.shortValue() != null) {
                        j.name("short_value_len").value(w.shortValue().length);
                        j.name("short_value_hex").value(hex(w.shortValue()));
                    } else {
                        j.name("short_value_len").nullValue();
                    }
                    j.name("overlapped_rollback").value(w.hasOverlappedRollback());
                    j.name("gc_fence").value(w.gcFence());
                    j.endObject();
                } else {
                    if (e.writeError() != null) {
                        j.name("write_error").value(e.writeError());
                    }
                    j.name("value_hex").value(hex(e.value()));
                }
            } else {
                j.name("format").value("raw");
                j.name("raw_key_hex").value(hex(e.userKey()));
                if (isPrintable(e.userKey())) {
                    j.name("raw_key_str").value(new String(e.userKey(), java.nio.charset.StandardCharsets.US_ASCII));
                }
                j.name("value_len").value(e.value().length);
                j.name("value_hex").value(hex(e.value()));
            }
            j.endObject();
        }
        j.endArray();
        j.endObject();
        return j.toString();
    }

    private static void userKeyJson(Json j, byte[] userKey) {
        TidbKey t = TidbKey.of(userKey);
        if (t != null) {
            j.name("tidb").beginObject();
            j.name("table_id").signedValue(t.tableId());
            if (t.indexId() != null) {
                j.name("index_id").signedValue(t.indexId());
                j.name("index_values_hex").value(hex(t.rest()));
            } else if (t.handle() != null) {
                j.name("handle").signedValue(t.handle());
            } else {
                j.name("common_handle_hex").value(hex(t.rest()));
            }
            j.endObject();
        } else if (isPrintable(userKey)) {
            j.name("user_key_str").value(new String(userKey, java.nio.charset.StandardCharsets.US_ASCII));
        }
    }

    // ---------------------------------------------------------------- keys

    /**
     * A TiDB row or index key: {@code t ++ cmp_i64(table) ++ "_r" ++ cmp_i64(handle)} (or a common
     * handle after {@code _r}), or {@code t ++ cmp_i64(table) ++ "_i" ++ cmp_i64(index) ++ values}.
     * Exactly one of {@code handle}, {@code indexId} is set, or neither for a common handle in
     * {@code rest}.
     */
    record TidbKey(long tableId, Long handle, Long indexId, byte[] rest) {
        static TidbKey of(byte[] k) {
            if (k.length < 12 || k[0] != 't' || k[9] != '_') {
                return null;
            }
            long table = NumberCodec.decodeComparableI64(k, 1);
            if (k[10] == 'r') {
                if (k.length == 19) {
                    return new TidbKey(table, NumberCodec.decodeComparableI64(k, 11), null, new byte[0]);
                }
                return new TidbKey(table, null, null, Arrays.copyOfRange(k, 11, k.length));
            }
            if (k[10] == 'i' && k.length >= 19) {
                return new TidbKey(table, null, NumberCodec.decodeComparableI64(k, 11), Arrays.copyOfRange(k, 19, k.length));
            }
            return null;
        }

        String text() {
            String t = "t" + tableId;
            if (indexId != null) {
                return t + "_i" + indexId + (rest.length == 0 ? "" : " index_values=" + hex(rest));
            }
            if (handle != null) {
                return t + "_r" + handle;
            }
            return t + "_r{common_handle=" + hex(rest) + "}";
        }
    }

    /** {@code t100_r1}, {@code t100_i2 ...}, a quoted ASCII string, or {@code 0x}-hex. */
    static String describeKey(byte[] userKey) {
        TidbKey t = TidbKey.of(userKey);
        if (t != null) {
            return t.text();
        }
        if (isPrintable(userKey)) {
            return escaped(userKey);
        }
        return "0x" + hex(userKey);
    }

    private static boolean isPrintable(byte[] b) {
        for (byte x : b) {
            if (x < 0x20 || x > 0x7e) {
                return false;
            }
        }
        return true;
    }

    /** A double-quoted ASCII form: printable bytes as they are, others as {@code \xNN}. */
    private static String escaped(byte[] b) {
        StringBuilder sb = new StringBuilder(b.length + 2).append('"');
        for (byte x : b) {
            int c = x & 0xFF;
            if (c == '"' || c == '\\') {
                sb.append('\\').append((char) c);
            } else if (c >= 0x20 && c <= 0x7e) {
                sb.append((char) c);
            } else {
                sb.append("\\x").append(HEX[c >>> 4]).append(HEX[c & 0xF]);
            }
        }
        return sb.append('"').toString();
    }

    /** Up to {@link #TEXT_PREVIEW} bytes: quoted when printable, else hex; "..." marks a cut. */
    private static String preview(byte[] b) {
        byte[] head = b.length > TEXT_PREVIEW ? Arrays.copyOf(b, TEXT_PREVIEW) : b;
        String cut = b.length > TEXT_PREVIEW ? "..." : "";
        if (b.length == 0) {
            return "\"\"";
        }
        return (isPrintable(head) ? escaped(head) : "0x" + hex(head)) + cut;
    }

    private static String hex(byte[] b) {
        return Keys.hex(b);
    }

    // ---------------------------------------------------------------- backupmeta

    private static List<Brpb.File> dataFiles(Brpb.BackupMeta m) {
        List<Brpb.File> files = new ArrayList<>(m.getFilesList());
        if (m.hasFileIndex()) {
            files.addAll(m.getFileIndex().getDataFilesList());
        }
        return files;
    }

    /** The distinct [start, end) key ranges the files cover, by start key. */
    private static List<byte[][]> fileRanges(List<Brpb.File> files) {
        List<byte[][]> out = new ArrayList<>();
        for (Brpb.File f : files) {
            byte[][] r = {f.getStartKey().toByteArray(), f.getEndKey().toByteArray()};
            boolean seen = out.stream().anyMatch(x -> Arrays.equals(x[0], r[0]) && Arrays.equals(x[1], r[1]));
            if (!seen) {
                out.add(r);
            }
        }
        out.sort(Comparator.<byte[][], byte[]>comparing(r -> r[0], Arrays::compareUnsigned)
                .thenComparing(r -> r[1], (a, b) -> endCompare(a, b)));
        return out;
    }

    /** End keys compare with the empty key (unbounded) last. */
    private static int endCompare(byte[] a, byte[] b) {
        if (a.length == 0 || b.length == 0) {
            return Boolean.compare(a.length == 0, b.length == 0);
        }
        return Arrays.compareUnsigned(a, b);
    }

    private static String apiVersion(Brpb.BackupMeta m) {
        Kvrpcpb.APIVersion v = m.getApiVersion();
        return v == Kvrpcpb.APIVersion.UNRECOGNIZED ? "UNKNOWN(" + m.getApiVersionValue() + ")" : v.name();
    }

    private record Totals(long kvs, long bytes, long crc64xor, long size) {
        static Totals of(List<Brpb.File> files) {
            long kvs = 0;
            long bytes = 0;
            long crc = 0;
            long size = 0;
            for (Brpb.File f : files) {
                kvs += f.getTotalKvs();
                bytes += f.getTotalBytes();
                crc ^= f.getCrc64Xor();
                size += f.getSize();
            }
            return new Totals(kvs, bytes, crc, size);
        }
    }

    private static final Pattern DB_NAME = Pattern.compile("\"db_name\"\\s*:\\s*\\{\\s*\"O\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");
    private static final Pattern TABLE_NAME = Pattern.compile("\"name\"\\s*:\\s*\\{\\s*\"O\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");

    /** The {@code O} name in TiDB's JSON DB/table info, best effort; null when not found. */
    private static String schemaName(com.google.protobuf.ByteString json, Pattern p) {
        if (json.isEmpty()) {
            return null;
        }
        Matcher m = p.matcher(json.toStringUtf8());
        return m.find() ? m.group(1) : null;
    }

    private static String keyText(byte[] k, boolean end) {
        if (k.length == 0) {
            return end ? "(inf)" : "(min)";
        }
        TidbKey t = TidbKey.of(k);
        return hex(k) + (t != null ? " (" + t.text() + ")" : "");
    }

    private static String metaText(Path file, Brpb.BackupMeta m) {
        StringBuilder sb = new StringBuilder();
        List<Brpb.File> files = dataFiles(m);
        sb.append("backupmeta: ").append(file).append('\n');
        sb.append("cluster_id: ").append(Long.toUnsignedString(m.getClusterId())).append('\n');
        sb.append("cluster_version: ").append(m.getClusterVersion()).append('\n');
        sb.append("br_version: ").append(m.getBrVersion()).append('\n');
        sb.append("version: ").append(m.getVersion()).append('\n');
        sb.append("start_version: ").append(Long.toUnsignedString(m.getStartVersion())).append('\n');
        sb.append("end_version: ").append(Long.toUnsignedString(m.getEndVersion())).append('\n');
        sb.append("is_raw_kv: ").append(m.getIsRawKv()).append('\n');
        sb.append("api_version: ").append(apiVersion(m)).append('\n');
        if (!m.getNewCollationsEnabled().isEmpty()) {
            sb.append("new_collations_enabled: ").append(m.getNewCollationsEnabled()).append('\n');
        }
        if (!m.getBackupResult().isEmpty()) {
            sb.append("backup_result: ").append(m.getBackupResult()).append('\n');
        }
        sb.append("raw_ranges: ").append(m.getRawRangesCount()).append('\n');
        int i = 0;
        for (Brpb.RawRange r : m.getRawRangesList()) {
            sb.append("  [").append(i++).append("] cf=").append(r.getCf())
                    .append(" start=").append(keyText(r.getStartKey().toByteArray(), false))
                    .append(" end=").append(keyText(r.getEndKey().toByteArray(), true)).append('\n');
        }
        List<byte[][]> ranges = fileRanges(files);
        sb.append("ranges (distinct file key ranges): ").append(ranges.size()).append('\n');
        i = 0;
        for (byte[][] r : ranges) {
            sb.append("  [").append(i++).append("] start=").append(keyText(r[0], false))
                    .append(" end=").append(keyText(r[1], true)).append('\n');
        }
        sb.append("schemas: ").append(m.getSchemasCount()).append('\n');
        i = 0;
        for (Brpb.Schema s : m.getSchemasList()) {
            sb.append("  [").append(i++).append("] db=").append(schemaName(s.getDb(), DB_NAME))
                    .append(" table=").append(schemaName(s.getTable(), TABLE_NAME))
                    .append(" kvs=").append(Long.toUnsignedString(s.getTotalKvs()))
                    .append(" bytes=").append(Long.toUnsignedString(s.getTotalBytes()))
                    .append(" crc64xor=").append(Long.toUnsignedString(s.getCrc64Xor())).append('\n');
        }
        if (m.hasFileIndex()) {
            sb.append("file_index: meta_files=").append(m.getFileIndex().getMetaFilesCount())
                    .append(" data_files=").append(m.getFileIndex().getDataFilesCount()).append('\n');
            for (Brpb.File f : m.getFileIndex().getMetaFilesList()) {
                sb.append("  meta file ").append(f.getName()).append(" size=").append(Long.toUnsignedString(f.getSize()))
                        .append(" sha256=").append(hex(f.getSha256().toByteArray())).append('\n');
            }
        }
        sb.append("files: ").append(files.size()).append('\n');
        i = 0;
        for (Brpb.File f : files) {
            sb.append("  [").append(i++).append("] name=").append(f.getName())
                    .append(" cf=").append(f.getCf())
                    .append(" start_key=").append(keyText(f.getStartKey().toByteArray(), false))
                    .append(" end_key=").append(keyText(f.getEndKey().toByteArray(), true))
                    .append(" start_version=").append(Long.toUnsignedString(f.getStartVersion()))
                    .append(" end_version=").append(Long.toUnsignedString(f.getEndVersion()))
                    .append(" kvs=").append(Long.toUnsignedString(f.getTotalKvs()))
                    .append(" bytes=").append(Long.toUnsignedString(f.getTotalBytes()))
                    .append(" crc64xor=").append(Long.toUnsignedString(f.getCrc64Xor()))
                    .append(" size=").append(Long.toUnsignedString(f.getSize()))
                    .append(" sha256=").append(hex(f.getSha256().toByteArray()));
            if (!f.getCipherIv().isEmpty()) {
                sb.append(" cipher_iv=").append(hex(f.getCipherIv().toByteArray()));
            }
            sb.append('\n');
        }
        Totals t = Totals.of(files);
        sb.append("total: kvs=").append(Long.toUnsignedString(t.kvs()))
                .append(" bytes=").append(Long.toUnsignedString(t.bytes()))
                .append(" crc64xor=").append(Long.toUnsignedString(t.crc64xor()))
                .append(" size=").append(Long.toUnsignedString(t.size())).append('\n');
        return sb.toString();
    }

    private static String metaJson(Path file, Brpb.BackupMeta m) {
        List<Brpb.File> files = dataFiles(m);
        Json j = new Json();
        j.beginObject();
        j.name("type").value("backupmeta");
        j.name("file").value(file.toString());
        j.name("cluster_id").value(m.getClusterId());
        j.name("cluster_version").value(m.getClusterVersion());
        j.name("br_version").value(m.getBrVersion());
        j.name("version").signedValue(m.getVersion());
        j.name("start_version").value(m.getStartVersion());
        j.name("end_version").value(m.getEndVersion());
        j.name("is_raw_kv").value(m.getIsRawKv());
        j.name("api_version").value(apiVersion(m));
        j.name("new_collations_enabled").value(m.getNewCollationsEnabled());
        j.name("backup_result").value(m.getBackupResult());
        j.name("raw_ranges").beginArray();
        for (Brpb.RawRange r : m.getRawRangesList()) {
            j.beginObject();
            j.name("cf").value(r.getCf());
            j.name("start_key_hex").value(hex(r.getStartKey().toByteArray()));
            j.name("end_key_hex").value(hex(r.getEndKey().toByteArray()));
            j.endObject();
        }
        j.endArray();
        j.name("ranges").beginArray();
        for (byte[][] r : fileRanges(files)) {
            j.beginObject();
            j.name("start_key_hex").value(hex(r[0]));
            j.name("end_key_hex").value(hex(r[1]));
            j.endObject();
        }
        j.endArray();
        j.name("schemas").beginArray();
        for (Brpb.Schema s : m.getSchemasList()) {
            j.beginObject();
            j.name("db").value(schemaName(s.getDb(), DB_NAME));
            j.name("table").value(schemaName(s.getTable(), TABLE_NAME));
            j.name("total_kvs").value(s.getTotalKvs());
            j.name("total_bytes").value(s.getTotalBytes());
            j.name("crc64xor").value(s.getCrc64Xor());
            j.endObject();
        }
        j.endArray();
        if (m.hasFileIndex()) {
            j.name("meta_files").beginArray();
            for (Brpb.File f : m.getFileIndex().getMetaFilesList()) {
                j.beginObject();
                j.name("name").value(f.getName());
                j.name("size").value(f.getSize());
                j.name("sha256").value(hex(f.getSha256().toByteArray()));
                j.endObject();
            }
            j.endArray();
        }
        j.name("files").beginArray();
        for (Brpb.File f : files) {
            j.beginObject();
            j.name("name").value(f.getName());
            j.name("cf").value(f.getCf());
            j.name("start_key_hex").value(hex(f.getStartKey().toByteArray()));
            j.name("end_key_hex").value(hex(f.getEndKey().toByteArray()));
            j.name("start_version").value(f.getStartVersion());
            j.name("end_version").value(f.getEndVersion());
            j.name("total_kvs").value(f.getTotalKvs());
            j.name("total_bytes").value(f.getTotalBytes());
            j.name("crc64xor").value(f.getCrc64Xor());
            j.name("size").value(f.getSize());
            j.name("sha256").value(hex(f.getSha256().toByteArray()));
            j.name("cipher_iv").value(hex(f.getCipherIv().toByteArray()));
            j.endObject();
        }
        j.endArray();
        Totals t = Totals.of(files);
        j.name("totals").beginObject();
        j.name("files").value(files.size());
        j.name("total_kvs").value(t.kvs());
        j.name("total_bytes").value(t.bytes());
        j.name("crc64xor").value(t.crc64xor());
        j.name("size").value(t.size());
        j.endObject();
        j.endObject();
        return j.toString();
    }

    // ---------------------------------------------------------------- JSON

    /** A minimal pretty-printing JSON writer: objects, arrays, strings, integers, booleans, null. */
    static final class Json {
        private final StringBuilder sb = new StringBuilder();
        /** Per open container: whether nothing has been written into it yet. */
        private final ArrayList<Boolean> empty = new ArrayList<>();
        private boolean afterName;

        Json beginObject() {
            return open('{');
        }

        Json endObject() {
            return close('}');
        }

        Json beginArray() {
            return open('[');
        }

        Json endArray() {
            return close(']');
        }

        Json name(String name) {
            beforeValue();
            quote(sb, name);
            sb.append(": ");
            afterName = true;
            return this;
        }

        /** A string, or null. */
        Json value(String s) {
            beforeValue();
            if (s == null) {
                sb.append("null");
            } else {
                quote(sb, s);
            }
            return this;
        }

        /** An unsigned 64-bit integer. */
        Json value(long unsigned) {
            beforeValue();
            sb.append(Long.toUnsignedString(unsigned));
            return this;
        }

        Json signedValue(long v) {
            beforeValue();
            sb.append(v);
            return this;
        }

        Json value(boolean b) {
            beforeValue();
            sb.append(b);
            return this;
        }

        Json nullValue() {
            beforeValue();
            sb.append("null");
            return this;
        }

        private Json open(char c) {
            beforeValue();
            sb.append(c);
            empty.add(Boolean.TRUE);
            return this;
        }

        private Json close(char c) {
            boolean wasEmpty = empty.remove(empty.size() - 1);
            if (!wasEmpty) {
                newline();
            }
            sb.append(c);
            return this;
        }

        private void beforeValue() {
            if (afterName) {
                afterName = false;
                return;
            }
            if (empty.isEmpty()) {
                return;
            }
            int top = empty.size() - 1;
            if (!empty.get(top)) {
                sb.append(',');
            }
            empty.set(top, Boolean.FALSE);
            newline();
        }

        private void newline() {
            sb.append('\n');
            sb.append("  ".repeat(empty.size()));
        }

        @Override
        public String toString() {
            return sb.toString() + "\n";
        }

        /** Appends {@code s} as a JSON string literal. */
        static void quote(StringBuilder sb, String s) {
            sb.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> sb.append("\\\"");
                    case '\\' -> sb.append("\\\\");
                    case '\n' -> sb.append("\\n");
                    case '\r' -> sb.append("\\r");
                    case '\t' -> sb.append("\\t");
                    case '\b' -> sb.append("\\b");
                    case '\f' -> sb.append("\\f");
                    default -> {
                        boolean loneSurrogate = Character.isSurrogate(c)
                                && !(Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1)))
                                && !(Character.isLowSurrogate(c) && i > 0 && Character.isHighSurrogate(s.charAt(i - 1)));
                        if (c < 0x20 || c == 0x7f || c == '\u2028' || c == '\u2029' || loneSurrogate) {
                            sb.append("\\u").append(HEX[c >>> 12]).append(HEX[(c >>> 8) & 0xF])
                                    .append(HEX[(c >>> 4) & 0xF]).append(HEX[c & 0xF]);
                        } else {
                            sb.append(c);
                        }
                    }
                }
            }
            sb.append('"');
        }
    }
}
