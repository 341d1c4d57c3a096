package dev.faketikv.server.importer;

import dev.faketikv.engine.Cf;
import dev.faketikv.engine.Engine;
import dev.faketikv.engine.EngineException;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.mvcc.Write;
import dev.faketikv.engine.sst.SstCompression;
import dev.faketikv.engine.sst.SstFileBuilder;
import dev.faketikv.engine.sst.SstFileScanner;
import dev.faketikv.server.backup.EncrypterException;
import dev.faketikv.server.backup.Endpoint;
import dev.faketikv.server.backup.SaveFileWorker;
import dev.faketikv.server.metrics.ImportMetrics;
import dev.faketikv.server.storage.ExternalStorage;
import dev.faketikv.server.storage.Limiter;
import dev.faketikv.server.storage.StorageException;
import dev.faketikv.engine.mvcc.MvccException;
import io.grpc.Context;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import org.tikv.kvproto.Brpb.CipherInfo;
import org.tikv.kvproto.Brpb.StorageBackend;
import org.tikv.kvproto.ImportSstpb.RewriteRule;
import org.tikv.kvproto.ImportSstpb.SSTMeta;
import org.tikv.kvproto.ImportSstpb.SwitchMode;
import org.rocksdb.RocksDBException;

/**
 * One store's SST importer: TiKV's {@code SSTImporter} ({@code components/sst_importer/src/sst_importer.rs},
 * v5.4.0) with the import-mode switch of {@code import_mode.rs}.
 *
 * <p><b>Download</b> reads the backup file {@code name} from the request's storage backend into a temp
 * file (at most the speed limit set by {@code SetDownloadSpeedLimit}), decrypts it when {@code cipher_info}
 * says so (AES-CTR with {@code SSTMeta.cipher_iv}), refuses it when {@code SSTMeta.length} is non-zero and
 * differs ("downloaded size X, expected Y"), opens it as a RocksDB SST (block checksums verified), and
 * writes a staged SST holding every key that, after the prefix rewrite
 * {@code new_key_prefix + key[len(old_key_prefix)..]} on the origin key (the data key without {@code z},
 * memcomparable-encoded with its 8-byte ts for txn data, the raw key for raw data), lies in
 * {@code SSTMeta.range} (inclusive end unless {@code end_key_exclusive}; empty = unbounded). As in TiKV the
 * range is mapped back to the old prefix first ({@link #oldRange}) and keys outside it are skipped; a key
 * inside it without the old prefix fails the download ({@code WrongKeyPrefix}), as does a range bound
 * without the new prefix; {@code new_timestamp} replaces the ts of txn keys and the {@code start_ts} of write
 * records. Nothing left ⇒ {@code is_empty}.
 *
 * <p><b>Staging</b>: {@code <import dir>/<uuid hex>_<region>_<conf_ver>_<version>_<cf>.sst}, as TiKV names
 * them; the importer remembers each staged file's first and last data key. The import dir is emptied at
 * start (staged files do not survive a restart here); a staged file that is never ingested stays until
 * then (TiKV's SST cleaner, which drops stale-epoch files, is not modelled).
 *
 * <p><b>Ingest</b> moves staged files into the engine ({@link Engine#ingest}), default CF before write CF
 * so a reader never sees a write record whose value is missing. Region checks are the service's.
 *
 * <p><b>cf_name</b>: an empty {@code SSTMeta.cf_name} downloads into the default CF, as TiKV's
 * {@code name_to_cf("")} does ({@code sst_importer.rs:378-384}); the staged name keeps the cf as given
 * ({@code import_file.rs:406-418}: {@code ..._.sst}). Download accepts {@code lock}; ingest refuses it (the
 * service's apply check).
 *
 * <p><b>Import mode</b> reverts to normal by itself {@code import.import-mode-timeout} (TiKV: 10 min) after
 * the last switch into import mode, as TiKV's {@code ImportModeSwitcher} does
 * ({@code components/sst_importer/src/import_mode.rs:76-131}: {@code enter_import_mode} pushes
 * {@code next_check} to now + timeout, and a timer puts the engine back into normal mode once it is passed).
 * Here the revert is applied when the mode is next read ({@link #mode}), which nothing can tell apart.
 *
 * <p><b>Metrics</b> ({@link ImportMetrics}) where TiKV observes them: {@code download_bytes} = {@code SSTMeta.length}
 * before the read's result is known ({@code sst_importer.rs:246}); {@code download_duration} {@code read}
 * after a successful fetch (:259-261), {@code rename} when TiKV would move the file as is (no prefix change,
 * no new timestamp, every key inside the range: :312-363; fake-tikv still rewrites it), else
 * {@code rewrite} after the key loop (:436-438) and {@code finish} when a key was written (:443-445); the
 * ingest triple after a successful ingest of a batch ({@code import_file.rs:366-370}), bytes being RocksDB's
 * {@code raw_key_size + raw_value_size} (internal keys: user key + 8).
 *
 * <p><b>Bounds (stricter than TiKV on purpose: a fake must not be a way to fill a host's disk or read its
 * files).</b>
 * <ul>
 *   <li>The copy stops as soon as it has read one byte more than {@code SSTMeta.length} ("downloaded size at
 *       least N, expected M"); TiKV reads the whole object and compares only at EOF
 *       ({@code components/external_storage/src/lib.rs:159-197}). A length of 0 means unchecked in TiKV; here
 *       it is capped at {@link Limits#unsizedDownloadCap} (1 GiB by default: BR always sends the file's size,
 *       {@code pkg/restore/util.go:136}, so only hand-made requests send 0).
 *   <li>The copy and the rewrite stop when the call is cancelled or its deadline passes (checked at every
 *       read and every 1,024 keys), and the temp and half-written staged files are deleted. TiKV runs a
 *       download to its end after the client left: its own {@code FIXME: download() should be an async fn,
 *       to allow BR to cancel a download task} ({@code src/import/sst_service.rs:396-399}).
 *   <li>A rewrite prefix (old or new) longer than {@link Limits#maxPrefixLength} (256 bytes) is refused before
 *       anything is read. TiKV has no such rule ({@code sst_importer.rs}), but no real rule comes near it: BR
 *       sends memcomparable-encoded {@code t{table id}} (10 bytes) and {@code t{table id}_i{index id}} (21
 *       bytes) prefixes ({@code pkg/restore/import.go:453-456}).
 *   <li>Each rewritten key grows by at most {@code g = max(0, |new prefix| - |old prefix|)} bytes, and a
 *       write record by at most 10 more when {@code new_timestamp} re-encodes its {@code start_ts} varint, so
 *       the staged logical size is at most the original's plus {@code entries × g} ({@code entries} from the
 *       SST's table properties). The download is refused before writing when {@code entries × g} exceeds
 *       {@code max(}{@link Limits#minGrowthCap}{@code , downloaded length)} — the rewrite may add as many
 *       bytes as the file has, or 64 MiB, whichever is more.
 *   <li>Error messages carry no byte of a file that is not a verified SST: RocksDB's text for a file that
 *       does not open (e.g. "Bad table magic number: … found &lt;the file's last 8 bytes&gt;") is replaced by
 *       its status code. Keys of an SST that passed its block checksums appear in {@code WrongKeyPrefix} as in
 *       TiKV. Which files can be read at all is {@link dev.faketikv.server.storage.LocalStorage}'s rule.
 * </ul>
 *
 * <p>Thread-safe: downloads run in parallel; ingests are serialised by one lock per store (TiKV's ingest
 * latch). One MultiIngest ingests file by file, so a failure part-way leaves the earlier files ingested.
 */
