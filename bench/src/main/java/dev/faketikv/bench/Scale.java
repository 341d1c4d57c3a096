package dev.faketikv.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.management.OperatingSystemMXBean;
import dev.faketikv.client.br.BrBackup;
import dev.faketikv.client.br.BrStorage;
import dev.faketikv.engine.region.Region;
import dev.faketikv.engine.sst.SstCompression;
import dev.faketikv.pd.FakeCluster;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.tikv.kvproto.Brpb;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code scale}: a cluster of up to 100 stores in this process with up to a million regions (leaders spread
 * round-robin, {@code replication.max-replicas} peers each), a little data per region, backed up with the
 * BR-like client ({@code br backup raw|txn}) through PD to {@code noop://} and to a local folder.
 *
 * <p>Each cell ({@code STORESxREGIONS}) first starts the same cluster empty (one region) and measures it
 * (heap after GC, RSS, threads), then starts it seeded and measures: seeding and start-up time, the
 * backups' wall time and cost per region, files, peak RSS and heap, threads, PD calls (from the PD
 * journal's call numbers), and the retained heap and RSS per region above the empty cluster. Data, scratch
 * and local backups live on /dev/shm when there is one. Writes {@code scale.md} and {@code scale.csv}.
 *
 * <p>Single-threaded driver; the measured JVM is this one (server, PD and client together).
 */
@Command(name = "scale", mixinStandardHelpOptions = true,
        description = "br backup of a cluster of up to 100 stores and 1,000,000 regions, with memory, threads and PD calls.")
final class Scale implements Callable<Integer> {
    @Option(names = "--cells", split = ",", description = "STORESxREGIONS cells (default ${DEFAULT-VALUE})")
    List<String> cells = List.of("3x2000", "10x10000", "100x100000", "100x1000000");
    @Option(names = "--mode", description = "raw or txn (default ${DEFAULT-VALUE})")
    String mode = "raw";
    @Option(names = "--rows-per-region", description = "rows (raw keys) per region (default ${DEFAULT-VALUE})")
    int rowsPerRegion = 2;
    @Option(names = "--value-size", description = "value bytes (default ${DEFAULT-VALUE})")
    int valueSize = 32;
    @Option(names = "--threads", description = "backup.num-threads per store (default ${DEFAULT-VALUE})")
    int threads = 2;
    @Option(names = "--max-replicas", description = "replication.max-replicas (default ${DEFAULT-VALUE})")
    int maxReplicas = 3;
    @Option(names = "--storages", split = ",", description = "noop, local (default ${DEFAULT-VALUE})")
    List<String> storages = List.of("noop", "local");
    @Option(names = "--local-max-regions", description = "skip local:// above this many regions: a file per region (default ${DEFAULT-VALUE})")
    int localMaxRegions = 200_000;
    @Option(names = "--skip-empty", description = "do not measure the empty cluster first")
    boolean skipEmpty;
    @Option(names = "--no-limit", description = "skip the physical-limit run of each cell")
    boolean noLimit;
    @Option(names = "--out", description = "results folder (default ${DEFAULT-VALUE})")
    Path out = Path.of("bench", "results", "scale");
    @Option(names = "--smoke", description = "seconds-long run (CI): 3 stores x 1,000 regions, noop and local, no empty cluster, no limit run")
    boolean smoke;

    private static final ObjectMapper OM = new ObjectMapper();
    private static final OperatingSystemMXBean OS = (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    @Override
    public Integer call() throws Exception {
        return run(System.out);
    }

    int run(PrintStream o) throws Exception {
        if (smoke) {
            cells = List.of("3x1000");
            storages = List.of("noop", "local");
            skipEmpty = true;
            noLimit = true;
        }
        Report table = new Report(List.of("stores", "regions", "mode", "storage", "seed+start s", "backup s", "µs per region", "CPU µs per region", "files",
                "kv MB", "PD calls", "peak RSS MB", "peak heap MB", "threads", "heap KiB per region", "RSS KiB per region", "limit µs per region"));
        Path shm = Path.of("/dev/shm");
        Path root = Files.isDirectory(shm) && Files.isWritable(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
        o.printf(Locale.ROOT, "%d cores, max heap %d MB, %s %s%n", Runtime.getRuntime().availableProcessors(),
                Runtime.getRuntime().maxMemory() >> 20, System.getProperty("java.vm.name"), System.getProperty("java.version"));
        for (String cell : cells) {
            String[] sr = cell.toLowerCase(Locale.ROOT).split("x");
            int stores = Integer.parseInt(sr[0].trim());
            int regions = Integer.parseInt(sr[1].trim().replace("_", ""));
            Path base = Files.createTempDirectory(root, "fake-tikv-scale");
            try {
                Footprint empty = skipEmpty ? null : emptyCluster(o, stores, base.resolve("empty"));
                long rows = (long) regions * rowsPerRegion;
                String seed = mode.equals("txn")
                        ? "txn:rows=" + rows + ",regions=" + regions + ",value-size=" + valueSize + ",seed=1"
                        : "raw:keys=" + rows + ",regions=" + regions + ",value-size=" + valueSize + ",seed=1";
                long t0 = System.nanoTime();
                try (FakeCluster c = cluster(stores, base.resolve("data"), seed)) {
                    double startS = (System.nanoTime() - t0) / 1e9;
                    c.engine().flush();
                    checkLayout(c, stores);
                    Footprint seeded = Footprint.now();
                    o.printf(Locale.ROOT, "%s: seeded %s and started %d stores in %.1f s (%d regions); heap %d MB, RSS %d MB, %d threads%n",
                            cell, seed, stores, startS, c.regions().size(), seeded.heap >> 20, seeded.rss >> 20, seeded.threads);
                    double limitUs = 0;
                    if (!noLimit) {
                        long lc0 = OS.getProcessCpuTime();
                        Baseline.Result l = Limit.run(c.engine(), c.regions().all(), SstCompression.LZ4, threads, base.resolve("limit"));
                        limitUs = l.seconds() / regions * 1e6;
                        o.printf(Locale.ROOT, "%s: physical limit (plain iterator + SstFileWriter + SHA-256, %d threads): %.2f s, %.1f µs/region (CPU %.1f µs/region)%n",
                                cell, threads, l.seconds(), limitUs, (OS.getProcessCpuTime() - lc0) / 1e3 / regions);
                    }
                    for (String storage : storages) {
                        if (storage.equals("local") && regions > localMaxRegions) {
                            o.printf(Locale.ROOT, "%s: local skipped (%d regions > --local-max-regions %d)%n", cell, regions, localMaxRegions);
                            continue;
                        }
                        Path dir = base.resolve("backup-" + storage);
                        BrStorage st = BrStorage.parse(storage.equals("local") ? "local://" + dir : "noop://");
                        long calls0 = pdCalls(c);
                        ThreadMXBean tm = ManagementFactory.getThreadMXBean();
                        tm.resetPeakThreadCount();
                        List<MemoryPoolMXBean> heap = ManagementFactory.getMemoryPoolMXBeans().stream()
                                .filter(p -> p.getType() == MemoryType.HEAP).toList();
                        heap.forEach(MemoryPoolMXBean::resetPeakUsage);
                        Run.RssSampler rss = new Run.RssSampler();
                        rss.start();
                        long cpu0 = OS.getProcessCpuTime();
                        long b0 = System.nanoTime();
                        BrBackup.Result r = BrBackup.run(new BrBackup.Options(c.pdAddr(), mode.equals("raw"), null, null, null, 0, 4,
                                Brpb.CompressionType.LZ4, null, st, 300, 1.0, null));
                        double secs = (System.nanoTime() - b0) / 1e9;
                        double cpuPer = (OS.getProcessCpuTime() - cpu0) / 1e3 / regions;
                        long peakRss = rss.stop();
                        long peakHeap = heap.stream().mapToLong(p -> p.getPeakUsage().getUsed()).sum();
                        long calls = pdCalls(c) - calls0;
                        Footprint after = Footprint.now();
                        double heapPer = empty == null ? 0 : (seeded.heap - empty.heap) / 1024.0 / regions;
                        double rssPer = empty == null ? 0 : (seeded.rss - empty.rss) / 1024.0 / regions;
                        double perRegion = secs / regions * 1e6;
                        table.add(stores, regions, mode, storage, startS, secs, perRegion, cpuPer, r.files(), r.bytes() / 1e6, calls,
                                peakRss >> 20, peakHeap >> 20, tm.getPeakThreadCount(), heapPer, rssPer, limitUs);
                        o.printf(Locale.ROOT, "%s %s %s: %.2f s (backup part %.2f s), %.1f µs/region (CPU %.1f µs/region), %d files, %d kvs, %d regions answered, %d PD calls,"
                                        + " peak RSS %d MB, peak heap %d MB, peak threads %d (after: heap %d MB live); above empty: heap %.2f KiB, RSS %.2f KiB per region%n",
                                cell, mode, storage, secs, r.backupMillis() / 1e3, perRegion, cpuPer, r.files(), r.kvs(), r.regions(), calls,
                                peakRss >> 20, peakHeap >> 20, tm.getPeakThreadCount(), after.heap >> 20, heapPer, rssPer);
                        if (r.kvs() != rows) {
                            throw new IllegalStateException("backed up " + r.kvs() + " kvs, seeded " + rows);
                        }
                        Sweep.deleteTree(dir);
                    }
                }
            } finally {
                Sweep.deleteTree(base);
            }
        }
        table.write(out, "scale");
        o.println();
        o.print(table.markdown());
        return 0;
    }

    private FakeCluster cluster(int stores, Path dataDir, String seed) throws IOException {
        FakeCluster.Builder b = FakeCluster.builder().stores(stores).dataDir(dataDir)
                .set("backup.num-threads", threads).set("backup.enable-auto-tune", false)
                .set("replication.max-replicas", maxReplicas);
        if (seed != null) {
            b.seed(seed);
        }
        return b.start();
    }

    /** Starts the cluster without data, measures it, stops it. */
    private Footprint emptyCluster(PrintStream o, int stores, Path dataDir) throws IOException {
        long t0 = System.nanoTime();
        try (FakeCluster c = cluster(stores, dataDir, null)) {
            Footprint f = Footprint.now();
            o.printf(Locale.ROOT, "empty cluster of %d stores: started in %.1f s; heap %d MB, RSS %d MB, %d threads%n", stores,
                    (System.nanoTime() - t0) / 1e9, f.heap >> 20, f.rss >> 20, f.threads);
            return f;
        }
    }

    /** Leaders spread over every store, each region with min(max-replicas, stores) peers. */
    private void checkLayout(FakeCluster c, int stores) {
        Map<Long, Integer> leaders = new HashMap<>();
        int want = Math.min(maxReplicas, stores);
        for (Region r : c.regions().all()) {
            if (r.peers().size() != want || r.leader() == null) {
                throw new IllegalStateException("region " + r + " has not " + want + " peers with a leader");
            }
            leaders.merge(r.leaderStoreId(), 1, Integer::sum);
        }
        if (leaders.size() != Math.min(stores, c.regions().size())) {
            throw new IllegalStateException("leaders on " + leaders.size() + " of " + stores + " stores");
        }
    }

    /** Calls the PD facade has answered so far: the newest call number in its journal. */
    static long pdCalls(FakeCluster c) {
        try {
            long max = 0;
            JsonNode j = OM.readTree(c.pdJournal().toJson());
            JsonNode entries = j.isArray() ? j : j.path("entries");
            for (JsonNode e : entries) {
                max = Math.max(max, e.path("call").asLong());
            }
            return max;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Live heap (after a GC), RSS and live threads of this process. */
    record Footprint(long heap, long rss, int threads) {
        static Footprint now() {
            MemoryMXBean m = ManagementFactory.getMemoryMXBean();
            for (int i = 0; i < 2; i++) {
                System.gc();
            }
            return new Footprint(m.getHeapMemoryUsage().getUsed(), Run.RssSampler.read(), ManagementFactory.getThreadMXBean().getThreadCount());
        }
    }
}
