package dev.faketikv.client.br;

import com.google.protobuf.ByteString;
import dev.faketikv.client.BackupVerifier;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.client.BrErrors;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintStream;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Errorpb;
import org.tikv.kvproto.ImportSSTGrpc;
import org.tikv.kvproto.ImportSstpb;
import org.tikv.kvproto.Kvrpcpb;
import org.tikv.kvproto.Metapb;

/**
 * {@code br restore raw|txn}: BR's snapshot restore (pingcap/tidb {@code br/pkg/restore} {@code import.go},
 * {@code client.go}) reduced to what a range backup needs.
 * <ol>
 *   <li>reads {@code backupmeta} (decrypting with {@code --crypter.*}), refuses raw data for a txn restore
 *       and the other way round, keeps the files overlapping {@code --start/--end} (raw), and checks every
 *       file's size and SHA-256 against the meta before anything reaches the cluster (BR's
 *       {@code debug checksum}; a damaged file fails the restore with nothing ingested);
 *   <li>version check (a backup from a newer major refuses), {@code SwitchMode(Import)} on every store, the
 *       empty {@code MultiIngest} probe, {@code SetDownloadSpeedLimit} with {@code --ratelimit};
 *   <li>per range of files (the write and default SSTs of one backup response): the rewritten range's
 *       regions from PD ({@code ScanRegions}); per region: {@code Download} of each file on every peer's store
 *       (range clipped to the region; txn: memcomparable-encoded, end inclusive; raw: end exclusive), then
 *       {@code MultiIngest} of the non-empty ones on the leader (a store without MultiIngest: {@code Ingest}
 *       file by file). NotLeader → the hinted or PD's leader; EpochNotMatch and the other region errors but
 *       KeyNotInRegion → regions re-scanned, as is a call failing UNAVAILABLE/ABORTED (any other gRPC status ends
 *       the restore); up to 16 attempts with backoff (40 ms doubling to 10 s) ({@link #ingest});
 *   <li>{@code SwitchMode(Normal)} at the end, also on failure;
 *   <li>unless {@code checksum(false)} (BR's {@code --checksum=false}): the stores count what the restored
 *       ranges hold and it must equal the backupmeta ({@link RestoreChecksum}; BR's text on a mismatch). The
 *       summary's kvs/bytes are that count, not the backupmeta's sums.
 * </ol>
 * TLS ({@code --ca --cert --key}): the same {@link Tls} for PD and every store.
 * Ranges are restored {@code concurrency} at a time, each file downloaded on all peers at once.
 * Nothing is split: Download clips each file to the regions that exist. A rewrite rule maps a raw key prefix
 * to another of the same length (txn: sent memcomparable-encoded the way BR's {@code encodeKeyPrefix} does);
 * a file's keys outside every rule's prefix are restored as they are.
 * One run at a time per instance; the run's own workers share only atomic counters and the channel map.
 */
public final class BrRestore {
    static final int INGEST_ATTEMPTS = 16;
    static final int DOWNLOAD_ATTEMPTS = 8;

    /** A key-prefix rewrite: keys starting with {@code oldPrefix} are restored under {@code newPrefix}. */
    public record Rewrite(byte[] oldPrefix, byte[] newPrefix) {
        public Rewrite {
            for (byte[] p : List.of(oldPrefix, newPrefix)) {
                if (Keys.prefixNext(p).length == 0) {
                    throw new BrException("a rewrite prefix must be non-empty and not all 0xFF: " + BrBackup.hex(p));
                }
            }
            if (oldPrefix.length != newPrefix.length) {
                throw new BrException("a rewrite rule must keep the prefix length (old " + oldPrefix.length + " bytes, new "
                        + newPrefix.length + ")");
            }
        }
    }

    /** Ranges restored at once unless told otherwise. */
    public static final int DEFAULT_CONCURRENCY = 8;

    /**
     * What to restore and how; built with {@link #builder}. Defaults: txn, plaintext, no cipher, the whole
     * backup ({@code start}/{@code end} empty), no rewrite, no rate limit, backoff at full length, no progress
     * bar, {@link #DEFAULT_CONCURRENCY} ranges at once, checksum on (BR's {@code --checksum=true}). Immutable.
     */
    public static final class Options {
        private final String pd;
        private final boolean raw;
        private final BrStorage storage;
        private final Brpb.CipherInfo cipher;
        private final byte[] start;
        private final byte[] end;
        private final List<Rewrite> rewrites;
        private final long rateLimitMiB;
        private final double backoffScale;
        private final PrintStream progress;
        private final int concurrency;
        private final Tls tls;
        private final boolean checksum;

