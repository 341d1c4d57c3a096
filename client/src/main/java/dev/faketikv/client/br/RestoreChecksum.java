package dev.faketikv.client.br;

import dev.faketikv.engine.codec.Keys;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.tikv.kvproto.Brpb;

/**
 * The checksum at the end of {@code br restore} (BR's {@code --checksum}, default on: pingcap/br
 * {@code pkg/task/restore.go} {@code GoValidateChecksum}, {@code pkg/restore/client.go} {@code execChecksum}):
 * the stores count crc64xor / total_kvs / total_bytes over the ranges the restore wrote, and the result must
 * equal the backupmeta's totals over the restored files, else
 * {@code failed to validate checksum: [BR:Restore:ErrRestoreChecksumMismatch]restore checksum mismatch}.
 *
 * <p>How the stores count: a backup of each restored range to {@code noop://} (TiKV computes the checksums
 * while it scans; at a fresh ts for txn data), as {@link BrChecksum} does — this fake has no coprocessor
 * checksum. Ranges are in user-key form after rewrite, merged where they touch, so a file whose range in the
 * backupmeta was damaged leaves a gap that is not counted.
 *
 * <p>Differences from BR, deliberate: BR checksums per table and sends the rewrite rule with the checksum
 * request, so crc64xor matches after a rewrite; here a rewritten restore compares total_kvs and total_bytes
 * only (a rewrite keeps the key length, so bytes still match). BR's raw restore has no checksum; here raw
 * restores are checked too, except when {@code --start/--end} cut files (then counted, not compared).
 * Like BR's table checksum, keys the target already held in a restored range are counted too.
 * Stateless.
 */
final class RestoreChecksum {
    private RestoreChecksum() {}

    /** A restored range in user-key form ({@code end} empty = to the end); {@code cf} matters for raw data only. */
    record Span(byte[] start, byte[] end, String cf) {}

    /** Where a piece of a file {@code [start, end)} lands: under {@code rule}'s new prefix, or where it was. */
    static Span restoredRange(byte[] start, byte[] end, BrRestore.Rewrite rule, String cf) {
        if (rule == null) {
            return new Span(start, end, cf);
        }
        byte[] s = withPrefix(start, rule);
        byte[] e = end.length != 0 && Keys.startsWith(end, rule.oldPrefix()) ? withPrefix(end, rule) : Keys.prefixNext(rule.newPrefix());
        return new Span(s, e, cf);
    }

    private static byte[] withPrefix(byte[] k, BrRestore.Rewrite r) {
        byte[] out = k.clone();
        System.arraycopy(r.newPrefix(), 0, out, 0, r.newPrefix().length);
        return out;
    }

    /** What the cluster holds over {@code spans} now, counted by the stores. */
    static BackupMetas.Checksum count(BrRestore.Options o, List<Span> spans) {
        BackupMetas.Checksum total = new BackupMetas.Checksum(0, 0, 0);
        for (Span s : merge(spans, o.raw())) {
            BrBackup.Result r = BrBackup.run(new BrBackup.Options(o.pd(), o.raw(), s.start(), s.end(), s.cf(), 0, 4, Brpb.CompressionType.LZ4,
                    null, BrStorage.parse("noop://"), 300, o.backoffScale(), null, o.tls(), BrBackup.DEFAULT_TIME_LIMIT));
            BackupMetas.Checksum c = BackupMetas.summary(r.meta().getFilesList());
            total = total.plus(c.crc64xor(), c.totalKvs(), c.totalBytes());
        }
        return total;
    }

    /** Sorted, overlapping or touching spans joined (per column family for raw data). */
    static List<Span> merge(List<Span> spans, boolean raw) {
        Map<String, List<Span>> byCf = new TreeMap<>();
        for (Span s : spans) {
            byCf.computeIfAbsent(raw ? s.cf() : "", k -> new ArrayList<>()).add(s);
        }
        List<Span> out = new ArrayList<>();
        for (List<Span> list : byCf.values()) {
            list.sort(Comparator.comparing(Span::start, Arrays::compareUnsigned));
            Span cur = null;
            for (Span s : list) {
                if (cur != null && (cur.end().length == 0 || Arrays.compareUnsigned(s.start(), cur.end()) <= 0)) {
                    byte[] end = cur.end().length == 0 || s.end().length == 0 ? new byte[0]
                            : Arrays.compareUnsigned(s.end(), cur.end()) > 0 ? s.end() : cur.end();
                    cur = new Span(cur.start(), end, cur.cf());
                } else {
                    if (cur != null) {
                        out.add(cur);
                    }
                    cur = s;
                }
            }
            if (cur != null) {
                out.add(cur);
            }
        }
        return out;
    }

    /**
     * Compares the stores' count with the backupmeta's totals over {@code files}; throws BR's
     * ErrRestoreChecksumMismatch when they differ.
     */
    static BrRestore.ChecksumStatus validate(BrRestore.Options o, List<Brpb.File> files, BackupMetas.Checksum expected,
                                             BackupMetas.Checksum actual) {
        if (o.raw() && cut(o, files)) {
            return BrRestore.ChecksumStatus.UNCOMPARED;
        }
        boolean ok = o.rewrites().isEmpty() ? expected.equals(actual)
                : expected.totalKvs() == actual.totalKvs() && expected.totalBytes() == actual.totalBytes();
        if (!ok) {
            throw new BrException("failed to validate checksum: [BR:Restore:ErrRestoreChecksumMismatch]restore checksum mismatch"
                    + " (backupmeta " + expected + ", restored " + actual + (o.rewrites().isEmpty() ? "" : "; crc64xor not compared under a rewrite")
                    + "); the data was ingested: restore again from a good backup");
        }
        return BrRestore.ChecksumStatus.MATCH;
    }

    /** True when {@code --start/--end} leave part of some file out of the restore. */
    private static boolean cut(BrRestore.Options o, List<Brpb.File> files) {
        for (Brpb.File f : files) {
            byte[] fs = f.getStartKey().toByteArray();
            byte[] fe = f.getEndKey().toByteArray();
            if (Arrays.compareUnsigned(fs, o.start()) < 0) {
                return true;
            }
            if (o.end().length != 0 && (fe.length == 0 || Arrays.compareUnsigned(fe, o.end()) > 0)) {
                return true;
            }
        }
        return false;
    }
}
