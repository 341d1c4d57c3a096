package dev.faketikv.cli;

import dev.faketikv.client.BackupClient;
import dev.faketikv.client.BackupCheck;
import dev.faketikv.engine.gen.SeedSpec;
import dev.faketikv.server.FakeTikv;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.config.TikvConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code fake-tikv demo}: the main job on the embedded default. Seeds a temporary store, serves it on
 * loopback, backs it up through a real gRPC client into a local folder, then re-reads every SST and
 * recomputes sha256, crc64xor, total_kvs and total_bytes independently, and prints a table. Exit code 0
 * only when every file verified and the responses cover the whole key space.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, description = "Seed, serve, back up over gRPC, verify every file.")
final class DemoCommand implements Callable<Integer> {
    @Mixin
    ServerOptions options = new ServerOptions();

    @Option(names = "--out", description = "local backup folder (default ./demo-backup)")
    Path out = Path.of("demo-backup");

    @Option(names = "--compression", description = "lz4, snappy or zstd (default lz4)")
    String compression = "lz4";

    @Override
    public Integer call() throws Exception {
        PrintStream o = System.out;
        Path tmp = Files.createTempDirectory("fake-tikv-demo");
        TikvConfig base = TikvConfig.defaults()
                .with(TikvConfig.SERVER_ADDR.name(), "127.0.0.1:0")
                .with(TikvConfig.STATUS_ADDR.name(), "127.0.0.1:0")
                .with(TikvConfig.DATA_DIR.name(), tmp.toString());
        if (options.seeds.isEmpty()) {
            options.seeds.add(SeedSpec.DEMO);
        }
        Path outDir = out.toAbsolutePath().normalize();
        String refused = prepareOut(outDir);
        if (refused != null) {
            System.err.println("fake-tikv demo: " + refused);
            deleteTree(tmp);
            return Main.FAILED;
        }
        try {
            long seedStart = System.nanoTime();
            try (FakeTikv tikv = FakeTikv.builder().config(options.build(base)).start()) {
                FakeTikvServer server = tikv.server();
                o.printf("seeded %s in %.1f s%n", String.join(" + ", server.config().get(TikvConfig.SEED)),
                        (System.nanoTime() - seedStart) / 1e9);
                o.println(server.readyLine());
                long backupTs = System.currentTimeMillis() << 18;
                BackupRequest req = BackupRequest.newBuilder()
                        .setClusterId(server.clusterId())
                        .setStartVersion(0)
                        .setEndVersion(backupTs)
                        .setStorageBackend(Brpb.StorageBackend.newBuilder()
                                .setLocal(Brpb.Local.newBuilder().setPath(outDir.toString())))
                        .setCompressionType(Brpb.CompressionType.valueOf(compression.toUpperCase(java.util.Locale.ROOT)))
                        .build();
                o.printf("backup %s -> local://%s (end_version=%d, %s, num-threads=%d)%n", "[\"\", \"\")", outDir, backupTs,
                        compression, server.config().backup().numThreads());
                long t0 = System.nanoTime();
                List<BackupResponse> responses;
                try (BackupClient client = new BackupClient(server.addr())) {
                    responses = client.backup(req);
                }
                double secs = (System.nanoTime() - t0) / 1e9;
                return report(o, server, req, responses, outDir, secs);
            }
        } finally {
            deleteTree(tmp);
        }
    }

