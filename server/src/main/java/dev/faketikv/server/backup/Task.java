package dev.faketikv.server.backup;

import dev.faketikv.engine.Cf;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.sst.SstCompression;
import dev.faketikv.server.storage.Limiter;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.CipherInfo;
import org.tikv.kvproto.Encryptionpb.EncryptionMethod;

/**
 * One backup request as the endpoint runs it: TiKV's {@code Task} / {@code Request}
 * ({@code components/backup/src/endpoint.rs}, {@code Task::new}). Keys are in the engine's form:
 * memcomparable-encoded for txn ({@code Key::from_raw}), as-is for raw ({@code Key::from_encoded}); null
 * means unbounded. The only way building a task fails is an unknown {@code cf} (validated for every
 * request, txn too, as 5.4 does); an absent {@code cipher_info} means plaintext.
 *
 * <p>Immutable apart from the sink's cancel flag.
 */
public final class Task {
    private final BackupRequest request;
    private final byte[] startKey;
    private final byte[] endKey;
    private final Cf cf;
    private final SstCompression compression;
    private final CipherInfo cipher;
    private final Limiter limiter;
    private final ResponseSink sink;
    private final long number;

    private Task(BackupRequest request, Cf cf, ResponseSink sink, long number) {
        this.request = request;
        this.number = number;
        this.cf = cf;
        this.sink = sink;
        boolean raw = request.getIsRawKv();
        this.startKey = engineKey(request.getStartKey().toByteArray(), raw);
        this.endKey = engineKey(request.getEndKey().toByteArray(), raw);
        this.compression = switch (request.getCompressionType()) {
            case LZ4 -> SstCompression.LZ4;
            case SNAPPY -> SstCompression.SNAPPY;
            case ZSTD -> SstCompression.ZSTD;
            default -> SstCompression.DEFAULT;
        };
        this.cipher = request.hasCipherInfo() ? request.getCipherInfo()
                : CipherInfo.newBuilder().setCipherType(EncryptionMethod.PLAINTEXT).build();
        this.limiter = Limiter.forRateLimit(request.getRateLimit());
    }

    public static Task create(BackupRequest request, ResponseSink sink) throws InvalidCfException {
        return create(request, sink, 0);
    }

    /** A task for the {@code number}-th request this store received (1-based; 0 = not numbered). */
    public static Task create(BackupRequest request, ResponseSink sink, long number) throws InvalidCfException {
        String name = request.getCf().isEmpty() ? "default" : request.getCf();
        Cf cf = Cf.ofDataCf(name).orElseThrow(() -> new InvalidCfException(request.getCf()));
        return new Task(request, cf, sink, number);
    }

    /** The request's number at this store (1-based), as fault rules and the journal count them. */
    public long number() {
        return number;
    }

    private static byte[] engineKey(byte[] key, boolean raw) {
        if (key.length == 0) {
            return null;
        }
        return raw ? key : BytesCodec.encode(key);
    }

    public BackupRequest request() {
        return request;
    }

    /** Engine-form start key, or null. */
    public byte[] startKey() {
        return startKey;
    }

    /** Engine-form end key, or null. */
    public byte[] endKey() {
        return endKey;
    }

    public boolean isRawKv() {
        return request.getIsRawKv();
    }

    public Cf cf() {
        return cf;
    }

    public long startVersion() {
        return request.getStartVersion();
    }

    public long endVersion() {
        return request.getEndVersion();
    }

    public SstCompression compression() {
        return compression;
    }

    public int compressionLevel() {
        return request.getCompressionLevel();
    }

    public CipherInfo cipher() {
        return cipher;
    }

    public Limiter limiter() {
        return limiter;
    }

    public ResponseSink sink() {
        return sink;
    }

    public boolean cancelled() {
        return sink.cancelled();
    }

    @Override
    public String toString() {
        return "BackupTask{request=" + number + ", start=" + hex(request.getStartKey().toByteArray()) + ", end=" + hex(request.getEndKey().toByteArray())
                + ", start_version=" + startVersion() + ", end_version=" + endVersion() + ", raw=" + isRawKv()
                + ", cf=" + cf.cfName() + ", storage=" + dev.faketikv.server.storage.ExternalStorages.label(request.getStorageBackend())
                + ", compression=" + compression.label() + ", rate_limit=" + request.getRateLimit() + "}";
    }

    private static String hex(byte[] b) {
        return java.util.HexFormat.of().formatHex(b);
    }
}
