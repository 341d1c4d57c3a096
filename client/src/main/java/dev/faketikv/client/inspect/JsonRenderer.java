package dev.faketikv.client.inspect;

import static dev.faketikv.client.inspect.KeyFormat.hex;
import static dev.faketikv.client.inspect.KeyFormat.isPrintable;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.io.CharacterEscapes;
import com.fasterxml.jackson.core.io.SerializedString;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import dev.faketikv.engine.mvcc.Write;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The JSON form, written with Jackson's streaming generator: two-space indent, {@code "name": value},
 * empty containers as {@code {}} / {@code []}, a trailing newline. 64-bit integers are exact unsigned
 * decimals (timestamps and checksums above 2^53 need a parser that keeps 64-bit integers); besides JSON's
 * required escapes, DEL, U+2028 and U+2029 are escaped ({@code \\u} with lowercase hex) so the output is
 * also safe to paste into JavaScript. Stateless and thread-safe.
 */
public final class JsonRenderer {
    private static final JsonFactory FACTORY = new JsonFactory().setCharacterEscapes(new Escapes());

    private JsonRenderer() {}

    public static String render(SstContents v) {
        return write(g -> {
            g.writeStartObject();
            g.writeStringField("type", "sst");
            g.writeStringField("file", v.file().toString());
            g.writeStringField("cf", v.cf());
            g.writeStringField("compression", v.compression());
            unsigned(g, "entries", v.entries().size());
            unsigned(g, "property_entries", v.propertyEntries());
            String tsLabel = v.tsLabel();
            g.writeArrayFieldStart("kvs");
            for (SstContents.Entry e : v.entries()) {
                g.writeStartObject();
                g.writeStringField("key_hex", hex(e.storedKey()));
                if (e.txn()) {
                    g.writeStringField("format", "txn");
                    g.writeStringField("user_key_hex", hex(e.userKey()));
                    userKey(g, e.userKey());
                    unsigned(g, tsLabel, e.ts());
                    unsigned(g, "value_len", e.value().length);
                    if (e.write() != null) {
                        write(g, e.write());
                    } else {
                        if (e.writeError() != null) {
                            g.writeStringField("write_error", e.writeError());
                        }
                        g.writeStringField("value_hex", hex(e.value()));
                    }
                } else {
                    g.writeStringField("format", "raw");
                    g.writeStringField("raw_key_hex", hex(e.userKey()));
                    if (isPrintable(e.userKey())) {
                        g.writeStringField("raw_key_str", new String(e.userKey(), StandardCharsets.US_ASCII));
                    }
                    unsigned(g, "value_len", e.value().length);
                    g.writeStringField("value_hex", hex(e.value()));
                }
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        });
    }

    private static void write(JsonGenerator g, Write w) throws IOException {
        g.writeObjectFieldStart("write");
        g.writeStringField("type", w.type().name());
        unsigned(g, "start_ts", w.startTs());
        if (w.shortValue() != null) {
            unsigned(g, "short_value_len", w.shortValue().length);
            g.writeStringField("short_value_hex", hex(w.shortValue()));
        } else {
            g.writeNullField("short_value_len");
        }
        g.writeBooleanField("overlapped_rollback", w.hasOverlappedRollback());
        unsigned(g, "gc_fence", w.gcFence());
        g.writeEndObject();
    }

    private static void userKey(JsonGenerator g, byte[] userKey) throws IOException {
        KeyFormat.TidbKey t = KeyFormat.TidbKey.of(userKey);
        if (t != null) {
            g.writeObjectFieldStart("tidb");
            g.writeNumberField("table_id", t.tableId());
            if (t.indexId() != null) {
                g.writeNumberField("index_id", t.indexId());
                g.writeStringField("index_values_hex", hex(t.rest()));
            } else if (t.handle() != null) {
                g.writeNumberField("handle", t.handle());
            } else {
                g.writeStringField("common_handle_hex", hex(t.rest()));
            }
            g.writeEndObject();
        } else if (isPrintable(userKey)) {
            g.writeStringField("user_key_str", new String(userKey, StandardCharsets.US_ASCII));
        }
    }

    public static String render(BackupMetaView m) {
        return write(g -> {
            g.writeStartObject();
            g.writeStringField("type", "backupmeta");
            g.writeStringField("file", m.file().toString());
            unsigned(g, "cluster_id", m.clusterId());
            g.writeStringField("cluster_version", m.clusterVersion());
            g.writeStringField("br_version", m.brVersion());
            g.writeNumberField("version", m.version());
            unsigned(g, "start_version", m.startVersion());
            unsigned(g, "end_version", m.endVersion());
            g.writeBooleanField("is_raw_kv", m.isRawKv());
            g.writeStringField("api_version", m.apiVersion());
            g.writeStringField("new_collations_enabled", m.newCollationsEnabled());
            g.writeStringField("backup_result", m.backupResult());
            g.writeArrayFieldStart("raw_ranges");
            for (BackupMetaView.RawRange r : m.rawRanges()) {
                g.writeStartObject();
                g.writeStringField("cf", r.cf());
                g.writeStringField("start_key_hex", hex(r.start()));
                g.writeStringField("end_key_hex", hex(r.end()));
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeArrayFieldStart("ranges");
            for (BackupMetaView.Range r : m.ranges()) {
                g.writeStartObject();
                g.writeStringField("start_key_hex", hex(r.start()));
                g.writeStringField("end_key_hex", hex(r.end()));
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeArrayFieldStart("schemas");
            for (BackupMetaView.Schema s : m.schemas()) {
                g.writeStartObject();
                g.writeStringField("db", s.db());
                g.writeStringField("table", s.table());
                unsigned(g, "total_kvs", s.totalKvs());
                unsigned(g, "total_bytes", s.totalBytes());
                unsigned(g, "crc64xor", s.crc64xor());
                g.writeEndObject();
            }
            g.writeEndArray();
            if (m.metaFiles() != null) {
                g.writeArrayFieldStart("meta_files");
                for (BackupMetaView.MetaFile f : m.metaFiles()) {
                    g.writeStartObject();
                    g.writeStringField("name", f.name());
                    unsigned(g, "size", f.size());
                    g.writeStringField("sha256", hex(f.sha256()));
                    g.writeEndObject();
                }
                g.writeEndArray();
            }
            g.writeArrayFieldStart("files");
            for (BackupMetaView.DataFile f : m.files()) {
                g.writeStartObject();
                g.writeStringField("name", f.name());
                g.writeStringField("cf", f.cf());
                g.writeStringField("start_key_hex", hex(f.startKey()));
                g.writeStringField("end_key_hex", hex(f.endKey()));
                unsigned(g, "start_version", f.startVersion());
                unsigned(g, "end_version", f.endVersion());
                unsigned(g, "total_kvs", f.totalKvs());
                unsigned(g, "total_bytes", f.totalBytes());
                unsigned(g, "crc64xor", f.crc64xor());
                unsigned(g, "size", f.size());
                g.writeStringField("sha256", hex(f.sha256()));
                g.writeStringField("cipher_iv", hex(f.cipherIv()));
                g.writeEndObject();
            }
            g.writeEndArray();
            BackupMetaView.Totals t = m.totals();
            g.writeObjectFieldStart("totals");
            unsigned(g, "files", t.files());
            unsigned(g, "total_kvs", t.kvs());
            unsigned(g, "total_bytes", t.bytes());
            unsigned(g, "crc64xor", t.crc64xor());
            unsigned(g, "size", t.size());
            g.writeEndObject();
            g.writeEndObject();
        });
    }

    /** An unsigned 64-bit integer as its exact decimal. */
    private static void unsigned(JsonGenerator g, String name, long v) throws IOException {
        g.writeFieldName(name);
        g.writeNumber(Long.toUnsignedString(v));
    }

    @FunctionalInterface
    private interface Body {
        void write(JsonGenerator g) throws IOException;
    }

    private static String write(Body body) {
        StringWriter out = new StringWriter();
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            g.setPrettyPrinter(prettyPrinter());
            body.write(g);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out + "\n";
    }

    private static DefaultPrettyPrinter prettyPrinter() {
        DefaultIndenter indent = new DefaultIndenter("  ", "\n");
        DefaultPrettyPrinter p = new DefaultPrettyPrinter(Separators.createDefaultInstance()
                .withObjectFieldValueSpacing(Separators.Spacing.AFTER)
                .withObjectEmptySeparator("")
                .withArrayEmptySeparator(""));
        p.indentObjectsWith(indent);
        p.indentArraysWith(indent);
        return p;
    }

    /** JSON's escapes with lowercase {@code \\u} hex, plus DEL, U+2028 and U+2029. */
    private static final class Escapes extends CharacterEscapes {
        private static final long serialVersionUID = 1L;
        private final int[] ascii = standardAsciiEscapesForJSON();

        Escapes() {
            for (int c = 0; c < 0x20; c++) {
                if (c != '\n' && c != '\r' && c != '\t' && c != '\b' && c != '\f') {
                    ascii[c] = ESCAPE_CUSTOM;
                }
            }
            ascii[0x7f] = ESCAPE_CUSTOM;
        }

        @Override
        public int[] getEscapeCodesForAscii() {
            return ascii;
        }

        @Override
        public SerializableString getEscapeSequence(int ch) {
            if (ch < 0x20 || ch == 0x7f || ch == 0x2028 || ch == 0x2029) {
                return new SerializedString(String.format("\\u%04x", ch));
            }
            return null;
        }
    }
}
