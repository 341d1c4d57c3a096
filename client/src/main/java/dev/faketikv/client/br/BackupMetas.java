package dev.faketikv.client.br;

import com.google.protobuf.InvalidProtocolBufferException;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.List;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Encryptionpb.EncryptionMethod;

/**
 * Reading and writing {@code backupmeta} as BR does ({@code br/pkg/metautil}): MetaV1 (files inline);
 * with a cipher the stored bytes are {@code IV(16) ‖ AES-CTR(meta)}. Also BR's {@code SummaryFiles}:
 * crc64xor XORed, total_kvs and total_bytes summed over files. Stateless.
 */
public final class BackupMetas {
    private static final int IV_LEN = 16;
    private static final SecureRandom RANDOM = new SecureRandom();

    private BackupMetas() {}

    /** crc64xor, total_kvs, total_bytes over files (BR's checksum of a table or a range). */
    public record Checksum(long crc64xor, long totalKvs, long totalBytes) {
        public Checksum plus(long crc, long kvs, long bytes) {
            return new Checksum(crc64xor ^ crc, totalKvs + kvs, totalBytes + bytes);
        }

        @Override
        public String toString() {
            return "crc64xor=" + Long.toUnsignedString(crc64xor) + " total_kvs=" + totalKvs + " total_bytes=" + totalBytes;
        }
    }

    public static Checksum summary(List<Brpb.File> files) {
        Checksum c = new Checksum(0, 0, 0);
        for (Brpb.File f : files) {
            c = c.plus(f.getCrc64Xor(), f.getTotalKvs(), f.getTotalBytes());
        }
        return c;
    }

    /** The bytes to store: the meta itself, or IV ‖ ciphertext when {@code cipher} encrypts. */
    public static byte[] encode(Brpb.BackupMeta meta, Brpb.CipherInfo cipher) {
        byte[] plain = meta.toByteArray();
        if (!encrypts(cipher)) {
            return plain;
        }
        byte[] iv = new byte[IV_LEN];
        RANDOM.nextBytes(iv);
        byte[] enc = ctr(cipher, iv, plain);
        byte[] out = Arrays.copyOf(iv, IV_LEN + enc.length);
        System.arraycopy(enc, 0, out, IV_LEN, enc.length);
        return out;
    }

    public static Brpb.BackupMeta decode(byte[] stored, Brpb.CipherInfo cipher) {
        byte[] plain = stored;
        if (encrypts(cipher)) {
            if (stored.length < IV_LEN) {
                throw new BrException("backupmeta is too short to be encrypted");
            }
            plain = ctr(cipher, Arrays.copyOf(stored, IV_LEN), Arrays.copyOfRange(stored, IV_LEN, stored.length));
        }
        try {
            Brpb.BackupMeta m = Brpb.BackupMeta.parseFrom(plain);
            if (m.getClusterId() == 0 && m.getFilesCount() == 0) {
                throw new BrException("backupmeta holds no backup (wrong --crypter.key, or not a backupmeta?)");
            }
            return m;
        } catch (InvalidProtocolBufferException e) {
            throw new BrException("cannot decode backupmeta" + (encrypts(cipher) ? " (wrong --crypter.key?)" : " (encrypted? give --crypter.*)")
                    + ": " + e.getMessage());
        }
    }

    static boolean encrypts(Brpb.CipherInfo c) {
        return c != null && c.getCipherType() != EncryptionMethod.PLAINTEXT && c.getCipherType() != EncryptionMethod.UNKNOWN;
    }

    private static byte[] ctr(Brpb.CipherInfo c, byte[] iv, byte[] data) {
        try {
            Cipher aes = Cipher.getInstance("AES/CTR/NoPadding");
            aes.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(c.getCipherKey().toByteArray(), "AES"), new IvParameterSpec(iv));
            return aes.doFinal(data);
        } catch (GeneralSecurityException e) {
            throw new BrException("AES-CTR failed: " + e.getMessage(), e);
        }
    }

    /** Parses {@code aes128-ctr|aes192-ctr|aes256-ctr|plaintext} and a hex key into a CipherInfo (checked). */
    public static Brpb.CipherInfo cipher(String method, String hexKey) {
        if (method == null || method.equalsIgnoreCase("plaintext")) {
            return Brpb.CipherInfo.newBuilder().setCipherType(EncryptionMethod.PLAINTEXT).build();
        }
        EncryptionMethod m;
        int len;
        switch (method.toLowerCase(java.util.Locale.ROOT)) {
            case "aes128-ctr" -> { m = EncryptionMethod.AES128_CTR; len = 16; }
            case "aes192-ctr" -> { m = EncryptionMethod.AES192_CTR; len = 24; }
            case "aes256-ctr" -> { m = EncryptionMethod.AES256_CTR; len = 32; }
            default -> throw new BrException("--crypter.method " + method + ": expected plaintext, aes128-ctr, aes192-ctr or aes256-ctr");
        }
        byte[] key;
        try {
            key = java.util.HexFormat.of().parseHex(hexKey == null ? "" : hexKey);
        } catch (IllegalArgumentException e) {
            throw new BrException("--crypter.key must be hex");
        }
        if (key.length != len) {
            throw new BrException("--crypter.key must be " + len + " bytes (" + 2 * len + " hex digits) for " + method + ", got " + key.length);
        }
        return Brpb.CipherInfo.newBuilder().setCipherType(m).setCipherKey(com.google.protobuf.ByteString.copyFrom(key)).build();
    }
}