public final class SstImporter {
    /**
     * A staged SST: where, which CF, its first and last data keys, the meta it was downloaded for, and its
     * raw key + value bytes as RocksDB's table properties count them (what {@code tikv_import_ingest_bytes} adds).
     */
    public record Staged(Path path, Cf cf, byte[] firstKey, byte[] lastKey, SSTMeta meta, long rawBytes) {}

    /** What Download produced: the range of the staged keys (origin form), or empty. */
    public record Downloaded(boolean empty, byte[] first, byte[] last, long length) {}

    /**
     * The bounds a download is held to (see the class doc for the rules and why).
     *
     * @param unsizedDownloadCap bytes a download with {@code SSTMeta.length == 0} may read
     * @param maxPrefixLength    longest old or new rewrite prefix accepted
     * @param minGrowthCap       bytes a rewrite may always add (the cap is this or the file's length, the larger)
     */
    public record Limits(long unsizedDownloadCap, int maxPrefixLength, long minGrowthCap) {
        public static Limits defaults() {
            return new Limits(1L << 30, 256, 64L << 20);
        }
    }

    /**
     * How a store's importer is set up beyond its identity.
     *
     * @param limits            the download bounds
     * @param importModeTimeout TiKV's {@code import.import-mode-timeout}: import mode reverts after this
     * @param metrics           where the importer's series go
     * @param nanoClock         monotonic nanoseconds (tests pass a hand-moved clock)
     */
    public record Settings(Limits limits, Duration importModeTimeout, ImportMetrics metrics, LongSupplier nanoClock) {
        /** TiKV's defaults (10 min import-mode timeout), unregistered metrics, the system clock. */
        public static Settings defaults() {
            return new Settings(Limits.defaults(), Duration.ofMinutes(10), ImportMetrics.unregistered(), System::nanoTime);
        }