        private Options(Builder b) {
            this.pd = Objects.requireNonNull(b.pd, "pd");
            this.storage = Objects.requireNonNull(b.storage, "storage");
            this.raw = b.raw;
            this.cipher = b.cipher;
            this.start = b.start == null ? new byte[0] : b.start;
            this.end = b.end == null ? new byte[0] : b.end;
            this.rewrites = b.rewrites == null ? List.of() : List.copyOf(b.rewrites);
            this.rateLimitMiB = b.rateLimitMiB;
            this.backoffScale = b.backoffScale;
            this.progress = b.progress;
            this.concurrency = b.concurrency;
            this.tls = b.tls == null ? Tls.NONE : b.tls;
            this.checksum = b.checksum;
            for (Rewrite x : rewrites) {
                for (Rewrite y : rewrites) {
                    if (x != y && Keys.startsWith(x.oldPrefix(), y.oldPrefix())) {
                        throw new BrException("rewrite rules overlap: " + BrBackup.hex(x.oldPrefix()) + " and " + BrBackup.hex(y.oldPrefix()));
                    }
                }
            }
            if (concurrency < 1 || concurrency > 256) {
                throw new BrException("--concurrency must be in [1, 256]");
            }
        }

        /** A restore of {@code storage} into the cluster whose PD is at {@code pd} ({@code host:port}). */
        public static Builder builder(String pd, BrStorage storage) {
            return new Builder(pd, storage);
        }

        public String pd() {
            return pd;
        }

        public boolean raw() {
            return raw;
        }

        public BrStorage storage() {
            return storage;
        }

        /** The backup's cipher, or null. */
        public Brpb.CipherInfo cipher() {
            return cipher;
        }

        public byte[] start() {
            return start;
        }

        public byte[] end() {
            return end;
        }

        public List<Rewrite> rewrites() {
            return rewrites;
        }

        public long rateLimitMiB() {
            return rateLimitMiB;
        }

        public double backoffScale() {
            return backoffScale;
        }

        /** Where the progress bar goes, or null. */
        public PrintStream progress() {
            return progress;
        }

        public int concurrency() {
            return concurrency;
        }

        public Tls tls() {
            return tls;
        }

        public boolean checksum() {
            return checksum;
        }

        /** Named settings with the defaults above. Not thread-safe. */
        public static final class Builder {
            private final String pd;
            private final BrStorage storage;
            private boolean raw;
            private Brpb.CipherInfo cipher;
            private byte[] start;
            private byte[] end;
            private List<Rewrite> rewrites;
            private long rateLimitMiB;
            private double backoffScale = 1.0;
            private PrintStream progress;
            private int concurrency = DEFAULT_CONCURRENCY;
            private Tls tls = Tls.NONE;
            private boolean checksum = true;

            private Builder(String pd, BrStorage storage) {
                this.pd = pd;
                this.storage = storage;
            }

            /** Raw data ({@code br restore raw}); txn otherwise. */
            public Builder raw(boolean v) {
                this.raw = v;
                return this;
            }

            /** {@code --crypter.*}: the cipher the backup was written with. */
            public Builder cipher(Brpb.CipherInfo v) {
                this.cipher = v;
                return this;
            }

            /** Raw only: restore keys from here (empty = the beginning). */
            public Builder start(byte[] v) {
                this.start = v;
                return this;
            }

            /** Raw only: restore keys before this (empty = to the end). */
            public Builder end(byte[] v) {
                this.end = v;
                return this;
            }

            public Builder rewrites(List<Rewrite> v) {
                this.rewrites = v;
                return this;
            }

            /** {@code --ratelimit}: MiB/s download limit per store; 0 = none. */
            public Builder rateLimitMiB(long v) {
                this.rateLimitMiB = v;
                return this;
            }

            /** Multiplies every backoff sleep (tests use 0.01). */
            public Builder backoffScale(double v) {
                this.backoffScale = v;
                return this;
            }

            public Builder progress(PrintStream v) {
                this.progress = v;
                return this;
            }

            public Builder concurrency(int v) {
                this.concurrency = v;
                return this;
            }

            /** {@code --ca --cert --key}. */
            public Builder tls(Tls v) {
                this.tls = v;
                return this;
            }

            /** {@code --checksum}: compare what the cluster holds afterwards with the backupmeta (default true). */
            public Builder checksum(boolean v) {
                this.checksum = v;
                return this;
            }

            public Options build() {
                return new Options(this);
            }
        }
    }

    /**
     * What the restore did. {@code kvs}/{@code bytes}: what the cluster holds over the restored ranges after
     * the restore, counted by the stores ({@code checksum = MATCH} or {@code UNCOMPARED}); the backupmeta's
     * figures when the checksum was turned off ({@code OFF}).
     */
    public record Result(int files, int ranges, int regions, long kvs, long bytes, long millis, int retried, ChecksumStatus checksum) {
        public String summary(boolean raw) {
            double secs = Math.max(millis, 1) / 1000.0;
            return String.format(Locale.ROOT,
                    "[%s restore] complete: ranges=%d files=%d ingests=%d kvs=%d bytes=%d retried=%d checksum=%s duration=%.2fs speed=%.1f MB/s",
                    raw ? "raw" : "txn", ranges, files, regions, kvs, bytes, retried, checksum.text, secs, bytes / secs / 1e6);
        }
    }

