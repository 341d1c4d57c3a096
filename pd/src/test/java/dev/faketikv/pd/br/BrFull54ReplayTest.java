package dev.faketikv.pd.br;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import com.pingcap.tidb.tipb.ChecksumAlgorithm;
import com.pingcap.tidb.tipb.ChecksumRequest;
import com.pingcap.tidb.tipb.ChecksumResponse;
import com.pingcap.tidb.tipb.ChecksumScanOn;
import dev.faketikv.client.br.PdClient;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.tidb.TidbMeta;
import dev.faketikv.pd.FakeCluster;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.BackupGrpc;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Coprocessor;
import org.tikv.kvproto.Kvrpcpb;
import org.tikv.kvproto.Metapb;
import org.tikv.kvproto.TikvGrpc;
import org.tikv.kvproto.Tikvpb;

/**
 * Replays what BR 5.4's {@code br backup full|db|table} asks the cluster between its TSO and its
 * checksum, in BR's order, against a 3-store {@link FakeCluster} seeded with a TiDB database.
 * KV reads and coprocessor requests go on each store's {@code BatchCommands} stream, as client-go sends them.
 *
 * <ol>
 *   <li>{@code GetTS} from PD: the backup ts ({@code br/pkg/backup/client.go}: {@code GetTS});</li>
 *   <li>the schema, read as {@code BuildBackupRangeAndSchema} reads it through TiDB's snapshot meta at the
 *       backup ts: {@code ListDatabases} = HGetAll({@code DBs}) (KvScan of the hash's field keys, region by
 *       region, as client-go's snapshot scanner batches it), then per database {@code ListTables} =
 *       {@code checkDBExists} (KvGet of {@code DBs}/{@code DB:<id>}) and HGetAll({@code DB:<id>}), keeping the
 *       {@code Table:} fields; the table filter of {@code db} / {@code table} picks some of them;</li>
 *   <li>each table's range ({@code BuildTableRanges}: the record range {@code [t{id}_r{MinInt64}, t{id}_s)}, no
 *       index) backed up at the backup ts, the request pushed to every store ({@code push.go});</li>
 *   <li>the checksum of each table ({@code br/pkg/checksum/executor.go}: {@code buildTableRequest}, a
 *       {@code tipb.ChecksumRequest} scan_on Table / Crc64_Xor over the same range at the backup ts, sent per
 *       region as TiDB's coprocessor client splits it; the answers XORed/summed, {@code updateChecksumResponse});</li>
 *   <li>BR's comparison with the backup files ({@code checksum.FastChecksum}: XOR of the table's files'
 *       {@code crc64xor}, sums of {@code total_kvs}, {@code total_bytes}): equal.</li>
 * </ol>
 */
class BrFull54ReplayTest {
    static final String SEED = "txn:rows=1200,tables=3,regions=6,value-size=40,long-ratio=0.2,long-value-size=400,versions=2,deletes=0.05,seed=11,db=test";
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;
    FakeCluster cluster;
    PdClient pd;
    final Map<Long, ManagedChannel> channels = new HashMap<>();

    @BeforeEach
    void start() throws Exception {
        cluster = FakeCluster.builder().stores(3).seed(SEED).start();
        pd = PdClient.connect(cluster.pdAddr());
    }

