package dev.faketikv.server.backup;

import com.google.protobuf.ByteString;
import dev.faketikv.server.control.FailPoints.FailPointPanic;
import io.grpc.Status;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.security.DigestInputStream;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.crypto.Cipher;
import javax.crypto.CipherInputStream;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupResponse;
import org.tikv.kvproto.Brpb.CipherInfo;

/**
 * Saves one file group and sends its response: the body of TiKV's {@code save_backup_file_worker}
 * ({@code components/backup/src/endpoint.rs}) and {@code Writer::save} ({@code writer.rs}), run as one job on
 * the {@code backup-io} pool.
 *
 * <p>Each file (default first, then write) is streamed from the scratch folder through AES-CTR (when the
 * request's cipher asks; IV = a fresh random 16 bytes per file, set even for plaintext), SHA-256 (so the
 * digest is of the bytes stored), and the request's rate limiter, into the external storage as
 * {@code {prefix}_{cf}.sst}. Success → a response listing the files; failure → a response with
 * {@code error}, the range keys and api_version, no files (a default file already stored stays, as in
 * TiKV). The scratch files are deleted either way.
 *
 * <p>Cancel differs from 5.4 on purpose (part of fake-tikv's cancel choice): once the client left, a
 * group not yet uploaded is dropped and a rate-limited upload in progress is abandoned (its temp object
 * removed), so no file is written after a cancel; 5.4 still uploads the group being scanned.
 */
public final class SaveFileWorker implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(SaveFileWorker.class);
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String WRITER_RS = "[components/backup/src/writer.rs:132]: ";
    private static final String CRYPTER_RS = "[components/encryption/src/crypter.rs:178]: ";

    private final RequestContext ctx;
    private final FileGroup group;

    SaveFileWorker(RequestContext ctx, FileGroup group) {
        this.ctx = ctx;
        this.group = group;
    }

    @Override
    public void run() {
        try {
            if (ctx.task().cancelled()) {
                return;
            }
            long t0 = System.nanoTime();
            BackupResponse.Builder resp = BackupResponse.newBuilder()
                    .setStartKey(ByteString.copyFrom(group.startKey()))
                    .setEndKey(ByteString.copyFrom(group.endKey()))
                    .setApiVersion(ctx.apiVersion());
            try {
                resp.addAllFiles(saveAll());
            } catch (FailPointPanic e) {
                throw e;
            } catch (Exception e) {
                LOG.warn("backup save file failed: {}", e.toString());
                resp.clearFiles().setError(ctx.convert(e));
            }
            // as writer.rs: after a successful upload; an empty txn group is never saved, so never observed
            if (!resp.hasError() && (group.rawKv() || !group.files().isEmpty())) {
                ctx.metrics().observeRange(group.rawKv() ? "save_raw" : "save", Duration.ofNanos(System.nanoTime() - t0));
            }
            ctx.trace("saved %s: %d files to %s in %d ms%s; responding",
                    group.namePrefix(), resp.getFilesCount(), ctx.storage().name(), (System.nanoTime() - t0) / 1_000_000,
                    resp.hasError() ? " (error)" : "");
            if (!ctx.task().sink().send(resp.build())) {
                LOG.warn("backup failed to send response, the client is gone");
            }
        } catch (Throwable e) {
            LOG.error("save worker failed", e);
            ctx.fail(Status.Code.UNAVAILABLE, "fake-tikv failed: " + e);
        } finally {
            RequestContext.deleteFiles(group);
            ctx.saved();
        }
    }

    private List<Brpb.File> saveAll() throws IOException, EncrypterException {
        ctx.checkFailPoint("backup_before_save");
        List<Brpb.File> files = new ArrayList<>(group.files().size());
        for (BuiltFile f : group.files()) {
            files.add(save(f));
        }
        ctx.checkFailPoint("backup_after_save");
        return files;
    }

    private Brpb.File save(BuiltFile f) throws IOException, EncrypterException {
        String name = group.namePrefix() + "_" + f.cf() + ".sst";
        byte[] iv = new byte[16];
        RANDOM.nextBytes(iv);
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
        // as writer.rs: the size and kv counters are observed once the file is built, before it is uploaded
        ctx.metrics().observeBuiltFile(f.cf(), f.size(), f.totalKvs(), f.totalBytes());
        try (InputStream raw = Files.newInputStream(f.path());
             InputStream encrypted = encrypter(raw, ctx.task().cipher(), iv);
             InputStream digested = new DigestInputStream(encrypted, sha)) {
            ctx.storage().write(name, ctx.limit(digested), f.size());
        }
        ctx.metrics().observeSavedFile(f.cf(), f.size(), ctx.storage().name());
        return Brpb.File.newBuilder()
                .setName(name)
                .setSha256(ByteString.copyFrom(sha.digest()))
                .setStartKey(ByteString.copyFrom(group.startKey()))
                .setEndKey(ByteString.copyFrom(group.endKey()))
                .setStartVersion(group.startVersion())
                .setEndVersion(group.endVersion())
                .setCrc64Xor(f.crc64xor())
                .setTotalKvs(f.totalKvs())
                .setTotalBytes(f.totalBytes())
                .setCf(f.cf())
                .setSize(f.size())
                .setCipherIv(ByteString.copyFrom(iv))
                .build();
    }

    /**
     * TiKV's {@code EncrypterReader::new}: plaintext passes through; AES-CTR needs a key of exact length.
     * CTR is its own inverse, so the import side decrypts a downloaded file with the same stream.
     */
    public static InputStream encrypter(InputStream in, CipherInfo cipher, byte[] iv) throws EncrypterException {
        int keyLen;
        switch (cipher.getCipherType()) {
            case PLAINTEXT:
                return in;
            case AES128_CTR:
                keyLen = 16;
                break;
            case AES192_CTR:
                keyLen = 24;
                break;
            case AES256_CTR:
                keyLen = 32;
                break;
            default:
                throw new EncrypterException("Other(\"" + WRITER_RS + "new EncrypterReader error: UnknownEncryption\")");
        }
        byte[] key = cipher.getCipherKey().toByteArray();
        if (key.length != keyLen) {
            throw new EncrypterException("Other(\"" + WRITER_RS + "new EncrypterReader error: Other(\\\"" + CRYPTER_RS
                    + "unexpected key length, expected " + keyLen + " vs actual " + key.length + "\\\")\")");
        }
        try {
            Cipher c = Cipher.getInstance("AES/CTR/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new IvParameterSpec(iv));
            return new CipherInputStream(in, c);
        } catch (GeneralSecurityException e) {
            throw new EncrypterException("Other(\"" + WRITER_RS + "new EncrypterReader error: " + e.getMessage() + "\")");
        }
    }
}
