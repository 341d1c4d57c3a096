package dev.faketikv.bench;

import dev.faketikv.client.br.BrBackup;
import dev.faketikv.client.br.BrRestore;
import dev.faketikv.client.br.BrStorage;
import dev.faketikv.pd.FakeCluster;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.tikv.kvproto.Brpb;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code cluster}: the whole BR path through PD — {@code br backup} of a seeded cluster of N stores into a
 * local folder (on /dev/shm when there is one), then {@code br restore} into a fresh cluster of N stores —
 * for each store count asked. Reports backup and restore MB/s (of KV bytes) and the median of the
 * repetitions; a fresh target cluster per restore.
 */
@Command(name = "cluster", mixinStandardHelpOptions = true, description = "br backup and br restore through PD, per store count.")
final class ClusterBench implements Callable<Integer> {
    @Option(names = "--stores", split = ",", description = "store counts (default ${DEFAULT-VALUE})")
    List<Integer> stores = List.of(1, 3);
    @Option(names = "--rows", description = "txn rows (default ${DEFAULT-VALUE})")
    long rows = 400_000;
    @Option(names = "--value-size", description = "value bytes (default ${DEFAULT-VALUE})")
    int valueSize = 200;
    @Option(names = "--regions", description = "regions (default ${DEFAULT-VALUE})")
    int regions = 48;
    @Option(names = "--threads", description = "backup.num-threads per store (default ${DEFAULT-VALUE})")
    int threads = 2;
    @Option(names = "--reps", description = "repetitions (default ${DEFAULT-VALUE})")
    int reps = 3;
    @Option(names = "--out", description = "default ${DEFAULT-VALUE}")
    Path out = Path.of("bench", "results", "cluster");

    @Override
    public Integer call() throws Exception {
        return run(System.out);
    }

    int run(PrintStream o) throws Exception {
        Path shm = Path.of("/dev/shm");
        Path base = Files.createTempDirectory(Files.isDirectory(shm) && Files.isWritable(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir")),
                "fake-tikv-cluster-bench");
        String seed = "txn:rows=" + rows + ",regions=" + regions + ",value-size=" + valueSize + ",seed=1";
        Report table = new Report(List.of("stores", "rows", "kv MB", "files", "backup s", "backup MB/s", "restore s", "restore MB/s"));
        try {
            for (int n : stores) {
                try (FakeCluster a = FakeCluster.builder().stores(n).seed(seed).set("backup.num-threads", threads)
                        .set("backup.enable-auto-tune", false).dataDir(base.resolve("a" + n)).start()) {
                    a.engine().flush();
                    a.engine().compact();
                    List<double[]> runs = new ArrayList<>();
                    for (int rep = 0; rep < reps; rep++) {
                        Path dir = base.resolve("backup-" + n + "-" + rep);
                        long t0 = System.nanoTime();
                        BrBackup.Result b = BrBackup.run(new BrBackup.Options(a.pdAddr(), false, null, null, null, 0, 4,
                                Brpb.CompressionType.LZ4, null, BrStorage.parse("local://" + dir), 300, 1.0, null));
                        double backupS = (System.nanoTime() - t0) / 1e9;
                        double restoreS;
                        try (FakeCluster target = FakeCluster.builder().stores(n).dataDir(base.resolve("b" + n + "-" + rep)).start()) {
                            long t1 = System.nanoTime();
                            BrRestore.run(BrRestore.Options.builder(target.pdAddr(), BrStorage.parse("local://" + dir)).checksum(false).build());
                            restoreS = (System.nanoTime() - t1) / 1e9;
                        }
                        runs.add(new double[] {b.bytes(), b.files(), backupS, restoreS});
                        o.printf(Locale.ROOT, "stores=%d rep %d: backup %.2f s (%.1f MB/s), restore %.2f s (%.1f MB/s)%n", n, rep + 1,
                                backupS, b.bytes() / backupS / 1e6, restoreS, b.bytes() / restoreS / 1e6);
                    }
                    runs.sort(java.util.Comparator.comparingDouble(r -> r[2]));
                    double[] med = runs.get(runs.size() / 2);
                    double restoreMed = runs.stream().mapToDouble(r -> r[3]).sorted().toArray()[runs.size() / 2];
                    table.add(n, rows, med[0] / 1e6, (long) med[1], med[2], med[0] / med[2] / 1e6, restoreMed, med[0] / restoreMed / 1e6);
                }
            }
        } finally {
            try (var w = Files.walk(base)) {
                w.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        table.write(out, "cluster");
        o.println(table.markdown());
        return 0;
    }
}
