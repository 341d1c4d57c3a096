package dev.faketikv.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.mvcc.Write;
import dev.faketikv.engine.mvcc.WriteType;
import dev.faketikv.engine.sst.SstCompression;
import dev.faketikv.engine.sst.SstFileBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Kvrpcpb;

/** {@link Inspect} decodes backup SSTs and backupmeta files, and refuses anything else. */
class InspectTest {
    @TempDir
    Path dir;

    static final long COMMIT_TS = 432_100_000_000_000_450L;
    static final long START_TS = 432_100_000_000_000_440L;

    private static byte[] txnKey(long tableId, long handle, long ts) {
        return Keys.appendTs(Keys.dataKeyOfRaw(Keys.tidbRecordKey(tableId, handle)), ts);
    }

    private Path writeSst(long tableId) throws Exception {
        Path p = dir.resolve("1_2_3_abcdef_write.sst");
        try (SstFileBuilder b = new SstFileBuilder(p, SstCompression.LZ4, 0)) {
            for (long h = 1; h <= 3; h++) {
                b.put(txnKey(tableId, h, COMMIT_TS), Write.put(START_TS, ("row-" + h).getBytes(StandardCharsets.US_ASCII)).toBytes());
            }
            b.finish();
        }
        return p;
    }

    @Test
    void writeSstShowsTableHandleTimestampsAndWriteRecords() throws Exception {
        Path p = writeSst(100);

        String text = Inspect.render(p, Inspect.Format.TEXT);
        assertThat(text).contains("SST file: " + p, "cf: write", "compression: LZ4", "entries: 3");
        assertThat(text).contains("t100_r1", "t100_r2", "t100_r3");
        assertThat(text).contains("commit_ts=" + COMMIT_TS, "write=PUT", "start_ts=" + START_TS,
                "short_value_len=5", "short_value=\"row-1\"");
        assertThat(text.lines().filter(l -> l.startsWith("#"))).hasSize(3);

        String json = Inspect.render(p, Inspect.Format.JSON);
        MiniJson.check(json);
        assertThat(json.strip()).startsWith("{").endsWith("}");
        assertThat(json).contains("\"type\": \"sst\"", "\"cf\": \"write\"", "\"entries\": 3", "\"table_id\": 100",
                "\"handle\": 3", "\"commit_ts\": " + COMMIT_TS, "\"start_ts\": " + START_TS, "\"type\": \"PUT\"",
                "\"short_value_len\": 5");
    }

    @Test
    void negativeTableIdsAndOtherWriteTypesDecode() throws Exception {
        Path p = dir.resolve("x_write.sst");
        try (SstFileBuilder b = new SstFileBuilder(p, SstCompression.ZSTD, 0)) {
            b.put(txnKey(-5, 7, COMMIT_TS), Write.of(WriteType.DELETE, START_TS).toBytes());
            b.put(txnKey(-5, 8, COMMIT_TS), new byte[] {'X', 1});
            b.finish();
        }
        String text = Inspect.render(p, Inspect.Format.TEXT);
        assertThat(text).contains("t-5_r7", "write=DELETE", "short_value=none", "t-5_r8", "write=invalid(");
        MiniJson.check(Inspect.render(p, Inspect.Format.JSON));
    }

    @Test
    void defaultSstShowsStartTsAndValues() throws Exception {
        Path p = dir.resolve("1_2_3_abcdef_default.sst");
        byte[] big = new byte[300];
        Arrays.fill(big, (byte) 0xAB);
        byte[] idx = Arrays.copyOf(Keys.tidbTablePrefix(100), 19 + 3);
        idx[9] = '_';
        idx[10] = 'i';
        System.arraycopy(dev.faketikv.engine.codec.NumberCodec.encodeComparableI64(2), 0, idx, 11, 8);
        idx[19] = 1;
        idx[20] = 2;
        idx[21] = 3;
        try (SstFileBuilder b = new SstFileBuilder(p, SstCompression.LZ4, 0)) {
            // "_i" sorts before "_r"
            b.put(Keys.appendTs(Keys.dataKeyOfRaw(idx), START_TS), "1".getBytes(StandardCharsets.US_ASCII));
            b.put(txnKey(100, 1, START_TS), big);
            b.finish();
        }
        String text = Inspect.render(p, Inspect.Format.TEXT);
        assertThat(text).contains("cf: default", "t100_r1", "start_ts=" + START_TS, "value_len=300", "0xabab",
                "t100_i2 index_values=010203");
        String json = Inspect.render(p, Inspect.Format.JSON);
        MiniJson.check(json);
        assertThat(json).contains("\"index_id\": 2", "\"index_values_hex\": \"010203\"", "\"start_ts\": " + START_TS);
    }

