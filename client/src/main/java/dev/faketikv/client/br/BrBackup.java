package dev.faketikv.client.br;

import com.google.protobuf.ByteString;
import dev.faketikv.client.BackupClient;
import dev.faketikv.client.BrErrors;
import dev.faketikv.engine.codec.BytesCodec;
import io.grpc.Context;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;
import org.tikv.kvproto.Kvrpcpb;
import org.tikv.kvproto.Metapb;

/**
 * {@code br backup raw|txn}: BR's backup client of the v5.x generation (pingcap/tidb {@code br/pkg/backup}
 * {@code client.go} and {@code push.go}), against a cluster found through PD.
 * <ol>
 *   <li>cluster id from PD; txn: backup ts from TSO and the GC check ({@code UpdateGCSafePoint(0)} must be
 *       below it); a service GC safe point {@code br-<uuid>} at ts − 1 set once (a failure aborts), kept every
 *       TTL/3, removed at the end;
 *   <li>refuses a destination that already holds a backup; writes {@code backup.lock};
 *   <li>push-down: the same request to every Up store at once; each answers for the regions it leads;
 *       successes go into a range tree (a later response for the same start replaces the earlier one);
 *   <li>fine-grained: while holes remain, each hole goes to the leader (PD {@code GetRegion}) of the region
 *       at its start; region and kv errors back off 1 s, retryable storage errors 3 s, unreachable stores
 *       20 s; the backoff total is capped at 80 s (then the backup fails and names the holes and the last
 *       errors); ClusterIDError and fatal storage errors end it at once. Locks are not resolved: a range
 *       still locked at the end is reported with the lock's key, primary and start ts;
 *   <li>writes {@code backupmeta} (MetaV1: files inline, cluster id and version, BR version, versions,
 *       raw ranges, API version of the responses), encrypted like BR when {@code --crypter.*} is given.
 * </ol>
 * <b>Time limit</b> ({@link Options#timeLimit}, default 80 s): from the first failure — a store or PD call that
 * fails or times out, an error response — the backup must make progress (a range backed up) within the
 * limit, or it fails naming the holes and the last errors. Every retry path counts, not only backoff sleeps:
 * PD calls are cut off at the limit ({@link PdClient#deadline}), and none may take longer than the limit
 * even before anything failed ({@link PdClient#callTimeout}); a watchdog cancels every store stream when it
 * passes, and sleeps end early. (A store that stops answering without closing counts from when gRPC's
 * keepalive gives up on it, 13 s.) A healthy long backup is not limited. BR 5.x has no such deadline (its
 * budgets are per retry loop, 19-facts §6); this is fake-tikv's, so that "80 s in all" holds when PD and
 * the stores die together. The service safe point is then left to its TTL.
 *
 * <p>TLS: {@link Options#tls} for PD (gRPC and HTTP) and the stores. A GC safe point is printed unsigned.
 *
 * <p>Keys: request keys are raw user keys; PD lookups use the region-key form (memcomparable-encoded for txn,
 * as is for raw). {@link Options#backoffScale} shrinks every sleep (tests). Not thread-safe: one run at a time.
 */
public final class BrBackup {
    /** Backoffs, as BR's fine-grained loop uses them (ms). */
    static final long REGION_BACKOFF_MS = 1000;
    static final long STORAGE_BACKOFF_MS = 3000;
    static final long CONNECT_BACKOFF_MS = 20000;
    static final long MAX_BACKOFF_TOTAL_MS = 80000;
    static final long EMPTY_STREAM_BACKOFF_MS = 10000;