        public Settings withLimits(Limits l) {
            return new Settings(l, importModeTimeout, metrics, nanoClock);
        }

        public Settings withImportModeTimeout(Duration d) {
            return new Settings(limits, d, metrics, nanoClock);
        }

        public Settings withMetrics(ImportMetrics m) {
            return new Settings(limits, importModeTimeout, m, nanoClock);
        }

        public Settings withClock(LongSupplier clock) {
            return new Settings(limits, importModeTimeout, metrics, clock);
        }
    }

    /** Extra bytes a rewritten write record may need: a re-encoded {@code start_ts} varint (≤ 10 bytes). */
    private static final int WRITE_TS_GROWTH = 10;
    /** Keys between two cancellation checks in the rewrite loop. */
    private static final int CANCEL_CHECK_KEYS = 1024;
    private static final int COPY_BUFFER = 64 << 10;

    /** A download that failed: the message goes into {@code DownloadResponse.error.message}. */
    public static final class ImportException extends Exception {
        private static final long serialVersionUID = 1L;

        public ImportException(String message) {
            super(message, null, false, false);
        }
    }

    private final long storeId;
    private final Path dir;
    private final Engine engine;
    private final Endpoint.StorageFactory storages;
    private final Map<String, Staged> staged = new ConcurrentHashMap<>();
    private final AtomicReference<SwitchMode> mode = new AtomicReference<>(SwitchMode.Normal);
    /** {@code next_check} of TiKV's switcher: past it, import mode has reverted to normal. */
    private volatile long importModeUntil;
    /** One limiter for every download of this store, replaced by {@link #setSpeedLimit}; null = unlimited. */
    private final AtomicReference<Limiter> limiter = new AtomicReference<>();
    private final Object ingestLatch = new Object();
    private boolean closed;
    private final AtomicLong tempSeq = new AtomicLong();
    private final Limits limits;
    private final Settings settings;
    private final ImportMetrics metrics;

    public SstImporter(long storeId, Path dir, Engine engine, Endpoint.StorageFactory storages) throws IOException {
        this(storeId, dir, engine, storages, Settings.defaults());
    }

    public SstImporter(long storeId, Path dir, Engine engine, Endpoint.StorageFactory storages, Limits limits) throws IOException {
        this(storeId, dir, engine, storages, Settings.defaults().withLimits(limits));
    }