    /** How the restored data was checked. */
    public enum ChecksumStatus {
        /** The stores' crc64xor/kvs/bytes equal the backupmeta's (kvs/bytes only under a rewrite rule). */
        MATCH("match"),
        /** Counted, not compared: {@code --start/--end} cut files, so the backupmeta's totals do not apply. */
        UNCOMPARED("uncompared"),
        /** {@code --checksum=false}: nothing counted; kvs/bytes are the backupmeta's. */
        OFF("off");

        private final String text;

        ChecksumStatus(String text) {
            this.text = text;
        }
    }

    private static final SecureRandom RANDOM = new SecureRandom();
    private final Options o;
    private final Map<Long, ManagedChannel> channels = new ConcurrentHashMap<>();
    private PdClient pd;
    private final AtomicInteger retriedCount = new AtomicInteger();
    private final AtomicInteger ingests = new AtomicInteger();
    /** The ranges restored, in user-key form after rewrite: what the checksum counts. */
    private final List<RestoreChecksum.Span> restored = new CopyOnWriteArrayList<>();
    private ExecutorService peers;
    /** False once a store answered the empty {@code MultiIngest} probe with UNIMPLEMENTED: files go in with {@code Ingest}. */
    private volatile boolean multiIngest = true;

    private BrRestore(Options o) {
        this.o = o;
    }

    public static Result run(Options o) {
        return new BrRestore(o).run();
    }

    /** Reads and checks the backup: meta, file selection, sizes and SHA-256. */
    static List<Brpb.File> selectAndVerify(Brpb.BackupMeta meta, Options o) {
        if (o.raw() && !meta.getIsRawKv()) {
            throw new BrException("cannot do raw restore from transactional data");
        }
        if (!o.raw() && meta.getIsRawKv()) {
            throw new BrException("cannot do transactional restore from raw data");
        }
        List<Brpb.File> files = new ArrayList<>();
        for (Brpb.File f : meta.getFilesList()) {
            byte[] fs = f.getStartKey().toByteArray();
            byte[] fe = f.getEndKey().toByteArray();
            boolean afterStart = fe.length == 0 || Arrays.compareUnsigned(fe, o.start()) > 0;
            boolean beforeEnd = o.end().length == 0 || Arrays.compareUnsigned(fs, o.end()) < 0;
            if (afterStart && beforeEnd) {
                files.add(f);
            }
        }
        if (files.isEmpty()) {
            throw new BrException("all files are filtered out from the backup archive, nothing to restore");
        }
        for (Brpb.File f : files) {
            byte[] content = o.storage().read(f.getName());
            if (f.getSize() != 0 && content.length != f.getSize()) {
                throw new BrException("backup data checksum failed: " + f.getName() + " may be changed (size " + content.length
                        + ", backupmeta says " + f.getSize() + "); nothing was restored");
            }
            String sha = BackupVerifier.sha256Hex(content);
            if (!sha.equals(HexFormat.of().formatHex(f.getSha256().toByteArray()))) {
                throw new BrException("backup data checksum failed: " + f.getName() + " may be changed (sha256 " + sha
                        + ", backupmeta says " + HexFormat.of().formatHex(f.getSha256().toByteArray()) + "); nothing was restored");
            }
        }
        return files;
    }

