package dev.faketikv.engine.mvcc;

import dev.faketikv.engine.codec.CodecException;
import dev.faketikv.engine.codec.NumberCodec;
import java.io.ByteArrayOutputStream;

/**
 * A write-CF record, stored at {@code z ++ memcomparable(key) ++ BE64(~commit_ts)}.
 *
 * <p>Format (TiKV v5.4.0 {@code components/txn_types/src/write.rs}): one flag byte
 * ({@link WriteType}), varint start_ts, then optional fields in this order: {@code 'v'} + u8 length +
 * short value (values of at most {@link #SHORT_VALUE_MAX_LEN} bytes live inline), {@code 'R'}
 * (overlapped rollback), {@code 'F'} + BE64 gc_fence. Parsing stops at an unknown field byte, as TiKV
 * does for forward compatibility.
 *
 * @param gcFence 0 when absent
 */
public record Write(WriteType type, long startTs, byte[] shortValue, boolean hasOverlappedRollback, long gcFence) {
    /** {@code txn_types::SHORT_VALUE_MAX_LEN}. */
    public static final int SHORT_VALUE_MAX_LEN = 255;
    static final byte SHORT_VALUE_PREFIX = 'v';
    static final byte FLAG_OVERLAPPED_ROLLBACK = 'R';
    static final byte GC_FENCE_PREFIX = 'F';

    public static Write put(long startTs, byte[] shortValue) {
        return new Write(WriteType.PUT, startTs, shortValue, false, 0);
    }

    public static Write of(WriteType type, long startTs) {
        return new Write(type, startTs, null, false, 0);
    }

    public byte[] toBytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(16 + (shortValue == null ? 0 : shortValue.length));
        out.write(type.flag());
        NumberCodec.writeVarU64(out, startTs);
        if (shortValue != null) {
            if (shortValue.length > SHORT_VALUE_MAX_LEN) {
                throw new IllegalArgumentException("short value longer than " + SHORT_VALUE_MAX_LEN);
            }
            out.write(SHORT_VALUE_PREFIX);
            out.write(shortValue.length);
            out.write(shortValue, 0, shortValue.length);
        }
        if (hasOverlappedRollback) {
            out.write(FLAG_OVERLAPPED_ROLLBACK);
        }
        if (gcFence != 0) {
            out.write(GC_FENCE_PREFIX);
            NumberCodec.writeU64(out, gcFence);
        }
        return out.toByteArray();
    }

    public static Write parse(byte[] b) {
        if (b.length == 0) {
            throw new CodecException("empty write record");
        }
        NumberCodec.Reader r = new NumberCodec.Reader(b, 0);
        WriteType type = WriteType.ofFlag(r.readByte());
        long startTs = r.readVarU64();
        byte[] shortValue = null;
        boolean overlapped = false;
        long gcFence = 0;
        while (r.hasRemaining()) {
            int flag = r.readByte();
            if (flag == SHORT_VALUE_PREFIX) {
                shortValue = r.readBytes(r.readByte());
            } else if (flag == FLAG_OVERLAPPED_ROLLBACK) {
                overlapped = true;
            } else if (flag == GC_FENCE_PREFIX) {
                gcFence = r.readU64();
            } else {
                break;
            }
        }
        return new Write(type, startTs, shortValue, overlapped, gcFence);
    }

    /**
     * {@code Write::check_gc_fence_as_latest_version}: false when a GC fence at or before
     * {@code readTs} marks this version as not the latest.
     */
    public boolean validAsLatestVersion(long readTs) {
        return gcFence == 0 || Long.compareUnsigned(gcFence, readTs) > 0;
    }
}
