package dev.faketikv.engine.tidb;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.faketikv.engine.Cf;
import dev.faketikv.engine.Engine;
import dev.faketikv.engine.EngineIterator;
import dev.faketikv.engine.EngineSnapshot;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.gen.DataGenerator;
import dev.faketikv.engine.gen.SeedSpec;
import dev.faketikv.engine.mvcc.Write;
import dev.faketikv.engine.region.RegionMap;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TiDB's meta key layout, byte for byte, and the schema a txn seed with {@code db} writes. */
class TidbSchemaTest {
    static final HexFormat HEX = HexFormat.of();

    @TempDir
    Path dir;

    @Test
    void keysAreTidbStructureEncoding() {
        // m ++ EncodeBytes("DBs") ++ EncodeUint('h') ++ EncodeBytes("DB:1"), group encoding by hand
        assertThat(HEX.formatHex(TidbMeta.hashFieldKey("DBs", "DB:1")))
                .isEqualTo("6d" + "4442730000000000fa" + "0000000000000068" + "44423a3100000000fb");
        assertThat(HEX.formatHex(TidbMeta.hashMetaKey("DB:12")))
                .isEqualTo("6d" + "44423a3132000000fc" + "0000000000000048");
        // a 12-byte key takes two groups
        assertThat(HEX.formatHex(TidbMeta.stringKey("NextGlobalID")))
                .isEqualTo("6d" + "4e657874476c6f62ff" + "616c494400000000fb" + "0000000000000073");
        assertThat(TidbMeta.fieldOf("DB:12", TidbMeta.hashFieldKey("DB:12", "Table:100"))).isEqualTo("Table:100");
        assertThat(TidbMeta.fieldOf("DB:1", TidbMeta.hashFieldKey("DB:12", "Table:100"))).isNull();
        assertThat(TidbMeta.hashMetaValue(3)).containsExactly(0, 0, 0, 0, 0, 0, 0, 3);
        // every meta key sorts before every table key
        assertThat(Keys.compare(TidbMeta.stringKey("SchemaVersionKey"), Keys.tidbTablePrefix(1))).isNegative();
    }

    @Test
    void infosCarryTidbJsonNames() {
        TidbSchema s = new TidbSchema(99, "Shop", List.of(new TidbSchema.Table(100, "t100")), 42);
        JsonNode db = s.dbInfo();
        assertThat(db.get("db_name").get("O").asText()).isEqualTo("Shop");
        assertThat(db.get("db_name").get("L").asText()).isEqualTo("shop");
        assertThat(db.get("state").asInt()).isEqualTo(5);
        JsonNode t = s.tableInfo(s.tables().get(0));
        assertThat(t.get("id").asLong()).isEqualTo(100);
        assertThat(t.get("pk_is_handle").asBoolean()).isTrue();
        assertThat(t.get("index_info").isNull()).isTrue();
        assertThat(t.get("update_timestamp").asLong()).isEqualTo(42);
        assertThat(t.get("cols")).hasSize(2);
        assertThat(t.get("cols").get(0).get("type").get("Flag").asInt() & 2).as("PriKeyFlag").isEqualTo(2);
        assertThat(s.nextGlobalId()).isEqualTo(100);
        assertThat(s.schemaVersion()).isEqualTo(2);
        assertThatThrownBy(() -> new TidbSchema(100, "x", List.of(new TidbSchema.Table(100, "t")), 1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void seedWithDbWritesTheSchemaBeforeTheRows() {
        assertThatThrownBy(() -> SeedSpec.parse("txn:rows=10,tables=2,db=test,db-id=101")).hasMessageContaining("db-id");
        assertThatThrownBy(() -> SeedSpec.parse("txn:rows=10,db-id=5")).hasMessageContaining("db-id needs db");
        SeedSpec spec = SeedSpec.parse("txn:rows=100,tables=2,regions=2,db=test");
        assertThat(spec.dbId()).isEqualTo(99);
        assertThat(DataGenerator.tidbSchema(SeedSpec.parse("txn:rows=10"))).isNull();
        try (Engine engine = Engine.open(dir.resolve("db"))) {
            RegionMap regions = RegionMap.load(engine);
            regions.bootstrapIfEmpty(1);
            DataGenerator.apply(engine, regions, spec);
            int meta = 0;
            byte[] lo = Keys.dataKey(new byte[] {'m'});
            byte[] hi = Keys.dataKey(new byte[] {'n'});
            try (EngineSnapshot snap = engine.snapshot(); EngineIterator it = snap.iterator(Cf.WRITE, lo, hi)) {
                for (it.seek(lo); it.valid(); it.next()) {
                    meta++;
                    assertThat(Keys.decodeTs(it.key())).isEqualTo(DataGenerator.commitTs(-1));
                    assertThat(Write.parse(it.value()).startTs()).isEqualTo(DataGenerator.startTs(-1));
                }
            }
            // BootstrapKey, NextGlobalID, SchemaVersionKey, DBs meta + field, DB:99 meta + 2 tables
            assertThat(meta).isEqualTo(8);
            TidbSchema schema = DataGenerator.tidbSchema(spec);
            assertThat(schema.tables()).extracting(TidbSchema.Table::name).containsExactly("t100", "t101");
            assertThat(new String(schema.kvs().get(1).value(), StandardCharsets.US_ASCII)).isEqualTo("101");
        }
    }
}