    @Test
    void rawKeysAreShownInHexAndEscapedText() throws Exception {
        Path p = dir.resolve("1_2_3_abcdef_default.sst");
        try (SstFileBuilder b = new SstFileBuilder(p, SstCompression.SNAPPY, 0)) {
            b.put(Keys.dataKey("a\"b\\c".getBytes(StandardCharsets.US_ASCII)), "v1".getBytes(StandardCharsets.US_ASCII));
            b.put(Keys.dataKey(new byte[] {'k', 0, (byte) 0xFF}), new byte[] {9});
            b.finish();
        }
        String text = Inspect.render(p, Inspect.Format.TEXT);
        assertThat(text).contains("entries: 2", "raw 2", "raw key_hex=6122625c63 key=\"a\\\"b\\\\c\"", "value=\"v1\"",
                "raw key_hex=6b00ff key=\"k\\x00\\xff\"", "value=0x09");
        String json = Inspect.render(p, Inspect.Format.JSON);
        MiniJson.check(json);
        assertThat(json).contains("\"format\": \"raw\"", "\"raw_key_str\": \"a\\\"b\\\\c\"", "\"raw_key_hex\": \"6b00ff\"");
    }

    @Test
    void backupMetaShowsFieldsFilesAndTotals() throws Exception {
        byte[] start = Keys.tidbRecordKey(100, 1);
        byte[] end = Keys.tidbRecordKey(100, 4);
        Brpb.File write = Brpb.File.newBuilder().setName("1_2_3_abcdef_write.sst").setCf("write")
                .setStartKey(ByteString.copyFrom(start)).setEndKey(ByteString.copyFrom(end))
                .setEndVersion(COMMIT_TS).setTotalKvs(3).setTotalBytes(60).setCrc64Xor(0xF0F0F0F0F0F0F0F0L)
                .setSize(1234).setSha256(ByteString.copyFrom(new byte[] {(byte) 0xde, (byte) 0xad})).build();
        Brpb.File dflt = write.toBuilder().setName("1_2_3_abcdef_default.sst").setCf("default")
                .setTotalKvs(2).setTotalBytes(700).setCrc64Xor(0x0F0F0F0F0F0F0F0FL).setSize(2000).build();
        Brpb.File other = write.toBuilder().setName("1_2_4_abcdef_write.sst")
                .setStartKey(ByteString.copyFrom(end)).setEndKey(ByteString.EMPTY)
                .setTotalKvs(1).setTotalBytes(10).setCrc64Xor(1).setSize(100).build();
        Brpb.BackupMeta meta = Brpb.BackupMeta.newBuilder().setClusterId(7010000000000000001L)
                .setClusterVersion("\"5.4.0\"").setBrVersion("BR\nRelease Version: v5.4.0\tx")
                .setStartVersion(0).setEndVersion(COMMIT_TS).setApiVersion(Kvrpcpb.APIVersion.V1)
                .addFiles(dflt).addFiles(write).addFiles(other)
                .addRawRanges(Brpb.RawRange.newBuilder().setStartKey(ByteString.copyFromUtf8("a"))
                        .setEndKey(ByteString.copyFromUtf8("b")).setCf("default"))
                .build();
        Path p = dir.resolve("backupmeta");
        Files.write(p, meta.toByteArray());

        String text = Inspect.render(p, Inspect.Format.TEXT);
        assertThat(text).contains("backupmeta: " + p, "cluster_id: 7010000000000000001", "cluster_version: \"5.4.0\"",
                "end_version: " + COMMIT_TS, "is_raw_kv: false", "api_version: V1", "files: 3",
                "name=1_2_3_abcdef_write.sst cf=write", "sha256=dead", "start_key=" + Keys.hex(start) + " (t100_r1)",
                "end_key=(inf)", "ranges (distinct file key ranges): 2", "raw_ranges: 1", "cf=default start=61 end=62");
        assertThat(text).contains("total: kvs=6 bytes=770 crc64xor=" + Long.toUnsignedString(0xFFFFFFFFFFFFFFFEL)
                + " size=3334");

        String json = Inspect.render(p, Inspect.Format.JSON);
        MiniJson.check(json);
        assertThat(json.strip()).startsWith("{").endsWith("}");
        assertThat(json).contains("\"type\": \"backupmeta\"", "\"cluster_id\": 7010000000000000001",
                "\"br_version\": \"BR\\nRelease Version: v5.4.0\\tx\"", "\"cluster_version\": \"\\\"5.4.0\\\"\"",
                "\"name\": \"1_2_4_abcdef_write.sst\"", "\"total_kvs\": 6", "\"total_bytes\": 770",
                "\"crc64xor\": " + Long.toUnsignedString(0xFFFFFFFFFFFFFFFEL), "\"api_version\": \"V1\"");
    }

