package dev.faketikv.bench;

import com.google.protobuf.ByteString;
import dev.faketikv.engine.gen.DataGenerator;
import dev.faketikv.engine.gen.SeedSpec;
import dev.faketikv.server.config.ReadableSize;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.tikv.kvproto.Brpb.BackupRequest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code concurrent}: K clients at once, each backing up its own 1/K of the key space, for each K; the
 * aggregate throughput and how fairly it was shared (slowest/fastest client, Jain's index).
 */
@Command(name = "concurrent", mixinStandardHelpOptions = true, description = "K concurrent clients: totals and fairness.")
final class Concurrent implements Callable<Integer> {
    @Option(names = "--size", description = "default ${DEFAULT-VALUE}")
    String size = "256MB";
    @Option(names = "--clients", split = ",", description = "default ${DEFAULT-VALUE}")
    List<Integer> clients = List.of(1, 2, 4, 8, 16, 32);
    @Option(names = "--threads", description = "backup.num-threads (default ${DEFAULT-VALUE})")
    int threads = 2;
    @Option(names = "--out", description = "default ${DEFAULT-VALUE}")
    Path out = Path.of("bench", "results", "concurrent");

    @Override
    public Integer call() throws Exception {
        return run(System.out);
    }

    int run(PrintStream o) throws Exception {
        String seed = Store.txnSeed(ReadableSize.parse(size), 200, 64);
        SeedSpec spec = SeedSpec.parse(seed);
        long rows = spec.longParam("rows", 0);
        Report table = new Report(List.of("clients", "total MB/s", "wall s", "slowest MB/s", "fastest MB/s", "jain", "max first ms"));
        Map<String, List<double[]>> chart = Report.series();
        try (Store store = new Store(o, seed, Map.of("backup.num-threads", threads))) {
            Run.measure(store.client, store.request("lz4", "noop", null)); // warm-up
            for (int k : clients) {
                List<BackupRequest> reqs = new ArrayList<>();
                for (int i = 0; i < k; i++) {
                    BackupRequest.Builder b = store.request("lz4", "noop", null).toBuilder();
                    if (i > 0) {
                        b.setStartKey(ByteString.copyFrom(DataGenerator.txnRowKey(spec, rows * i / k)));
                    }
                    if (i < k - 1) {
                        b.setEndKey(ByteString.copyFrom(DataGenerator.txnRowKey(spec, rows * (i + 1) / k)));
                    }
                    reqs.add(b.build());
                }
                ExecutorService pool = Executors.newFixedThreadPool(k);
                CountDownLatch go = new CountDownLatch(1);
                List<CompletableFuture<Run>> fs = new ArrayList<>();
                for (BackupRequest r : reqs) {
                    fs.add(CompletableFuture.supplyAsync(() -> {
                        try {
                            go.await();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                        return Run.measure(store.client, r);
                    }, pool));
                }
                long t0 = System.nanoTime();
                go.countDown();
                List<Run> runs = fs.stream().map(CompletableFuture::join).toList();
                double wall = (System.nanoTime() - t0) / 1e9;
                pool.shutdown();
                long total = runs.stream().mapToLong(Run::kvBytes).sum();
                double[] rates = runs.stream().mapToDouble(Run::kvMBps).toArray();
                double sum = 0;
                double sq = 0;
                for (double x : rates) {
                    sum += x;
                    sq += x * x;
                }
                double jain = sum * sum / (rates.length * sq);
                double min = java.util.Arrays.stream(rates).min().orElse(0);
                double max = java.util.Arrays.stream(rates).max().orElse(0);
                double firstMax = runs.stream().mapToDouble(Run::firstResponseMs).max().orElse(0);
                table.add(k, total / 1048576.0 / wall, wall, min, max, jain, firstMax);
                chart.computeIfAbsent("total MB/s", x -> new ArrayList<>()).add(new double[] {k, total / 1048576.0 / wall});
                o.printf(Locale.ROOT, "clients=%d: total %.1f MB/s in %.2f s, per client %.1f..%.1f MB/s, Jain %.3f%n",
                        k, total / 1048576.0 / wall, wall, min, max, jain);
            }
        }
        table.write(out, "concurrent");
        Report.chart(out.resolve("concurrent.png"), "Concurrent clients (num-threads=" + threads + ")", "clients", "total KV MB/s", chart);
        o.print(table.markdown());
        return 0;
    }
}
