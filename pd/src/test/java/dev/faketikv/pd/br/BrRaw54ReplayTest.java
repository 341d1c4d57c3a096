package dev.faketikv.pd.br;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import dev.faketikv.client.br.BrStorage;
import dev.faketikv.engine.Cf;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.pd.FakeCluster;
import dev.faketikv.pd.cluster.ClusterData;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.ImportSstpb;
import org.tikv.kvproto.Kvrpcpb;
import org.tikv.kvproto.Metapb;
import org.tikv.kvproto.Pdpb;

/**
 * {@code br backup raw} and {@code br restore raw} of BR 5.4, replayed call by call in BR's order
 * ({@code docs/BR-5.4-CALLS.md} §1 and §2; {@code pkg/task/backup_raw.go RunBackupRaw},
 * {@code pkg/task/restore_raw.go RunRestoreRaw}) against fake clusters, checking every answer BR relies on.
 * The etcd and TiDB-session steps of start-up (0.2, 0.7) are the etcd subset's and are not replayed here.
 */
class BrRaw54ReplayTest {
    /** BR's {@code --start r --end s}: BR 5.4 cannot restore an unbounded raw range (its split scans {@code [encode(""), encode(""))}). */
    static final byte[] START = "r".getBytes(StandardCharsets.US_ASCII);
    static final byte[] END = "s".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    static Path tmp;
    static FakeCluster source;
    static FakeCluster target;
    static BrStorage storage;
    static List<Brpb.File> files;
    static List<Brpb.BackupResponse> responses;

    @BeforeAll
    static void backUp() throws Exception {
        source = FakeCluster.builder().stores(3).seed("raw:keys=1000,regions=4,value-size=40,seed=15").start();
        target = FakeCluster.builder().stores(3).start();
        storage = BrStorage.parse("local://" + tmp.resolve("backup"));
        try (Br54Calls br = new Br54Calls(source)) {
            responses = backupRaw(br);
        }
        files = responses.stream().flatMap(r -> r.getFilesList().stream()).toList();
    }

    @AfterAll
    static void close() {
        target.close();
        source.close();
    }

    /** §1: {@code RunBackupRaw} without {@code --remove-schedulers}. */
    static List<Brpb.BackupResponse> backupRaw(Br54Calls br) {
        br.startUp();
        // 1.4 cluster version for the backupmeta
        assertThat(br.get("pd/api/v1/config/cluster-version").body()).isEqualTo("\"5.4.0\"");
        // 1.5 approximate region count: keys memcomparable-encoded and query-escaped, count read as a number
        String q = "pd/api/v1/stats/region?start_key=" + esc(BytesCodec.encode(START)) + "&end_key=" + esc(BytesCodec.encode(END));
        HttpResponse<String> stats = br.get(q);
        assertThat(stats.statusCode()).isEqualTo(200);
        assertThat(Br54Calls.json(stats).get("count").isNumber()).isTrue();
        // 1.6 stores, 1.7 Backup on every store
        List<Metapb.Store> stores = br.pd.getAllStores(Pdpb.GetAllStoresRequest.newBuilder().setHeader(br.h()).setExcludeTombstoneStores(true)
                .build()).getStoresList();
        Brpb.BackupRequest req = Brpb.BackupRequest.newBuilder().setClusterId(br.cluster.clusterId()).setStartKey(ByteString.copyFrom(START))
                .setEndKey(ByteString.copyFrom(END)).setStartVersion(0).setEndVersion(0).setRateLimit(0).setConcurrency(4).setIsRawKv(true)
                .setCf("default").setCompressionType(Brpb.CompressionType.ZSTD).setStorageBackend(storage.backend()).build();
        List<Brpb.BackupResponse> out = new ArrayList<>();
        for (Metapb.Store s : stores) {
            for (Iterator<Brpb.BackupResponse> it = br.backup(s.getId()).backup(req); it.hasNext(); ) {
                Brpb.BackupResponse r = it.next();
                assertThat(r.hasError()).as("store %d: %s", s.getId(), r.getError()).isFalse();
                out.add(r);
            }
        }
        // BR's rtree: the responses must cover [start, end) or BR goes fine-grained (1.8)
        List<Brpb.BackupResponse> sorted = new ArrayList<>(out);
        sorted.sort((a, b) -> Arrays.compareUnsigned(a.getStartKey().toByteArray(), b.getStartKey().toByteArray()));
        byte[] at = START;
        for (Brpb.BackupResponse r : sorted) {
            assertThat(r.getStartKey().toByteArray()).as("no gap before %s", r.getStartKey().toStringUtf8()).isEqualTo(at);
            at = r.getEndKey().toByteArray();
        }
        assertThat(at).isEqualTo(END);
        return out;
    }

