package dev.faketikv.client.br;

import java.util.Arrays;
import java.util.List;
import org.tikv.kvproto.Brpb;

/**
 * {@code br checksum raw|txn}: compares the crc64xor / total_kvs / total_bytes the backupmeta records
 * (summed over its files, BR's {@code SummaryFiles}) with the same figures computed by the cluster now.
 * The cluster's figures come from the stores themselves: a backup of the same range to {@code noop://}
 * (TiKV computes the checksums while it scans and discards the files), at a fresh ts for txn data — the
 * raw checksum RPC or coprocessor checksum a real BR would use does not exist on this fake.
 * {@code --start/--end} choose the files that overlap them; both sides then cover exactly those files'
 * keys (from the smallest file start to the largest file end; raw: within each raw range). Stateless.
 */
public final class BrChecksum {
    private BrChecksum() {}

    public record Result(BackupMetas.Checksum expected, BackupMetas.Checksum actual) {
        public boolean ok() {
            return expected.equals(actual);
        }

        public String summary() {
            return (ok() ? "[checksum] match: " : "[checksum] MISMATCH: backupmeta ") + expected + (ok() ? "" : ", cluster " + actual);
        }
    }

    public static Result run(String pd, boolean raw, BrStorage storage, Brpb.CipherInfo cipher, byte[] start, byte[] end) {
        return run(pd, raw, storage, cipher, start, end, Tls.NONE);
    }

    /** As {@link #run(String, boolean, BrStorage, Brpb.CipherInfo, byte[], byte[])}, over TLS when {@code tls} is enabled. */
    public static Result run(String pd, boolean raw, BrStorage storage, Brpb.CipherInfo cipher, byte[] start, byte[] end, Tls tls) {
        Brpb.BackupMeta meta = BackupMetas.decode(storage.read("backupmeta"), cipher);
        if (raw != meta.getIsRawKv()) {
            throw new BrException(raw ? "cannot do raw checksum of transactional data" : "cannot do txn checksum of raw data");
        }
        byte[] s = start == null ? new byte[0] : start;
        byte[] e = end == null ? new byte[0] : end;
        List<Brpb.File> files = meta.getFilesList().stream().filter(f -> overlaps(f, s, e)).toList();
        BackupMetas.Checksum expected = BackupMetas.summary(files);
        BackupMetas.Checksum actual = new BackupMetas.Checksum(0, 0, 0);
        if (files.isEmpty()) {
            return new Result(expected, actual);
        }
        // the cluster is asked for exactly the keys of the files chosen: whole files, so both sides count the same
        byte[] lo = null;
        byte[] hi = null;
        for (Brpb.File f : files) {
            byte[] fs = f.getStartKey().toByteArray();
            byte[] fe = f.getEndKey().toByteArray();
            lo = lo == null || Arrays.compareUnsigned(fs, lo) < 0 ? fs : lo;
            hi = hi == null ? fe : (hi.length == 0 || fe.length == 0 ? new byte[0] : (Arrays.compareUnsigned(fe, hi) > 0 ? fe : hi));
        }
        if (raw) {
            for (Brpb.RawRange r : meta.getRawRangesList()) {
                byte[] rs = max(r.getStartKey().toByteArray(), lo);
                byte[] re = minEnd(r.getEndKey().toByteArray(), hi);
                if (re.length != 0 && Arrays.compareUnsigned(rs, re) >= 0) {
                    continue;
                }
                actual = add(actual, scan(pd, true, r.getCf(), rs, re, tls));
            }
        } else {
            actual = add(actual, scan(pd, false, "", lo, hi, tls));
        }
        return new Result(expected, actual);
    }

    private static boolean overlaps(Brpb.File f, byte[] s, byte[] e) {
        byte[] fs = f.getStartKey().toByteArray();
        byte[] fe = f.getEndKey().toByteArray();
        return (fe.length == 0 || Arrays.compareUnsigned(fe, s) > 0) && (e.length == 0 || Arrays.compareUnsigned(fs, e) < 0);
    }

    private static byte[] max(byte[] a, byte[] b) {
        return Arrays.compareUnsigned(a, b) >= 0 ? a : b;
    }

    private static byte[] minEnd(byte[] a, byte[] b) {
        if (a.length == 0) {
            return b;
        }
        if (b.length == 0) {
            return a;
        }
        return Arrays.compareUnsigned(a, b) <= 0 ? a : b;
    }

    private static BackupMetas.Checksum add(BackupMetas.Checksum c, BackupMetas.Checksum d) {
        return c.plus(d.crc64xor(), d.totalKvs(), d.totalBytes());
    }

    private static BackupMetas.Checksum scan(String pd, boolean raw, String cf, byte[] s, byte[] e, Tls tls) {
        BrBackup.Result r = BrBackup.run(new BrBackup.Options(pd, raw, s, e, cf, 0, 4, Brpb.CompressionType.LZ4,
                null, BrStorage.parse("noop://"), 300, 1.0, null, tls, BrBackup.DEFAULT_TIME_LIMIT));
        return BackupMetas.summary(r.meta().getFilesList());
    }
}