    public SstImporter(long storeId, Path dir, Engine engine, Endpoint.StorageFactory storages, Settings settings) throws IOException {
        this.settings = settings;
        this.limits = settings.limits();
        this.metrics = settings.metrics();
        this.storeId = storeId;
        this.dir = dir;
        this.engine = engine;
        this.storages = storages;
        Files.createDirectories(dir);
        try (var s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }

    public long storeId() {
        return storeId;
    }

    /** The current mode: import mode reverts to normal once the timeout since the last switch into it passed. */
    public SwitchMode mode() {
        if (mode.get() == SwitchMode.Import && settings.nanoClock().getAsLong() - importModeUntil >= 0) {
            // TiKV's timer: enter_normal_mode once now >= next_check (import_mode.rs:96-108)
            mode.compareAndSet(SwitchMode.Import, SwitchMode.Normal);
        }
        return mode.get();
    }

    /** {@code SwitchMode}; switching into import mode (again) restarts the timeout, as {@code enter_import_mode} does. */
    public void switchMode(SwitchMode m) {
        if (m == SwitchMode.Import) {
            importModeUntil = settings.nanoClock().getAsLong() + settings.importModeTimeout().toNanos();
        }
        mode.set(m);
    }

    /** Where this importer's metrics go (the service observes the RPC series there too). */
    public ImportMetrics metrics() {
        return metrics;
    }

    /** Bytes per second for later downloads; 0 = unlimited (TiKV's {@code SetDownloadSpeedLimit}). */
    public void setSpeedLimit(long bytesPerSecond) {
        limiter.set(bytesPerSecond <= 0 ? null : new Limiter(bytesPerSecond, System::nanoTime));
    }

    /**
     * {@code in} throttled by the store's current limiter, shared by all downloads as TiKV's is: a new limit
     * applies to downloads already running, from their next read.
     */
    private InputStream throttled(InputStream in, BooleanSupplier cancelled) {
        return Limiter.throttled(in, limiter::get, cancelled);
    }

    public long speedLimit() {
        Limiter l = limiter.get();
        return l == null ? 0 : (long) l.bytesPerSecond();
    }

    /** Staged files, by uuid hex. */
    public Map<String, Staged> staged() {
        return Map.copyOf(staged);
    }

    public Staged staged(byte[] uuid) {
        return staged.get(HexFormat.of().formatHex(uuid));
    }

    /** No ingest runs after this returns (the store closes its engine next). */
    public void close() {
        synchronized (ingestLatch) {
            closed = true;
        }
    }

    /** Drops the staged copy of {@code uuid}, if any (a follower once the leader ingested it). */
    public void discard(byte[] uuid) {
        Staged s = staged.remove(HexFormat.of().formatHex(uuid));
        if (s != null) {
            try {
                Files.deleteIfExists(s.path());
            } catch (IOException ignored) {
                // the import dir is emptied at start anyway
            }
        }
    }

    /**
     * TiKV's {@code SSTImporter::download}, stopped when the calling gRPC call is cancelled or past its
     * deadline ({@link Context#current()} of the calling thread).
     */
    public Downloaded download(SSTMeta meta, String name, RewriteRule rule, StorageBackend backend, boolean rawKv,
                               CipherInfo cipher) throws ImportException {
        Context call = Context.current();
        return download(meta, name, rule, backend, rawKv, cipher, call::isCancelled);
    }

    /** {@link #download}, stopped once {@code cancelled} turns true (checked at every read and every 1,024 keys). */
    public Downloaded download(SSTMeta meta, String name, RewriteRule rule, StorageBackend backend, boolean rawKv,
                               CipherInfo cipher, BooleanSupplier cancelled) throws ImportException {
        if (meta.getUuid().size() != 16) {
            throw new ImportException("invalid SST meta: uuid must be 16 bytes, got " + meta.getUuid().size());
        }
        if (name.isEmpty() || name.contains("/..") || name.startsWith("..") || name.indexOf('\0') >= 0) {
            throw new ImportException("invalid file name \"" + name + "\"");
        }
        Cf cf = cfOf(meta.getCfName());
        if (!rawKv && rule.getNewTimestamp() != 0 && cf != Cf.DEFAULT && cf != Cf.WRITE) {
            throw new ImportException("new_timestamp applies to default and write SSTs only");
        }
        checkPrefix("old_key_prefix", rule.getOldKeyPrefix().size());
        checkPrefix("new_key_prefix", rule.getNewKeyPrefix().size());
        String uuid = HexFormat.of().formatHex(meta.getUuid().toByteArray());
        Path temp = dir.resolve(".download-" + uuid + "-" + tempSeq.incrementAndGet());
        Path out = dir.resolve(uuid + "_" + meta.getRegionId() + "_" + meta.getRegionEpoch().getConfVer() + "_"
                + meta.getRegionEpoch().getVersion() + "_" + meta.getCfName() + ".sst");
        try {
            long t0 = settings.nanoClock().getAsLong();
            long length;
            try {
                length = fetch(name, backend, cipher, meta.getCipherIv().toByteArray(), temp, meta.getLength(), cancelled);
            } finally {
                // TiKV observes the length asked for, before it knows whether the read worked (sst_importer.rs:246)
                metrics.observeDownloadBytes(meta.getLength());
            }
            if (meta.getLength() != 0 && length != meta.getLength()) {
                throw invalidData("downloaded size " + length + ", expected " + meta.getLength());
            }
            metrics.observeDownload("read", since(t0));
            return rewrite(temp, length, out, cf, meta, rule, rawKv, cancelled);
        } finally {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException ignored) {
                // best effort
            }
        }
    }

