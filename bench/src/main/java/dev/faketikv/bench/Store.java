package dev.faketikv.bench;

import dev.faketikv.client.BackupClient;
import dev.faketikv.server.FakeTikv;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupRequest;

/**
 * A seeded store for a bench run (in this process, real gRPC over loopback) and the requests the bench
 * sends to it. Closing removes its data.
 */
final class Store implements AutoCloseable {
    final FakeTikv tikv;
    final BackupClient client;
    final long backupTs = System.currentTimeMillis() << 18;
    private java.nio.file.Path scratch;

    Store(PrintStream out, String seed, Map<String, Object> settings) throws Exception {
        long t0 = System.nanoTime();
        // auto-tune would lower the soft limit whenever the bench's own client keeps a core busy: measure the
        // pipeline itself (the figures in bench/RESULTS.md were taken this way)
        FakeTikv.Builder b = FakeTikv.builder().seed(seed).set("backup.enable-auto-tune", false);
        java.nio.file.Path shm = java.nio.file.Path.of("/dev/shm");
        if (java.nio.file.Files.isDirectory(shm) && java.nio.file.Files.isWritable(shm)) {
            // SSTs built in memory, as TiKV does (no fsync per file)
            scratch = shm.resolve("fake-tikv-bench-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
            b.set("fake.scratch-dir", scratch.toString());
        }
        settings.forEach(b::set);
        tikv = b.start();
        tikv.server().engine().flush();
        tikv.server().engine().compact(); // no background compaction competes with the measurements
        client = new BackupClient(tikv.addr());
        out.printf(Locale.ROOT, "seeded %s in %.1f s (%d regions)%n", seed, (System.nanoTime() - t0) / 1e9,
                tikv.server().regions().size());
    }

    /** {@code txn:rows=R,regions=N,value-size=V} for about {@code bytes} of logical KV data. */
    static String txnSeed(long bytes, int valueSize, int regions) {
        long rows = Math.max(regions, bytes / (valueSize + 19));
        return "txn:rows=" + rows + ",regions=" + regions + ",value-size=" + valueSize + ",seed=1";
    }

    BackupRequest request(String compression, String storage, Path localDir) {
        Brpb.StorageBackend backend = storage.equals("local")
                ? Brpb.StorageBackend.newBuilder().setLocal(Brpb.Local.newBuilder().setPath(localDir.toString())).build()
                : Brpb.StorageBackend.newBuilder().setNoop(Brpb.Noop.getDefaultInstance()).build();
        return BackupRequest.newBuilder().setEndVersion(backupTs).setStorageBackend(backend)
                .setCompressionType(Brpb.CompressionType.valueOf(compression.toUpperCase(Locale.ROOT))).build();
    }

    void set(String key, Object value) {
        tikv.server().updateConfig(Map.of(key, value));
    }

    @Override
    public void close() {
        client.close();
        tikv.close();
        if (scratch != null) {
            Sweep.deleteTree(scratch);
        }
    }
}