    private Result run() {
        long t0 = System.nanoTime();
        if (o.storage().noop()) {
            throw new BrException("cannot restore from noop://");
        }
        Brpb.BackupMeta meta = BackupMetas.decode(o.storage().read("backupmeta"), o.cipher());
        List<Brpb.File> files = selectAndVerify(meta, o);
        Map<String, List<Brpb.File>> groups = new LinkedHashMap<>();
        for (Brpb.File f : files) {
            groups.computeIfAbsent(BrBackup.hex(f.getStartKey().toByteArray()) + "/" + BrBackup.hex(f.getEndKey().toByteArray()),
                    k -> new ArrayList<>()).add(f);
        }
        try (PdClient pdc = PdClient.connect(o.pd(), o.tls())) {
            this.pd = pdc;
            // BR 5.4's order (docs/BR-5.4-CALLS.md §2, §4): cluster version, store versions; raw: split first; then
            // import mode and paused schedulers; txn: reset-ts and split after them
            pd.clusterVersion();
            List<Metapb.Store> stores = pd.allStores().stream().filter(s -> s.getState() == Metapb.StoreState.Up).toList();
            checkVersion(meta.getClusterVersion(), stores);
            List<List<Brpb.File>> groupList = new ArrayList<>(groups.values());
            if (o.raw()) {
                splitAndScatter(groupList);
            }
            PdSchedulers.Paused paused = null;
            for (Metapb.Store s : stores) {
                importer(s.getId()).switchMode(ImportSstpb.SwitchModeRequest.newBuilder().setMode(ImportSstpb.SwitchMode.Import).build());
            }
            try {
                paused = PdSchedulers.pause(pd, stores.size());
                if (!o.raw()) {
                    if (meta.getStartVersion() == 0) {
                        PdSchedulers.resetTs(pd, meta.getEndVersion());
                    }
                    splitAndScatter(groupList);
                }
                prepare(stores);
                Progress bar = new Progress(o.progress(), (o.raw() ? "Raw" : "Txn") + " Restore", groups.size());
                restoreAll(groupList, meta, bar);
                bar.finish();
            } finally {
                for (Metapb.Store s : stores) {
                    try {
                        importer(s.getId()).switchMode(ImportSstpb.SwitchModeRequest.newBuilder().setMode(ImportSstpb.SwitchMode.Normal).build());
                    } catch (RuntimeException ignored) {
                        // best effort, as BR
                    }
                }
                String undoFailed = paused == null ? null : paused.undo();
                if (undoFailed != null) {
                    o.progress().println("[WARN] failed to restore PD schedulers (they resume by themselves within "
                            + PdSchedulers.PAUSE_SECONDS + " s): " + undoFailed);
                }
                channels.values().forEach(ManagedChannel::shutdownNow);
            }
        }
        BackupMetas.Checksum expected = BackupMetas.summary(files);
        if (!o.checksum()) {
            return new Result(files.size(), groups.size(), ingests.get(), expected.totalKvs(), expected.totalBytes(),
                    (System.nanoTime() - t0) / 1_000_000, retriedCount.get(), ChecksumStatus.OFF);
        }
        BackupMetas.Checksum actual = RestoreChecksum.count(o, restored);
        ChecksumStatus status = RestoreChecksum.validate(o, files, expected, actual);
        return new Result(files.size(), groups.size(), ingests.get(), actual.totalKvs(), actual.totalBytes(),
                (System.nanoTime() - t0) / 1_000_000, retriedCount.get(), status);
    }

