package dev.faketikv.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The quick bench runs end to end on tiny data, so it cannot rot unnoticed. Timing is not asserted. */
class QuickBenchSmokeTest {
    @Test
    void quickBenchRunsAndPrintsBothSides() throws Exception {
        BenchMain.Quick q = new BenchMain.Quick();
        q.rows = 3000;
        q.regions = 3;
        q.reps = 1;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        assertThat(q.run(new PrintStream(buf, true, StandardCharsets.UTF_8))).isZero();
        String out = buf.toString(StandardCharsets.UTF_8);
        assertThat(out).contains("baseline").contains("backup").contains("ratio");
        assertThat(out).containsPattern("backup\\s+1\\s+3000 ");
        assertThat(out).containsPattern("baseline\\s+1\\s+3000 ");
    }

    @Test
    void sweepSmokeWritesTablesAndCharts(@org.junit.jupiter.api.io.TempDir java.nio.file.Path out) throws Exception {
        Sweep sweep = new Sweep();
        sweep.smoke = true;
        sweep.out = out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        assertThat(sweep.run(new PrintStream(buf, true, StandardCharsets.UTF_8))).isZero();
        assertThat(out.resolve("sweep.md")).exists();
        assertThat(java.nio.file.Files.readAllLines(out.resolve("sweep.csv"))).hasSize(1 + 2 * 2); // header + 2 threads x 2 storages
        assertThat(out.resolve("throughput.png")).isNotEmptyFile();
        assertThat(out.resolve("ratio.png")).isNotEmptyFile();
        assertThat(buf.toString(StandardCharsets.UTF_8)).contains("ratio");
    }

    @Test
    void clusterBenchBacksUpAndRestoresThroughPd(@org.junit.jupiter.api.io.TempDir java.nio.file.Path out) throws Exception {
        ClusterBench c = new ClusterBench();
        c.rows = 2000;
        c.regions = 4;
        c.reps = 1;
        c.stores = java.util.List.of(1, 2);
        c.out = out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        assertThat(c.run(new PrintStream(buf, true, StandardCharsets.UTF_8))).isZero();
        assertThat(java.nio.file.Files.readAllLines(out.resolve("cluster.csv"))).hasSize(1 + 2);
        assertThat(buf.toString(StandardCharsets.UTF_8)).contains("stores=1 rep 1").contains("stores=2 rep 1");
    }

    @Test
    void scaleSmokeBacksUpThreeStoresOfAThousandRegions(@org.junit.jupiter.api.io.TempDir java.nio.file.Path out) throws Exception {
        Scale s = new Scale();
        s.smoke = true;
        s.out = out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        assertThat(s.run(new PrintStream(buf, true, StandardCharsets.UTF_8))).isZero();
        // header + noop + local
        assertThat(java.nio.file.Files.readAllLines(out.resolve("scale.csv"))).hasSize(1 + 2);
        String text = buf.toString(StandardCharsets.UTF_8);
        assertThat(text).contains("3x1000 raw noop").contains("3x1000 raw local");
        assertThat(text).containsPattern("1000 files, 2000 kvs, 1000 regions answered");
    }
}