    private int report(PrintStream o, FakeTikvServer server, BackupRequest req, List<BackupResponse> responses, Path outDir, double secs) {
        BackupCheck.Report check = BackupCheck.run(req, responses, outDir);
        List<String> problems = check.problems();
        Map<Long, long[]> byRegion = new TreeMap<>();
        Map<Long, String> startOf = new TreeMap<>();
        long files = 0;
        long kvs = 0;
        long bytes = 0;
        long sst = 0;
        for (BackupResponse r : responses) {
            for (Brpb.File f : r.getFilesList()) {
                long region = Long.parseLong(f.getName().split("_")[1]);
                startOf.putIfAbsent(region, rowKey(r.getStartKey().toByteArray()));
                long[] row = byRegion.computeIfAbsent(region, k -> new long[4]);
                row[0]++;
                row[1] += f.getTotalKvs();
                row[2] += f.getTotalBytes();
                row[3] += f.getSize();
                files++;
                kvs += f.getTotalKvs();
                bytes += f.getTotalBytes();
                sst += f.getSize();
            }
        }
        long verified = check.verifiedFiles();

        o.println();
        o.printf("%-8s %-16s %6s %10s %12s %12s  %s%n", "region", "start key", "files", "kvs", "kv bytes", "sst bytes", "verified");
        for (Map.Entry<Long, long[]> e : byRegion.entrySet()) {
            long[] row = e.getValue();
            o.printf("%-8d %-16s %6d %10d %12d %12d  %s%n", e.getKey(), startOf.get(e.getKey()), row[0], row[1], row[2], row[3], "✓");
        }
        o.println("-".repeat(79));
        double mbps = bytes / 1048576.0 / secs;
        o.printf("%d regions, %d responses, %d files, %d kvs, %d kv bytes, %d sst bytes, %.1f s, %.1f MB/s, verified %d/%d %s%n",
                server.regions().size(), responses.size(), files, kvs, bytes, sst, secs, mbps, verified, files,
                problems.isEmpty() && verified == files ? "✓" : "✗");
        if (!problems.isEmpty()) {
            o.println("PROBLEMS:");
            problems.forEach(p -> o.println("  " + p));
            return 1;
        }
        o.println("files in " + outDir);
        return 0;
    }

    /**
     * The output folder must be new, empty, or hold an earlier demo's backup (its {@value #MARKER} file), which
     * is replaced: a second {@code demo} gives the same folder, not two backups in one. Anything else is
     * refused (the reason returned), so a demo never mixes its files with someone else's.
     */
    static String prepareOut(Path outDir) throws IOException {
        if (!Files.exists(outDir)) {
            Files.createDirectories(outDir);
        } else if (!Files.isDirectory(outDir)) {
            return outDir + " is not a folder: pass --out DIR";
        } else {
            List<Path> entries;
            try (var s = Files.list(outDir)) {
                entries = s.toList();
            }
            boolean earlierDemo = Files.exists(outDir.resolve(MARKER));
            if (!entries.isEmpty() && !earlierDemo) {
                return outDir + " is not empty and no earlier demo wrote it: remove it or pass --out DIR";
            }
            if (earlierDemo) {
                System.out.println("replacing the earlier demo backup in " + outDir);
                for (Path p : entries) {
                    if (Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                        Files.delete(p);
                    }
                }
            }
        }
        Files.writeString(outDir.resolve(MARKER), "written by bin/fake-tikv demo; the next demo replaces this folder's files\n");
        return null;
    }

    /** Marks a folder as a demo's output. */
    static final String MARKER = ".fake-tikv-demo";

    /** {@code t{table}_r{handle}} for a TiDB record key, "(start)" for the unbounded start, else hex. */
    static String rowKey(byte[] k) {
        if (k.length == 0) {
            return "(start)";
        }
        if (k.length == 19 && k[0] == 't' && k[9] == '_' && k[10] == 'r') {
            long table = dev.faketikv.engine.codec.NumberCodec.decodeComparableI64(k, 1);
            long handle = dev.faketikv.engine.codec.NumberCodec.decodeComparableI64(k, 11);
            return "t" + table + "_r" + handle;
        }
        return hex(k);
    }

    private static String hex(byte[] b) {
        return b.length == 0 ? "(inf)" : java.util.HexFormat.of().formatHex(b);
    }

    private static void deleteTree(Path dir) {
        try (var s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // temp folder
        }
    }
}
