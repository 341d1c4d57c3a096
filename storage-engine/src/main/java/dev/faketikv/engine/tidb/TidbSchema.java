package dev.faketikv.engine.tidb;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * One TiDB 5.4 database of plain tables, as TiDB's meta layer stores it after {@code CREATE DATABASE} and
 * {@code CREATE TABLE}s: the {@code DBs} hash holds the database's {@code DBInfo} JSON, the database's own
 * hash {@code DB:<id>} holds each table's {@code TableInfo} JSON, and the strings {@code NextGlobalID},
 * {@code SchemaVersionKey} and {@code BootstrapKey} the counters ({@code meta/meta.go}: {@code CreateDatabase},
 * {@code CreateTableOrView}, {@code GenGlobalID}, {@code GenSchemaVersion}, {@code FinishBootstrap}).
 *
 * <p>Every table is {@code (id BIGINT NOT NULL PRIMARY KEY, v LONGBLOB)} with {@code pk_is_handle}: its rows
 * are the record keys {@code t{id}_r{handle}} and it has no index, so its key space is exactly the record range
 * BR backs up and checksums ({@code br/pkg/backup/client.go}: {@code appendRanges}; {@code br/pkg/checksum/executor.go}:
 * {@code buildTableRequest}). No auto-increment column: BR asks no id allocator for it ({@code utils.NeedAutoID}).
 *
 * <p>JSON field names are those of TiDB 5.4's {@code parser/model/model.go} ({@code DBInfo}: {@code db_name};
 * {@code TableInfo}: {@code cols}, {@code index_info}, {@code pk_is_handle}, {@code version} 4 =
 * {@code TableInfoVersion4}; {@code ColumnInfo}: {@code version} 2 = {@code ColumnInfoVersion2}) and of
 * {@code parser/types/field_type.go} ({@code FieldType}'s untagged {@code Tp}, {@code Flag}, {@code Flen}, ...).
 * Values are not TiDB's row format: a SQL read of the rows would not decode them; BR never decodes values.
 *
 * <p>Immutable; thread-safe.
 */
public final class TidbSchema {
    /**
     * TiDB 5.4's {@code currentBootstrapVersion} ({@code session/bootstrap.go}). UNCERTAIN: read from the
     * version list of a later TiDB (version81 is the last entry before the 6.0 additions); nothing BR 5.4's
     * backup does reads it.
     */
    public static final long BOOTSTRAP_VERSION = 81;
    /** {@code model.StatePublic}. */
    static final int STATE_PUBLIC = 5;
    /** {@code mysql.TypeLonglong}, {@code mysql.TypeLongBlob}. */
    static final int TYPE_LONGLONG = 8;
    static final int TYPE_LONG_BLOB = 0xfb;
    /** {@code mysql.NotNullFlag | PriKeyFlag | BinaryFlag}, {@code mysql.BinaryFlag}. */
    static final int FLAG_PK_BIGINT = 1 | 2 | 128;
    static final int FLAG_BINARY = 128;

    private static final ObjectMapper JSON = new ObjectMapper();

    /** A table of the database. */
    public record Table(long id, String name) {}

    /** One raw key and its value. */
    public record Kv(byte[] key, byte[] value) {}

    private final long dbId;
    private final String dbName;
    private final List<Table> tables;
    private final long updateTs;

    /**
     * @param updateTs the TSO the tables were created at ({@code update_timestamp})
     * @throws IllegalArgumentException on an empty name, a non-positive id or an id used twice
     */
    public TidbSchema(long dbId, String dbName, List<Table> tables, long updateTs) {
        if (dbName == null || dbName.isBlank()) {
            throw new IllegalArgumentException("database name is empty");
        }
        if (dbId <= 0) {
            throw new IllegalArgumentException("database id must be > 0");
        }
        Set<Long> ids = new HashSet<>();
        ids.add(dbId);
        for (Table t : tables) {
            if (t.id() <= 0 || !ids.add(t.id())) {
                throw new IllegalArgumentException("table id " + t.id() + " is not positive or is used twice (database id " + dbId + ")");
            }
        }
        this.dbId = dbId;
        this.dbName = dbName;
        this.tables = List.copyOf(tables);
        this.updateTs = updateTs;
    }

    public long dbId() {
        return dbId;
    }

    public String dbName() {
        return dbName;
    }

    public List<Table> tables() {
        return tables;
    }

    /** The schema version after creating the database and its tables, one DDL each. */
    public long schemaVersion() {
        return 1L + tables.size();
    }

    /** The largest id the schema uses: TiDB's {@code NextGlobalID} after those DDLs. */
    public long nextGlobalId() {
        long max = dbId;
        for (Table t : tables) {
            max = Math.max(max, t.id());
        }
        return max;
    }

    /** Every meta key (raw) and its value; the caller commits them in one transaction. */
    public List<Kv> kvs() {
        List<Kv> out = new ArrayList<>();
        out.add(new Kv(TidbMeta.stringKey(TidbMeta.BOOTSTRAP), TidbMeta.intValue(BOOTSTRAP_VERSION)));
        out.add(new Kv(TidbMeta.stringKey(TidbMeta.NEXT_GLOBAL_ID), TidbMeta.intValue(nextGlobalId())));
        out.add(new Kv(TidbMeta.stringKey(TidbMeta.SCHEMA_VERSION), TidbMeta.intValue(schemaVersion())));
        out.add(new Kv(TidbMeta.hashMetaKey(TidbMeta.DBS), TidbMeta.hashMetaValue(1)));
        out.add(new Kv(TidbMeta.hashFieldKey(TidbMeta.DBS, TidbMeta.dbKey(dbId)), bytes(dbInfo())));
        String db = TidbMeta.dbKey(dbId);
        out.add(new Kv(TidbMeta.hashMetaKey(db), TidbMeta.hashMetaValue(tables.size())));
        for (Table t : tables) {
            out.add(new Kv(TidbMeta.hashFieldKey(db, TidbMeta.tableKey(t.id())), bytes(tableInfo(t))));
        }
        return out;
    }

    /** {@code model.DBInfo} of the database. */
    public ObjectNode dbInfo() {
        ObjectNode n = JSON.createObjectNode();
        n.put("id", dbId);
        n.set("db_name", ciStr(dbName));
        n.put("charset", "utf8mb4");
        n.put("collate", "utf8mb4_bin");
        n.put("state", STATE_PUBLIC);
        n.putNull("policy_ref_info");
        n.putNull("placement_settings");
        return n;
    }

    /** {@code model.TableInfo} of {@code t}. */
    public ObjectNode tableInfo(Table t) {
        ObjectNode n = JSON.createObjectNode();
        n.put("id", t.id());
        n.set("name", ciStr(t.name()));
        n.put("charset", "utf8mb4");
        n.put("collate", "utf8mb4_bin");
        ArrayNode cols = n.putArray("cols");
        cols.add(column(1, "id", 0, fieldType(TYPE_LONGLONG, FLAG_PK_BIGINT, 20)));
        cols.add(column(2, "v", 1, fieldType(TYPE_LONG_BLOB, FLAG_BINARY, 4294967295L)));
        n.putNull("index_info");
        n.putNull("constraint_info");
        n.putNull("fk_info");
        n.put("state", STATE_PUBLIC);
        n.put("pk_is_handle", true);
        n.put("is_common_handle", false);
        n.put("common_handle_version", 0);
        n.put("comment", "");
        n.put("auto_inc_id", 0);
        n.put("auto_id_cache", 0);
        n.put("auto_rand_id", 0);
        n.put("max_col_id", 2);
        n.put("max_idx_id", 0);
        n.put("max_fk_id", 0);
        n.put("max_cst_id", 0);
        n.put("update_timestamp", updateTs);
        n.put("ShardRowIDBits", 0);
        n.put("max_shard_row_id_bits", 0);
        n.put("auto_random_bits", 0);
        n.put("pre_split_regions", 0);
        n.putNull("partition");
        n.put("compression", "");
        n.putNull("view");
        n.putNull("sequence");
        n.putNull("Lock");
        n.put("version", 4);
        n.putNull("tiflash_replica");
        n.put("is_columnar", false);
        n.put("temp_table_type", 0);
        n.put("cache_table_status", 0);
        n.putNull("policy_ref_info");
        n.putNull("placement_settings");
        n.putNull("stats_options");
        return n;
    }

    private static ObjectNode column(long id, String name, int offset, ObjectNode type) {
        ObjectNode c = JSON.createObjectNode();
        c.put("id", id);
        c.set("name", ciStr(name));
        c.put("offset", offset);
        c.putNull("origin_default");
        c.putNull("origin_default_bit");
        c.putNull("default");
        c.putNull("default_bit");
        c.put("default_is_expr", false);
        c.put("generated_expr_string", "");
        c.put("generated_stored", false);
        c.putNull("dependences");
        c.set("type", type);
        c.put("state", STATE_PUBLIC);
        c.put("comment", "");
        c.put("hidden", false);
        c.putNull("change_state_info");
        c.put("version", 2);
        return c;
    }

    private static ObjectNode fieldType(int tp, int flag, long flen) {
        ObjectNode f = JSON.createObjectNode();
        f.put("Tp", tp);
        f.put("Flag", flag);
        f.put("Flen", flen);
        f.put("Decimal", 0);
        f.put("Charset", "binary");
        f.put("Collate", "binary");
        f.putNull("Elems");
        return f;
    }

    /** {@code model.CIStr}: the original name and its lower case. */
    private static ObjectNode ciStr(String name) {
        ObjectNode n = JSON.createObjectNode();
        n.put("O", name);
        n.put("L", name.toLowerCase(Locale.ROOT));
        return n;
    }

    private static byte[] bytes(JsonNode n) {
        try {
            return JSON.writeValueAsString(n).getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Parses a DBInfo or TableInfo value as stored. */
    public static JsonNode parse(byte[] value) {
        try {
            return JSON.readTree(value);
        } catch (IOException e) {
            throw new IllegalArgumentException("not JSON: " + e.getMessage(), e);
        }
    }
}