    @AfterEach
    void stop() throws Exception {
        for (ManagedChannel c : channels.values()) {
            c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        pd.close();
        cluster.close();
    }

    ManagedChannel channel(long storeId) {
        return channels.computeIfAbsent(storeId, id -> NettyChannelBuilder.forTarget(pd.store(id).getAddress()).usePlaintext().build());
    }

    final AtomicLong requestIds = new AtomicLong();

    /**
     * One command sent as client-go sends it with its default {@code max-batch-size} 128: on the leader's
     * {@code BatchCommands} stream, answered under its request id.
     */
    Tikvpb.BatchCommandsResponse.Response batch(PdClient.RegionInfo r, Tikvpb.BatchCommandsRequest.Request cmd) {
        CompletableFuture<Tikvpb.BatchCommandsResponse> got = new CompletableFuture<>();
        StreamObserver<Tikvpb.BatchCommandsRequest> in = TikvGrpc.newStub(channel(r.leader().getStoreId())).batchCommands(new StreamObserver<>() {
            @Override
            public void onNext(Tikvpb.BatchCommandsResponse v) {
                got.complete(v);
            }

            @Override
            public void onError(Throwable t) {
                got.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                got.completeExceptionally(new IllegalStateException("stream closed without an answer"));
            }
        });
        long id = requestIds.incrementAndGet();
        in.onNext(Tikvpb.BatchCommandsRequest.newBuilder().addRequests(cmd).addRequestIds(id).build());
        Tikvpb.BatchCommandsResponse resp = got.orTimeout(30, TimeUnit.SECONDS).join();
        in.onCompleted();
        assertThat(resp.getRequestIdsList()).containsExactly(id);
        return resp.getResponses(0);
    }

    Kvrpcpb.ScanResponse kvScan(PdClient.RegionInfo r, Kvrpcpb.ScanRequest req) {
        return batch(r, Tikvpb.BatchCommandsRequest.Request.newBuilder().setScan(req).build()).getScan();
    }

    Kvrpcpb.GetResponse kvGet(PdClient.RegionInfo r, Kvrpcpb.GetRequest req) {
        return batch(r, Tikvpb.BatchCommandsRequest.Request.newBuilder().setGet(req).build()).getGet();
    }

    Coprocessor.Response coprocessor(PdClient.RegionInfo r, Coprocessor.Request req) {
        return batch(r, Tikvpb.BatchCommandsRequest.Request.newBuilder().setCoprocessor(req).build()).getCoprocessor();
    }

    static Kvrpcpb.Context ctx(PdClient.RegionInfo r) {
        return Kvrpcpb.Context.newBuilder().setRegionId(r.region().getId()).setRegionEpoch(r.region().getRegionEpoch())
                .setPeer(r.leader()).build();
    }

    // ------------------------------------------------------------------ TiDB's snapshot meta, over KvGet/KvScan

    /** client-go's snapshot scan of raw {@code [start, end)} at {@code ts}: KvScan in batches of 256, region by region. */
    List<Kvrpcpb.KvPair> scan(byte[] start, byte[] end, long ts) {
        List<Kvrpcpb.KvPair> out = new ArrayList<>();
        byte[] from = start;
        while (true) {
            PdClient.RegionInfo r = pd.region(BytesCodec.encode(from));
            Kvrpcpb.ScanResponse resp = kvScan(r, Kvrpcpb.ScanRequest.newBuilder().setContext(ctx(r)).setStartKey(ByteString.copyFrom(from))
                    .setEndKey(ByteString.copyFrom(end)).setLimit(256).setVersion(ts).build());
            assertThat(resp.hasRegionError()).as(resp.toString()).isFalse();
            assertThat(resp.hasError()).isFalse();
            for (Kvrpcpb.KvPair p : resp.getPairsList()) {
                assertThat(p.hasError()).isFalse();
                out.add(p);
            }
            if (resp.getPairsCount() == 256) {
                byte[] last = resp.getPairs(255).getKey().toByteArray();
                from = Arrays.copyOf(last, last.length + 1);
                continue;
            }
            byte[] regionEnd = r.region().getEndKey().toByteArray();
            if (regionEnd.length == 0 || Keys.compare(BytesCodec.decode(regionEnd), end) >= 0) {
                return out;
            }
            from = BytesCodec.decode(regionEnd);
        }
    }

    /** {@code TxStructure.HGetAll}: field → value of hash {@code key}. */
    Map<String, byte[]> hgetAll(String key, long ts) {
        byte[] prefix = TidbMeta.hashFieldPrefix(key);
        Map<String, byte[]> out = new LinkedHashMap<>();
        for (Kvrpcpb.KvPair p : scan(prefix, Keys.prefixNext(prefix), ts)) {
            out.put(TidbMeta.fieldOf(key, p.getKey().toByteArray()), p.getValue().toByteArray());
        }
        return out;
    }

    /** {@code TxStructure.HGet} (a snapshot KvGet), or null. */
    byte[] hget(String key, String field, long ts) {
        byte[] k = TidbMeta.hashFieldKey(key, field);
        PdClient.RegionInfo r = pd.region(BytesCodec.encode(k));
        Kvrpcpb.GetResponse resp = kvGet(r, Kvrpcpb.GetRequest.newBuilder().setContext(ctx(r)).setKey(ByteString.copyFrom(k)).setVersion(ts).build());
        assertThat(resp.hasRegionError()).isFalse();
        return resp.getNotFound() ? null : resp.getValue().toByteArray();
    }

    record Table(long dbId, String db, long id, String name, JsonNode info) {}

    /** {@code BuildBackupRangeAndSchema}'s reads: the tables {@code filter} ("db.table", "*" wildcards) keeps. */
    List<Table> schema(long ts, String dbFilter, String tableFilter) throws Exception {
        List<Table> out = new ArrayList<>();
        for (Map.Entry<String, byte[]> db : hgetAll(TidbMeta.DBS, ts).entrySet()) {
            JsonNode dbInfo = JSON.readTree(db.getValue());
            String dbName = dbInfo.get("db_name").get("O").asText();
            if (!dbFilter.equals("*") && !dbFilter.equals(dbName)) {
                continue;
            }
            long dbId = dbInfo.get("id").asLong();
            assertThat(db.getKey()).isEqualTo(TidbMeta.dbKey(dbId));
            assertThat(hget(TidbMeta.DBS, TidbMeta.dbKey(dbId), ts)).as("checkDBExists").isEqualTo(db.getValue());
            for (Map.Entry<String, byte[]> f : hgetAll(TidbMeta.dbKey(dbId), ts).entrySet()) {
                if (!f.getKey().startsWith("Table")) {
                    continue;
                }
                JsonNode t = JSON.readTree(f.getValue());
                String name = t.get("name").get("O").asText();
                if (tableFilter.equals("*") || tableFilter.equals(name)) {
                    out.add(new Table(dbId, dbName, t.get("id").asLong(), name, t));
                }
            }
        }
        return out;
    }

    // ------------------------------------------------------------------ backup and checksum

    static byte[] recordStart(long tableId) {
        return Keys.tidbRecordKey(tableId, Long.MIN_VALUE);
    }

    static byte[] recordEnd(long tableId) {
        return Keys.prefixNext(Keys.tidbRecordKey(tableId, Long.MAX_VALUE));
    }

    /** {@code BackupRange}: one request pushed to every store; the files they answer with. */
    List<Brpb.File> backup(Table t, long ts, Path dir) {
        Brpb.BackupRequest req = Brpb.BackupRequest.newBuilder().setClusterId(pd.clusterId())
                .setStartKey(ByteString.copyFrom(recordStart(t.id()))).setEndKey(ByteString.copyFrom(recordEnd(t.id())))
                .setStartVersion(0).setEndVersion(ts).setConcurrency(4)
                .setStorageBackend(Brpb.StorageBackend.newBuilder().setLocal(Brpb.Local.newBuilder().setPath(dir.toString())))
                .setCompressionType(Brpb.CompressionType.ZSTD).build();
        List<Brpb.File> files = new ArrayList<>();
        for (Metapb.Store s : pd.allStores()) {
            Iterator<Brpb.BackupResponse> it = BackupGrpc.newBlockingStub(channel(s.getId())).withDeadlineAfter(60, TimeUnit.SECONDS).backup(req);
            while (it.hasNext()) {
                Brpb.BackupResponse r = it.next();
                assertThat(r.hasError()).as(r.getError().toString()).isFalse();
                files.addAll(r.getFilesList());
            }
        }
        return files;
    }

    /** {@code checksum.Executor.Execute} for one table: its record range, per region, at {@code ts}. */
    ChecksumResponse coprocessorChecksum(Table t, long ts) throws Exception {
        ChecksumRequest checksum = ChecksumRequest.newBuilder().setScanOn(ChecksumScanOn.Table).setAlgorithm(ChecksumAlgorithm.Crc64_Xor).build();
        byte[] lo = recordStart(t.id());
        byte[] hi = recordEnd(t.id());
        long crc = 0;
        long kvs = 0;
        long bytes = 0;
        for (PdClient.RegionInfo r : pd.scanRegions(BytesCodec.encode(lo), BytesCodec.encode(hi))) {
            byte[] rs = r.region().getStartKey().isEmpty() ? new byte[0] : BytesCodec.decode(r.region().getStartKey().toByteArray());
            byte[] re = r.region().getEndKey().isEmpty() ? new byte[0] : BytesCodec.decode(r.region().getEndKey().toByteArray());
            byte[] s = Keys.compare(rs, lo) > 0 ? rs : lo;
            byte[] e = re.length != 0 && Keys.compare(re, hi) < 0 ? re : hi;
            Coprocessor.Request req = Coprocessor.Request.newBuilder().setContext(ctx(r).toBuilder().setPriority(Kvrpcpb.CommandPri.Low))
                    .setTp(105).setStartTs(ts).setData(checksum.toByteString())
                    .addRanges(Coprocessor.KeyRange.newBuilder().setStart(ByteString.copyFrom(s)).setEnd(ByteString.copyFrom(e))).build();
            Coprocessor.Response resp = coprocessor(r, req);
            assertThat(resp.hasRegionError()).as(resp.toString()).isFalse();
            assertThat(resp.hasLocked()).isFalse();
            assertThat(resp.getOtherError()).isEmpty();
            ChecksumResponse c = ChecksumResponse.parseFrom(resp.getData());
            crc ^= c.getChecksum();
            kvs += c.getTotalKvs();
            bytes += c.getTotalBytes();
        }
        return ChecksumResponse.newBuilder().setChecksum(crc).setTotalKvs(kvs).setTotalBytes(bytes).build();
    }

    /** {@code FastChecksum}'s side: the table's backup files summed. */
    static ChecksumResponse ofFiles(List<Brpb.File> files) {
        long crc = 0;
        long kvs = 0;
        long bytes = 0;
        for (Brpb.File f : files) {
            crc ^= f.getCrc64Xor();
            kvs += f.getTotalKvs();
            bytes += f.getTotalBytes();
        }
        return ChecksumResponse.newBuilder().setChecksum(crc).setTotalKvs(kvs).setTotalBytes(bytes).build();
    }

    void backupAndCompare(String dbFilter, String tableFilter, List<String> expectTables) throws Exception {
        long backupTs = pd.tso();
        List<Table> tables = schema(backupTs, dbFilter, tableFilter);
        assertThat(tables).extracting(Table::name).containsExactlyElementsOf(expectTables);
        Path dir = tmp.resolve("backup-" + dbFilter + "-" + tableFilter.replace('*', '_'));
        long total = 0;
        for (Table t : tables) {
            assertThat(t.info().get("pk_is_handle").asBoolean()).isTrue();
            assertThat(t.info().get("index_info").isNull()).as("no index range to back up").isTrue();
            List<Brpb.File> files = backup(t, backupTs, dir);
            assertThat(files).isNotEmpty().allSatisfy(f -> assertThat(Keys.startsWith(f.getStartKey().toByteArray(), Keys.tidbTablePrefix(t.id()))).isTrue());
            ChecksumResponse fromFiles = ofFiles(files);
            ChecksumResponse fromTikv = coprocessorChecksum(t, backupTs);
            assertThat(fromTikv).as("table %s: BR's coprocessor checksum vs its backup files", t.name()).isEqualTo(fromFiles);
            assertThat(fromTikv.getTotalKvs()).isBetween(350L, 400L);
            total += fromTikv.getTotalKvs();
        }
        assertThat(total).isPositive();
    }

    @Test
    void backupFullReadsTheSchemaBacksUpEveryTableAndChecksumsMatch() throws Exception {
        long ts = pd.tso();
        // the counters TiDB's domain and BR's meta reads find next to the tables
        PdClient.RegionInfo r = pd.region(BytesCodec.encode(TidbMeta.stringKey(TidbMeta.SCHEMA_VERSION)));
        Kvrpcpb.GetResponse ver = kvGet(r, Kvrpcpb.GetRequest.newBuilder().setContext(ctx(r))
                .setKey(ByteString.copyFrom(TidbMeta.stringKey(TidbMeta.SCHEMA_VERSION))).setVersion(ts).build());
        assertThat(ver.getValue().toString(StandardCharsets.US_ASCII)).isEqualTo("4");
        List<Table> all = schema(ts, "*", "*");
        assertThat(all).extracting(Table::db).containsOnly("test");
        assertThat(all).extracting(Table::id).containsExactly(100L, 101L, 102L);
        backupAndCompare("*", "*", List.of("t100", "t101", "t102"));
        assertThat(cluster.pdJournal().methods()).contains("pdpb.PD/Tso", "pdpb.PD/GetRegion", "pdpb.PD/ScanRegions", "pdpb.PD/GetAllStores");
    }

    @Test
    void backupDbAndTableFilterTheSameSchema() throws Exception {
        backupAndCompare("test", "*", List.of("t100", "t101", "t102"));
        backupAndCompare("test", "t101", List.of("t101"));
        assertThat(schema(pd.tso(), "other", "*")).isEmpty();
    }
}
