package dev.faketikv.server.backup;

import dev.faketikv.engine.Engine;
import dev.faketikv.engine.EngineSnapshot;
import dev.faketikv.engine.region.Peer;
import dev.faketikv.engine.region.Region;
import dev.faketikv.engine.region.RegionMap;
import dev.faketikv.server.config.BackupConfig;
import dev.faketikv.server.config.TikvConfig;
import dev.faketikv.server.control.FaultRules;
import dev.faketikv.server.control.FaultRules.Action;
import dev.faketikv.server.control.FaultRules.Rule;
import dev.faketikv.server.control.Faults;
import dev.faketikv.server.control.Trace;
import dev.faketikv.server.metrics.BackupMetrics;
import dev.faketikv.server.storage.ExternalStorage;
import dev.faketikv.server.storage.Limiter;
import dev.faketikv.server.storage.StorageException;
import dev.faketikv.server.worker.Runnable;
import io.grpc.Status;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tikv.kvproto.Brpb.BackupResponse;
import org.tikv.kvproto.Brpb.StorageBackend;
import org.tikv.kvproto.Errorpb;
import org.tikv.kvproto.Kvrpcpb.APIVersion;

/**
 * The backup endpoint: TiKV's {@code Endpoint} ({@code components/backup/src/endpoint.rs}), the
 * {@link Runnable} behind the {@code backup-endpoint} lazy worker.
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
 * <p>Lifecycle (grpc-java's {@code ServerImpl} shape): the constructor ({@code Endpoint::new}, one
 * {@link Deps} as TiKV takes one config struct) only builds the pools, whose threads start lazily;
 * {@link #start()} empties the scratch folder and starts the {@link SoftLimitKeeper}, once;
 * {@link #close()} stops the pools. A task that runs after the close, or whose scan workers the closed pool
 * refuses, fails with {@code INVALID_ARGUMENT "Stopped(..)"}, what TiKV's service answers when its endpoint
 * is stopped ({@code service.rs}:40-41 at b5262299), never with an empty OK stream.
 *
 * <p>Threading: {@code run} is called on the background worker, one task at a time; everything else is
 * thread-safe.
 */
