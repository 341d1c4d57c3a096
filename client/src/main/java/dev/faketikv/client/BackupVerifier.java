package dev.faketikv.client;

import com.google.protobuf.ByteString;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.codec.Crc64;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.mvcc.Write;
import dev.faketikv.engine.mvcc.WriteType;
import dev.faketikv.engine.sst.SstFileScanner;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Cipher;
import javax.crypto.CipherInputStream;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.tikv.kvproto.Brpb.BackupResponse;
import org.tikv.kvproto.Brpb.CipherInfo;
import org.tikv.kvproto.Brpb.File;
import org.tikv.kvproto.Encryptionpb.EncryptionMethod;

/**
 * Re-reads every file a backup listed and recomputes, independently of the server, what TiKV v5.4.0
 * promises about it: the object exists with the listed {@code size} and {@code sha256}; after
 * decryption (AES-CTR with the file's {@code cipher_iv}) it is a valid SST whose keys are data keys
 * inside the response's range; and {@code total_kvs}, {@code total_bytes} and {@code crc64xor} equal the
 * values computed from its content by TiKV's rules (a txn KV with a default-CF record counts in the
 * {@code default} file, otherwise in the {@code write} file; raw files carry crc64xor 0). It also checks
 * the file name against TiKV's pattern and key hash.
 *
 * <p>Reads local storage only. Not thread-safe; one instance per backup.
 */
public final class BackupVerifier {
    private static final Pattern TXN_NAME = Pattern.compile("(\\d+)_(\\d+)_(\\d+)_([0-9a-f]{64})_(\\d+)_(default|write)\\.sst");
    private static final Pattern RAW_NAME = Pattern.compile("(\\d+)_(\\d+)_(\\d+)(?:_([0-9a-f]{64})_(\\d+))?_(default|write|lock|raft)\\.sst");

    private final Path dir;
    private final CipherInfo cipher;
    private final boolean rawKv;
    private final long startVersion;
    private final long endVersion;

    /**
     * @param dir          the local storage folder the backup wrote to
     * @param cipher       the request's cipher (null = plaintext)
     * @param rawKv        whether it was a raw backup
     * @param startVersion the request's start_version (txn)
     * @param endVersion   the request's end_version (txn)
     */
    public BackupVerifier(Path dir, CipherInfo cipher, boolean rawKv, long startVersion, long endVersion) {
        this.dir = dir;
        this.cipher = cipher;
        this.rawKv = rawKv;
        this.startVersion = startVersion;
        this.endVersion = endVersion;
    }

    /** The outcome for one file. */
    public record FileCheck(String name, String cf, long kvs, long bytes, long crc64xor, long size, List<String> problems) {
        public boolean ok() {
            return problems.isEmpty();
        }
    }

    /** Checks every file of one response. */
    public List<FileCheck> verify(BackupResponse resp) {
        List<FileCheck> out = new ArrayList<>();
        if (rawKv) {
            for (File f : resp.getFilesList()) {
                out.add(verifyRaw(resp, f));
            }
            return out;
        }
        File defaultFile = null;
        File writeFile = null;
        List<String> groupProblems = new ArrayList<>();
        for (File f : resp.getFilesList()) {
            if (f.getCf().equals("default") && defaultFile == null) {
                defaultFile = f;
            } else if (f.getCf().equals("write") && writeFile == null) {
                writeFile = f;
            } else {
                groupProblems.add("unexpected file " + f.getName() + " (cf " + f.getCf() + ")");
            }
        }
        if (defaultFile != null && writeFile == null) {
            groupProblems.add("a default file without a write file");
        }
        if (defaultFile != null && writeFile != null) {
            if (resp.getFilesList().indexOf(defaultFile) > resp.getFilesList().indexOf(writeFile)) {
                groupProblems.add("the default file must be listed before the write file");
            }
            String dp = defaultFile.getName().replaceFirst("_default\\.sst$", "");
            String wp = writeFile.getName().replaceFirst("_write\\.sst$", "");
            if (!dp.equals(wp)) {
                groupProblems.add("default and write files of one response do not share their name prefix");
            }
        }
        if (writeFile != null) {
            out.addAll(verifyTxnGroup(resp, defaultFile, writeFile));
        }
        if (!groupProblems.isEmpty()) {
            out.add(new FileCheck("(response)", "", 0, 0, 0, 0, groupProblems));
        }
        return out;
    }