    private static String esc(byte[] b) {
        return URLEncoder.encode(new String(b, StandardCharsets.ISO_8859_1), StandardCharsets.ISO_8859_1);
    }

    @Test
    void backupRawCoversTheRangeWithFilesBrCanRestore() {
        assertThat(files).isNotEmpty().allSatisfy(f -> {
            assertThat(f.getName()).contains("default");
            assertThat(f.getSha256().size()).isEqualTo(32);
            assertThat(f.getCf()).isEqualTo("default");
        });
        assertThat(files.stream().mapToLong(Brpb.File::getTotalKvs).sum()).isEqualTo(1000);
    }

    /** §2: {@code RunRestoreRaw} with {@code --start r --end s}, not online. */
    @Test
    void restoreRawInBrOrder() {
        try (Br54Calls br = new Br54Calls(target)) {
            List<Metapb.Store> stores = br.startUp();
            // 2.4 CheckMultiIngestSupport: only the gRPC status counts (UNIMPLEMENTED = no multi ingest); TiKV's body is
            // RegionNotFound for region 0
            for (Metapb.Store s : stores) {
                assertThat(br.importer(s.getId()).multiIngest(ImportSstpb.MultiIngestRequest.getDefaultInstance()).getError()
                        .getRegionNotFound().getRegionId()).isZero();
            }
            // 2.6-2.9 SplitRanges over the merged file ranges (one range per backed-up range here)
            List<byte[]> ends = responses.stream().map(r -> r.getEndKey().toByteArray()).toList();
            List<Metapb.Region> created = br.splitAndScatter(START, END, ends);
            assertThat(created).hasSize(ends.size());
            // 2.10 import mode, 2.11 pause schedulers and config
            for (Metapb.Store s : stores) {
                br.importer(s.getId()).switchMode(ImportSstpb.SwitchModeRequest.newBuilder().setMode(ImportSstpb.SwitchMode.Import).build());
                assertThat(target.store(s.getId()).importer().mode()).isEqualTo(ImportSstpb.SwitchMode.Import);
            }
            JsonNode before = Br54Calls.json(br.get("pd/api/v1/config/schedule"));
            Br54Calls.Saved saved = br.removeSchedulers();
            assertThat(br.paused()).containsExactlyInAnyOrderElementsOf(saved.schedulers());
            JsonNode during = Br54Calls.json(br.get("pd/api/v1/config/schedule"));
            assertThat(during.get("max-merge-region-keys").asLong()).isZero();
            assertThat(during.get("leader-schedule-limit").asLong()).isEqualTo(12);
            assertThat(during.get("region-schedule-limit").asLong()).isEqualTo(40);
            assertThat(during.get("enable-location-replacement").asText()).isEqualTo("false");
            assertThat(during.get("max-pending-peer-count").asLong()).isEqualTo(Integer.MAX_VALUE);
            // 2.12 per file: scan its regions, download on every peer, ingest on the leader
            int ingested = 0;
            for (Brpb.File f : files) {
                ingested += importFile(br, f);
            }
            assertThat(ingested).isPositive();
            // 2.13 normal mode, resume, config back
            for (Metapb.Store s : stores) {
                br.importer(s.getId()).switchMode(ImportSstpb.SwitchModeRequest.newBuilder().setMode(ImportSstpb.SwitchMode.Normal).build());
            }
            br.restoreSchedulers(saved);
            assertThat(br.paused()).isEmpty();
            assertThat(Br54Calls.json(br.get("pd/api/v1/config/schedule"))).isEqualTo(before);
        }
        TreeMap<String, String> want = ClusterData.rawView(source.engine(), Cf.DEFAULT);
        ClusterData.assertSame(ClusterData.rawView(target.engine(), Cf.DEFAULT), want);
    }

