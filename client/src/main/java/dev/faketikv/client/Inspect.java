package dev.faketikv.client;

import dev.faketikv.client.br.BackupMetas;
import dev.faketikv.client.inspect.BackupFileKind;
import dev.faketikv.client.inspect.BackupMetaView;
import dev.faketikv.client.inspect.JsonRenderer;
import dev.faketikv.client.inspect.SstContents;
import dev.faketikv.client.inspect.TextRenderer;
import dev.faketikv.engine.sst.SstFileScanner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import org.tikv.kvproto.Brpb;

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
 * <p>The parts live in {@code dev.faketikv.client.inspect}: {@link BackupFileKind} decides the kind of
 * file by the RocksDB table magic number in the last 8 bytes; an SST is then decoded by
 * {@link SstContents} (read with {@link SstFileScanner}, which verifies its block checksums); anything else
 * is parsed as a backupmeta and rejected when that yields nothing recognisable, then read once into a
 * {@link BackupMetaView}. {@link TextRenderer} and {@link JsonRenderer} format those models. An encrypted
 * backupmeta is decrypted in memory when its cipher is given; without it, a file named {@code backupmeta} that
 * does not parse is reported as possibly encrypted. JSON integers are written as exact unsigned
 * decimals; timestamps and checksums above 2^53 need a parser that keeps 64-bit integers. Stateless and
 * thread-safe.
 */
public final class Inspect {
    /** Output format of {@link #render}. */
    public enum Format { TEXT, JSON }

    private Inspect() {}

    /**
     * Decodes {@code file}: an SST (recognised by the RocksDB table magic and read with
     * {@link SstFileScanner}) or a backupmeta (protobuf).
     *
     * @throws IllegalArgumentException when the file is neither, or is an SST RocksDB cannot read
     * @throws IOException when the file cannot be read
     */
    public static String render(Path file, Format format) throws IOException {
        return render(file, format, null);
    }

    /**
     * {@link #render(Path, Format)} for a backupmeta BR wrote with {@code --crypter.*} ({@code cipher}; null =
     * plaintext): it is decrypted in memory and shown under {@code file}'s name. An SST is shown as is.
     */
    public static String render(Path file, Format format, Brpb.CipherInfo cipher) throws IOException {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(format, "format");
        if (Files.isDirectory(file)) {
            throw new IllegalArgumentException("not an SST or a backupmeta (a directory): " + file);
        }
        if (BackupFileKind.hasTableMagic(file)) {
            SstContents sst = SstContents.read(file);
            return format == Format.JSON ? JsonRenderer.render(sst) : TextRenderer.render(sst);
        }
        Brpb.BackupMeta pb = cipher == null ? BackupFileKind.readBackupMeta(file)
                : BackupFileKind.readBackupMeta(file, BackupMetas.decode(Files.readAllBytes(file), cipher).toByteArray());
        BackupMetaView meta = BackupMetaView.of(file, pb);
        return format == Format.JSON ? JsonRenderer.render(meta) : TextRenderer.render(meta);
    }
}