    private List<FileCheck> verifyTxnGroup(BackupResponse resp, File defaultFile, File writeFile) {
        List<String> dProblems = new ArrayList<>();
        List<String> wProblems = new ArrayList<>();
        Stats d = new Stats();
        Stats w = new Stats();
        Path dPlain = null;
        Path wPlain = null;
        try {
            if (defaultFile != null) {
                checkCommon(resp, defaultFile, dProblems);
                dPlain = plaintext(defaultFile, dProblems);
            }
            checkCommon(resp, writeFile, wProblems);
            wPlain = plaintext(writeFile, wProblems);
            if (wPlain != null && (defaultFile == null || dPlain != null)) {
                readTxn(resp, dPlain, wPlain, d, w, dProblems, wProblems);
            }
        } finally {
            dropTemp(defaultFile, dPlain);
            dropTemp(writeFile, wPlain);
        }
        List<FileCheck> out = new ArrayList<>();
        if (defaultFile != null) {
            compare(defaultFile, d, dProblems, true);
            out.add(new FileCheck(defaultFile.getName(), "default", d.kvs, d.bytes, d.crc, defaultFile.getSize(), dProblems));
        }
        compare(writeFile, w, wProblems, true);
        out.add(new FileCheck(writeFile.getName(), "write", w.kvs, w.bytes, w.crc, writeFile.getSize(), wProblems));
        return out;
    }

    private void readTxn(BackupResponse resp, Path dPlain, Path wPlain, Stats d, Stats w, List<String> dProblems, List<String> wProblems) {
        byte[] lo = resp.getStartKey().toByteArray();
        byte[] hi = resp.getEndKey().toByteArray();
        try (SstFileScanner ws = SstFileScanner.open(wPlain);
             SstFileScanner ds = dPlain == null ? null : SstFileScanner.open(dPlain)) {
            byte[] prevUser = null;
            long defaultsUsed = 0;
            for (; ws.valid(); ws.next()) {
                byte[] key = ws.key();
                if (key.length == 0 || key[0] != Keys.DATA_PREFIX) {
                    wProblems.add("key without the 'z' data prefix");
                    continue;
                }
                byte[] userDataKey = Keys.truncateTs(key);
                byte[] raw = BytesCodec.decode(userDataKey, 1, userDataKey.length - 1);
                long commitTs = Keys.decodeTs(key);
                if (prevUser != null && Arrays.equals(prevUser, userDataKey)) {
                    wProblems.add("two versions of one key " + Keys.hex(raw));
                }
                prevUser = userDataKey;
                if (!inRange(raw, lo, hi)) {
                    wProblems.add("key " + Keys.hex(raw) + " outside the response range");
                }
                if (Long.compareUnsigned(commitTs, endVersion) > 0 || Long.compareUnsigned(commitTs, startVersion) <= 0) {
                    wProblems.add("commit ts " + commitTs + " outside (" + startVersion + ", " + endVersion + "]");
                }
                Write rec = Write.parse(ws.value());
                if (rec.type() == WriteType.PUT && rec.shortValue() == null) {
                    byte[] want = Keys.appendTs(userDataKey, rec.startTs());
                    if (ds == null || !ds.valid() || !Arrays.equals(ds.key(), want)) {
                        dProblems.add("no default record for " + Keys.hex(raw) + " start_ts " + rec.startTs());
                        continue;
                    }
                    d.add(raw, ds.value());
                    ds.next();
                    defaultsUsed++;
                } else if (rec.type() == WriteType.PUT) {
                    w.add(raw, rec.shortValue());
                } else if (rec.type() == WriteType.DELETE && startVersion != 0) {
                    w.add(raw, new byte[0]);
                } else {
                    wProblems.add("unexpected " + rec.type() + " record for " + Keys.hex(raw));
                }
            }
            if (ds != null && ds.valid()) {
                dProblems.add("default records not referenced by any write record");
            }
            if (ds != null && ds.entries() != defaultsUsed) {
                dProblems.add("default file has " + ds.entries() + " entries, " + defaultsUsed + " referenced");
            }
        } catch (RuntimeException e) {
            wProblems.add("cannot read: " + e.getMessage());
        }
    }

    private FileCheck verifyRaw(BackupResponse resp, File f) {
        List<String> problems = new ArrayList<>();
        Stats s = new Stats();
        checkCommon(resp, f, problems);
        Path plain = plaintext(f, problems);
        byte[] lo = resp.getStartKey().toByteArray();
        byte[] hi = resp.getEndKey().toByteArray();
        if (plain != null) {
            try (SstFileScanner sc = SstFileScanner.open(plain)) {
                for (; sc.valid(); sc.next()) {
                    byte[] key = Keys.originKey(sc.key());
                    if (!inRange(key, lo, hi)) {
                        problems.add("key " + Keys.hex(key) + " outside the response range");
                    }
                    s.add(key, sc.value());
                }
            } catch (RuntimeException e) {
                problems.add("cannot read: " + e.getMessage());
            } finally {
                dropTemp(f, plain);
            }
        }
        if (f.getCrc64Xor() != 0) {
            problems.add("raw crc64xor is " + Long.toUnsignedString(f.getCrc64Xor()) + ", TiKV 5.4 leaves it 0");
        }
        compare(f, s, problems, false);
        return new FileCheck(f.getName(), f.getCf(), s.kvs, s.bytes, 0, f.getSize(), problems);
    }