    private Duration since(long t0) {
        return Duration.ofNanos(Math.max(0, settings.nanoClock().getAsLong() - t0));
    }

    private void checkPrefix(String which, int length) throws ImportException {
        if (length > limits.maxPrefixLength()) {
            throw new ImportException("rewrite rule " + which + " of " + length + " bytes is longer than the "
                    + limits.maxPrefixLength() + " bytes fake-tikv accepts (BR's prefixes are at most 21 bytes)");
        }
    }

    private static ImportException invalidData(String what) {
        return new ImportException("Io(Custom { kind: InvalidData, error: " + StorageException.quote(what) + " })");
    }

    private static ImportException cancelledError() {
        return new ImportException("Io(Custom { kind: Interrupted, error: \"download cancelled: the call was cancelled "
                + "or its deadline passed\" })");
    }

    /** TiKV's {@code name_to_cf}: "" is the default CF. */
    private static Cf cfOf(String cfName) throws ImportException {
        String n = cfName.isEmpty() ? "default" : cfName;
        for (Cf cf : List.of(Cf.DEFAULT, Cf.WRITE, Cf.LOCK)) {
            if (cf.cfName().equals(n)) {
                return cf;
            }
        }
        throw new ImportException("InvalidCf { cf: \"" + n + "\" }");
    }