    /** {@code FileImporter.Import} for one raw file; returns how many regions ingested a part of it. */
    private static int importFile(Br54Calls br, Brpb.File f) {
        int ingested = 0;
        for (Pdpb.Region ri : br.scanRegions(f.getStartKey().toByteArray(), f.getEndKey().toByteArray())) {
            Metapb.Region r = ri.getRegion();
            // GetSSTMetaFromFile with an empty rule, then cut to the restore range (downloadRawKVSST)
            byte[] rangeStart = r.getStartKey().toByteArray();
            byte[] rangeEnd = new byte[10];
            Arrays.fill(rangeEnd, (byte) 0xff);
            if (!r.getEndKey().isEmpty() && Arrays.compareUnsigned(rangeEnd, r.getEndKey().toByteArray()) > 0) {
                rangeEnd = r.getEndKey().toByteArray();
            }
            boolean exclusive = false;
            if (Arrays.compareUnsigned(START, rangeStart) > 0) {
                rangeStart = START;
            }
            if (Arrays.compareUnsigned(END, rangeEnd) <= 0) {
                rangeEnd = END;
                exclusive = true;
            }
            if (Arrays.compareUnsigned(rangeStart, rangeEnd) > 0) {
                continue;
            }
            byte[] uuid = new byte[16];
            new SecureRandom().nextBytes(uuid);
            ImportSstpb.SSTMeta meta = ImportSstpb.SSTMeta.newBuilder().setUuid(ByteString.copyFrom(uuid)).setCfName("default")
                    .setRange(ImportSstpb.Range.newBuilder().setStart(ByteString.copyFrom(rangeStart)).setEnd(ByteString.copyFrom(rangeEnd)))
                    .setEndKeyExclusive(exclusive).setLength(f.getSize()).setRegionId(r.getId()).setRegionEpoch(r.getRegionEpoch())
                    .setCipherIv(f.getCipherIv()).build();
            ImportSstpb.DownloadRequest dl = ImportSstpb.DownloadRequest.newBuilder().setSst(meta).setStorageBackend(storage.backend())
                    .setName(f.getName()).setRewriteRule(ImportSstpb.RewriteRule.getDefaultInstance()).setIsRawKv(true).build();
            ImportSstpb.DownloadResponse resp = null;
            boolean empty = false;
            for (Metapb.Peer p : r.getPeersList()) {
                resp = br.importer(p.getStoreId()).download(dl);
                assertThat(resp.hasError()).as("download %s on store %d: %s", f.getName(), p.getStoreId(), resp.getError()).isFalse();
                if (resp.getIsEmpty()) {
                    // ErrKVRangeIsEmpty: the file has nothing in this region
                    empty = true;
                    break;
                }
            }
            if (empty) {
                continue;
            }
            ImportSstpb.SSTMeta downloaded = meta.toBuilder().setRange(ImportSstpb.Range.newBuilder()
                    .setStart(resp.getRange().getStart()).setEnd(resp.getRange().getEnd())).build();
            Metapb.Peer leader = ri.getLeader();
            ImportSstpb.IngestResponse in = br.importer(leader.getStoreId()).multiIngest(ImportSstpb.MultiIngestRequest.newBuilder()
                    .setContext(Kvrpcpb.Context.newBuilder().setRegionId(r.getId()).setRegionEpoch(r.getRegionEpoch()).setPeer(leader))
                    .addSsts(downloaded).build());
            assertThat(in.hasError()).as("ingest into region %d: %s", r.getId(), in.getError()).isFalse();
            ingested++;
        }
        return ingested;
    }
}