    /**
     * What to back up and how. {@code tls} defaults to {@link Tls#NONE}; {@code timeLimit} (default
     * {@link #DEFAULT_TIME_LIMIT}) bounds how long the backup may go on failing: see {@link BrBackup}.
     */
    public record Options(String pd, boolean raw, byte[] start, byte[] end, String cf, long rateLimitMiB, int concurrency,
                          Brpb.CompressionType compression, Brpb.CipherInfo cipher, BrStorage storage, long gcTtlSeconds,
                          double backoffScale, PrintStream progress, Tls tls, Duration timeLimit) {
        /** Plaintext, {@link #DEFAULT_TIME_LIMIT}. */
        public Options(String pd, boolean raw, byte[] start, byte[] end, String cf, long rateLimitMiB, int concurrency,
                       Brpb.CompressionType compression, Brpb.CipherInfo cipher, BrStorage storage, long gcTtlSeconds,
                       double backoffScale, PrintStream progress) {
            this(pd, raw, start, end, cf, rateLimitMiB, concurrency, compression, cipher, storage, gcTtlSeconds, backoffScale, progress,
                    Tls.NONE, DEFAULT_TIME_LIMIT);
        }

        public Options {
            tls = tls == null ? Tls.NONE : tls;
            timeLimit = timeLimit == null ? DEFAULT_TIME_LIMIT : timeLimit;
            if (timeLimit.isNegative() || timeLimit.isZero()) {
                throw new BrException("the time limit must be positive");
            }
            start = start == null ? new byte[0] : start;
            end = end == null ? new byte[0] : end;
            cf = cf == null || cf.isEmpty() ? "default" : cf;
            if (end.length != 0 && Arrays.compareUnsigned(start, end) >= 0) {
                throw new BrException("--start must be before --end");
            }
            if (concurrency < 1 || concurrency > 256) {
                throw new BrException("--concurrency must be in [1, 256]");
            }
            // BR falls back to its default TTL for a non-positive --gcttl (a TTL of 0 would remove the safe point)
            gcTtlSeconds = gcTtlSeconds <= 0 ? DEFAULT_GC_TTL_SECONDS : gcTtlSeconds;
        }

        public Options withTls(Tls t) {
            return new Options(pd, raw, start, end, cf, rateLimitMiB, concurrency, compression, cipher, storage, gcTtlSeconds, backoffScale,
                    progress, t, timeLimit);
        }

        public Options withTimeLimit(Duration d) {
            return new Options(pd, raw, start, end, cf, rateLimitMiB, concurrency, compression, cipher, storage, gcTtlSeconds, backoffScale,
                    progress, tls, d);
        }
    }

    /** The README's "80 s in all": how long a backup may go on failing (BR's fine-grained backoff budget). */
    public static final Duration DEFAULT_TIME_LIMIT = Duration.ofMillis(MAX_BACKOFF_TOTAL_MS);

    /** BR's {@code DefaultBRGCSafePointTTL}. */
    public static final long DEFAULT_GC_TTL_SECONDS = 300;

    /**
     * What the backup produced. {@code millis} is the whole run (PD connection, TSO, GC safe point, the
     * backupmeta); {@code backupMillis} is the stores' part, from the first backup request sent to the last
     * response received, over which the speed is computed (a small backup's run is mostly client start-up).
     */
    public record Result(Brpb.BackupMeta meta, int files, long kvs, long bytes, long size, long millis, int retried, int regions,
            long backupMillis) {
        public String summary() {
            double secs = Math.max(millis, 1) / 1000.0;
            double backupSecs = Math.max(backupMillis, 1) / 1000.0;
            return String.format(java.util.Locale.ROOT,
                    "[%s backup] complete: ranges=%d regions=%d files=%d kvs=%d bytes=%d size=%d retried=%d duration=%.2fs (backup %.2fs)"
                            + " speed=%.1f MB/s",
                    meta.getIsRawKv() ? "raw" : "txn", Math.max(1, meta.getRawRangesCount()), regions, files, kvs, bytes, size, retried, secs,
                    backupSecs, bytes / backupSecs / 1e6);
        }
    }