public final class Endpoint implements Runnable<Task>, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Endpoint.class);
    /** raftstore's {@code MAX_REGIONS_IN_ERROR}. */
    private static final int MAX_REGIONS_IN_ERROR = 10;
    /** How long {@link #close()} lets running save jobs finish before interrupting them. */
    static final Duration CLOSE_GRACE = Duration.ofSeconds(30);
    /** How long {@link #close()} waits for interrupted save jobs before abandoning them. */
    static final Duration CLOSE_AFTER_INTERRUPT = Duration.ofSeconds(10);
    /** TiKV's {@code ScheduleError::Stopped} in Debug form, the gRPC status text of a stopped endpoint. */
    private static final String STOPPED = "Stopped(..)";

    /** Creates the storage a request names (injectable for tests and later backends). */
    @FunctionalInterface
    public interface StorageFactory {
        ExternalStorage create(StorageBackend backend) throws StorageException;
    }

    /**
     * Who this store is to a backup request.
     *
     * @param checkClusterId refuse a request naming another cluster ({@code fake.check-cluster-id})
     * @param apiVersion     1 or 2, echoed in every response ({@code storage.api-version})
     */
    public record StoreIdentity(long storeId, long clusterId, boolean checkClusterId, int apiVersion) {
    }

    /**
     * The parts an endpoint uses and does not own: the data it reads, the live backup config, and where
     * it reports.
     *
     * @param config read at each request (an online change applies to the next one)
     * @param trace  request traces ({@code serve --trace})
     */
    public record Collaborators(Engine engine, RegionMap regions, Supplier<BackupConfig> config, BackupMetrics metrics,
                                StorageFactory storages, Faults faults, Trace trace) {
        public Collaborators {
            Objects.requireNonNull(engine, "engine");
            Objects.requireNonNull(regions, "regions");
            Objects.requireNonNull(config, "config");
            Objects.requireNonNull(metrics, "metrics");
            Objects.requireNonNull(storages, "storages");
            Objects.requireNonNull(faults, "faults");
            Objects.requireNonNull(trace, "trace");
        }
    }

    /**
     * Everything an endpoint is built from.
     *
     * @param scratchDir        where SSTs are built before upload; emptied by {@link #start()}
     * @param scanRatePerThread cap on logical KV bytes/s per scan thread ({@code fake.scan-rate-per-thread};
     *                          0 = unlimited), to make a load test behave like a real TiKV node
     */
    public record Deps(StoreIdentity store, Path scratchDir, long scanRatePerThread, Collaborators with) {
        public Deps {
            Objects.requireNonNull(store, "store");
            Objects.requireNonNull(scratchDir, "scratchDir");
            Objects.requireNonNull(with, "with");
            if (scanRatePerThread < 0) {
                throw new IllegalArgumentException("scanRatePerThread must be >= 0: " + scanRatePerThread);
            }
        }
    }

    private final StoreIdentity store;
    private final Path scratchDir;
    private final long scanRatePerThread;
    private final Engine engine;
    private final RegionMap regions;
    private final Supplier<BackupConfig> config;
    private final BackupMetrics metrics;
    private final StorageFactory storages;
    private final Faults faults;
    private final Trace trace;
    private final ControlThreadPool controlPool;
    private final ThreadPoolExecutor ioPool;
    private final SoftLimit softLimit;
    private final ScheduledExecutorService timer;
    private final SoftLimitKeeper keeper;
    /** Numbers scratch files; shared by every request's workers. */
    private final AtomicLong scratchSeq = new AtomicLong();
    /** One limiter per scan thread, so each thread gets the whole per-thread rate. */
    private final ThreadLocal<Limiter> scanLimiter;
    /** Set by the one {@link #start()} allowed. */
    private final AtomicBoolean started = new AtomicBoolean();
    /** Set by the first {@link #close()}. */
    private final AtomicBoolean closed = new AtomicBoolean();

    public Endpoint(Deps deps) {
        Objects.requireNonNull(deps, "deps");
        this.store = deps.store();
        this.scratchDir = deps.scratchDir();
        this.scanRatePerThread = deps.scanRatePerThread();
        Collaborators with = deps.with();
        this.engine = with.engine();
        this.regions = with.regions();
        this.config = with.config();
        this.metrics = with.metrics();
        this.storages = with.storages();
        this.faults = with.faults();
        this.trace = with.trace();
        this.scanLimiter = ThreadLocal.withInitial(() -> new Limiter(scanRatePerThread, System::nanoTime));
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
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "timer");
            t.setDaemon(true);
            return t;
        });
        this.keeper = new SoftLimitKeeper(softLimit, config, new SoftLimitKeeper.ProcSampler(), TikvConfig::cpuQuota,
                metrics, timer);
    }

    /**
     * Empties the scratch folder (files a previous run left) and starts the soft-limit keeper. Call once,
     * before the first task is scheduled.
     *
     * @throws IllegalStateException when already started, or the scratch folder cannot be prepared
     */
    public void start() {
        if (!started.compareAndSet(false, true)) {
            throw new IllegalStateException("endpoint already started");
        }
        resetScratch(scratchDir);
        keeper.start();
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
        if (closed.get()) {
            // the scan pool is gone (and must not be rebuilt over a closing engine): answer as a stopped endpoint
            LOG.warn("backup endpoint closed, refusing {}", task);
            task.sink().fail(Status.Code.INVALID_ARGUMENT, STOPPED);
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
                task.sink().send(BackupResponse.newBuilder().setError(BackupErrors.convert(e, metrics)).build());
            } catch (Throwable again) {
                task.sink().fail(Status.Code.UNAVAILABLE, "fake-tikv failed: " + again);
            }
        } finally {
            task.sink().release();
        }
    }

    private void handleBackupTask(Task task) {
        Rule rule = faults.rules().forRequest(new FaultRules.Site(
                task.number(), store.storeId(), task.isRawKv(), task.cf().cfName(), null, null, null));
        if (clusterIdMismatch(task, rule)) {
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
            task.sink().send(BackupResponse.newBuilder().setError(BackupErrors.convert(e, metrics)).build());
            return;
        }
        BackupConfig cfg = config.get();
        controlPool.adjustWith(cfg.numThreads());
        trace.step(task.number(), "set up: storage=%s, %d scan workers on bkwkr (pool size %d), batch-size %d, soft limit %d",
                storage.name(), cfg.numThreads(), controlPool.size(), cfg.batchSize(), softLimit.cap());
        Progress progress = new Progress(store.storeId(), regions, task.startKey(), task.endKey(), task.isRawKv(), task.cf());
        RequestContext ctx = new RequestContext(this, task, storage, cfg, progress, throttleOf(rule), holdOf(rule));
        for (int i = 0; i < cfg.numThreads(); i++) {
            task.sink().retain();
            try {
                controlPool.current().execute(new ScanWorker(ctx));
            } catch (RejectedExecutionException e) {
                // the endpoint closed under this task: not an empty OK stream (as if this store held
                // nothing in the range) but what service.rs:40-41 answers when the endpoint is stopped
                task.sink().fail(Status.Code.INVALID_ARGUMENT, STOPPED);
                task.sink().release();
            }
        }
    }

    /**
     * The cluster-id check (fake-tikv's addition, or forced by a {@code cluster_id_mismatch} rule); true
     * when it answered the request with {@code cluster_id_error}.
     */
    private boolean clusterIdMismatch(Task task, Rule rule) {
        long current = store.clusterId();
        long requested = task.request().getClusterId();
        boolean injected = rule != null && rule.action() == Action.CLUSTER_ID_MISMATCH;
        if (injected) {
            requested = requested != 0 && requested != current ? requested : current + 1;
        }
        if ((store.checkClusterId() || injected) && requested != 0 && requested != current) {
            task.sink().send(BackupResponse.newBuilder()
                    .setError(BackupErrors.clusterIdMismatch(current, requested, metrics)).build());
            return true;
        }
        return false;
    }

    /** A {@code throttle} rule's extra upload limit for the request, or null. */
    private static Limiter throttleOf(Rule rule) {
        return rule != null && rule.action() == Action.THROTTLE ? new Limiter(rule.rate(), System::nanoTime) : null;
    }

    /** A request-wide {@code delay}/{@code hang}/{@code grpc_status} rule, applied before any range; or null. */
    private static Rule holdOf(Rule rule) {
        boolean holds = rule != null && (rule.action() == Action.DELAY || rule.action() == Action.HANG
                || rule.action() == Action.GRPC_STATUS);
        return holds ? rule : null;
    }

    /** A snapshot for {@code range}, after the checks raftstore's read path makes. */
    EngineSnapshot snapshot(BackupRange range) {
        Region sent = range.region();
        Region cur = regions.get(sent.id());
        if (cur == null) {
            throw RegionErrorException.regionNotFound(sent.id());
        }
        long storeId = store.storeId();
        if (cur.leaderStoreId() != storeId) {
            throw RegionErrorException.notLeader(cur.id(), cur.leader());
        }
        Peer mine = cur.peerOn(storeId);
        if (mine == null || range.leader() == null || mine.id() != range.leader().id()) {
            String msg = "\"[components/raftstore/src/store/util.rs:350]: mismatch peer id "
                    + (range.leader() == null ? 0 : range.leader().id()) + " != " + (mine == null ? 0 : mine.id()) + "\"";
            throw new RegionErrorException(Errorpb.Error.newBuilder().setMessage(msg).build(), null);
        }
        if (cur.version() != sent.version()) {
            throw RegionErrorException.epochNotMatch(cur, siblings(cur, sent.version()), sent.confVer(), sent.version());
        }
        return engine.snapshot();
    }

    /**
     * raftstore's {@code collect_sibling_region} with right-derived splits (fsm/peer.rs:3848-3887 at
     * b5262299): walking left from {@code cur}, nearest first, at most {@code MAX_REGIONS_IN_ERROR} regions,
     * until as many versions as {@code cur} moved past {@code requested} are accounted for; a region at a
     * version at or above the highest seen so far widens the count by the difference (A split into B, A,
     * then B into C, B). None when the requester's version is not behind.
     */
    private List<Region> siblings(Region cur, long requested) {
        List<Region> left = new ArrayList<>();
        long maxVersion = cur.version();
        if (requested >= maxVersion) {
            return left;
        }
        long collect = maxVersion - requested;
        Region r = cur;
        for (int i = 0; i < MAX_REGIONS_IN_ERROR; i++) {
            r = regions.leftOf(r);
            if (r == null) {
                break;
            }
            collect--;
            if (r.version() >= maxVersion) {
                collect += r.version() - maxVersion;
                maxVersion = r.version();
            }
            left.add(r);
            if (collect == 0) {
                break;
            }
        }
        return left;
    }

    long storeId() {
        return store.storeId();
    }

    APIVersion apiVersionPb() {
        return store.apiVersion() == 2 ? APIVersion.V2 : APIVersion.V1;
    }

    Faults faults() {
        return faults;
    }

    Trace trace() {
        return trace;
    }

    /** Holds the calling scan thread back to {@code fake.scan-rate-per-thread} after it produced {@code bytes}. */
    void throttleScan(long bytes, BooleanSupplier cancelled) {
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

    Path scratchDir() {
        return scratchDir;
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
     * stop at their next check); queued save jobs still run and, seeing the cancel, only clean up. A save
     * still running after {@link #CLOSE_GRACE} is interrupted, and abandoned after
     * {@link #CLOSE_AFTER_INTERRUPT} more (logged). Idempotent.
     */
    @Override
    public void close() {
        close(CLOSE_GRACE, CLOSE_AFTER_INTERRUPT);
    }

    /**
     * {@link #close()} with these waits (fake-tikv's choice: TiKV drops the endpoint's runtimes, endpoint.rs
     * has no close); returns how many save jobs it abandoned (queued and never run, or still running after
     * the interrupt), 0 when all ended or when already closed.
     */
    int close(Duration grace, Duration afterInterrupt) {
        if (!closed.compareAndSet(false, true)) {
            return 0;
        }
        keeper.close();
        timer.shutdownNow();
        controlPool.close();
        ioPool.shutdown();
        int neverRun = 0;
        try {
            if (ioPool.awaitTermination(grace.toNanos(), TimeUnit.NANOSECONDS)) {
                return 0;
            }
            neverRun = ioPool.shutdownNow().size();
            ioPool.awaitTermination(afterInterrupt.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        int running = ioPool.getActiveCount();
        if (neverRun + running > 0) {
            LOG.warn("backup endpoint closed without waiting for {} save jobs: {} queued and never run, {} still running"
                    + " {} ms after the interrupt", neverRun + running, neverRun, running, afterInterrupt.toMillis());
        }
        return neverRun + running;
    }
}
