package dev.faketikv.bench;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code realistic}: the {@code config/tikv-realistic.toml} profile (20 MiB/s of KV data per scan thread)
 * measured at 1 and 2 threads; the throughput must land within ±10% of threads × 20 MiB/s.
 */
@Command(name = "realistic", mixinStandardHelpOptions = true, description = "Measure the tikv-realistic per-thread throttle.")
final class Realistic implements Callable<Integer> {
    @Option(names = "--size", description = "default ${DEFAULT-VALUE}")
    String size = "200MB";
    @Option(names = "--rate", description = "per-thread rate (default ${DEFAULT-VALUE}, as config/tikv-realistic.toml)")
    String rate = "20MB";
    @Option(names = "--out", description = "default ${DEFAULT-VALUE}")
    Path out = Path.of("bench", "results", "realistic");

    @Override
    public Integer call() throws Exception {
        return run(System.out);
    }

    int run(PrintStream o) throws Exception {
        double perThread = dev.faketikv.server.config.ReadableSize.parse(rate) / 1048576.0;
        Report table = new Report(List.of("threads", "expected MB/s", "measured MB/s", "deviation %"));
        String seed = Store.txnSeed(dev.faketikv.server.config.ReadableSize.parse(size), 200, 32);
        try (Store store = new Store(o, seed, Map.of("fake.scan-rate-per-thread", rate))) {
            for (int t : List.of(1, 2)) {
                store.set("backup.num-threads", t);
                Run r = Run.measure(store.client, store.request("lz4", "noop", null));
                double expected = perThread * t;
                double dev = (r.kvMBps() - expected) / expected * 100;
                table.add(t, expected, r.kvMBps(), dev);
                o.printf(Locale.ROOT, "threads=%d: %.1f MB/s (expected %.1f, %+.1f%%)%n", t, r.kvMBps(), expected, dev);
            }
        }
        table.write(out, "realistic");
        o.print(table.markdown());
        return 0;
    }
}