    /**
     * The empty {@code MultiIngest} probe and the download speed limit on every store, as BR does before restoring.
     * The probe goes to the stores in order and stops at the first that answers UNIMPLEMENTED (a TiKV before 5.0):
     * then every file is ingested on its own with {@code Ingest} (pingcap/br {@code pkg/restore/import.go}
     * {@code importClient.SupportMultiIngest}, {@code FileImporter.ingestSSTs}; {@code client.go}
     * {@code drainFilesByRange}). Any other failure of the probe fails the restore.
     */
    private void prepare(List<Metapb.Store> stores) {
        for (Metapb.Store s : stores) {
            try {
                importer(s.getId()).multiIngest(ImportSstpb.MultiIngestRequest.getDefaultInstance());
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() == Status.Code.UNIMPLEMENTED) {
                    multiIngest = false;
                    break;
                }
                throw new BrException("failed to check multi ingest support: " + BrErrors.oneLine(e.getStatus()));
            }
        }
        for (Metapb.Store s : stores) {
            if (o.rateLimitMiB() > 0) {
                importer(s.getId()).setDownloadSpeedLimit(ImportSstpb.SetDownloadSpeedLimitRequest.newBuilder()
                        .setSpeedLimit(o.rateLimitMiB() * 1024 * 1024).build());
            }
        }
    }

    /**
     * Restores the ranges on {@link Options#concurrency} workers (BR restores files concurrently too); the
     * first failure stops the others and is thrown.
     */
    private void restoreAll(List<List<Brpb.File>> groups, Brpb.BackupMeta meta, Progress bar) {
        ExecutorService ranges = Executors.newFixedThreadPool(o.concurrency(), daemon("br-restore"));
        peers = Executors.newCachedThreadPool(daemon("br-download"));
        try {
            List<Callable<Void>> tasks = new ArrayList<>();
            for (List<Brpb.File> g : groups) {
                tasks.add(() -> {
                    restoreRange(g, meta);
                    bar.tick();
                    return null;
                });
            }
            all(ranges, tasks);
        } finally {
            // no worker may still call a store once this returns (the caller switches the stores back to normal)
            ranges.shutdownNow();
            peers.shutdownNow();
            try {
                ranges.awaitTermination(30, TimeUnit.SECONDS);
                peers.awaitTermination(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Runs {@code tasks} on {@code pool} and returns their results in order; the first failure, whichever
     * task it comes from, cancels the others and is thrown at once.
     */
    static <T> List<T> all(ExecutorService pool, List<Callable<T>> tasks) {
        ExecutorCompletionService<T> done = new ExecutorCompletionService<>(pool);
        List<Future<T>> fs = new ArrayList<>();
        for (Callable<T> t : tasks) {
            fs.add(done.submit(t));
        }
        try {
            for (int i = 0; i < fs.size(); i++) {
                done.take().get();
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : fs) {
                out.add(f.get());
            }
            return out;
        } catch (ExecutionException e) {
            fs.forEach(f -> f.cancel(true));
            throw e.getCause() instanceof RuntimeException re ? re : new BrException("restore failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            fs.forEach(f -> f.cancel(true));
            Thread.currentThread().interrupt();
            throw new BrException("interrupted");
        }
    }

    private static ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }

    /** BR's restore version rule: a backup from a newer TiKV major than a target store is refused. */
    static void checkVersion(String clusterVersion, List<Metapb.Store> stores) {
        String v = clusterVersion.replace("\"", "").trim().replaceFirst("^v", "");
        if (v.isEmpty()) {
            return;
        }
        int backupMajor = major(v);
        for (Metapb.Store s : stores) {
            int m = major(s.getVersion().replaceFirst("^v", ""));
            if (backupMajor > m) {
                throw new BrException("the backup is from cluster version " + v + ", newer than TiKV " + s.getVersion() + " of store "
                        + s.getId() + "; restore into a cluster of the same major version or newer");
            }
        }
    }

    private static int major(String v) {
        try {
            return Integer.parseInt(v.split("\\.")[0]);
        } catch (NumberFormatException e) {
            throw new BrException("invalid version " + v);
        }
    }

    private ManagedChannel channel(long storeId) {
        return channels.computeIfAbsent(storeId, id -> Grpc.newChannelBuilder(pd.store(id).getAddress(),
                o.tls().channelCredentials()).maxInboundMessageSize(64 << 20).build());
    }

    private ImportSSTGrpc.ImportSSTBlockingStub importer(long storeId) {
        return ImportSSTGrpc.newBlockingStub(channel(storeId)).withDeadlineAfter(25, TimeUnit.MINUTES);
    }

    /**
     * BR's {@code SplitRanges} before the files are restored ({@link RegionSplitter}): the check keys are each
     * range's end (raw: cut to {@code --end}; txn: under its rewrite rule's new prefix) and every rule's new prefix.
     */
    private void splitAndScatter(List<List<Brpb.File>> groups) {
        List<byte[]> checkKeys = new ArrayList<>();
        for (Rewrite r : o.rewrites()) {
            checkKeys.add(r.newPrefix());
        }
        byte[] min = null;
        byte[] max = null;
        boolean unbounded = false;
        for (List<Brpb.File> group : groups) {
            byte[] s = group.get(0).getStartKey().toByteArray();
            byte[] e = group.get(0).getEndKey().toByteArray();
            if (o.raw()) {
                s = Arrays.compareUnsigned(s, o.start()) < 0 ? o.start() : s;
                if (o.end().length != 0 && (e.length == 0 || Arrays.compareUnsigned(e, o.end()) > 0)) {
                    e = o.end();
                }
            }
            for (Segment seg : segments(s, e)) {
                byte[] ns = seg.rule() == null ? seg.start() : replacePrefix(seg.start(), seg.rule());
                byte[] ne = seg.end();
                if (seg.rule() != null) {
                    ne = Arrays.equals(ne, Keys.prefixNext(seg.rule().oldPrefix())) ? Keys.prefixNext(seg.rule().newPrefix())
                            : replacePrefix(ne, seg.rule());
                }
                min = min == null || Arrays.compareUnsigned(ns, min) < 0 ? ns : min;
                if (ne.length == 0) {
                    unbounded = true;
                } else {
                    checkKeys.add(ne);
                    max = max == null || Arrays.compareUnsigned(ne, max) > 0 ? ne : max;
                }
            }
        }
        if (min == null) {
            return;
        }
        new RegionSplitter(pd, this::channel, o.raw(), o.backoffScale()).split(min, unbounded || max == null ? new byte[0] : max, checkKeys);
    }

    /** A piece of a file's range and the rule for it (null: keys restored as they are). */
    private record Segment(byte[] start, byte[] end, Rewrite rule) {}

    /**
     * Cuts {@code [s, e)} at the edges of every rule's old-prefix range {@code [old, next(old))}: the pieces
     * inside a rule are restored under its new prefix, the rest as they are (a file may hold keys of several
     * prefixes; TiKV rewrites only inside the range it is asked for).
     */
    private List<Segment> segments(byte[] s, byte[] e) {
        List<Segment> out = new ArrayList<>();
        byte[] cursor = s;
        List<Rewrite> rules = new ArrayList<>(o.rewrites());
        rules.sort((x, y) -> Arrays.compareUnsigned(x.oldPrefix(), y.oldPrefix()));
        for (Rewrite r : rules) {
            byte[] lo = r.oldPrefix();
            byte[] hi = Keys.prefixNext(lo);
            if (e.length != 0 && Arrays.compareUnsigned(lo, e) >= 0) {
                break;
            }
            if (hi.length != 0 && Arrays.compareUnsigned(hi, cursor) <= 0) {
                continue;
            }
            if (Arrays.compareUnsigned(cursor, lo) < 0) {
                out.add(new Segment(cursor, lo, null));
                cursor = lo;
            }
            byte[] segEnd = hi.length == 0 ? e : e.length == 0 ? hi : Arrays.compareUnsigned(hi, e) < 0 ? hi : e;
            out.add(new Segment(cursor, segEnd, r));
            cursor = segEnd;
            if (cursor.length == 0) {
                return out;
            }
        }
        if (e.length == 0 || Arrays.compareUnsigned(cursor, e) < 0) {
            out.add(new Segment(cursor, e, null));
        }
        return out;
    }


    private static byte[] replacePrefix(byte[] k, Rewrite r) {
        byte[] out = k.clone();
        System.arraycopy(r.newPrefix(), 0, out, 0, r.newPrefix().length);
        return out;
    }


    /** BR's {@code encodeKeyPrefix}: whole 8-byte groups memcomparable-encoded, the rest appended as is. */
    static byte[] encodeKeyPrefix(byte[] p) {
        int whole = p.length - p.length % 8;
        byte[] enc = BytesCodec.encode(Arrays.copyOf(p, whole));
        byte[] out = Arrays.copyOf(enc, whole / 8 * 9 + (p.length - whole));
        System.arraycopy(p, whole, out, whole / 8 * 9, p.length - whole);
        return out;
    }

    private byte[] regionKey(byte[] userKey) {
        return o.raw() || userKey.length == 0 ? userKey : BytesCodec.encode(userKey);
    }

    private void restoreRange(List<Brpb.File> group, Brpb.BackupMeta meta) {
        byte[] s = group.get(0).getStartKey().toByteArray();
        byte[] e = group.get(0).getEndKey().toByteArray();
        if (o.raw()) {
            s = Arrays.compareUnsigned(s, o.start()) < 0 ? o.start() : s;
            if (o.end().length != 0 && (e.length == 0 || Arrays.compareUnsigned(e, o.end()) > 0)) {
                e = o.end();
            }
        }
        for (Segment seg : segments(s, e)) {
            Rewrite rule = seg.rule();
            ImportSstpb.RewriteRule.Builder rr = ImportSstpb.RewriteRule.newBuilder();
            byte[] rs;
            byte[] re;
            if (rule == null) {
                rs = regionKey(seg.start());
                re = regionKey(seg.end());
            } else {
                byte[] newPrefix = o.raw() ? rule.newPrefix() : encodeKeyPrefix(rule.newPrefix());
                rr.setOldKeyPrefix(ByteString.copyFrom(o.raw() ? rule.oldPrefix() : encodeKeyPrefix(rule.oldPrefix())))
                        .setNewKeyPrefix(ByteString.copyFrom(newPrefix));
                rs = regionKey(replacePrefix(seg.start(), rule));
                if (seg.end().length != 0 && Keys.startsWith(seg.end(), rule.oldPrefix())) {
                    re = regionKey(replacePrefix(seg.end(), rule));
                } else if (o.raw()) {
                    // exclusive: the successor of the new prefix, which TiKV maps to the old prefix's successor
                    re = Keys.prefixNext(newPrefix);
                } else {
                    // BR's inclusive end for a whole prefix: the encoded new prefix followed by ten 0xFF
                    re = Arrays.copyOf(newPrefix, newPrefix.length + 10);
                    Arrays.fill(re, newPrefix.length, re.length, (byte) 0xFF);
                }
            }
            restoreSegment(group, meta, rs, re, rr.build());
            restored.add(RestoreChecksum.restoredRange(seg.start(), seg.end(), rule, cf(group.get(0))));
        }
    }

    /** The column family a raw file was backed up from (txn files: not used). */
    private static String cf(Brpb.File f) {
        return f.getCf().isEmpty() ? "default" : f.getCf();
    }

    /** Restores {@code group} into the regions over {@code [rs, re]} (region-key form). */
    private void restoreSegment(List<Brpb.File> group, Brpb.BackupMeta meta, byte[] rs, byte[] re, ImportSstpb.RewriteRule rule) {
        for (int attempt = 1; ; attempt++) {
            try {
                for (PdClient.RegionInfo region : pd.scanRegions(rs, re)) {
                    restoreRegion(group, meta, region, rs, re, rule);
                }
                return;
            } catch (RetryException ex) {
                retriedCount.incrementAndGet();
                if (attempt >= INGEST_ATTEMPTS) {
                    throw new BrException("restore of range [" + BrBackup.hex(rs) + ", " + BrBackup.hex(re) + ") failed after " + attempt
                            + " attempts: " + ex.getMessage());
                }
                sleep(Math.min(10_000, 40L << Math.min(attempt - 1, 8)));
            }
        }
    }

    /** A region-level failure that a fresh look at the regions may fix. */
    private static final class RetryException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        RetryException(String m) {
            super(m, null, false, false);
        }
    }

    /** One region's part of a segment: clip, download on every peer, ingest on the leader. */
    private void restoreRegion(List<Brpb.File> group, Brpb.BackupMeta meta, PdClient.RegionInfo region, byte[] rs, byte[] re,
                               ImportSstpb.RewriteRule rule) {
        if (region.leader() == null) {
            throw new RetryException("region " + region.region().getId() + " has no leader");
        }
        byte[][] range = clip(region.region(), rs, re);
        List<ImportSstpb.SSTMeta> metas = new ArrayList<>();
        for (Brpb.File f : group) {
            ImportSstpb.SSTMeta sst = sstMeta(f, meta, region.region(), range[0], range[1]);
            if (downloadOnPeers(f, sst, region, rule)) {
                metas.add(sst);
            }
        }
        if (metas.isEmpty()) {
            return;
        }
        if (multiIngest) {
            ingests.incrementAndGet();
            ingest(region, metas);
            return;
        }
        for (ImportSstpb.SSTMeta m : metas) {
            ingests.incrementAndGet();
            ingest(region, List.of(m));
        }
    }

    /** {@code [rs, re]} cut to the region's own range (region-key form; empty = unbounded). */
    private static byte[][] clip(Metapb.Region r, byte[] rs, byte[] re) {
        byte[] regionStart = r.getStartKey().toByteArray();
        byte[] regionEnd = r.getEndKey().toByteArray();
        byte[] start = Arrays.compareUnsigned(rs, regionStart) >= 0 ? rs : regionStart;
        byte[] end;
        if (re.length == 0) {
            end = regionEnd;
        } else if (regionEnd.length == 0) {
            end = re;
        } else {
            end = Arrays.compareUnsigned(re, regionEnd) <= 0 ? re : regionEnd;
        }
        return new byte[][] {start, end};
    }

    /** The SST as the region's stores will know it: a fresh uuid per download, as BR does. */
    private ImportSstpb.SSTMeta sstMeta(Brpb.File f, Brpb.BackupMeta meta, Metapb.Region r, byte[] start, byte[] end) {
        byte[] uuid = new byte[16];
        RANDOM.nextBytes(uuid);
        return ImportSstpb.SSTMeta.newBuilder()
                .setUuid(ByteString.copyFrom(uuid))
                .setRange(ImportSstpb.Range.newBuilder().setStart(ByteString.copyFrom(start)).setEnd(ByteString.copyFrom(end)))
                .setEndKeyExclusive(o.raw())
                .setLength(f.getSize())
                .setCfName(f.getName().contains("write") ? "write" : f.getCf().isEmpty() ? "default" : f.getCf())
                .setRegionId(r.getId())
                .setRegionEpoch(r.getRegionEpoch())
                .setCipherIv(f.getCipherIv())
                .setApiVersionValue(meta.getApiVersionValue())
                .build();
    }

    /**
     * Downloads {@code f} on every peer's store at once, as BR sends to all peers concurrently; true when the
     * leader's copy holds keys (an empty one is not ingested).
     */
    private boolean downloadOnPeers(Brpb.File f, ImportSstpb.SSTMeta sst, PdClient.RegionInfo region, ImportSstpb.RewriteRule rule) {
        ImportSstpb.DownloadRequest.Builder req = ImportSstpb.DownloadRequest.newBuilder()
                .setSst(sst).setName(f.getName()).setRewriteRule(rule).setStorageBackend(o.storage().backend()).setIsRawKv(o.raw());
        if (o.cipher() != null) {
            req.setCipherInfo(o.cipher());
        }
        ImportSstpb.DownloadRequest dr = req.build();
        Metapb.Region r = region.region();
        List<Callable<ImportSstpb.DownloadResponse>> onPeers = new ArrayList<>();
        for (Metapb.Peer p : r.getPeersList()) {
            onPeers.add(() -> download(p.getStoreId(), dr));
        }
        List<ImportSstpb.DownloadResponse> answers = all(peers, onPeers);
        boolean empty = false;
        for (int i = 0; i < answers.size(); i++) {
            if (r.getPeers(i).getStoreId() == region.leader().getStoreId()) {
                empty = answers.get(i).getIsEmpty();
            }
        }
        return !empty;
    }

    /**
     * {@code MultiIngest} (or, when a store lacks it, {@code Ingest} of the one file) on the leader, as BR 5.4's
     * {@code FileImporter.Import} (pingcap/br {@code pkg/restore/import.go}; which errors are retried:
     * {@code pkg/restore/backoff.go} {@code importerBackoffer.NextBackoff}):
     * <ul>
     *   <li>NotLeader: the hinted leader, else PD's (slow path; a region whose epoch changed meanwhile is
     *       EpochNotMatch, {@code checkRegionEpoch}). BR follows NotLeader without end; here after
     *       {@link #INGEST_ATTEMPTS} answers the restore fails with {@code ErrKVIngestFailed};
     *   <li>EpochNotMatch, and every region error but KeyNotInRegion ({@code ErrKVIngestFailed}: ServerIsBusy,
     *       RegionNotFound, StaleCommand, DiskFull, a bare message, ...): {@link RetryException}, a fresh look at
     *       the regions;
     *   <li>KeyNotInRegion: fails at once ({@code ErrKVKeyNotInRegion} is not among BR's retryable errors);
     *   <li>a failed call: UNAVAILABLE, ABORTED or a message with one of BR's retryable phrases:
     *       {@link RetryException}; any other status ends the restore at once (BR's "unexcepted error, stop to
     *       retry").
     * </ul>
     */
    private void ingest(PdClient.RegionInfo region, List<ImportSstpb.SSTMeta> metas) {
        Metapb.Region r = region.region();
        Metapb.Peer leader = region.leader();
        String method = multiIngest ? "MultiIngest" : "Ingest";
        for (int attempt = 1; ; attempt++) {
            Kvrpcpb.Context ctx = Kvrpcpb.Context.newBuilder().setRegionId(r.getId()).setRegionEpoch(r.getRegionEpoch()).setPeer(leader).build();
            ImportSstpb.IngestResponse resp;
            try {
                resp = multiIngest
                        ? importer(leader.getStoreId()).multiIngest(ImportSstpb.MultiIngestRequest.newBuilder().setContext(ctx).addAllSsts(metas).build())
                        : importer(leader.getStoreId()).ingest(ImportSstpb.IngestRequest.newBuilder().setContext(ctx).setSst(metas.get(0)).build());
            } catch (StatusRuntimeException ex) {
                String text = method + " on store " + leader.getStoreId() + ": " + BrErrors.oneLine(ex.getStatus());
                if (!retryableStatus(ex.getStatus(), text)) {
                    throw new BrException(text);
                }
                throw new RetryException(text);
            }
            if (!resp.hasError()) {
                return;
            }
            Errorpb.Error err = resp.getError();
            if (err.hasNotLeader()) {
                if (attempt >= INGEST_ATTEMPTS) {
                    throw new BrException("[BR:KV:ErrKVIngestFailed]ingest failed on store " + leader.getStoreId() + " region " + r.getId()
                            + ": no leader after " + attempt + " attempts: " + err.getMessage());
                }
                retriedCount.incrementAndGet();
                Metapb.Peer hinted = err.getNotLeader().hasLeader() ? err.getNotLeader().getLeader() : null;
                if (hinted == null) {
                    PdClient.RegionInfo fresh = pd.regionById(r.getId());
                    if (fresh != null && !fresh.region().getRegionEpoch().equals(r.getRegionEpoch())) {
                        throw new RetryException("[BR:KV:ErrKVEpochNotMatch]epoch not match: region " + r.getId() + " changed while its leader moved");
                    }
                    hinted = fresh == null ? null : fresh.leader();
                }
                if (hinted == null) {
                    throw new RetryException("region " + r.getId() + ": no leader known");
                }
                leader = hinted;
                continue;
            }
            if (err.hasEpochNotMatch()) {
                throw new RetryException("[BR:KV:ErrKVEpochNotMatch]epoch not match: " + err.getMessage());
            }
            if (err.hasKeyNotInRegion()) {
                throw new BrException("[BR:KV:ErrKVKeyNotInRegion]key not in region: store " + leader.getStoreId() + " region " + r.getId()
                        + ": " + err.getMessage());
            }
            throw new RetryException("[BR:KV:ErrKVIngestFailed]ingest failed on store " + leader.getStoreId() + " region " + r.getId() + ": "
                    + err.getMessage());
        }
    }

    private ImportSstpb.DownloadResponse download(long storeId, ImportSstpb.DownloadRequest req) {
        String last = null;
        for (int attempt = 1; attempt <= DOWNLOAD_ATTEMPTS; attempt++) {
            try {
                ImportSstpb.DownloadResponse resp = importer(storeId).download(req);
                if (!resp.hasError()) {
                    return resp;
                }
                last = resp.getError().getMessage();
                if (BrErrors.classifyDownload(last).verdict() == BrErrors.Verdict.GIVE_UP) {
                    break;
                }
            } catch (StatusRuntimeException e) {
                last = BrErrors.oneLine(e.getStatus());
                if (!retryableStatus(e.getStatus(), last)) {
                    break;
                }
            }
            retriedCount.incrementAndGet();
            sleep(Math.min(4000, 1000L << (attempt - 1)));
        }
        throw new BrException("[BR:KV:ErrKVDownloadFailed]download " + req.getName() + " on store " + storeId + " failed: " + last);
    }

    /**
     * Whether BR retries a failed Download or ingest call ({@code importerBackoffer.NextBackoff}, pingcap/br
     * {@code pkg/restore/backoff.go}): UNAVAILABLE and ABORTED, or a message with one of BR's retryable phrases;
     * any other status ends the restore at once.
     */
    static boolean retryableStatus(Status status, String text) {
        if (status.getCode() == Status.Code.UNAVAILABLE || status.getCode() == Status.Code.ABORTED) {
            return true;
        }
        return BrErrors.isRetryableServerError(text);
    }

    private void sleep(long ms) {
        Backoff.sleep(ms, o.backoffScale());
    }
}