    /**
     * Copies {@code name} into {@code temp}, reading at most {@code expected + 1} bytes (the unsized cap when
     * {@code expected} is 0) and checking {@code cancelled} before every read.
     */
    private long fetch(String name, StorageBackend backend, CipherInfo cipher, byte[] iv, Path temp, long expected,
                       BooleanSupplier cancelled) throws ImportException {
        ExternalStorage storage;
        try {
            storage = storages.create(backend);
        } catch (StorageException e) {
            throw new ImportException(e.debug());
        }
        long cap = expected != 0 ? expected : limits.unsizedDownloadCap();
        try (storage;
             InputStream raw = storage.read(name);
             InputStream limited = throttled(raw, cancelled);
             InputStream in = decrypter(limited, cipher, iv);
             OutputStream o = Files.newOutputStream(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            byte[] buf = new byte[COPY_BUFFER];
            long total = 0;
            while (true) {
                if (cancelled.getAsBoolean()) {
                    throw cancelledError();
                }
                int n = in.read(buf, 0, (int) Math.min(buf.length, cap + 1 - total));
                if (n < 0) {
                    return total;
                }
                o.write(buf, 0, n);
                total += n;
                if (total > cap) {
                    throw invalidData(expected != 0
                            ? "downloaded size at least " + total + ", expected " + expected + " (stopped there)"
                            : "downloaded size at least " + total + ", over the " + cap + " bytes fake-tikv reads when SSTMeta.length is 0");
                }
            }
        } catch (InterruptedIOException e) {
            throw cancelledError();
        } catch (StorageException e) {
            throw new ImportException(notFound(e) ? notFoundText(name) : e.debug() + ": " + name);
        } catch (IOException e) {
            if (notFound(e)) {
                throw new ImportException(notFoundText(name));
            }
            throw new ImportException("Io(" + e.getMessage() + "): " + name);
        }
    }

    private static boolean notFound(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof NoSuchFileException || t instanceof FileNotFoundException) {
                return true;
            }
        }
        return false;
    }

    private static String notFoundText(String name) {
        return "Io(Os { code: 2, kind: NotFound, message: \"No such file or directory\" }): " + name;
    }

    private static InputStream decrypter(InputStream in, CipherInfo cipher, byte[] iv) throws ImportException {
        if (cipher == null || cipher.getCipherType() == org.tikv.kvproto.Encryptionpb.EncryptionMethod.PLAINTEXT
                || cipher.getCipherType() == org.tikv.kvproto.Encryptionpb.EncryptionMethod.UNKNOWN) {
            return in;
        }
        if (iv.length != 16) {
            throw new ImportException("cipher_iv must be 16 bytes for " + cipher.getCipherType() + ", got " + iv.length);
        }
        try {
            return SaveFileWorker.encrypter(in, cipher, iv);
        } catch (EncrypterException e) {
            throw new ImportException(e.getMessage());
        }
    }

    /**
     * The range, mapped back into the SST's own (old-prefix) key space exactly as TiKV's
     * {@code rewrite_prefix_of_start_bound} / {@code rewrite_prefix_of_end_bound}
     * ({@code components/keys/src/rewrite.rs}) map it: a bound must start with the new prefix, except an
     * exclusive end that is exactly the new prefix's successor (→ the old prefix's successor); an empty bound
     * is unbounded, or — with an empty new prefix — the old prefix / its successor. Anything else is
     * {@code WrongKeyPrefix} ("SST start range" / "SST end range").
     */
    record OldRange(byte[] start, byte[] end, boolean endExclusive) {
        boolean before(byte[] key) {
            return start.length != 0 && Keys.compare(key, start) < 0;
        }

        boolean after(byte[] key) {
            if (end.length == 0) {
                return false;
            }
            int c = Keys.compare(key, end);
            return c > 0 || (c == 0 && endExclusive);
        }
    }

    static OldRange oldRange(byte[] start, byte[] end, boolean endExclusive, byte[] oldPrefix, byte[] newPrefix) throws ImportException {
        byte[] s;
        if (start.length == 0) {
            s = newPrefix.length == 0 ? oldPrefix : new byte[0];
        } else if (Keys.startsWith(start, newPrefix)) {
            s = replace(start, newPrefix, oldPrefix);
        } else {
            throw new ImportException("WrongKeyPrefix: SST start range " + Keys.hex(start) + " does not start with the new prefix "
                    + Keys.hex(newPrefix));
        }
        if (end.length == 0) {
            return newPrefix.length == 0 ? new OldRange(s, Keys.prefixNext(oldPrefix), true) : new OldRange(s, new byte[0], true);
        }
        if (Keys.startsWith(end, newPrefix)) {
            return new OldRange(s, replace(end, newPrefix, oldPrefix), endExclusive);
        }
        if (endExclusive && Arrays.equals(end, Keys.prefixNext(newPrefix))) {
            return new OldRange(s, Keys.prefixNext(oldPrefix), true);
        }
        throw new ImportException("WrongKeyPrefix: SST end range " + Keys.hex(end) + " does not start with the new prefix "
                + Keys.hex(newPrefix));
    }

    private static byte[] replace(byte[] key, byte[] from, byte[] to) {
        byte[] out = new byte[to.length + key.length - from.length];
        System.arraycopy(to, 0, out, 0, to.length);
        System.arraycopy(key, from.length, out, to.length, key.length - from.length);
        return out;
    }


    private Downloaded rewrite(Path temp, long length, Path out, Cf cf, SSTMeta meta, RewriteRule rule, boolean rawKv,
                               BooleanSupplier cancelled) throws ImportException {
        byte[] oldPrefix = rule.getOldKeyPrefix().toByteArray();
        byte[] newPrefix = rule.getNewKeyPrefix().toByteArray();
        long newTs = rule.getNewTimestamp();
        OldRange range = oldRange(meta.getRange().getStart().toByteArray(), meta.getRange().getEnd().toByteArray(),
                meta.getEndKeyExclusive(), oldPrefix, newPrefix);
        try (SstFileScanner in = openSst(temp)) {
            checkGrowth(in.entries(), oldPrefix.length, newPrefix.length, newTs != 0 && !rawKv && cf == Cf.WRITE, length);
            try (SstFileBuilder b = new SstFileBuilder(out, SstCompression.LZ4, 0)) {
                return rewrite(in, b, cf, meta, range, oldPrefix, newPrefix, newTs, rawKv, cancelled);
            }
        } catch (EngineException e) {
            throw new ImportException("Engine(" + e.getMessage() + ")");
        }
    }

    /** Refuses a rewrite whose worst-case growth, {@code entries × per-key growth}, is over the cap. */
    private void checkGrowth(long entries, int oldLen, int newLen, boolean writeTs, long length) throws ImportException {
        long perKey = Math.max(0, newLen - oldLen) + (writeTs ? WRITE_TS_GROWTH : 0);
        if (perKey == 0) {
            return;
        }
        long cap = Math.max(limits.minGrowthCap(), length);
        if (entries > cap / perKey) {
            throw new ImportException("rewrite rule would grow the SST by up to " + entries + " keys × " + perKey
                    + " bytes, over the " + cap + " bytes fake-tikv allows (max(" + limits.minGrowthCap() + ", file length))");
        }
    }

    private Downloaded rewrite(SstFileScanner in, SstFileBuilder b, Cf cf, SSTMeta meta, OldRange range, byte[] oldPrefix,
                               byte[] newPrefix, long newTs, boolean rawKv, BooleanSupplier cancelled) throws ImportException {
        byte[] first = null;
        byte[] last = null;
        long written = 0;
        long seen = 0;
        long rawBytes = 0;
        // TiKV moves the file as is when nothing changes and every key is in the range (sst_importer.rs:312-363)
        boolean asIs = newTs == 0 && Arrays.equals(oldPrefix, newPrefix);
        long t0 = settings.nanoClock().getAsLong();
        try {
            for (; in.valid(); in.next()) {
                if (++seen % CANCEL_CHECK_KEYS == 0 && cancelled.getAsBoolean()) {
                    throw cancelledError();
                }
                byte[] dataKey = in.key();
                if (dataKey.length == 0 || dataKey[0] != Keys.DATA_PREFIX) {
                    throw new ImportException("Key in SST " + Keys.hex(dataKey) + " is not a data key (no 'z' prefix)");
                }
                byte[] origin = Arrays.copyOfRange(dataKey, 1, dataKey.length);
                // the range first (TiKV seeks to its start and stops past its end), then the prefix
                if (range.before(origin)) {
                    asIs = false;
                    continue;
                }
                if (range.after(origin)) {
                    asIs = false;
                    break;
                }
                if (!Keys.startsWith(origin, oldPrefix)) {
                    throw new ImportException("WrongKeyPrefix: Key in SST " + Keys.hex(origin) + " does not start with the old prefix "
                            + Keys.hex(oldPrefix));
                }
                byte[] key = replace(origin, oldPrefix, newPrefix);
                byte[] value = in.value();
                if (newTs != 0 && !rawKv) {
                    if (key.length < Keys.TS_LEN) {
                        throw new ImportException("Key in SST " + Keys.hex(origin) + " has no timestamp");
                    }
                    key = Keys.appendTs(Keys.truncateTs(key), newTs);
                    if (cf == Cf.WRITE) {
                        Write w = Write.parse(value);
                        value = new Write(w.type(), newTs, w.shortValue(), w.hasOverlappedRollback(), w.gcFence()).toBytes();
                    }
                }
                if (last != null && Keys.compare(key, last) <= 0) {
                    throw new ImportException("rewrite rule changes the order of keys: " + Keys.hex(key) + " after " + Keys.hex(last));
                }
                byte[] data = Keys.dataKey(key);
                b.put(data, value);
                // RocksDB's raw_key_size counts internal keys: the user key and its 8-byte sequence/type
                rawBytes += data.length + 8L + value.length;
                if (first == null) {
                    first = key;
                }
                last = key;
                written++;
            }
            if (!asIs) {
                metrics.observeDownload("rewrite", since(t0));
            }
            if (written == 0) {
                if (asIs) {
                    metrics.observeDownload("rename", since(t0));
                }
                return new Downloaded(true, new byte[0], new byte[0], 0);
            }
            long t1 = settings.nanoClock().getAsLong();
            SstFileBuilder.SstFile f = b.finish();
            metrics.observeDownload(asIs ? "rename" : "finish", since(asIs ? t0 : t1));
            staged.put(HexFormat.of().formatHex(meta.getUuid().toByteArray()),
                    new Staged(f.path(), cf, Keys.dataKey(first), Keys.dataKey(last), meta, rawBytes));
            return new Downloaded(false, first, last, f.size());
        } catch (EngineException e) {
            throw new ImportException("Engine(" + e.getMessage() + ")");
        } catch (MvccException e) {
            throw new ImportException("bad write record in SST: " + e.getMessage());
        }
    }

    private static SstFileScanner openSst(Path file) throws ImportException {
        try {
            return SstFileScanner.open(file);
        } catch (EngineException e) {
            // RocksDB's text quotes the file's bytes ("Bad table magic number: ... found <its last 8 bytes>"): keep
            // only the status code
            String code = e.getCause() instanceof RocksDBException r && r.getStatus() != null ? r.getStatus().getCode().name() : "Unknown";
            throw new ImportException("the downloaded file is not a valid SST (corrupted or wrong cipher): RocksDB " + code);
        }
    }


    /**
     * Ingests the staged files of {@code uuids} (all must be staged, else nothing is ingested), default CF
     * first; the staged entries are removed. Returns what was ingested.
     */
    public List<Staged> ingest(Collection<byte[]> uuids) throws ImportException {
        synchronized (ingestLatch) {
            if (closed) {
                // a handler woken after the store stopped (its client gone) must not touch a closed engine
                throw new ImportException("store " + storeId + " is shutting down");
            }
            List<Staged> files = new ArrayList<>();
            for (byte[] u : uuids) {
                Staged s = staged(u);
                if (s == null) {
                    throw new ImportException("ingest: SST " + HexFormat.of().formatHex(u) + " was not downloaded to store " + storeId);
                }
                files.add(s);
            }
            long t0 = settings.nanoClock().getAsLong();
            // one file per ingest call: files of one CF may overlap each other (a retried range)
            for (Cf cf : List.of(Cf.DEFAULT, Cf.LOCK, Cf.WRITE)) {
                for (Staged s : files) {
                    if (s.cf() != cf) {
                        continue;
                    }
                    try {
                        engine.ingest(cf, List.of(s.path()));
                    } catch (EngineException e) {
                        throw new ImportException(e.getMessage());
                    }
                    // ingested (the file moved into RocksDB): no longer staged, even if a later file fails
                    staged.remove(HexFormat.of().formatHex(s.meta().getUuid().toByteArray()));
                }
            }
            if (!files.isEmpty()) {
                // after the batch's ingest succeeded (import_file.rs:366-370)
                metrics.observeIngest(since(t0), files.stream().mapToLong(Staged::rawBytes).sum(), files.size());
            }
            return files;
        }
    }
}
