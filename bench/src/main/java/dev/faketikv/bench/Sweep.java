package dev.faketikv.bench;

import dev.faketikv.engine.sst.SstCompression;
import dev.faketikv.server.config.ReadableSize;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sweep}: one seeded store, backups over num-threads × batch-size × compression × storage, each
 * cell repeated, beside the engine baseline and the physical limit ({@link Limit}) at the same thread count and
 * compression, measured in the same run. Writes sweep.md, sweep.csv, throughput.png and ratio.png to the output folder.
 */
@Command(name = "sweep", mixinStandardHelpOptions = true, description = "Backup throughput over a config grid, with the engine baseline.")
final class Sweep implements Callable<Integer> {
    @Option(names = "--size", description = "logical KV data to seed (default ${DEFAULT-VALUE})")
    String size = "256MB";
    @Option(names = "--value-size", description = "value bytes (default ${DEFAULT-VALUE})")
    int valueSize = 200;
    @Option(names = "--regions", description = "regions (default ${DEFAULT-VALUE})")
    int regions = 64;
    @Option(names = "--threads", split = ",", description = "num-threads values (default ${DEFAULT-VALUE})")
    List<Integer> threads = List.of(1, 2);
    @Option(names = "--batch-sizes", split = ",", description = "batch-size values (default ${DEFAULT-VALUE})")
    List<Integer> batchSizes = List.of(1, 8);
    @Option(names = "--compressions", split = ",", description = "default ${DEFAULT-VALUE}")
    List<String> compressions = List.of("lz4", "zstd");
    @Option(names = "--storages", split = ",", description = "noop, local (default ${DEFAULT-VALUE})")
    List<String> storages = List.of("noop", "local");
    @Option(names = "--reps", description = "repetitions per cell (default ${DEFAULT-VALUE})")
    int reps = 3;
    @Option(names = "--out", description = "results folder (default ${DEFAULT-VALUE})")
    Path out = Path.of("bench", "results", "sweep");
    @Option(names = "--smoke", description = "seconds-long run on tiny data (CI)")
    boolean smoke;

    @Override
    public Integer call() throws Exception {
        return run(System.out);
    }

    int run(PrintStream o) throws Exception {
        if (smoke) {
            size = "2MB";
            regions = 4;
            reps = 1;
            threads = List.of(1, 2);
            batchSizes = List.of(8);
            compressions = List.of("lz4");
        }
        Report table = new Report(List.of("threads", "batch", "compression", "storage", "rep", "kv MB/s", "sst MB/s", "keys/s",
                "files", "first ms", "gap p50 ms", "gap p99 ms", "cores", "peak heap MB", "peak RSS MB", "baseline MB/s", "ratio", "limit MB/s", "backup/limit"));
        Map<String, double[]> baselines = new HashMap<>();
        Map<String, List<Double>> mean = new java.util.LinkedHashMap<>();
        Map<String, List<Double>> ratios = new java.util.LinkedHashMap<>();
        Path local = Files.createTempDirectory("fake-tikv-bench-local");
        long bytes = ReadableSize.parse(size);
        int cells = threads.size() * batchSizes.size() * compressions.size() * storages.size();
        int cell = 0;
        try (Store store = new Store(o, Store.txnSeed(bytes, valueSize, regions), Map.of())) {
            o.printf(Locale.ROOT, "%d cells x %d reps; %d cores, %s %s%n", cells, reps, Runtime.getRuntime().availableProcessors(),
                    System.getProperty("java.vm.name"), System.getProperty("java.version"));
            for (int t : threads) {
                store.set("backup.num-threads", t);
                for (String comp : compressions) {
                    for (int b : batchSizes) {
                        store.set("backup.batch-size", b);
                        for (String st : storages) {
                            cell++;
                            String key = t + "/" + b + "/" + comp + "/" + st;
                            for (int rep = 1; rep <= reps; rep++) {
                                String bkey = t + "/" + comp + "/" + rep;
                                double[] bl = baselines.computeIfAbsent(bkey, k -> baseline(store, comp, t, local));
                                double base = bl[0];
                                double limit = bl[1];
                                Path dir = local.resolve("run-" + cell + "-" + rep);
                                Run r = Run.measure(store.client, store.request(comp, st, dir));
                                deleteTree(dir);
                                double ratio = r.kvMBps() / base;
                                table.add(t, b, comp, st, rep, r.kvMBps(), r.sstMBps(), Math.round(r.keysPerSecond()), r.files(),
                                        r.firstResponseMs(), r.gapP50Ms(), r.gapP99Ms(), r.cores(), r.peakHeap() >> 20, r.peakRss() >> 20,
                                        base, ratio, limit, r.kvMBps() / limit);
                                mean.computeIfAbsent(key, k -> new ArrayList<>()).add(r.kvMBps());
                                ratios.computeIfAbsent(key, k -> new ArrayList<>()).add(ratio);
                                o.printf(Locale.ROOT, "[%d/%d] threads=%d batch=%d %s %s rep %d: %.1f MB/s (baseline %.1f, ratio %.2f; limit %.1f, backup/limit %.2f), first %.1f ms%n",
                                        cell, cells, t, b, comp, st, rep, r.kvMBps(), base, ratio, limit, r.kvMBps() / limit, r.firstResponseMs());
                            }
                        }
                    }
                }
            }
        } finally {
            deleteTree(local);
        }
        table.write(out, "sweep");
        Map<String, List<double[]>> thr = Report.series();
        Map<String, List<double[]>> rat = Report.series();
        for (String key : mean.keySet()) {
            String[] p = key.split("/");
            String series = "batch " + p[1] + ", " + p[2] + ", " + p[3];
            thr.computeIfAbsent(series, k -> new ArrayList<>()).add(new double[] {Integer.parseInt(p[0]), avg(mean.get(key))});
            rat.computeIfAbsent(series, k -> new ArrayList<>()).add(new double[] {Integer.parseInt(p[0]), avg(ratios.get(key))});
        }
        Report.chart(out.resolve("throughput.png"), "Backup throughput vs num-threads", "backup.num-threads", "KV MB/s", thr);
        Report.chart(out.resolve("ratio.png"), "Backup / engine baseline", "backup.num-threads", "ratio", rat);
        o.println();
        o.print(table.markdown());
        o.println("written to " + out.toAbsolutePath());
        return 0;
    }

    private static double[] baseline(Store store, String comp, int threads, Path scratch) {
        try {
            SstCompression c = SstCompression.valueOf(comp.toUpperCase(Locale.ROOT));
            Baseline.Result b = Baseline.run(store.tikv.server().engine(), store.tikv.server().regions().all(), store.backupTs,
                    c, threads, scratch.resolve("baseline"));
            // the physical limit over the same regions, in the baseline's logical bytes
            Baseline.Result l = Limit.run(store.tikv.server().engine(), store.tikv.server().regions().all(), c, threads, scratch.resolve("limit"));
            return new double[] {b.kvBytes() / 1048576.0 / b.seconds(), b.kvBytes() / 1048576.0 / l.seconds()};
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static double avg(List<Double> xs) {
        return xs.stream().mapToDouble(Double::doubleValue).average().orElse(0);
    }

    static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (var s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (java.io.IOException ignored) {
            // temp
        }
    }
}
