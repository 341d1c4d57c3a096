package dev.faketikv.server.backup;

import dev.faketikv.engine.EngineSnapshot;
import dev.faketikv.server.config.BackupConfig;
import dev.faketikv.server.control.FailPoints.FailPointPanic;
import dev.faketikv.server.control.FaultRules;
import dev.faketikv.server.control.FaultRules.Rule;
import dev.faketikv.server.metrics.BackupMetrics;
import dev.faketikv.server.storage.ExternalStorage;
import dev.faketikv.server.storage.Limiter;
import io.grpc.Status;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupResponse;
import org.tikv.kvproto.Kvrpcpb.APIVersion;

/**
 * What the workers of one request share: the task, its storage, the configuration read when the request
 * started, the {@link Progress}, and the hand-off to save workers. The hand-off bounds the file groups in
 * flight to {@code num-threads + 1}, the capacity TiKV gets from {@code num-threads} save workers behind a
 * {@code bounded(1)} channel; a scan worker that finds no room waits (observed as
 * {@code tikv_backup_scan_wait_for_writer_seconds}).
 *
 * <p>It is also the workers' one door to the endpoint: its verbs ({@link #trace}, {@link #failPoint},
 * {@link #resubmit}, {@link #throttleScan}, {@link #sendError}, {@link #fail}) are what TiKV's workers reach
 * through the captured endpoint fields and channels of {@code spawn_backup_worker}.
 *
 * <p>Thread-safe.
 */
final class RequestContext {
    private final Endpoint endpoint;
    private final Task task;
    private final ExternalStorage storage;
    private final BackupConfig config;
    private final Progress progress;
    private final Semaphore saveSlots;
    private final Limiter throttle;
    private final Rule hold;
    /** Opened once the request-wide hold has been applied (at once when there is none). */
    private final CountDownLatch held = new CountDownLatch(1);
    /** Set by the one worker that applies the hold. */
    private final AtomicBoolean holding = new AtomicBoolean();

    /**
     * @param throttle an extra upload limit from a {@code throttle} fault rule, or null
     * @param hold     a request-wide {@code delay}/{@code hang}/{@code grpc_status} rule to apply before any
     *                 range is served, or null
     */
    RequestContext(Endpoint endpoint, Task task, ExternalStorage storage, BackupConfig config, Progress progress,
                   Limiter throttle, Rule hold) {
        this.endpoint = endpoint;
        this.task = task;
        this.storage = storage;
        this.config = config;
        this.progress = progress;
        this.saveSlots = new Semaphore(config.numThreads() + 1);
        this.throttle = throttle;
        this.hold = hold;
        if (hold == null) {
            held.countDown();
        }
    }

