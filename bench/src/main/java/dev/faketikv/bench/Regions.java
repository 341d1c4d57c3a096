package dev.faketikv.bench;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code regions}: the cost of a region. Each store holds the same number of rows per region
 * ({@code --rows-per-region}), split into 1k, 10k and 100k regions; a full backup's wall time divided by
 * the region count is the cost per region, which must stay flat as the count grows (no work that grows
 * with the number of regions per region: range hand-out, snapshots, names, responses).
 */
@Command(name = "regions", mixinStandardHelpOptions = true, description = "Cost per region at 1k, 10k, 100k regions.")
final class Regions implements Callable<Integer> {
    @Option(names = "--counts", split = ",", description = "default ${DEFAULT-VALUE}")
    List<Integer> counts = List.of(1_000, 10_000, 100_000);
    @Option(names = "--rows-per-region", description = "default ${DEFAULT-VALUE}")
    int rowsPerRegion = 20;
    @Option(names = "--threads", description = "default ${DEFAULT-VALUE}")
    int threads = 2;
    @Option(names = "--reps", description = "default ${DEFAULT-VALUE}")
    int reps = 3;
    @Option(names = "--out", description = "default ${DEFAULT-VALUE}")
    Path out = Path.of("bench", "results", "regions");

    @Override
    public Integer call() throws Exception {
        return run(System.out);
    }

    int run(PrintStream o) throws Exception {
        Report table = new Report(List.of("regions", "rows", "best wall s", "µs per region", "responses", "kv MB/s", "first ms", "tail ms", "CPU µs per region"));
        Map<String, List<double[]>> chart = Report.series();
        for (int n : counts) {
            String seed = "txn:rows=" + ((long) n * rowsPerRegion) + ",regions=" + n + ",value-size=64,seed=1";
            try (Store store = new Store(o, seed, Map.of("backup.num-threads", threads))) {
                // warm up for at least 3 s, so small region counts are not measured on unjitted code
                long warmUntil = System.nanoTime() + 3_000_000_000L;
                do {
                    Run.measure(store.client, store.request("lz4", "noop", null));
                } while (System.nanoTime() < warmUntil);
                Run best = null;
                for (int rep = 0; rep < reps; rep++) {
                    Run r = Run.measure(store.client, store.request("lz4", "noop", null));
                    if (best == null || r.seconds() < best.seconds()) {
                        best = r;
                    }
                }
                double perRegionUs = best.seconds() / n * 1e6;
                table.add(n, (long) n * rowsPerRegion, best.seconds(), perRegionUs, best.responses(), best.kvMBps(), best.firstResponseMs(),
                        best.tailMs(), best.cpuSeconds() / n * 1e6);
                chart.computeIfAbsent("µs per region", x -> new ArrayList<>()).add(new double[] {n, perRegionUs});
                o.printf(Locale.ROOT, "regions=%d: %.2f s, %.1f µs per region (CPU %.1f), first response %.1f ms, tail %.1f ms%n", n, best.seconds(),
                        perRegionUs, best.cpuSeconds() / n * 1e6, best.firstResponseMs(), best.tailMs());
            }
        }
        table.write(out, "regions");
        Report.chart(out.resolve("regions.png"), "Cost per region (" + rowsPerRegion + " rows each)", "regions", "µs per region", chart);
        o.print(table.markdown());
        return 0;
    }
}
