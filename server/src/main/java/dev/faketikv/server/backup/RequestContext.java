package dev.faketikv.server.backup;

import dev.faketikv.engine.EngineSnapshot;
import dev.faketikv.server.config.BackupConfig;
import dev.faketikv.server.metrics.BackupMetrics;
import dev.faketikv.server.storage.ExternalStorage;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import org.tikv.kvproto.Brpb.BackupResponse;

/**
 * What the workers of one request share: the task, its storage, the configuration read when the request
 * started, the {@link Progress}, and the hand-off to save workers. The hand-off bounds the file groups in
 * flight to {@code num-threads + 1}, the capacity TiKV gets from {@code num-threads} save workers behind a
 * {@code bounded(1)} channel; a scan worker that finds no room waits (observed as
 * {@code tikv_backup_scan_wait_for_writer_seconds}).
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
    private final dev.faketikv.server.storage.Limiter throttle;
    private final dev.faketikv.server.control.FaultRules.Rule hold;
    private final java.util.concurrent.CountDownLatch held = new java.util.concurrent.CountDownLatch(1);
    private final java.util.concurrent.atomic.AtomicBoolean holding = new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * @param throttle an extra upload limit from a {@code throttle} fault rule, or null
     * @param hold     a request-wide {@code delay}/{@code hang}/{@code grpc_status} rule to apply before any
     *                 range is served, or null
     */
    RequestContext(Endpoint endpoint, Task task, ExternalStorage storage, BackupConfig config, Progress progress,
                   dev.faketikv.server.storage.Limiter throttle, dev.faketikv.server.control.FaultRules.Rule hold) {
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
    java.io.InputStream limit(java.io.InputStream in) {
        java.io.InputStream out = task.limiter().wrap(in, task::cancelled);
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

    Endpoint endpoint() {
        return endpoint;
    }

    /** The range's snapshot after the region checks, then the {@code backup_region} failpoint. */
    EngineSnapshot snapshot(BackupRange range) {
        EngineSnapshot snap = endpoint.snapshot(range);
        java.util.Optional<String> fp = endpoint.faults().failPoints().eval("backup_region", task::cancelled);
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
        try {
            while (!saveSlots.tryAcquire(100, java.util.concurrent.TimeUnit.MILLISECONDS)) {
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
        metrics().observeScanWait(Duration.ofNanos(System.nanoTime() - t0));
        endpoint.trace().step(task.number(), "handed %s to a save worker: %d files, %d kvs, waited %d ms for room",
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

    /** Sends a response carrying only {@code error} (a scan failure). */
    void sendError(Throwable e) {
        if (e instanceof dev.faketikv.server.control.FailPoints.FailPointPanic) {
            // TiKV would crash here: the client sees the connection go away
            task.sink().fail("UNAVAILABLE", e.getMessage());
            return;
        }
        BackupErrors.Converted c = BackupErrors.convert(e);
        endpoint.countError(c.label());
        task.sink().send(BackupResponse.newBuilder().setError(c.error()).build());
    }

    static void deleteFiles(FileGroup group) {
        deleteFiles(group.files());
    }

    static void deleteFiles(java.util.List<BuiltFile> files) {
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
            return HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
