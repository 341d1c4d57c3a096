package dev.faketikv.server.backup;

import dev.faketikv.engine.Engine;
import dev.faketikv.engine.EngineSnapshot;
import dev.faketikv.engine.region.Peer;
import dev.faketikv.engine.region.Region;
import dev.faketikv.engine.region.RegionMap;
import dev.faketikv.server.config.BackupConfig;
import dev.faketikv.server.metrics.BackupMetrics;
import dev.faketikv.server.storage.ExternalStorage;
import dev.faketikv.server.storage.ExternalStorages;
import dev.faketikv.server.storage.StorageException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tikv.kvproto.Brpb.BackupResponse;
import org.tikv.kvproto.Brpb.StorageBackend;
import org.tikv.kvproto.Errorpb;

/**
 * The backup endpoint: TiKV's {@code Endpoint} ({@code components/backup/src/endpoint.rs}), the
 * {@link dev.faketikv.server.worker.Runnable} behind the {@code backup-endpoint} lazy worker.
 *
 * <p>{@link #run(Task)} drops a task whose client already left; otherwise it does what
 * {@code handle_backup_task} does and returns at once: check the cluster id (fake-tikv's addition), create
 * the external storage (on failure: one error-only response, end of stream), read the backup config,
 * size the {@code bkwkr} pool ({@link ControlThreadPool#adjustWith}), and start {@code num-threads}
 * {@link ScanWorker}s over a shared {@link Progress}. Scan workers hand file groups to
 * {@link SaveFileWorker} jobs on the {@code backup-io} pool ({@code io-thread-size} threads); the stream
 * ends when the last worker is done.
 *
 * <p>Also does raftstore's part for a snapshot read ({@link #snapshot}): the region must still exist,
 * be led here by the same peer, with the same epoch version.
 *
 * <p>Threading: {@code run} is called on the background worker, one task at a time; everything else is
 * thread-safe.
 */
