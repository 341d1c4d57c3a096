package dev.faketikv.engine.sst;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.rocksdb.Options;
import org.rocksdb.SstFileReader;
import org.rocksdb.TableProperties;

/**
 * The bytes TiKV 5.4's engine (RocksDB 6.4) needs: footer version 2 with CRC32c, no CF name, CF id
 * unknown, the external-file properties, 64 KiB blocks, TiKV's bloom filter settings per CF. The footer
 * layout is RocksDB's ({@code table/format.h}): last 8 bytes magic, 4 before them the format version,
 * and the first byte of the 53-byte footer the checksum type.
 */
class SstFileBuilderTest {
    static final long BLOCK_BASED_MAGIC = 0x88e241b785f4cff7L;

    @TempDir
    Path tmp;

    @ParameterizedTest
    @EnumSource(SstCompression.class)
    void footerIsVersionTwoWithCrc32c(SstCompression compression) throws Exception {
        Path f = write(SstCfOptions.DEFAULT, compression, 1000);
        byte[] bytes = Files.readAllBytes(f);
        ByteBuffer tail = ByteBuffer.wrap(bytes, bytes.length - 53, 53).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(bytes[bytes.length - 53]).as("checksum type").isEqualTo((byte) 1);
        assertThat(tail.getLong(bytes.length - 8)).isEqualTo(BLOCK_BASED_MAGIC);
        assertThat(tail.getInt(bytes.length - 12)).as("format version").isEqualTo(2);
    }

    @Test
    void defaultCfPropertiesAreTikvs() throws Exception {
        TableProperties p = properties(write(SstCfOptions.DEFAULT, SstCompression.LZ4, 20_000));
        assertThat(p.getFormatVersion()).isEqualTo(2);
        assertThat(p.getColumnFamilyId()).isEqualTo(Integer.MAX_VALUE);
        assertThat(p.getColumnFamilyName()).isNullOrEmpty();
        assertThat(p.getCompressionName()).isEqualTo("LZ4");
        assertThat(p.getPrefixExtractorName()).isEqualTo("nullptr");
        // RocksDB >= 7 names the policy "bloomfilter" here (TiKV's file says rocksdb.BuiltinBloomFilter); the
        // filter meta block keeps the old name, which is the one RocksDB 6.4 looks up (interop test).
        assertThat(p.getFilterPolicyName()).isEqualTo("bloomfilter");
        assertThat(p.getFilterSize()).isPositive();
        assertThat(p.getIndexKeyIsUserKey()).isZero();
        assertThat(p.getIndexValueIsDeltaEncoded()).isZero();
        // ~1.2 MB of uncompressed entries in 64 KiB blocks: about 19 blocks, not the 300 of 4 KiB blocks.
        assertThat(p.getNumDataBlocks()).isBetween(15L, 25L);
        assertThat(p.getUserCollectedProperties())
                .containsEntry("rocksdb.block.based.table.whole.key.filtering", "1")
                .containsEntry("rocksdb.block.based.table.prefix.filtering", "0")
                .containsKeys("rocksdb.external_sst_file.version", "rocksdb.external_sst_file.global_seqno");
    }

    @Test
    void writeCfHasNoWholeKeyFilter() throws Exception {
        TableProperties p = properties(write(SstCfOptions.WRITE, SstCompression.ZSTD, 2000));
        assertThat(p.getFormatVersion()).isEqualTo(2);
        assertThat(p.getUserCollectedProperties())
                .containsEntry("rocksdb.block.based.table.whole.key.filtering", "0");
        assertThat(p.getFilterSize()).isZero();
    }

    @Test
    void lockCfUsesSixteenKibBlocks() throws Exception {
        TableProperties p = properties(write(SstCfOptions.LOCK, SstCompression.NONE, 20_000));
        assertThat(p.getNumDataBlocks()).isBetween(60L, 100L);
    }

    @Test
    void cfNamesMapToTheirOptions() {
        assertThat(SstCfOptions.of("write")).isEqualTo(SstCfOptions.WRITE);
        assertThat(SstCfOptions.of("lock")).isEqualTo(SstCfOptions.LOCK);
        assertThat(SstCfOptions.of("")).isEqualTo(SstCfOptions.DEFAULT);
        assertThat(SstCfOptions.of("default")).isEqualTo(SstCfOptions.DEFAULT);
    }

    private Path write(SstCfOptions cf, SstCompression compression, int n) {
        Path f = tmp.resolve(cf.cf() + "-" + compression.label() + ".sst");
        try (SstFileBuilder b = new SstFileBuilder(f, compression, 0, cf)) {
            for (int i = 0; i < n; i++) {
                b.put(String.format("zk%08d", i).getBytes(StandardCharsets.UTF_8),
                        ("value-" + i + "-" + "x".repeat(40) + i).getBytes(StandardCharsets.UTF_8));
            }
            b.finish();
        }
        return f;
    }

    private static TableProperties properties(Path f) throws Exception {
        try (Options o = new Options(); SstFileReader r = new SstFileReader(o)) {
            r.open(f.toString());
            r.verifyChecksum();
            return r.getTableProperties();
        }
    }
}