    @Test
    void anythingElseIsRefused() throws Exception {
        Random rnd = new Random(42);
        for (int i = 0; i < 20; i++) {
            byte[] junk = new byte[256 + rnd.nextInt(4096)];
            rnd.nextBytes(junk);
            Path p = dir.resolve("junk" + i);
            Files.write(p, junk);
            assertThatThrownBy(() -> Inspect.render(p, Inspect.Format.TEXT))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("not an SST or a backupmeta: " + p);
        }
        Path empty = dir.resolve("empty");
        Files.write(empty, new byte[0]);
        assertThatThrownBy(() -> Inspect.render(empty, Inspect.Format.JSON))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not an SST or a backupmeta");
        Path text = dir.resolve("notes.txt");
        Files.writeString(text, "hello world\n");
        assertThatThrownBy(() -> Inspect.render(text, Inspect.Format.TEXT))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not an SST or a backupmeta");
    }

    @Test
    void aCorruptSstIsRefusedClearly() throws Exception {
        Path p = writeSst(100);
        byte[] bytes = Files.readAllBytes(p);
        bytes[10] ^= 0x5A; // inside the first data block; the magic at the end stays intact
        Files.write(p, bytes);
        assertThatThrownBy(() -> Inspect.render(p, Inspect.Format.TEXT))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a readable SST: " + p);
    }

    /** A strict little JSON syntax checker (RFC 8259 grammar), so the hand-written JSON is proven well-formed. */
    static final class MiniJson {
        private final String s;
        private int i;

        private MiniJson(String s) {
            this.s = s;
        }

        static void check(String json) {
            MiniJson p = new MiniJson(json);
            p.ws();
            p.value();
            p.ws();
            if (p.i != json.length()) {
                throw p.err("trailing characters");
            }
        }

        private AssertionError err(String what) {
            return new AssertionError("bad JSON at " + i + ": " + what + " near: "
                    + s.substring(Math.max(0, i - 40), Math.min(s.length(), i + 40)));
        }

        private void ws() {
            while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) {
                i++;
            }
        }

        private void expect(char c) {
            if (i >= s.length() || s.charAt(i) != c) {
                throw err("expected '" + c + "'");
            }
            i++;
        }

        private void value() {
            if (i >= s.length()) {
                throw err("unexpected end");
            }
            char c = s.charAt(i);
            if (c == '{') {
                i++;
                ws();
                if (s.charAt(i) == '}') {
                    i++;
                    return;
                }
                while (true) {
                    ws();
                    string();
                    ws();
                    expect(':');
                    ws();
                    value();
                    ws();
                    if (s.charAt(i) == ',') {
                        i++;
                    } else {
                        expect('}');
                        return;
                    }
                }
            } else if (c == '[') {
                i++;
                ws();
                if (s.charAt(i) == ']') {
                    i++;
                    return;
                }
                while (true) {
                    ws();
                    value();
                    ws();
                    if (s.charAt(i) == ',') {
                        i++;
                    } else {
                        expect(']');
                        return;
                    }
                }
            } else if (c == '"') {
                string();
            } else if (s.startsWith("true", i)) {
                i += 4;
            } else if (s.startsWith("false", i)) {
                i += 5;
            } else if (s.startsWith("null", i)) {
                i += 4;
            } else {
                number();
            }
        }

        private void string() {
            expect('"');
            while (true) {
                if (i >= s.length()) {
                    throw err("unterminated string");
                }
                char c = s.charAt(i++);
                if (c == '"') {
                    return;
                }
                if (c < 0x20) {
                    throw err("raw control character in string");
                }
                if (c == '\\') {
                    char e = s.charAt(i++);
                    if (e == 'u') {
                        for (int k = 0; k < 4; k++) {
                            if (Character.digit(s.charAt(i++), 16) < 0) {
                                throw err("bad \\u escape");
                            }
                        }
                    } else if ("\"\\/bfnrt".indexOf(e) < 0) {
                        throw err("bad escape \\" + e);
                    }
                }
            }
        }

        private void number() {
            int start = i;
            if (i < s.length() && s.charAt(i) == '-') {
                i++;
            }
            if (i < s.length() && s.charAt(i) == '0') {
                i++;
            } else {
                int d = i;
                while (i < s.length() && Character.isDigit(s.charAt(i))) {
                    i++;
                }
                if (d == i) {
                    throw err("expected a value");
                }
            }
            if (i < s.length() && (s.charAt(i) == '.' || s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
                throw err("only integers are expected from Inspect, got " + s.substring(start, i + 1));
            }
        }
    }
}