public final class Endpoint implements dev.faketikv.server.worker.Runnable<Task>, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Endpoint.class);
    /** raftstore's {@code MAX_REGIONS_IN_ERROR}. */
    private static final int MAX_REGIONS_IN_ERROR = 10;

    /** Creates the storage a request names (injectable for tests and later backends). */
    @FunctionalInterface
    public interface StorageFactory {
        ExternalStorage create(StorageBackend backend) throws StorageException;
    }

    private final long storeId;
    private final Engine engine;
    private final RegionMap regions;
    private final Supplier<BackupConfig> config;
    private final long clusterId;
    private final boolean checkClusterId;
    private final int apiVersion;
    private final Path scratchDir;
    private final BackupMetrics metrics;
    private final StorageFactory storages;
    private final dev.faketikv.server.control.Faults faults;
    private volatile dev.faketikv.server.control.Trace trace = new dev.faketikv.server.control.Trace(false);
    private final ControlThreadPool controlPool;
    private final ThreadPoolExecutor ioPool;
    private final SoftLimit softLimit;
    private final java.util.concurrent.ScheduledExecutorService timer;
    private final SoftLimitKeeper keeper;
    private final AtomicLong scratchSeq = new AtomicLong();
    private final long scanRatePerThread;
    private final ThreadLocal<dev.faketikv.server.storage.Limiter> scanLimiter;

    public Endpoint(long storeId, Engine engine, RegionMap regions, Supplier<BackupConfig> config, long clusterId,
                    boolean checkClusterId, int apiVersion, Path scratchDir, BackupMetrics metrics, StorageFactory storages) {
        this(storeId, engine, regions, config, clusterId, checkClusterId, apiVersion, scratchDir, metrics, storages,
                dev.faketikv.server.control.Faults.none());
    }

    public Endpoint(long storeId, Engine engine, RegionMap regions, Supplier<BackupConfig> config, long clusterId,
                    boolean checkClusterId, int apiVersion, Path scratchDir, BackupMetrics metrics, StorageFactory storages,
                    dev.faketikv.server.control.Faults faults) {
        this(storeId, engine, regions, config, clusterId, checkClusterId, apiVersion, scratchDir, metrics, storages, faults, 0);
    }

    /**
     * @param scanRatePerThread cap on logical KV bytes/s per scan thread ({@code fake.scan-rate-per-thread};
     *                          0 = unlimited), to make a load test behave like a real TiKV node
     */
    public Endpoint(long storeId, Engine engine, RegionMap regions, Supplier<BackupConfig> config, long clusterId,
                    boolean checkClusterId, int apiVersion, Path scratchDir, BackupMetrics metrics, StorageFactory storages,
                    dev.faketikv.server.control.Faults faults, long scanRatePerThread) {
        this.faults = faults;
        this.scanRatePerThread = scanRatePerThread;
        this.scanLimiter = ThreadLocal.withInitial(() -> new dev.faketikv.server.storage.Limiter(scanRatePerThread, System::nanoTime));
        this.storeId = storeId;
        this.engine = engine;
        this.regions = regions;
        this.config = config;
        this.clusterId = clusterId;
        this.checkClusterId = checkClusterId;
        this.apiVersion = apiVersion;
        this.scratchDir = scratchDir;
        this.metrics = metrics;
        this.storages = storages;
        resetScratch(scratchDir);
        BackupConfig c = config.get();
        this.controlPool = new ControlThreadPool(metrics::setThreadPoolSize);
        AtomicInteger ioSeq = new AtomicInteger();
        this.ioPool = new ThreadPoolExecutor(c.ioThreadSize(), c.ioThreadSize(), 0, TimeUnit.MILLISECONDS,
                new LinkedBlockingQueue<>(), r -> {
                    Thread t = new Thread(r, "backup-io-" + ioSeq.getAndIncrement());
                    t.setDaemon(true);
                    return t;
                });
        this.softLimit = new SoftLimit(c.numThreads());
        metrics.setSoftLimit(c.numThreads());
        this.timer = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "timer");
            t.setDaemon(true);
            return t;
        });
        this.keeper = new SoftLimitKeeper(softLimit, config, new SoftLimitKeeper.ProcSampler(),
                dev.faketikv.server.config.TikvConfig::cpuQuota, metrics, timer);
        keeper.start();
    }

    public Endpoint(long storeId, Engine engine, RegionMap regions, Supplier<BackupConfig> config, long clusterId,
                    boolean checkClusterId, int apiVersion, Path scratchDir, BackupMetrics metrics) {
        this(storeId, engine, regions, config, clusterId, checkClusterId, apiVersion, scratchDir, metrics, ExternalStorages::create);
    }

    private static void resetScratch(Path dir) {
        try {
            if (Files.isDirectory(dir)) {
                try (var s = Files.walk(dir)) {
                    s.sorted(Comparator.reverseOrder()).filter(p -> !p.equals(dir)).forEach(p -> p.toFile().delete());
                }
            }
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new IllegalStateException("cannot prepare scratch folder " + dir + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void run(Task task) {
        if (task.cancelled()) {
            LOG.info("backup task has canceled: {}", task);
            task.sink().release();
            return;
        }
        LOG.info("run backup task {}", task);
        long t0 = System.nanoTime();
        trace.step(task.number(), "run on the backup-endpoint worker: %s", task);
        task.sink().onComplete(() -> {
            trace.step(task.number(), "done: the last worker released the stream after %d ms", (System.nanoTime() - t0) / 1_000_000);
            metrics.observeRequest(Duration.ofNanos(System.nanoTime() - t0));
            LOG.info("backup closed: {} in {} ms", task, (System.nanoTime() - t0) / 1_000_000);
        });
        try {
            handleBackupTask(task);
        } catch (Throwable e) {
            LOG.error("error during backup: {}", task, e);
            try {
                BackupErrors.Converted c = BackupErrors.convert(e);
                countError(c.label());
                task.sink().send(BackupResponse.newBuilder().setError(c.error()).build());
            } catch (Throwable again) {
                task.sink().fail("UNAVAILABLE", "fake-tikv failed: " + again);
            }
        } finally {
            task.sink().release();
        }
    }

    private void handleBackupTask(Task task) {
        long requested = task.request().getClusterId();
        dev.faketikv.server.control.FaultRules.Rule rule = faults.rules().forRequest(new dev.faketikv.server.control.FaultRules.Site(
                task.number(), storeId, task.isRawKv(), task.cf().cfName(), null, null, null));
        if (rule != null && rule.action() == dev.faketikv.server.control.FaultRules.Action.CLUSTER_ID_MISMATCH) {
            requested = requested != 0 && requested != clusterId ? requested : clusterId + 1;
        }
        boolean injected = rule != null && rule.action() == dev.faketikv.server.control.FaultRules.Action.CLUSTER_ID_MISMATCH;
        if ((checkClusterId || injected) && requested != 0 && requested != clusterId) {
            BackupErrors.Converted c = BackupErrors.clusterIdMismatch(clusterId, requested);
            countError(c.label());
            task.sink().send(BackupResponse.newBuilder().setError(c.error()).build());
            return;
        }
        ExternalStorage storage;
        long s0 = System.nanoTime();
        try {
            storage = storages.create(task.request().getStorageBackend());
            metrics.observeStorageCreate(storage.name(), Duration.ofNanos(System.nanoTime() - s0));
            task.sink().onComplete(storage::close);
        } catch (StorageException e) {
            LOG.error("backup create storage failed: {}", e.getMessage());
            BackupErrors.Converted c = BackupErrors.convert(e);
            countError(c.label());
            task.sink().send(BackupResponse.newBuilder().setError(c.error()).build());
            return;
        }
        BackupConfig cfg = config.get();
        controlPool.adjustWith(cfg.numThreads());
        trace.step(task.number(), "set up: storage=%s, %d scan workers on bkwkr (pool size %d), batch-size %d, soft limit %d",
                storage.name(), cfg.numThreads(), controlPool.size(), cfg.batchSize(), softLimit.cap());
        Progress progress = new Progress(storeId, regions, task.startKey(), task.endKey(), task.isRawKv(), task.cf());
        dev.faketikv.server.storage.Limiter throttle = rule != null && rule.action() == dev.faketikv.server.control.FaultRules.Action.THROTTLE
                ? new dev.faketikv.server.storage.Limiter(rule.rate(), System::nanoTime) : null;
        boolean holds = rule != null && (rule.action() == dev.faketikv.server.control.FaultRules.Action.DELAY
                || rule.action() == dev.faketikv.server.control.FaultRules.Action.HANG
                || rule.action() == dev.faketikv.server.control.FaultRules.Action.GRPC_STATUS);
        RequestContext ctx = new RequestContext(this, task, storage, cfg, progress, throttle, holds ? rule : null);
        for (int i = 0; i < cfg.numThreads(); i++) {
            task.sink().retain();
            try {
                controlPool.current().execute(new ScanWorker(ctx));
            } catch (java.util.concurrent.RejectedExecutionException e) {
                task.sink().release();
            }
        }
    }

    /** A snapshot for {@code range}, after the checks raftstore's read path makes. */
    EngineSnapshot snapshot(BackupRange range) {
        Region sent = range.region();
        Region cur = regions.get(sent.id());
        if (cur == null) {
            throw RegionErrorException.regionNotFound(sent.id());
        }
        if (cur.leaderStoreId() != storeId) {
            throw RegionErrorException.notLeader(cur.id(), cur.leader());
        }
        Peer mine = cur.peerOn(storeId);
        if (mine == null || range.leader() == null || mine.id() != range.leader().id()) {
            String msg = "\"[components/raftstore/src/store/util.rs:350]: mismatch peer id "
                    + (range.leader() == null ? 0 : range.leader().id()) + " != " + (mine == null ? 0 : mine.id()) + "\"";
            throw regionError(Errorpb.Error.newBuilder().setMessage(msg), null);
        }
        if (cur.version() != sent.version()) {
            // raftstore's collect_sibling_region with right-derived splits: the regions split off to the
            // left, walking left, as many as the version moved on, at most MAX_REGIONS_IN_ERROR
            long siblings = Math.min(MAX_REGIONS_IN_ERROR, Math.max(0, cur.version() - sent.version()));
            java.util.List<Region> left = new java.util.ArrayList<>();
            Region r = cur;
            for (long i = 0; i < siblings && r.startKey().length > 0; i++) {
                r = regions.leftOf(r);
                if (r == null) {
                    break;
                }
                left.add(r);
            }
            throw RegionErrorException.epochNotMatch(cur, left, sent.confVer(), sent.version());
        }
        return engine.snapshot();
    }

    private static RegionErrorException regionError(Errorpb.Error.Builder b, String label) {
        return new RegionErrorException(b.build(), label);
    }

    void countError(String label) {
        if (label != null) {
            metrics.countError(label);
        }
    }

    long storeId() {
        return storeId;
    }

    int apiVersion() {
        return apiVersion;
    }

    org.tikv.kvproto.Kvrpcpb.APIVersion apiVersionPb() {
        return apiVersion == 2 ? org.tikv.kvproto.Kvrpcpb.APIVersion.V2 : org.tikv.kvproto.Kvrpcpb.APIVersion.V1;
    }

    public dev.faketikv.server.control.Faults faults() {
        return faults;
    }

    public dev.faketikv.server.control.Trace trace() {
        return trace;
    }

    /** Uses {@code t} for request traces ({@code serve --trace}). */
    public void trace(dev.faketikv.server.control.Trace t) {
        this.trace = t;
    }

    Path scratchDir() {
        return scratchDir;
    }

    /** Holds the calling scan thread back to {@code fake.scan-rate-per-thread} after it produced {@code bytes}. */
    void throttleScan(long bytes, java.util.function.BooleanSupplier cancelled) {
        if (scanRatePerThread <= 0 || bytes <= 0) {
            return;
        }
        long waitNs = scanLimiter.get().consume(bytes);
        long until = System.nanoTime() + waitNs;
        for (long left = waitNs; left > 0 && !cancelled.getAsBoolean(); left = until - System.nanoTime()) {
            try {
                Thread.sleep(Math.min(left, 100_000_000L) / 1_000_000, (int) (Math.min(left, 100_000_000L) % 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    String nextScratchStem() {
        return "f" + scratchSeq.incrementAndGet();
    }

    BackupMetrics metrics() {
        return metrics;
    }

    ControlThreadPool controlPool() {
        return controlPool;
    }

    ThreadPoolExecutor ioPool() {
        return ioPool;
    }

    SoftLimit softLimit() {
        return softLimit;
    }

    /** Scan and save jobs running or queued, across all requests (0 = every backup worker idle). */
    public int busyWorkers() {
        int n = ioPool.getActiveCount() + ioPool.getQueue().size();
        if (controlPool.size() > 0) {
            ThreadPoolExecutor scan = (ThreadPoolExecutor) controlPool.current();
            n += scan.getActiveCount() + scan.getQueue().size();
        }
        return n;
    }

    /** Regions this endpoint serves (for tests and the status server). */
    public List<Region> regions() {
        return regions.all();
    }

    /**
     * Stops the pools and waits for their workers, so no scan holds a snapshot or iterator when the
     * engine closes next. Call after the gRPC server stopped (its calls are then cancelled, so workers
     * stop at their next check); queued save jobs still run and, seeing the cancel, only clean up.
     */
    @Override
    public void close() {
        keeper.close();
        timer.shutdownNow();
        controlPool.close();
        ioPool.shutdown();
        try {
            if (!ioPool.awaitTermination(30, TimeUnit.SECONDS)) {
                ioPool.shutdownNow();
                ioPool.awaitTermination(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