    private final Options o;
    private final Map<Long, BackupClient> clients = new ConcurrentHashMap<>();
    /** Channels of {@code --ca}-only clients, which a {@link BackupClient} does not own. */
    private final List<ManagedChannel> caOnlyChannels = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** Successes by start key (a later one for the same start replaces the earlier); guards {@link #covered}. */
    private final TreeMap<byte[], BackupResponse> done = new TreeMap<>(Arrays::compareUnsigned);
    /** What the successes cover: BR's range tree. */
    private final dev.faketikv.client.RangeTree covered = new dev.faketikv.client.RangeTree();
    private final AtomicReference<BrException> fatal = new AtomicReference<>();
    private final AtomicInteger retried = new AtomicInteger();
    private final AtomicLong apiVersion = new AtomicLong();
    private final Map<String, String> lastErrors = new ConcurrentHashMap<>();
    private final Context.CancellableContext cancel = Context.current().withCancellation();
    /** System.nanoTime() of the first failure since the last progress, or {@link #NOT_FAILING}. */
    private final AtomicLong failingSince = new AtomicLong(NOT_FAILING);
    /** System.nanoTime() when the first backup request was sent ({@link #NOT_FAILING} before), and of the last response. */
    private final AtomicLong firstSent = new AtomicLong(NOT_FAILING);
    private final AtomicLong lastResponse = new AtomicLong(NOT_FAILING);
    private static final long NOT_FAILING = Long.MIN_VALUE;
    private static final long WATCHDOG_MS = 50;
    private Progress bar;
    private PdClient pd;

    private BrBackup(Options o) {
        this.o = o;
    }

    /** What to do about a folder a backup left unfinished (interrupted, or failed after it wrote {@code backup.lock}). */
    public static final String INTERRUPTED_HINT =
            "the folder keeps backup.lock and partial files: remove the folder (or use another -s) before backing up again";

    public static Result run(Options o) {
        return new BrBackup(o).run();
    }

    private Result run() {
        long t0 = System.nanoTime();
        try {
            o.storage().checkEmptyForBackup();
        } catch (BrException e) {
            if (e.getMessage().startsWith("backup lock file exists")) {
                // BR leaves backup.lock behind when it is interrupted; say what to do about it
                throw new BrException(e.getMessage() + " (" + INTERRUPTED_HINT + ")", e);
            }
            throw e;
        }
        try (PdClient pdc = PdClient.connect(o.pd(), o.tls())) {
            this.pd = pdc;
            // a PD call that hangs (PD gone silent before anything failed) must not outlast the limit either
            pd.callTimeout(o.timeLimit());
            long backupTs = pd.tso();
            if (!o.raw()) {
                long sp = pd.gcSafePoint();
                if (Long.compareUnsigned(backupTs, sp) <= 0) {
                    throw new BrException("[BR:Backup:ErrBackupGCSafepointExceeded]GC safepoint " + Long.toUnsignedString(sp) + " exceed TS "
                            + Long.toUnsignedString(backupTs));
                }
            }
            String serviceId = "br-" + UUID.randomUUID();
            long keepAt = backupTs - 1;
            pd.updateServiceSafePoint(serviceId, o.gcTtlSeconds(), keepAt);
            ScheduledExecutorService keeper = Executors.newScheduledThreadPool(2, r -> {
                Thread t = new Thread(r, "br-gc-keeper");
                t.setDaemon(true);
                return t;
            });
            long every = Math.max(1, o.gcTtlSeconds() / 3);
            keeper.scheduleAtFixedRate(() -> {
                try {
                    pd.updateServiceSafePoint(serviceId, o.gcTtlSeconds(), keepAt);
                } catch (RuntimeException e) {
                    lastErrors.put("gc-keeper", e.getMessage());
                }
            }, every, every, TimeUnit.SECONDS);
            keeper.scheduleWithFixedDelay(this::watchdog, WATCHDOG_MS, WATCHDOG_MS, TimeUnit.MILLISECONDS);
            try {
                o.storage().write("backup.lock", BrStorage.LOCK_CONTENT.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                int regions = pd.scanRegions(regionKey(o.start()), regionKey(o.end())).size();
                bar = new Progress(o.progress(), (o.raw() ? "Raw" : "Txn") + " Backup", regions);
                BackupRequest req = request(pd.clusterId(), o.raw() ? 0 : backupTs);
                pushDown(req);
                throwIfFatal();
                fineGrained(req);
                bar.finish();
                Brpb.BackupMeta meta = meta(pd, o.raw() ? 0 : backupTs);
                o.storage().write("backupmeta", BackupMetas.encode(meta, o.cipher()));
                long kvs = 0;
                long bytes = 0;
                long size = 0;
                for (Brpb.File f : meta.getFilesList()) {
                    kvs += f.getTotalKvs();
                    bytes += f.getTotalBytes();
                    size += f.getSize();
                }
                long sent = firstSent.get();
                long backupNanos = sent == NOT_FAILING || lastResponse.get() == NOT_FAILING ? 0 : lastResponse.get() - sent;
                return new Result(meta, meta.getFilesCount(), kvs, bytes, size, (System.nanoTime() - t0) / 1_000_000, retried.get(), regions,
                        backupNanos / 1_000_000);
            } finally {
                keeper.shutdownNow();
                try {
                    // a refresh still in flight must not land after the removal below
                    keeper.awaitTermination(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                cancel.cancel(null);
                try {
                    pd.updateServiceSafePoint(serviceId, 0, keepAt);
                } catch (RuntimeException ignored) {
                    // the TTL removes it anyway
                }
                clients.values().forEach(BackupClient::close);
                caOnlyChannels.forEach(ManagedChannel::shutdownNow);
            }
        }
    }

    private byte[] regionKey(byte[] userKey) {
        if (o.raw()) {
            return userKey;
        }
        return userKey.length == 0 ? userKey : BytesCodec.encode(userKey);
    }

    private BackupRequest request(long clusterId, long backupTs) {
        BackupRequest.Builder b = BackupRequest.newBuilder()
                .setClusterId(clusterId)
                .setStartKey(ByteString.copyFrom(o.start()))
                .setEndKey(ByteString.copyFrom(o.end()))
                .setStartVersion(0)
                .setEndVersion(backupTs)
                .setRateLimit(o.rateLimitMiB() * 1024 * 1024)
                .setConcurrency(o.concurrency())
                .setStorageBackend(o.storage().backend())
                .setIsRawKv(o.raw())
                .setCompressionType(o.compression());
        if (o.raw()) {
            b.setCf(o.cf());
        }
        if (o.cipher() != null) {
            b.setCipherInfo(o.cipher());
        }
        return b.build();
    }

    private BackupClient client(long storeId) {
        return clients.computeIfAbsent(storeId, id -> {
            String addr = pd.store(id).getAddress();
            if (!o.tls().enabled()) {
                return new BackupClient(addr);
            }
            if (o.tls().cert() != null) {
                try {
                    return BackupClient.tls(addr, o.tls().ca().toFile(), o.tls().cert().toFile(), o.tls().key().toFile());
                } catch (IOException e) {
                    throw new BrException("cannot load TLS files: " + e.getMessage());
                }
            }
            // --ca alone: TLS without a client certificate (a TiKV with [security] refuses it at the handshake)
            ManagedChannel ch = Grpc.newChannelBuilder(addr, o.tls().channelCredentials()).maxInboundMessageSize(128 << 20).build();
            caOnlyChannels.add(ch);
            return new BackupClient(ch);
        });
    }

    /** BR's push-down: the request to every Up TiKV store at once. */
    private void pushDown(BackupRequest req) {
        List<Metapb.Store> stores = new ArrayList<>();
        for (Metapb.Store s : pd.allStores()) {
            boolean tiflash = s.getLabelsList().stream().anyMatch(l -> l.getKey().equals("engine") && l.getValue().equals("tiflash"));
            if (s.getState() == Metapb.StoreState.Up && !tiflash) {
                stores.add(s);
            }
        }
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, stores.size()), r -> {
            Thread t = new Thread(r, "br-push");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (Metapb.Store s : stores) {
                fs.add(pool.submit(() -> {
                    for (int attempt = 1; attempt <= 5 && fatal.get() == null; attempt++) {
                        long backoff = send(s.getId(), req, false);
                        if (backoff != CONNECT_BACKOFF_MS) {
                            return;
                        }
                        sleep(3000);
                    }
                }));
            }
            for (Future<?> f : fs) {
                try {
                    f.get();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new BrException("interrupted");
                } catch (java.util.concurrent.ExecutionException e) {
                    fail(new BrException("push-down failed: " + e.getCause(), e.getCause()));
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * Sends {@code req} to one store and consumes its stream; returns the backoff BR would take (0 = none),
     * or {@link #CONNECT_BACKOFF_MS} when the store could not be reached.
     */
    private long send(long storeId, BackupRequest req, boolean unicast) {
        BackupClient client;
        try {
            client = client(storeId);
        } catch (RuntimeException e) {
            failure("store " + storeId, "cannot reach the store: " + e.getMessage());
            retried.incrementAndGet();
            return CONNECT_BACKOFF_MS;
        }
        long backoff = 0;
        int responses = 0;
        Context.CancellableContext call = cancel.withCancellation();
        Context prev = call.attach();
        try {
            firstSent.compareAndSet(NOT_FAILING, System.nanoTime());
            for (var it = client.stream(req); it.hasNext(); ) {
                BackupResponse r = it.next();
                lastResponse.set(System.nanoTime());
                responses++;
                backoff = Math.max(backoff, onResponse(storeId, r));
                if (fatal.get() != null) {
                    return 0;
                }
            }
            if (responses == 0 && unicast) {
                // the store answered nothing for a hole it was said to lead (PD behind a leader change): BR backs off
                failure("store " + storeId, "no response for [" + hex(req.getStartKey().toByteArray()) + ", "
                        + hex(req.getEndKey().toByteArray()) + ")");
                return EMPTY_STREAM_BACKOFF_MS;
            }
        } catch (StatusRuntimeException e) {
            Status st = e.getStatus();
            if (fatal.get() != null || cancel.isCancelled()) {
                return 0;
            }
            failure("store " + storeId, "gRPC " + st.getCode() + ": " + st.getDescription());
            retried.incrementAndGet();
            if (st.getCode() == Status.Code.UNAVAILABLE) {
                BackupClient gone = clients.remove(storeId);
                if (gone != null) {
                    gone.close();
                }
                return CONNECT_BACKOFF_MS;
            }
            return REGION_BACKOFF_MS;
        } catch (RuntimeException e) {
            failure("store " + storeId, e.toString());
            return CONNECT_BACKOFF_MS;
        } finally {
            call.detach(prev);
            call.cancel(null);
        }
        return backoff;
    }

    /** BR's {@code OnBackupResponse}: records a success, or returns the backoff for an error. */
    private long onResponse(long storeId, BackupResponse r) {
        if (!r.hasError()) {
            synchronized (done) {
                done.put(r.getStartKey().toByteArray(), r);
                covered.add(r.getStartKey().toByteArray(), r.getEndKey().toByteArray());
            }
            apiVersion.set(r.getApiVersionValue());
            progressed();
            bar.tick();
            return 0;
        }
        Brpb.Error e = r.getError();
        String where = "store " + storeId + " [" + hex(r.getStartKey().toByteArray()) + ", " + hex(r.getEndKey().toByteArray()) + ")";
        retried.incrementAndGet();
        if (e.hasKvError()) {
            Kvrpcpb.KeyError ke = e.getKvError();
            if (ke.hasLocked()) {
                Kvrpcpb.LockInfo l = ke.getLocked();
                failure("locked " + hex(l.getKey().toByteArray()), "KeyLocked: key " + hex(l.getKey().toByteArray()) + " is locked by the txn "
                        + "with start ts " + l.getLockVersion() + " (primary " + hex(l.getPrimaryLock().toByteArray()) + ", ttl "
                        + l.getLockTtl() + " ms); this BR resolves no locks: commit or roll that txn back");
                return Math.max(REGION_BACKOFF_MS, 0);
            }
            fail(new BrException("unexpected kv error from " + where + ": " + ke.toString().trim()));
            return 0;
        }
        if (e.hasRegionError()) {
            failure(where, "region error: " + e.getRegionError().getMessage());
            return REGION_BACKOFF_MS;
        }
        BrErrors.Decision d = BrErrors.classify(e);
        if (d.verdict() == BrErrors.Verdict.GIVE_UP) {
            if (e.hasClusterIdError()) {
                fail(new BrException("[BR:KV:ErrKVClusterIDMismatch]tikv cluster ID mismatch: " + where
                        + " has cluster id " + e.getClusterIdError().getCurrent() + ", the request had " + e.getClusterIdError().getRequest()));
            } else {
                fail(new BrException("error happen in " + where + ": " + d.reason() + ", " + e.getMsg()));
            }
            return 0;
        }
        failure(where, d.reason() + ": " + e.getMsg());
        return STORAGE_BACKOFF_MS;
    }

    /** BR's fine-grained backup: unicast each hole to its leader until none remains or the backoff budget is spent. */
    private void fineGrained(BackupRequest req) {
        long slept = 0;
        while (true) {
            throwIfFatal();
            List<byte[][]> holes = holes();
            if (holes.isEmpty()) {
                return;
            }
            long maxBackoff = 0;
            for (byte[][] h : holes) {
                PdClient.RegionInfo region = null;
                for (int i = 0; i < 5 && region == null; i++) {
                    try {
                        region = pd.region(regionKey(h[0]));
                    } catch (RuntimeException e) {
                        failure("pd", e.getMessage());
                        sleep(100L * (i + 1));
                    }
                }
                if (region == null || region.leader() == null) {
                    maxBackoff = Math.max(maxBackoff, REGION_BACKOFF_MS);
                    continue;
                }
                BackupRequest sub = req.toBuilder().setStartKey(ByteString.copyFrom(h[0])).setEndKey(ByteString.copyFrom(h[1])).build();
                maxBackoff = Math.max(maxBackoff, send(region.leader().getStoreId(), sub, true));
                throwIfFatal();
            }
            if (maxBackoff > 0) {
                slept += maxBackoff;
                if (slept > MAX_BACKOFF_TOTAL_MS) {
                    List<byte[][]> left = holes();
                    if (left.isEmpty()) {
                        return;
                    }
                    throw new BrException(incomplete(left, "after " + MAX_BACKOFF_TOTAL_MS / 1000 + " s of backoff"));
                }
                sleep(maxBackoff);
            }
        }
    }

    /** "backup failed: N range(s) still incomplete {@code when}: [a, b) ...; last errors: [...]". */
    private String incomplete(List<byte[][]> left, String when) {
        StringBuilder sb = new StringBuilder("backup failed: " + left.size() + " range(s) still incomplete " + when + ":");
        for (byte[][] h : left.subList(0, Math.min(5, left.size()))) {
            sb.append(" [").append(hex(h[0])).append(", ").append(h[1].length == 0 ? "+inf" : hex(h[1])).append(')');
        }
        sb.append("; last errors: ").append(lastErrors.values());
        return sb.toString();
    }

    /** Records a failed call or error response: the first one since the last progress starts the time limit. */
    private void failure(String where, String message) {
        lastErrors.put(where, message == null ? "(no message)" : message);
        if (failingSince.compareAndSet(NOT_FAILING, System.nanoTime())) {
            pd.deadline(failingSince.get() + o.timeLimit().toNanos());
        }
    }

    /** A range was backed up: the cluster answers, so the time limit starts again at the next failure. */
    private void progressed() {
        if (failingSince.getAndSet(NOT_FAILING) != NOT_FAILING) {
            pd.deadline(Long.MAX_VALUE);
        }
    }

    /** Ends the backup once it has been failing, without progress, for {@link Options#timeLimit}. */
    private void watchdog() {
        long since = failingSince.get();
        if (since == NOT_FAILING || System.nanoTime() - since < o.timeLimit().toNanos() || fatal.get() != null) {
            return;
        }
        List<byte[][]> left = holes();
        fail(new BrException(left.isEmpty()
                ? "backup failed: still failing after the time limit of " + o.timeLimit().toMillis() / 1000.0 + " s; last errors: " + lastErrors.values()
                : incomplete(left, "after the time limit of " + o.timeLimit().toMillis() / 1000.0
                        + " s (PD calls, store connections and backoff all count)")));
    }

    /** The parts of the requested range no success covers yet. */
    List<byte[][]> holes() {
        synchronized (done) {
            return covered.gaps(o.start(), o.end());
        }
    }

    /** Records the first fatal error and cancels every stream of the backup at once, as BR cancels its context. */
    private void fail(BrException e) {
        if (fatal.compareAndSet(null, e)) {
            cancel.cancel(e);
        }
    }

    private void throwIfFatal() {
        BrException e = fatal.get();
        if (e != null) {
            throw e;
        }
    }

    private Brpb.BackupMeta meta(PdClient pd, long backupTs) {
        Brpb.BackupMeta.Builder b = Brpb.BackupMeta.newBuilder()
                .setClusterId(pd.clusterId())
                .setClusterVersion(pd.clusterVersion())
                .setBrVersion("BR\nRelease Version: fake-tikv-br 0.1.0\nGit Commit Hash: None\nGit Branch: None\nGo Version: "
                        + "none (Java " + System.getProperty("java.version") + ")\nUTC Build Time: None\nRace Enabled: false")
                .setVersion(0)
                .setStartVersion(0)
                .setEndVersion(backupTs)
                .setIsRawKv(o.raw())
                .setDdls(ByteString.copyFromUtf8("[]"))
                .setApiVersionValue((int) apiVersion.get());
        if (o.raw()) {
            b.addRawRanges(Brpb.RawRange.newBuilder().setStartKey(ByteString.copyFrom(o.start())).setEndKey(ByteString.copyFrom(o.end()))
                    .setCf(o.cf()));
        }
        synchronized (done) {
            for (BackupResponse r : done.values()) {
                List<Brpb.File> fs = new ArrayList<>(r.getFilesList());
                fs.sort((x, y) -> x.getCf().compareTo(y.getCf()));
                b.addAllFiles(fs);
            }
        }
        return b.build();
    }

    /** A backoff sleep, cut short by the time limit; a fatal error (the limit included) is thrown after it. */
    private void sleep(long ms) {
        long scaled = (long) (ms * o.backoffScale());
        long since = failingSince.get();
        if (since != NOT_FAILING) {
            long leftMs = TimeUnit.NANOSECONDS.toMillis(since + o.timeLimit().toNanos() - System.nanoTime()) + WATCHDOG_MS;
            scaled = Math.max(0, Math.min(scaled, leftMs));
        }
        Backoff.sleep(scaled, 1.0);
        throwIfFatal();
    }

    static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }
}
