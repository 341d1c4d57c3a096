package dev.faketikv.interop;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faketikv.interop.Rocks64.Kv;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.TableProperties;

/**
 * Every table layout fake-tikv's {@code SstFileBuilder} can write — default, write and lock CF options
 * times LZ4, Snappy, ZSTD and no compression, and ZSTD with a level — read by RocksDB 6.4. Backups never
 * ask for "no compression" (TiKV resolves an unset codec to LZ4), so this is where that codec is checked.
 * The files are written by a child JVM on fake-tikv's classpath running {@code src/test/child/WriteSsts.java}.
 */
class SstFileBuilderInRocksDb64Test {
    static final int ROWS = 3000;

    @TempDir
    Path tmp;

    @Test
    void everyLayoutAndCodecReadsBackEqual() throws Exception {
        Path out = Files.createDirectories(tmp.resolve("ssts"));
        Path source = Path.of(System.getProperty("faketikv.interop.child", "src/test/child"), "WriteSsts.java");
        Process p = new ProcessBuilder(FakeTikvProcess.java(), "-XX:TieredStopAtLevel=1", "-cp", FakeTikvProcess.cliClasspath(),
                source.toString(), out.toString(), Integer.toString(ROWS))
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(log).isZero();

        List<Kv> expected = new ArrayList<>();
        for (int i = 0; i < ROWS; i++) {
            String v = ("v-" + i + "-").repeat(20).substring(0, 60);
            expected.add(Kv.of(String.format("zk%08d", i).getBytes(StandardCharsets.UTF_8), v.getBytes(StandardCharsets.UTF_8)));
        }
        List<Path> files;
        try (var s = Files.list(out)) {
            files = s.sorted().toList();
        }
        assertThat(files).hasSize(13);
        for (Path f : files) {
            String[] parts = f.getFileName().toString().replace(".sst", "").split("_");
            String cf = parts[0];
            String codec = switch (parts[1]) {
                case "lz4" -> "LZ4";
                case "snappy" -> "Snappy";
                case "zstd" -> "ZSTD";
                default -> "NoCompression";
            };
            try (Rocks64 db = new Rocks64(Files.createDirectories(tmp.resolve("db-" + f.getFileName())))) {
                db.ingest(cf, List.of(f));
                db.verifyChecksum();
                assertThat(db.scan(cf)).as(f.getFileName().toString()).isEqualTo(expected);
                TableProperties t = db.tables(cf).values().iterator().next();
                assertThat(t.getFormatVersion()).isEqualTo(2);
                assertThat(t.getCompressionName()).isEqualTo(codec);
                assertThat(t.getColumnFamilyId()).isEqualTo(Integer.MAX_VALUE);
                // 3000 × ~71 bytes: ~4 blocks of 64 KiB, ~13 of 16 KiB (lock CF)
                assertThat(t.getNumDataBlocks()).isBetween(cf.equals("lock") ? 10L : 3L, cf.equals("lock") ? 16L : 5L);
            }
        }
    }
}
