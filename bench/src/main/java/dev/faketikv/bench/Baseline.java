package dev.faketikv.bench;

import dev.faketikv.engine.Engine;
import dev.faketikv.engine.EngineSnapshot;
import dev.faketikv.engine.mvcc.EntryScanner;
import dev.faketikv.engine.mvcc.TxnEntry;
import dev.faketikv.engine.region.Region;
import dev.faketikv.engine.sst.SstCompression;
import dev.faketikv.server.backup.BackupWriter;
import dev.faketikv.server.backup.BuiltFile;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The engine limit: the same regions scanned from RocksDB and turned into the same SSTs (same writer,
 * same compression, crc64xor computed) and hashed with SHA-256, called directly on {@code threads} plain
 * threads: no gRPC, no endpoint, no pools, no storage.
 */
public final class Baseline {
    private Baseline() {}

    public record Result(long kvs, long kvBytes, long sstBytes, double seconds) {}

    public static Result run(Engine engine, List<Region> regions, long backupTs, SstCompression compression, int threads, Path scratch)
            throws Exception {
        Files.createDirectories(scratch);
        ConcurrentLinkedQueue<Region> todo = new ConcurrentLinkedQueue<>(regions);
        AtomicLong kvs = new AtomicLong();
        AtomicLong kvBytes = new AtomicLong();
        AtomicLong sst = new AtomicLong();
        AtomicLong seq = new AtomicLong();
        List<Thread> ts = new ArrayList<>();
        List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(() -> {
                try {
                    Region r;
                    List<TxnEntry> batch = new ArrayList<>(1024);
                    while ((r = todo.poll()) != null) {
                        try (EngineSnapshot snap = engine.snapshot();
                             EntryScanner s = new EntryScanner(snap, r.startKey().length == 0 ? null : r.startKey(),
                                     r.endKey().length == 0 ? null : r.endKey(), backupTs, 0, false);
                             BackupWriter w = new BackupWriter(scratch, "b" + seq.incrementAndGet(), compression, 0)) {
                            boolean more = true;
                            while (more) {
                                batch.clear();
                                more = s.nextBatch(batch, 1024);
                                w.write(batch, true);
                            }
                            for (BuiltFile f : w.finish()) {
                                MessageDigest md = MessageDigest.getInstance("SHA-256");
                                try (InputStream in = Files.newInputStream(f.path())) {
                                    byte[] buf = new byte[1 << 16];
                                    for (int n; (n = in.read(buf)) > 0; ) {
                                        md.update(buf, 0, n);
                                    }
                                }
                                md.digest();
                                kvs.addAndGet(f.totalKvs());
                                kvBytes.addAndGet(f.totalBytes());
                                sst.addAndGet(f.size());
                                Files.delete(f.path());
                            }
                        }
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }, "baseline-" + i);
            ts.add(t);
            t.start();
        }
        for (Thread t : ts) {
            t.join();
        }
        if (!failures.isEmpty()) {
            throw new IllegalStateException("baseline failed", failures.get(0));
        }
        return new Result(kvs.get(), kvBytes.get(), sst.get(), (System.nanoTime() - t0) / 1e9);
    }
}