    private void checkCommon(BackupResponse resp, File f, List<String> problems) {
        if (!f.getStartKey().equals(resp.getStartKey()) || !f.getEndKey().equals(resp.getEndKey())) {
            problems.add("file range differs from the response range");
        }
        if (rawKv) {
            if (f.getStartVersion() != 0 || f.getEndVersion() != 0) {
                problems.add("raw file with versions");
            }
        } else if (f.getStartVersion() != startVersion || f.getEndVersion() != endVersion) {
            problems.add("versions " + f.getStartVersion() + ".." + f.getEndVersion() + " differ from the request");
        }
        if (f.getCipherIv().size() != 16) {
            problems.add("cipher_iv is " + f.getCipherIv().size() + " bytes, not 16");
        }
        checkName(resp, f, problems);
        Path stored = dir.resolve(f.getName());
        try {
            if (!Files.isRegularFile(stored)) {
                problems.add("missing from storage");
                return;
            }
            if (Files.size(stored) != f.getSize()) {
                problems.add("size " + Files.size(stored) + " but listed " + f.getSize());
            }
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            try (InputStream in = Files.newInputStream(stored)) {
                byte[] buf = new byte[1 << 16];
                for (int n; (n = in.read(buf)) > 0; ) {
                    md.update(buf, 0, n);
                }
            }
            if (!Arrays.equals(md.digest(), f.getSha256().toByteArray())) {
                problems.add("sha256 differs from the stored bytes");
            }
        } catch (IOException | GeneralSecurityException e) {
            problems.add("cannot read: " + e.getMessage());
        }
    }

    private void checkName(BackupResponse resp, File f, List<String> problems) {
        Matcher m = (rawKv ? RAW_NAME : TXN_NAME).matcher(f.getName());
        if (!m.matches()) {
            problems.add("name does not match TiKV's pattern");
            return;
        }
        if (!m.group(6).equals(f.getCf())) {
            problems.add("name's cf differs from the file's cf");
        }
        String hash = m.group(4);
        byte[] start = resp.getStartKey().toByteArray();
        if (hash == null) {
            if (start.length != 0) {
                problems.add("3-part name for a range with a start key");
            }
        } else if (rawKv && start.length == 0) {
            problems.add("a raw range unbounded at the start takes the 3-part name");
        } else if (!hash.equals(sha256Hex(start))) {
            problems.add("name's key hash is not sha256 of the range start");
        }
    }

    private void compare(File f, Stats s, List<String> problems, boolean checkCrc) {
        if (f.getTotalKvs() != s.kvs) {
            problems.add("total_kvs " + f.getTotalKvs() + " but recomputed " + s.kvs);
        }
        if (f.getTotalBytes() != s.bytes) {
            problems.add("total_bytes " + f.getTotalBytes() + " but recomputed " + s.bytes);
        }
        if (checkCrc && f.getCrc64Xor() != s.crc) {
            problems.add("crc64xor " + Long.toUnsignedString(f.getCrc64Xor()) + " but recomputed " + Long.toUnsignedString(s.crc));
        }
    }

    /** The SST bytes of {@code f}: the stored file, or a decrypted temporary copy. */
    private Path plaintext(File f, List<String> problems) {
        Path stored = dir.resolve(f.getName());
        if (!Files.isRegularFile(stored)) {
            return null;
        }
        if (cipher == null || cipher.getCipherType() == EncryptionMethod.PLAINTEXT) {
            return stored;
        }
        try {
            Path tmp = Files.createTempFile("fake-tikv-verify", ".sst");
            Cipher c = Cipher.getInstance("AES/CTR/NoPadding");
            c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(cipher.getCipherKey().toByteArray(), "AES"),
                    new IvParameterSpec(f.getCipherIv().toByteArray()));
            try (InputStream in = new CipherInputStream(Files.newInputStream(stored), c);
                 OutputStream out = Files.newOutputStream(tmp)) {
                in.transferTo(out);
            }
            return tmp;
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            problems.add("cannot decrypt: " + e.getMessage());
            return null;
        }
    }

    private void dropTemp(File f, Path plain) {
        if (f != null && plain != null && !plain.equals(dir.resolve(f.getName()))) {
            try {
                Files.deleteIfExists(plain);
            } catch (IOException ignored) {
                // temp file; the OS cleans its temp folder
            }
        }
    }

    private static boolean inRange(byte[] key, byte[] lo, byte[] hi) {
        return Arrays.compareUnsigned(key, lo) >= 0 && (hi.length == 0 || Arrays.compareUnsigned(key, hi) < 0);
    }

    /** Lowercase hex SHA-256. */
    public static String sha256Hex(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Whether a listed sha256 looks like one. */
    static boolean isSha256(ByteString b) {
        return b.size() == 32;
    }

    private static final class Stats {
        long kvs;
        long bytes;
        long crc;

        void add(byte[] key, byte[] value) {
            kvs++;
            bytes += key.length + value.length;
            crc ^= Crc64.ofPair(key, value);
        }
    }
}
