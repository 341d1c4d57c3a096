package dev.faketikv.client.inspect;

import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.tikv.kvproto.Brpb;

/**
 * Tells a backup SST from a {@code backupmeta}: an SST ends with a RocksDB table magic number (8 bytes,
 * little-endian; {@code table/format.h}); anything else must parse as {@link Brpb.BackupMeta} and look
 * like one. Stateless.
 */
public final class BackupFileKind {
    /** RocksDB {@code kBlockBasedTableMagicNumber}, stored little-endian in a table's last 8 bytes. */
    static final long BLOCK_BASED_TABLE_MAGIC = 0x88e241b785f4cff7L;
    /** {@code kLegacyBlockBasedTableMagicNumber}. */
    static final long LEGACY_BLOCK_BASED_TABLE_MAGIC = 0xdb4775248b80fb57L;
    /** {@code kPlainTableMagicNumber} and its legacy form. */
    static final long PLAIN_TABLE_MAGIC = 0x8242229663bf9564L;
    static final long LEGACY_PLAIN_TABLE_MAGIC = 0x4f3418eb7a8f13b8L;

    private BackupFileKind() {}

    /** True when the last 8 bytes of {@code file} are a RocksDB table magic number. */
    public static boolean hasTableMagic(Path file) throws IOException {
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

    /**
     * {@code file} parsed as a backupmeta.
     *
     * @throws IllegalArgumentException when it does not parse, or parses into nothing recognisable
     */
    public static Brpb.BackupMeta readBackupMeta(Path file) throws IOException {
        return readBackupMeta(file, Files.readAllBytes(file));
    }

    /**
     * {@code bytes} (the plaintext of {@code file}, which names it in errors) parsed as a backupmeta.
     *
     * @throws IllegalArgumentException when they do not parse, or parse into nothing recognisable
     */
    public static Brpb.BackupMeta readBackupMeta(Path file, byte[] bytes) {
        Brpb.BackupMeta meta;
        try {
            meta = Brpb.BackupMeta.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw notABackupMeta(file, e);
        }
        if (!looksLikeBackupMeta(meta, bytes.length)) {
            throw notABackupMeta(file, null);
        }
        return meta;
    }

    /** BR names its metadata file {@code backupmeta}; one that does not parse is most likely encrypted. */
    private static IllegalArgumentException notABackupMeta(Path file, Exception cause) {
        Path name = file.getFileName();
        String why = name != null && name.toString().startsWith("backupmeta")
                ? file + " does not parse as a backupmeta: it may be encrypted (br --crypter.method): "
                        + "pass --crypter.method and --crypter.key"
                : "not an SST or a backupmeta: " + file;
        return new IllegalArgumentException(why, cause);
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
}
