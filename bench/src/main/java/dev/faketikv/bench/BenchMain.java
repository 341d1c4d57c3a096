package dev.faketikv.bench;

import dev.faketikv.client.BackupClient;
import dev.faketikv.engine.sst.SstCompression;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.config.TikvConfig;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code fake-tikv-bench}: load tests of the backup endpoint, each measured beside the machine's limit.
 * {@code quick} (one cell), {@code sweep} (the grid, with charts), {@code concurrent}, {@code regions},
 * {@code realistic} (the tikv-realistic profile), {@code first-response}, {@code memory}, {@code cluster} (br backup
 * and br restore through PD), {@code scale} (up to 100 stores and 1,000,000 regions), {@code limit} (the physical-limit
 * baseline alone). Results go to
 * {@code bench/results/<command>/} as Markdown, CSV and PNG.
 */
@Command(name = "fake-tikv-bench", mixinStandardHelpOptions = true, subcommands = {BenchMain.Quick.class, Sweep.class, Concurrent.class, Regions.class, Realistic.class,
        FirstResponse.class, Memory.class, ClusterBench.class, Scale.class, Limit.class})
public final class BenchMain implements Runnable {
    public static void main(String[] args) {
        System.exit(new CommandLine(new BenchMain()).execute(args));
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    @Command(name = "quick", mixinStandardHelpOptions = true, description = "Backup over gRPC vs the engine baseline and the physical limit, one cell.")
    public static final class Quick implements Callable<Integer> {
        @Option(names = "--rows", description = "txn rows (default ${DEFAULT-VALUE})")
        long rows = 400_000;
        @Option(names = "--value-size", description = "value bytes (default ${DEFAULT-VALUE})")
        int valueSize = 200;
        @Option(names = "--regions", description = "regions (default ${DEFAULT-VALUE})")
        int regions = 32;
        @Option(names = "--threads", description = "backup.num-threads (default ${DEFAULT-VALUE})")
        int threads = 2;
        @Option(names = "--compression", description = "lz4, snappy, zstd (default ${DEFAULT-VALUE})")
        String compression = "lz4";
        @Option(names = "--reps", description = "repetitions (default ${DEFAULT-VALUE})")
        int reps = 3;

        @Override
        public Integer call() throws Exception {
            return run(System.out);
        }

        public int run(PrintStream o) throws Exception {
            Path tmp = Files.createTempDirectory("fake-tikv-bench");
            String seed = "txn:rows=" + rows + ",regions=" + regions + ",value-size=" + valueSize + ",seed=1";
            try {
                TikvConfig cfg = TikvConfig.defaults()
                        .with(TikvConfig.SERVER_ADDR.name(), "127.0.0.1:0").with(TikvConfig.STATUS_ADDR.name(), "127.0.0.1:0")
                        .with(TikvConfig.DATA_DIR.name(), tmp.resolve("data").toString())
                        .with(TikvConfig.NUM_THREADS.name(), threads)
                        .with(TikvConfig.ENABLE_AUTO_TUNE.name(), false)
                        .with(TikvConfig.SEED.name(), List.of(seed));
                long s0 = System.nanoTime();
                try (FakeTikvServer server = FakeTikvServer.start(cfg);
                     BackupClient client = new BackupClient(server.addr())) {
                    server.engine().flush();
                    server.engine().compact();
                    o.printf(Locale.ROOT, "seed %s: %.1f s; %s cores, %s%n", seed, (System.nanoTime() - s0) / 1e9,
                            Runtime.getRuntime().availableProcessors(), System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
                    long backupTs = System.currentTimeMillis() << 18;
                    BackupRequest req = BackupRequest.newBuilder().setEndVersion(backupTs)
                            .setStorageBackend(Brpb.StorageBackend.newBuilder().setNoop(Brpb.Noop.getDefaultInstance()))
                            .setCompressionType(Brpb.CompressionType.valueOf(compression.toUpperCase(Locale.ROOT))).build();
                    SstCompression comp = SstCompression.valueOf(compression.toUpperCase(Locale.ROOT));
                    o.printf(Locale.ROOT, "%-9s %4s %10s %10s %9s %9s %8s %8s%n", "run", "rep", "kvs", "kv MB", "seconds", "kv MB/s", "ratio", "/limit");
                    double bestBase = 0;
                    double bestLimit = 0;
                    double bestBackup = 0;
                    for (int rep = 1; rep <= reps; rep++) {
                        Baseline.Result b = Baseline.run(server.engine(), server.regions().all(), backupTs, comp, threads, tmp.resolve("scratch"));
                        double bm = b.kvBytes() / 1048576.0 / b.seconds();
                        bestBase = Math.max(bestBase, bm);
                        o.printf(Locale.ROOT, "%-9s %4d %10d %10.1f %9.2f %9.1f %8s%n", "baseline", rep, b.kvs(), b.kvBytes() / 1048576.0, b.seconds(), bm, "");
                        // the physical limit, in the baseline's logical bytes (its own count includes 'z' and timestamps)
                        Baseline.Result l = Limit.run(server.engine(), server.regions().all(), comp, threads, tmp.resolve("limit"));
                        double lm = b.kvBytes() / 1048576.0 / l.seconds();
                        bestLimit = Math.max(bestLimit, lm);
                        o.printf(Locale.ROOT, "%-9s %4d %10d %10.1f %9.2f %9.1f %8s%n", "limit", rep, l.kvs(), b.kvBytes() / 1048576.0, l.seconds(), lm, "");
                        long t0 = System.nanoTime();
                        List<BackupResponse> rs = client.backup(req);
                        double secs = (System.nanoTime() - t0) / 1e9;
                        long kvs = 0;
                        long bytes = 0;
                        for (BackupResponse r : rs) {
                            if (r.hasError()) {
                                throw new IllegalStateException("backup error: " + r.getError());
                            }
                            for (Brpb.File f : r.getFilesList()) {
                                kvs += f.getTotalKvs();
                                bytes += f.getTotalBytes();
                            }
                        }
                        double mm = bytes / 1048576.0 / secs;
                        bestBackup = Math.max(bestBackup, mm);
                        o.printf(Locale.ROOT, "%-9s %4d %10d %10.1f %9.2f %9.1f %8.2f %8.2f%n", "backup", rep, kvs, bytes / 1048576.0, secs, mm, mm / bm,
                                mm / lm);
                    }
                    o.printf(Locale.ROOT, "best: backup %.1f MB/s, baseline %.1f MB/s, limit %.1f MB/s, ratio %.2f, backup/limit %.2f (threads=%d, %s, noop storage)%n",
                            bestBackup, bestBase, bestLimit, bestBackup / bestBase, bestBackup / bestLimit, threads, compression);
                    return 0;
                }
            } finally {
                try (var s = Files.walk(tmp)) {
                    s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }
    }
}
