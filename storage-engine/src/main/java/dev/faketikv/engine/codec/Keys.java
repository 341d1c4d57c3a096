package dev.faketikv.engine.codec;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * TiKV's key layouts: the data-key prefix {@code z}, the MVCC timestamp suffix and TiDB record keys.
 *
 * <ul>
 *   <li>data key = {@code 'z'} ++ key (mirrors {@code keys::data_key} in {@code components/keys});
 *   <li>txn user key in the engine = memcomparable(raw key) ({@code Key::from_raw} in txn_types);
 *   <li>versioned key = encoded user key ++ BE64(~ts) ({@code Key::append_ts}); newer versions sort first;
 *   <li>TiDB record key = {@code t} ++ cmp_i64(table_id) ++ {@code _r} ++ cmp_i64(handle)
 *       (TiDB {@code tablecodec.EncodeRowKeyWithHandle}).
 * </ul>
 *
 * <p>Stateless and thread-safe.
 */
public final class Keys {
    /** {@code keys::DATA_PREFIX}. */
    public static final byte DATA_PREFIX = 'z';
    public static final int TS_LEN = 8;
    private static final byte[] RECORD_PREFIX_SEP = "_r".getBytes(StandardCharsets.US_ASCII);

    private Keys() {}

    /** {@code 'z'} ++ key. */
    public static byte[] dataKey(byte[] key) {
        byte[] out = new byte[key.length + 1];
        out[0] = DATA_PREFIX;
        System.arraycopy(key, 0, out, 1, key.length);
        return out;
    }

    /** Strips the {@code 'z'} prefix of a data key. */
    public static byte[] originKey(byte[] dataKey) {
        if (dataKey.length == 0 || dataKey[0] != DATA_PREFIX) {
            throw new CodecException("not a data key (no 'z' prefix)");
        }
        return Arrays.copyOfRange(dataKey, 1, dataKey.length);
    }

    /** Data key of the encoded user key of raw key {@code raw}: {@code 'z' ++ memcomparable(raw)}. */
    public static byte[] dataKeyOfRaw(byte[] raw) {
        byte[] out = new byte[1 + BytesCodec.encodedLength(raw.length)];
        out[0] = DATA_PREFIX;
        BytesCodec.encodeInto(raw, out, 1);
        return out;
    }

    /** {@code key ++ BE64(~ts)}. */
    public static byte[] appendTs(byte[] key, long ts) {
        byte[] out = Arrays.copyOf(key, key.length + TS_LEN);
        NumberCodec.putU64(out, key.length, ~ts);
        return out;
    }

    /** The timestamp of a versioned key. */
    public static long decodeTs(byte[] versionedKey) {
        if (versionedKey.length < TS_LEN) {
            throw new CodecException("key too short for a timestamp: " + versionedKey.length);
        }
        return ~NumberCodec.getU64(versionedKey, versionedKey.length - TS_LEN);
    }

    /** The key without its timestamp suffix. */
    public static byte[] truncateTs(byte[] versionedKey) {
        if (versionedKey.length < TS_LEN) {
            throw new CodecException("key too short for a timestamp: " + versionedKey.length);
        }
        return Arrays.copyOf(versionedKey, versionedKey.length - TS_LEN);
    }

    /** TiDB row key {@code t{tableId}_r{handle}} (raw, not memcomparable-encoded). */
    public static byte[] tidbRecordKey(long tableId, long handle) {
        byte[] out = new byte[1 + 8 + 2 + 8];
        out[0] = 't';
        NumberCodec.putU64(out, 1, tableId ^ 0x8000000000000000L);
        out[9] = RECORD_PREFIX_SEP[0];
        out[10] = RECORD_PREFIX_SEP[1];
        NumberCodec.putU64(out, 11, handle ^ 0x8000000000000000L);
        return out;
    }

    /** TiDB table prefix {@code t{tableId}} (raw). */
    public static byte[] tidbTablePrefix(long tableId) {
        byte[] out = new byte[9];
        out[0] = 't';
        NumberCodec.putU64(out, 1, tableId ^ 0x8000000000000000L);
        return out;
    }

    /** Unsigned lexicographic comparison (RocksDB's bytewise comparator). */
    /** Whether {@code key} begins with {@code prefix}. */
    public static boolean startsWith(byte[] key, byte[] prefix) {
        return key.length >= prefix.length && Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length);
    }

    /**
     * The smallest key after every key that starts with {@code prefix} (TiKV's {@code keys::next_key}:
     * trailing 0xFF dropped, the last byte incremented); empty — unbounded — when there is none.
     */
    public static byte[] prefixNext(byte[] prefix) {
        for (int i = prefix.length - 1; i >= 0; i--) {
            if (prefix[i] != (byte) 0xFF) {
                byte[] out = Arrays.copyOf(prefix, i + 1);
                out[i]++;
                return out;
            }
        }
        return new byte[0];
    }

    public static int compare(byte[] a, byte[] b) {
        return Arrays.compareUnsigned(a, b);
    }

    /** Lowercase hex. */
    public static String hex(byte[] b) {
        return java.util.HexFormat.of().formatHex(b);
    }
}