    /**
     * Applies the request-wide hold once (the first worker runs it, the others wait for it); false when
     * it ended the call.
     */
    boolean passHold() {
        if (hold == null) {
            return true;
        }
        if (holding.compareAndSet(false, true)) {
            try {
                if (FaultInjector.holdRequest(this, hold)) {
                    task.sink().cancel();
                }
            } finally {
                held.countDown();
            }
        } else {
            try {
                held.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return !task.cancelled();
    }

    /** The upload stream: the request's rate limit, then a fault rule's throttle. */
    InputStream limit(InputStream in) {
        InputStream out = task.limiter().wrap(in, task::cancelled);
        return throttle == null ? out : throttle.wrap(out, task::cancelled);
    }

    /** The response form of an engine-form range bound (raw user key for txn; null = empty). */
    byte[] responseKey(byte[] engineKey) {
        if (engineKey == null) {
            return new byte[0];
        }
        if (task.isRawKv()) {
            return engineKey;
        }
        try {
            return BackupRange.toRaw(engineKey);
        } catch (RuntimeException e) {
            return engineKey;
        }
    }

    Task task() {
        return task;
    }

    ExternalStorage storage() {
        return storage;
    }

    BackupConfig config() {
        return config;
    }

    Progress progress() {
        return progress;
    }

    BackupMetrics metrics() {
        return endpoint.metrics();
    }

    long storeId() {
        return endpoint.storeId();
    }

    /** The {@code api_version} every response carries. */
    APIVersion apiVersion() {
        return endpoint.apiVersionPb();
    }

    SoftLimit softLimit() {
        return endpoint.softLimit();
    }

    FaultRules faultRules() {
        return endpoint.faults().rules();
    }

    /** Adds a step to this request's trace ({@code serve --trace}); {@code format} as {@link String#format}. */
    void trace(String format, Object... args) {
        endpoint.trace().step(task.number(), format, args);
    }

    /** Evaluates failpoint {@code name} (a pause ends when the client leaves); the injected error text, if any. */
    Optional<String> failPoint(String name) {
        return endpoint.faults().failPoints().eval(name, task::cancelled);
    }

    /** Evaluates failpoint {@code name} and throws its error, if it injects one. */
    void checkFailPoint(String name) {
        Optional<String> fp = failPoint(name);
        if (fp.isPresent()) {
            throw new InjectedError(fp.get());
        }
    }

    /** Queues {@code worker}'s next turn on the {@code bkwkr} pool; false when the pool is shut down. */
    boolean resubmit(Runnable worker) {
        try {
            endpoint.controlPool().current().execute(worker);
            return true;
        } catch (RejectedExecutionException e) {
            return false;
        }
    }

    /** Holds the calling scan thread back to {@code fake.scan-rate-per-thread} after it produced {@code bytes}. */
    void throttleScan(long bytes) {
        endpoint.throttleScan(bytes, task::cancelled);
    }

    /** The range's snapshot after the region checks, then the {@code backup_region} failpoint. */
    EngineSnapshot snapshot(BackupRange range) {
        EngineSnapshot snap = endpoint.snapshot(range);
        Optional<String> fp = failPoint("backup_region");
        if (fp.isPresent()) {
            snap.close();
            throw new InjectedError(fp.get());
        }
        return snap;
    }

    void checkCancelled() {
        if (task.cancelled()) {
            throw new CancelledException();
        }
    }

    /**
     * TiKV's {@code backup_file_name}: {@code {store}_{region}_{version}_{sha256(key) hex}_{millis}}, or
     * {@code {store}_{region}_{version}} when {@code keyForHash} is null (raw range unbounded at the start).
     */
    String fileNamePrefix(BackupRange range, byte[] keyForHash) {
        String base = endpoint.storeId() + "_" + range.region().id() + "_" + range.region().version();
        if (keyForHash == null) {
            return base;
        }
        return base + "_" + sha256Hex(keyForHash) + "_" + System.currentTimeMillis();
    }

    BackupWriter newTxnWriter() {
        return new BackupWriter(endpoint.scratchDir(), endpoint.nextScratchStem(), task.compression(), task.compressionLevel());
    }

    BackupRawKvWriter newRawWriter(String cf) {
        return new BackupRawKvWriter(endpoint.scratchDir(), endpoint.nextScratchStem(), cf, task.compression(), task.compressionLevel());
    }

    /** Hands {@code group} to a save worker, waiting for room; the group's files then belong to it. */
    void save(FileGroup group) {
        long t0 = System.nanoTime();
        // as endpoint.rs: the wait is observed only when the hand-off could not happen at once (try_send failed)
        boolean waited = !saveSlots.tryAcquire();
        try {
            while (waited && !saveSlots.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                if (task.cancelled()) {
                    throw new CancelledException();
                }
            }
        } catch (InterruptedException | CancelledException e) {
            deleteFiles(group);
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            throw new CancelledException();
        }
        if (waited) {
            metrics().observeScanWait(Duration.ofNanos(System.nanoTime() - t0));
        }
        trace("handed %s to a save worker: %d files, %d kvs, waited %d ms for room",
                group.namePrefix(), group.files().size(), group.files().stream().mapToLong(BuiltFile::totalKvs).sum(),
                (System.nanoTime() - t0) / 1_000_000);
        task.sink().retain();
        try {
            endpoint.ioPool().execute(new SaveFileWorker(this, group));
        } catch (RejectedExecutionException e) {
            deleteFiles(group);
            saveSlots.release();
            task.sink().release();
            throw new CancelledException();
        }
    }

    /** Called by a save worker when its group is done. */
    void saved() {
        saveSlots.release();
        task.sink().release();
    }

    /** Sends a response carrying only {@code e} as its error (a scan failure), counted. */
    void sendError(Throwable e) {
        if (e instanceof FailPointPanic) {
            // TiKV would crash here: the client sees the connection go away
            fail(Status.Code.UNAVAILABLE, e.getMessage());
            return;
        }
        task.sink().send(BackupResponse.newBuilder().setError(convert(e)).build());
    }

    /** {@code e} as a {@code backup.Error}, counted in the error metric ({@link BackupErrors#convert}). */
    Brpb.Error convert(Throwable e) {
        return BackupErrors.convert(e, metrics());
    }

    /** Ends the call with {@code code} and cancels the request. */
    void fail(Status.Code code, String description) {
        task.sink().fail(code, description);
    }

    static void deleteFiles(FileGroup group) {
        deleteFiles(group.files());
    }

    static void deleteFiles(List<BuiltFile> files) {
        for (BuiltFile f : files) {
            try {
                Files.deleteIfExists(f.path());
            } catch (IOException ignored) {
                // the scratch folder is emptied at start-up as well
            }
        }
    }

    static String sha256Hex(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
