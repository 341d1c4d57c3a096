package dev.faketikv.bench;

import dev.faketikv.server.config.ReadableSize;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code memory}: peak heap and RSS during a large backup, against the target
 * num-threads × sst-max-size + 256 MiB.
 */
@Command(name = "memory", mixinStandardHelpOptions = true, description = "Peak memory of a large backup.")
final class Memory implements Callable<Integer> {
    @Option(names = "--size", description = "default ${DEFAULT-VALUE}")
    String size = "4GB";
    @Option(names = "--threads", description = "default ${DEFAULT-VALUE}")
    int threads = 2;
    @Option(names = "--out", description = "default ${DEFAULT-VALUE}")
    Path out = Path.of("bench", "results", "memory");

    @Override
    public Integer call() throws Exception {
        return run(System.out);
    }

    int run(PrintStream o) throws Exception {
        long bytes = ReadableSize.parse(size);
        try (Store store = new Store(o, Store.txnSeed(bytes, 1000, 256), Map.of("backup.num-threads", threads))) {
            System.gc();
            long rssBefore = Run.RssSampler.read();
            Run r = Run.measure(store.client, store.request("lz4", "noop", null));
            long budget = threads * store.tikv.server().config().backup().sstMaxSize() + (256L << 20);
            Report table = new Report(List.of("kv GB", "threads", "seconds", "kv MB/s", "peak heap MB", "RSS before MB", "peak RSS MB", "budget MB"));
            table.add(r.kvBytes() / (double) (1L << 30), threads, r.seconds(), r.kvMBps(), r.peakHeap() >> 20, rssBefore >> 20,
                    r.peakRss() >> 20, budget >> 20);
            table.write(out, "memory");
            o.printf(Locale.ROOT, "%.2f GB in %.1f s: peak heap %d MB, peak RSS %d MB (before %d MB), budget %d MB%n",
                    r.kvBytes() / (double) (1L << 30), r.seconds(), r.peakHeap() >> 20, r.peakRss() >> 20, rssBefore >> 20, budget >> 20);
        }
        return 0;
    }
}
