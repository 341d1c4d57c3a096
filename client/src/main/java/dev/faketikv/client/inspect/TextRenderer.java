package dev.faketikv.client.inspect;

import static dev.faketikv.client.inspect.KeyFormat.boundText;
import static dev.faketikv.client.inspect.KeyFormat.describeKey;
import static dev.faketikv.client.inspect.KeyFormat.escaped;
import static dev.faketikv.client.inspect.KeyFormat.hex;
import static dev.faketikv.client.inspect.KeyFormat.preview;

import dev.faketikv.engine.mvcc.Write;

/**
 * The TEXT form: a header, then one line per SST entry (in the spirit of {@code tikv-ctl}'s SST dump), or
 * one line per backupmeta field, range, schema and file (BR's {@code debug decode}). Unsigned integers in
 * decimal, keys in hex with their TiDB form, values previewed. Stateless.
 */
public final class TextRenderer {
    private TextRenderer() {}

    public static String render(SstContents v) {
        StringBuilder sb = new StringBuilder();
        long txn = v.txnCount();
        sb.append("SST file: ").append(v.file()).append('\n');
        sb.append("cf: ").append(v.cf() == null ? "(unknown from the file name)" : v.cf()).append('\n');
        sb.append("compression: ").append(v.compression()).append('\n');
        sb.append("entries: ").append(v.entries().size());
        if (v.propertyEntries() != v.entries().size()) {
            sb.append(" (table properties say ").append(v.propertyEntries()).append(')');
        }
        sb.append(" (txn ").append(txn).append(", raw ").append(v.entries().size() - txn).append(")\n");
        String tsLabel = v.tsLabel();
        int i = 0;
        for (SstContents.Entry e : v.entries()) {
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

    public static String render(BackupMetaView m) {
        StringBuilder sb = new StringBuilder();
        sb.append("backupmeta: ").append(m.file()).append('\n');
        sb.append("cluster_id: ").append(Long.toUnsignedString(m.clusterId())).append('\n');
        sb.append("cluster_version: ").append(m.clusterVersion()).append('\n');
        sb.append("br_version: ").append(m.brVersion()).append('\n');
        sb.append("version: ").append(m.version()).append('\n');
        sb.append("start_version: ").append(Long.toUnsignedString(m.startVersion())).append('\n');
        sb.append("end_version: ").append(Long.toUnsignedString(m.endVersion())).append('\n');
        sb.append("is_raw_kv: ").append(m.isRawKv()).append('\n');
        sb.append("api_version: ").append(m.apiVersion()).append('\n');
        if (!m.newCollationsEnabled().isEmpty()) {
            sb.append("new_collations_enabled: ").append(m.newCollationsEnabled()).append('\n');
        }
        if (!m.backupResult().isEmpty()) {
            sb.append("backup_result: ").append(m.backupResult()).append('\n');
        }
        sb.append("raw_ranges: ").append(m.rawRanges().size()).append('\n');
        int i = 0;
        for (BackupMetaView.RawRange r : m.rawRanges()) {
            sb.append("  [").append(i++).append("] cf=").append(r.cf())
                    .append(" start=").append(boundText(r.start(), false))
                    .append(" end=").append(boundText(r.end(), true)).append('\n');
        }
        sb.append("ranges (distinct file key ranges): ").append(m.ranges().size()).append('\n');
        i = 0;
        for (BackupMetaView.Range r : m.ranges()) {
            sb.append("  [").append(i++).append("] start=").append(boundText(r.start(), false))
                    .append(" end=").append(boundText(r.end(), true)).append('\n');
        }
        sb.append("schemas: ").append(m.schemas().size()).append('\n');
        i = 0;
        for (BackupMetaView.Schema s : m.schemas()) {
            sb.append("  [").append(i++).append("] db=").append(s.db())
                    .append(" table=").append(s.table())
                    .append(" kvs=").append(Long.toUnsignedString(s.totalKvs()))
                    .append(" bytes=").append(Long.toUnsignedString(s.totalBytes()))
                    .append(" crc64xor=").append(Long.toUnsignedString(s.crc64xor())).append('\n');
        }
        if (m.metaFiles() != null) {
            sb.append("file_index: meta_files=").append(m.metaFiles().size())
                    .append(" data_files=").append(m.indexDataFiles()).append('\n');
            for (BackupMetaView.MetaFile f : m.metaFiles()) {
                sb.append("  meta file ").append(f.name()).append(" size=").append(Long.toUnsignedString(f.size()))
                        .append(" sha256=").append(hex(f.sha256())).append('\n');
            }
        }
        sb.append("files: ").append(m.files().size()).append('\n');
        i = 0;
        for (BackupMetaView.DataFile f : m.files()) {
            sb.append("  [").append(i++).append("] name=").append(f.name())
                    .append(" cf=").append(f.cf())
                    .append(" start_key=").append(boundText(f.startKey(), false))
                    .append(" end_key=").append(boundText(f.endKey(), true))
                    .append(" start_version=").append(Long.toUnsignedString(f.startVersion()))
                    .append(" end_version=").append(Long.toUnsignedString(f.endVersion()))
                    .append(" kvs=").append(Long.toUnsignedString(f.totalKvs()))
                    .append(" bytes=").append(Long.toUnsignedString(f.totalBytes()))
                    .append(" crc64xor=").append(Long.toUnsignedString(f.crc64xor()))
                    .append(" size=").append(Long.toUnsignedString(f.size()))
                    .append(" sha256=").append(hex(f.sha256()));
            if (f.cipherIv().length > 0) {
                sb.append(" cipher_iv=").append(hex(f.cipherIv()));
            }
            sb.append('\n');
        }
        BackupMetaView.Totals t = m.totals();
        sb.append("total: kvs=").append(Long.toUnsignedString(t.kvs()))
                .append(" bytes=").append(Long.toUnsignedString(t.bytes()))
                .append(" crc64xor=").append(Long.toUnsignedString(t.crc64xor()))
                .append(" size=").append(Long.toUnsignedString(t.size())).append('\n');
        return sb.toString();
    }
}
