package dev.faketikv.bench;

import dev.faketikv.engine.Cf;
import dev.faketikv.engine.Engine;
import dev.faketikv.engine.EngineIterator;
import dev.faketikv.engine.EngineSnapshot;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.region.Region;
import dev.faketikv.engine.sst.SstCompression;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.rocksdb.CompressionType;
import org.rocksdb.EnvOptions;
import org.rocksdb.Options;
import org.rocksdb.SstFileWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The physical limit of the engine on this machine: for every region, a plain RocksDB iterator over its
 * range of each data CF (write and default for txn data; default for raw) whose entries are copied as they
 * are into a plain {@link SstFileWriter} (RocksDB's default table options, the same compression as the
 * backup), then the file is hashed with SHA-256 and deleted. No MVCC decoding, no key codec, no CRC-64, no
 * gRPC, no pools: {@code threads} plain threads pull regions from a queue. An empty CF range makes no file,
 * as a backup makes none.
 *
 * <p>{@link #run} is what {@code quick}, {@code sweep} and {@code scale} put next to their backups in the same
 * run; the {@code limit} command runs it alone on a seeded store.
 */
@Command(name = "limit", mixinStandardHelpOptions = true, description = "The physical-limit baseline alone: plain iterator + plain SstFileWriter + SHA-256.")
public final class Limit implements Callable<Integer> {
    @Option(names = "--rows", description = "txn rows (default ${DEFAULT-VALUE})")
    long rows = 400_000;
    @Option(names = "--regions", description = "regions (default ${DEFAULT-VALUE})")
    int regions = 32;
    @Option(names = "--threads", description = "threads (default ${DEFAULT-VALUE})")
    int threads = 2;
    @Option(names = "--reps", description = "repetitions (default ${DEFAULT-VALUE})")
    int reps = 3;

    @Override
    public Integer call() throws Exception {
        try (Store store = new Store(System.out, "txn:rows=" + rows + ",regions=" + regions + ",value-size=200,seed=1", Map.of())) {
            Path scratch = Files.createTempDirectory("fake-tikv-limit");
            try {
                for (int rep = 1; rep <= reps; rep++) {
                    Baseline.Result r = run(store.tikv.server().engine(), store.tikv.server().regions().all(), SstCompression.LZ4, threads, scratch);
                    print(System.out, "limit", rep, r);
                }
            } finally {
                Sweep.deleteTree(scratch);
            }
        }
        return 0;
    }

    static void print(PrintStream o, String what, int rep, Baseline.Result r) {
        o.printf(Locale.ROOT, "%-9s %4d %10d %10.1f %9.2f %9.1f%n", what, rep, r.kvs(), r.kvBytes() / 1048576.0, r.seconds(),
                r.kvBytes() / 1048576.0 / r.seconds());
    }

    /**
     * Copies every region's CF ranges into SSTs on {@code threads} threads. {@code kvBytes} counts key +
     * value bytes as stored (data keys with their {@code z} prefix and, for the write CF, timestamps), so it
     * is a little above the backup's logical {@code total_bytes}; compare seconds, not MB/s, when that matters.
     */
    public static Baseline.Result run(Engine engine, List<Region> regions, SstCompression compression, int threads, Path scratch)
            throws Exception {
        Files.createDirectories(scratch);
        ConcurrentLinkedQueue<Region> todo = new ConcurrentLinkedQueue<>(regions);
        AtomicLong kvs = new AtomicLong();
        AtomicLong kvBytes = new AtomicLong();
        AtomicLong sst = new AtomicLong();
        AtomicLong seq = new AtomicLong();
        List<Thread> ts = new ArrayList<>();
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        CompressionType type = switch (compression) {
            case LZ4 -> CompressionType.LZ4_COMPRESSION;
            case SNAPPY -> CompressionType.SNAPPY_COMPRESSION;
            case ZSTD -> CompressionType.ZSTD_COMPRESSION;
            case NONE -> CompressionType.NO_COMPRESSION;
        };
        long t0 = System.nanoTime();
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(() -> {
                byte[] buf = new byte[1 << 16];
                try (EnvOptions env = new EnvOptions(); Options options = new Options().setCompressionType(type)) {
                    MessageDigest md = MessageDigest.getInstance("SHA-256");
                    Region r;
                    while ((r = todo.poll()) != null) {
                        byte[] lower = Keys.dataKey(r.startKey());
                        byte[] upper = r.endKey().length == 0 ? null : Keys.dataKey(r.endKey());
                        try (EngineSnapshot snap = engine.snapshot()) {
                            for (Cf cf : new Cf[] {Cf.WRITE, Cf.DEFAULT}) {
                                Path file = scratch.resolve("l" + seq.incrementAndGet() + ".sst");
                                long n = 0;
                                long bytes = 0;
                                try (EngineIterator it = snap.iterator(cf, lower, upper)) {
                                    it.seekToFirst();
                                    if (!it.valid()) {
                                        it.checkStatus();
                                        continue;
                                    }
                                    try (SstFileWriter w = new SstFileWriter(env, options)) {
                                        w.open(file.toString());
                                        for (; it.valid(); it.next()) {
                                            byte[] k = it.key();
                                            byte[] v = it.value();
                                            w.put(k, v);
                                            n++;
                                            bytes += k.length + v.length;
                                        }
                                        it.checkStatus();
                                        w.finish();
                                    }
                                }
                                md.reset();
                                try (InputStream in = Files.newInputStream(file)) {
                                    for (int m; (m = in.read(buf)) > 0; ) {
                                        md.update(buf, 0, m);
                                    }
                                }
                                md.digest();
                                kvs.addAndGet(n);
                                kvBytes.addAndGet(bytes);
                                sst.addAndGet(Files.size(file));
                                Files.delete(file);
                            }
                        }
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }, "limit-" + i);
            ts.add(t);
            t.start();
        }
        for (Thread t : ts) {
            t.join();
        }
        if (!failures.isEmpty()) {
            throw new IllegalStateException("limit baseline failed", failures.get(0));
        }
        return new Baseline.Result(kvs.get(), kvBytes.get(), sst.get(), (System.nanoTime() - t0) / 1e9);
    }
}
