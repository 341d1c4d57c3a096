package dev.faketikv.pd.br;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.pd.FakeCluster;
import java.io.ByteArrayOutputStream;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tikv.kvproto.ImportSstpb;
import org.tikv.kvproto.Metapb;
import org.tikv.kvproto.Pdpb;

/**
 * The PD and split/scatter side of {@code br restore full|db|table} of BR 5.4, replayed in BR's order
 * ({@code docs/BR-5.4-CALLS.md} §4; {@code pkg/task/restore.go RunRestore}): start-up and version check, restore
 * ts and service safe point, import mode and scheduler pause, {@code reset-ts}, split and scatter of the
 * rewritten table ranges, then the undo. Schema creation (TiDB DDL), download/ingest with rewrite rules and the
 * coprocessor checksum are other parts of #15 and not replayed here.
 */
class BrRestoreFull54ReplayTest {
    static FakeCluster cluster;

    @BeforeAll
    static void start() throws Exception {
        cluster = FakeCluster.builder().stores(3).start();
    }

    @AfterAll
    static void stop() {
        cluster.close();
    }

    /** TiDB's {@code tablecodec.EncodeTablePrefix}: {@code t} + the id as a comparable int64. */
    static byte[] tablePrefix(long id) {
        return ByteBuffer.allocate(9).put((byte) 't').putLong(id ^ Long.MIN_VALUE).array();
    }

    /** {@code tablecodec.EncodeRowKeyWithHandle(id, handle)}. */
    static byte[] rowKey(long id, long handle) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(tablePrefix(id));
        b.writeBytes("_r".getBytes(StandardCharsets.US_ASCII));
        b.writeBytes(ByteBuffer.allocate(8).putLong(handle ^ Long.MIN_VALUE).array());
        return b.toByteArray();
    }

    @Test
    void restoreFullPdSideInBrOrder() {
        try (Br54Calls br = new Br54Calls(cluster)) {
            List<Metapb.Store> stores = br.startUp();
            // 4.1d restore ts and BR's service safe point (ttl 5 min, ts - 1)
            long restoreTs = br.tso();
            ByteString serviceId = ByteString.copyFromUtf8("br-" + UUID.randomUUID());
            Pdpb.UpdateServiceGCSafePointResponse sp = br.pd.updateServiceGCSafePoint(Pdpb.UpdateServiceGCSafePointRequest.newBuilder()
                    .setHeader(br.h()).setServiceId(serviceId).setTTL(300)
                    .setSafePoint(restoreTs - 1).build());
            assertThat(sp.getHeader().hasError()).isFalse();
            assertThat(sp.getMinSafePoint()).isLessThanOrEqualTo(restoreTs - 1);
            // 4.5 PreCheckTableTiFlashReplica: no TiFlash stores
            assertThat(stores).noneMatch(s -> s.getLabelsList().stream().anyMatch(l -> l.getValue().equals("tiflash")));
            // 4.6 restorePreWork
            for (Metapb.Store s : stores) {
                br.importer(s.getId()).switchMode(ImportSstpb.SwitchModeRequest.newBuilder().setMode(ImportSstpb.SwitchMode.Import).build());
            }
            JsonNode before = Br54Calls.json(br.get("pd/api/v1/config/schedule"));
            Br54Calls.Saved saved = br.removeSchedulers();
            assertThat(br.paused()).hasSize(3);
            // 4.7 ResetTS to the backup's end version: an older one is refused with 403, which BR accepts
            HttpResponse<String> reset = br.post("pd/api/v1/admin/reset-ts", "{\"tso\":\"" + (restoreTs - (10_000L << 18)) + "\"}");
            assertThat(reset.statusCode()).isIn(200, 403);
            assertThat(br.tso()).as("TSO keeps rising").isGreaterThan(restoreTs);
            // 4.8 split + scatter: tables 52 and 54 of the backup restored as 112 and 114 (rewrite rules' new prefixes),
            // each table's record range one range
            List<byte[]> checkKeys = new ArrayList<>();
            long[] newIds = {112, 114};
            for (long id : newIds) {
                checkKeys.add(tablePrefix(id));
            }
            for (long id : newIds) {
                checkKeys.add(rowKey(id, Long.MAX_VALUE));
            }
            List<Metapb.Region> created = br.splitAndScatter(tablePrefix(112), rowKey(114, Long.MAX_VALUE), checkKeys);
            assertThat(created).hasSize(4);
            for (long id : newIds) {
                Pdpb.GetRegionResponse at = br.pd.getRegion(Pdpb.GetRegionRequest.newBuilder().setHeader(br.h())
                        .setRegionKey(ByteString.copyFrom(BytesCodec.encode(rowKey(id, 1)))).build());
                assertThat(at.getRegion().getStartKey().toByteArray()).as("table %d starts its own region (encoded keys)", id)
                        .isEqualTo(BytesCodec.encode(tablePrefix(id)));
                assertThat(at.getRegion().getEndKey().toByteArray()).isEqualTo(BytesCodec.encode(rowKey(id, Long.MAX_VALUE)));
            }
            // a second Split over the same ranges finds nothing to split (NeedSplit: keys are region starts now)
            assertThat(br.splitAndScatter(tablePrefix(112), rowKey(114, Long.MAX_VALUE), checkKeys)).isEmpty();
            // 4.11 restorePostWork
            for (Metapb.Store s : stores) {
                br.importer(s.getId()).switchMode(ImportSstpb.SwitchModeRequest.newBuilder().setMode(ImportSstpb.SwitchMode.Normal).build());
            }
            br.restoreSchedulers(saved);
            assertThat(br.paused()).isEmpty();
            assertThat(Br54Calls.json(br.get("pd/api/v1/config/schedule"))).isEqualTo(before);
            // the service safe point is dropped at the end (ttl 0)
            br.pd.updateServiceGCSafePoint(Pdpb.UpdateServiceGCSafePointRequest.newBuilder().setHeader(br.h())
                    .setServiceId(serviceId).setTTL(0).setSafePoint(restoreTs - 1).build());
        }
    }
}
