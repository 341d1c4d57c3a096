package dev.faketikv.engine.tidb;

import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.codec.NumberCodec;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The raw keys TiDB 5.4 keeps its schema under: the {@code structure} package's encoding with the meta
 * prefix {@code m} ({@code meta/meta.go}: {@code mMetaPrefix}), as {@code structure/type.go}
 * ({@code encodeStringDataKey}, {@code encodeHashMetaKey}, {@code encodeHashDataKey}) builds them:
 *
 * <pre>
 * string     m ++ EncodeBytes(key) ++ EncodeUint('s')
 * hash meta  m ++ EncodeBytes(key) ++ EncodeUint('H')                      value: field count, u64 big-endian
 * hash field m ++ EncodeBytes(key) ++ EncodeUint('h') ++ EncodeBytes(field)
 * </pre>
 *
 * {@code EncodeBytes} is the memcomparable group encoding ({@link BytesCodec}), {@code EncodeUint} 8 bytes
 * big-endian ({@code util/codec/number.go}). String values are TiDB's decimal text ({@code structure/string.go}
 * {@code GetInt64}/{@code Inc}); the hash meta value is {@code hashMeta.Value()} ({@code structure/hash.go}).
 * These are raw (user) keys: a transactional client encodes them again before they reach the engine.
 *
 * <p>Key names: {@code meta/meta.go} ({@code mNextGlobalIDKey}, {@code mSchemaVersionKey}, {@code mDBs},
 * {@code mBootstrapKey}, {@code dbKey} = {@code DB:<id>}, {@code tableKey} = {@code Table:<id>},
 * {@code autoTableIDKey} = {@code TID:<id>}). Stateless.
 */
public final class TidbMeta {
    private static final byte[] PREFIX = {'m'};
    private static final long STRING_DATA = 's';
    private static final long HASH_META = 'H';
    private static final long HASH_DATA = 'h';

    /** {@code mNextGlobalIDKey}: the last id TiDB handed out (databases, tables, indexes share it). */
    public static final String NEXT_GLOBAL_ID = "NextGlobalID";
    /** {@code mSchemaVersionKey}: the schema version, one more per DDL. */
    public static final String SCHEMA_VERSION = "SchemaVersionKey";
    /** {@code mBootstrapKey}: the bootstrap version of the cluster's system tables. */
    public static final String BOOTSTRAP = "BootstrapKey";
    /** {@code mDBs}: the hash of databases, field {@code DB:<id>} → DBInfo JSON. */
    public static final String DBS = "DBs";

    private TidbMeta() {}

    /** {@code dbKey}: the field of a database in {@code DBs} and the name of its own hash. */
    public static String dbKey(long dbId) {
        return "DB:" + dbId;
    }

    /** {@code tableKey}: the field of a table in its database's hash. */
    public static String tableKey(long tableId) {
        return "Table:" + tableId;
    }

    /** {@code autoTableIDKey}: the field of a table's row-id allocator in its database's hash. */
    public static String autoTableIdKey(long tableId) {
        return "TID:" + tableId;
    }

    /** The key of string {@code key}. */
    public static byte[] stringKey(String key) {
        return build(key, STRING_DATA, null);
    }

    /** The meta key of hash {@code key} (holds the field count). */
    public static byte[] hashMetaKey(String key) {
        return build(key, HASH_META, null);
    }

    /** The key of field {@code field} of hash {@code key}. */
    public static byte[] hashFieldKey(String key, String field) {
        return build(key, HASH_DATA, field);
    }

    /** The prefix every field key of hash {@code key} starts with ({@code hashDataKeyPrefix}): what HGetAll scans. */
    public static byte[] hashFieldPrefix(String key) {
        return build(key, HASH_DATA, null);
    }

    /** The field name of a field key of hash {@code key}, or null when {@code fieldKey} is not one. */
    public static String fieldOf(String key, byte[] fieldKey) {
        byte[] prefix = hashFieldPrefix(key);
        if (fieldKey.length <= prefix.length || !Arrays.equals(fieldKey, 0, prefix.length, prefix, 0, prefix.length)) {
            return null;
        }
        BytesCodec.Decoded d = BytesCodec.decodePrefix(fieldKey, prefix.length, fieldKey.length);
        return new String(d.raw(), StandardCharsets.UTF_8);
    }

    /** {@code hashMeta.Value()}: the field count, 8 bytes big-endian. */
    public static byte[] hashMetaValue(long fieldCount) {
        byte[] b = new byte[8];
        NumberCodec.putU64(b, 0, fieldCount);
        return b;
    }

    /** A string value holding an integer, as {@code TxStructure.Inc}/{@code SetInt64} store it. */
    public static byte[] intValue(long v) {
        return Long.toString(v).getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[] build(String key, long type, String field) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(PREFIX);
        out.writeBytes(BytesCodec.encode(key.getBytes(StandardCharsets.UTF_8)));
        byte[] t = new byte[8];
        NumberCodec.putU64(t, 0, type);
        out.writeBytes(t);
        if (field != null) {
            out.writeBytes(BytesCodec.encode(field.getBytes(StandardCharsets.UTF_8)));
        }
        return out.toByteArray();
    }
}
