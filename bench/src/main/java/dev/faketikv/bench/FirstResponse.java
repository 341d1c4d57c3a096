package dev.faketikv.bench;

import com.google.protobuf.ByteString;
import dev.faketikv.engine.gen.DataGenerator;
import dev.faketikv.engine.gen.SeedSpec;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.tikv.kvproto.Brpb.BackupRequest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code first-response}: latency to the first response of a one-region request, p50/p99 over many requests. */
@Command(name = "first-response", mixinStandardHelpOptions = true, description = "Time to first response, one-region requests.")
final class FirstResponse implements Callable<Integer> {
    @Option(names = "--requests", description = "default ${DEFAULT-VALUE}")
    int requests = 300;
    @Option(names = "--out", description = "default ${DEFAULT-VALUE}")
    Path out = Path.of("bench", "results", "first-response");

    @Override
    public Integer call() throws Exception {
        return run(System.out);
    }

    int run(PrintStream o) throws Exception {
        String seed = "txn:rows=64000,regions=64,value-size=64,seed=1";
        SeedSpec spec = SeedSpec.parse(seed);
        double[] ms = new double[requests];
        try (Store store = new Store(o, seed, Map.of("backup.num-threads", 2))) {
            for (int i = 0; i < requests; i++) {
                int region = i % 64;
                // a range inside one region: 1000 rows
                BackupRequest req = store.request("lz4", "noop", null).toBuilder()
                        .setStartKey(ByteString.copyFrom(DataGenerator.txnRowKey(spec, region * 1000L)))
                        .setEndKey(ByteString.copyFrom(DataGenerator.txnRowKey(spec, region * 1000L + 999))).build();
                ms[i] = Run.measure(store.client, req).firstResponseMs();
            }
        }
        // the first 50 warm the JIT
        double[] warm = java.util.Arrays.copyOfRange(ms, Math.min(50, requests / 2), requests);
        double p50 = Run.percentile(warm, 0.5);
        double p99 = Run.percentile(warm, 0.99);
        Report table = new Report(List.of("requests", "p50 ms", "p99 ms", "max ms"));
        table.add(warm.length, p50, p99, java.util.Arrays.stream(warm).max().orElse(0));
        table.write(out, "first-response");
        o.printf(Locale.ROOT, "first response of a one-region request: p50 %.2f ms, p99 %.2f ms (%d requests after warm-up)%n",
                p50, p99, warm.length);
        return 0;
    }
}
