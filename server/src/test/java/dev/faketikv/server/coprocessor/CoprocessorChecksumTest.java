package dev.faketikv.server.coprocessor;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.pingcap.tidb.tipb.ChecksumRequest;
import com.pingcap.tidb.tipb.ChecksumResponse;
import com.pingcap.tidb.tipb.ChecksumRewriteRule;
import com.pingcap.tidb.tipb.ChecksumScanOn;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.codec.Crc64;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.gen.DataGenerator;
import dev.faketikv.engine.region.Region;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.TestServers;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Coprocessor;
import org.tikv.kvproto.Kvrpcpb;
import org.tikv.kvproto.Metapb;
import org.tikv.kvproto.TikvGrpc;
import org.tikv.kvproto.Tikvpb;

/**
 * {@code Tikv/Coprocessor} with BR's checksum request on a real store over loopback, against figures taken
 * another way: the pairs a transactional {@code KvScan} returns at the same ts, hashed as TiKV's
 * {@code checksum_crc64_xor} does. Plus the errors TiKV's endpoint gives: unsupported tp, region errors,
 * a lock met, a key outside the rewrite rule's prefix.
 */
class CoprocessorChecksumTest {
    /** Two tables of 150 rows, three regions, two versions, some deletes and long values, 4 pending locks at startTs(3). */
    static final String SEED = "txn:rows=300,tables=2,regions=3,value-size=40,long-ratio=0.2,long-value-size=400,versions=2,deletes=0.1,locks=4,seed=9,db=test";
    static final long AFTER_DATA = DataGenerator.commitTs(2);
    static final long AFTER_LOCKS = DataGenerator.startTs(3) + 10;

    @TempDir
    Path dir;
    FakeTikvServer server;
    ManagedChannel channel;
    TikvGrpc.TikvBlockingStub kv;

    @BeforeEach
    void start() throws Exception {
        server = TestServers.start(dir, List.of(SEED));
        channel = NettyChannelBuilder.forTarget(server.addr()).usePlaintext().build();
        kv = TikvGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    @AfterEach
    void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.close();
    }

    static Kvrpcpb.Context ctx(Region r) {
        return Kvrpcpb.Context.newBuilder().setRegionId(r.id())
                .setRegionEpoch(Metapb.RegionEpoch.newBuilder().setConfVer(r.confVer()).setVersion(r.version()))
                .setPeer(Metapb.Peer.newBuilder().setId(r.leader().id()).setStoreId(r.leaderStoreId())).build();
    }

    /** BR's table request: the record range of {@code tableId} ({@code FullIntRange} → {@code [t{id}_r{MinInt64}, t{id}_s)}). */
    static Coprocessor.KeyRange recordRange(long tableId) {
        byte[] start = Keys.tidbRecordKey(tableId, Long.MIN_VALUE);
        byte[] end = Keys.prefixNext(Keys.tidbRecordKey(tableId, Long.MAX_VALUE));
        return Coprocessor.KeyRange.newBuilder().setStart(ByteString.copyFrom(start)).setEnd(ByteString.copyFrom(end)).build();
    }

    static Coprocessor.Request request(Region r, long ts, ChecksumRequest checksum, Coprocessor.KeyRange range) {
        return Coprocessor.Request.newBuilder().setContext(ctx(r)).setTp(CoprocessorEndpoint.REQ_TYPE_CHECKSUM).setStartTs(ts)
                .setData(checksum.toByteString()).addRanges(range).build();
    }

    static ChecksumRequest table() {
        return ChecksumRequest.newBuilder().setScanOn(ChecksumScanOn.Table).build();
    }

    /** {@code range} cut to each region it overlaps, as TiDB's coprocessor client splits a request. */
    List<Coprocessor.Request> perRegion(long ts, ChecksumRequest checksum, Coprocessor.KeyRange range) {
        List<Coprocessor.Request> out = new ArrayList<>();
        byte[] lo = BytesCodec.encode(range.getStart().toByteArray());
        byte[] hi = BytesCodec.encode(range.getEnd().toByteArray());
        for (Region r : server.regions().all()) {
            boolean overlaps = Keys.compare(r.startKey(), hi) < 0 && (r.endKey().length == 0 || Keys.compare(r.endKey(), lo) > 0);
            if (!overlaps) {
                continue;
            }
            byte[] s = Keys.compare(r.startKey(), lo) > 0 ? BytesCodec.decode(r.startKey()) : range.getStart().toByteArray();
            byte[] e = r.endKey().length != 0 && Keys.compare(r.endKey(), hi) < 0 ? BytesCodec.decode(r.endKey()) : range.getEnd().toByteArray();
            out.add(request(r, ts, checksum, Coprocessor.KeyRange.newBuilder().setStart(ByteString.copyFrom(s)).setEnd(ByteString.copyFrom(e)).build()));
        }
        return out;
    }

    ChecksumResponse sum(List<Coprocessor.Request> reqs) throws Exception {
        long crc = 0;
        long kvs = 0;
        long bytes = 0;
        for (Coprocessor.Request req : reqs) {
            Coprocessor.Response resp = kv.coprocessor(req);
            assertThat(resp.hasRegionError()).as(resp.toString()).isFalse();
            assertThat(resp.getOtherError()).isEmpty();
            assertThat(resp.hasLocked()).isFalse();
            ChecksumResponse c = ChecksumResponse.parseFrom(resp.getData());
            crc ^= c.getChecksum();
            kvs += c.getTotalKvs();
            bytes += c.getTotalBytes();
        }
        return ChecksumResponse.newBuilder().setChecksum(crc).setTotalKvs(kvs).setTotalBytes(bytes).build();
    }

    /** The same figures from KvScan at {@code ts}, keys rewritten from {@code newPrefix} to {@code oldPrefix}. */
    ChecksumResponse byScan(long tableId, long ts, byte[] oldPrefix, byte[] newPrefix) {
        Coprocessor.KeyRange range = recordRange(tableId);
        long crc = 0;
        long kvs = 0;
        long bytes = 0;
        for (Region r : server.regions().all()) {
            Kvrpcpb.ScanResponse scan = kv.kvScan(Kvrpcpb.ScanRequest.newBuilder().setContext(ctx(r)).setStartKey(r.startKey().length == 0
                    ? range.getStart() : ByteString.copyFrom(BytesCodec.decode(r.startKey()))).setEndKey(range.getEnd()).setLimit(100_000)
                    .setVersion(ts).build());
            for (Kvrpcpb.KvPair p : scan.getPairsList()) {
                byte[] k = p.getKey().toByteArray();
                if (Keys.compare(k, range.getStart().toByteArray()) < 0 || Keys.compare(k, range.getEnd().toByteArray()) >= 0) {
                    continue;
                }
                assertThat(p.hasError()).isFalse();
                byte[] rewritten = new byte[oldPrefix.length + k.length - newPrefix.length];
                System.arraycopy(oldPrefix, 0, rewritten, 0, oldPrefix.length);
                System.arraycopy(k, newPrefix.length, rewritten, oldPrefix.length, k.length - newPrefix.length);
                crc ^= Crc64.ofPair(rewritten, p.getValue().toByteArray());
                kvs++;
                bytes += rewritten.length + p.getValue().size();
            }
        }
        return ChecksumResponse.newBuilder().setChecksum(crc).setTotalKvs(kvs).setTotalBytes(bytes).build();
    }

    @Test
    void tableChecksumMatchesTheScannedPairsAtEachTs() throws Exception {
        assertThat(server.regions().all()).hasSize(3);
        for (long ts : new long[] {DataGenerator.commitTs(0), AFTER_DATA}) {
            for (long table : new long[] {100, 101}) {
                // 1 lock in each table sits at startTs(3), above these read ts: it does not block them
                ChecksumResponse got = sum(perRegion(ts, table(), recordRange(table)));
                assertThat(got).isEqualTo(byScan(table, ts, new byte[0], new byte[0]));
                assertThat(got.getTotalKvs()).isBetween(100L, 150L);
            }
        }
        // before any row was written: nothing, but the table's schema is there (layer -1)
        assertThat(sum(perRegion(DataGenerator.commitTs(-1), table(), recordRange(100))).getTotalKvs()).isZero();
    }

    @Test
    void rewriteRuleHashesTheOldPrefix() throws Exception {
        byte[] newPrefix = recordPrefix(100);
        byte[] oldPrefix = recordPrefix(77);
        ChecksumRequest rule = table().toBuilder().setRule(ChecksumRewriteRule.newBuilder()
                .setOldPrefix(ByteString.copyFrom(oldPrefix)).setNewPrefix(ByteString.copyFrom(newPrefix))).build();
        ChecksumResponse got = sum(perRegion(AFTER_DATA, rule, recordRange(100)));
        assertThat(got).isEqualTo(byScan(100, AFTER_DATA, oldPrefix, newPrefix));
        assertThat(got.getChecksum()).isNotEqualTo(sum(perRegion(AFTER_DATA, table(), recordRange(100))).getChecksum());

        // a key outside the rule's new prefix: TiKV's "Wrong prefix expect"
        ChecksumRequest wrong = table().toBuilder().setRule(ChecksumRewriteRule.newBuilder()
                .setOldPrefix(ByteString.copyFrom(oldPrefix)).setNewPrefix(ByteString.copyFrom(recordPrefix(101)))).build();
        Coprocessor.Response resp = kv.coprocessor(perRegion(AFTER_DATA, wrong, recordRange(100)).get(0));
        assertThat(resp.getOtherError()).startsWith("Wrong prefix expect: [116, 128, 0, 0, 0, 0, 0, 0, 101, 95, 114]");
        assertThat(resp.getData().isEmpty()).isTrue();
    }

    static byte[] recordPrefix(long tableId) {
        byte[] t = Keys.tidbTablePrefix(tableId);
        byte[] out = new byte[t.length + 2];
        System.arraycopy(t, 0, out, 0, t.length);
        out[t.length] = '_';
        out[t.length + 1] = 'r';
        return out;
    }

    @Test
    void aLockAtOrBelowTheReadTsIsReturnedForTheClientToResolve() {
        List<Coprocessor.Request> reqs = perRegion(AFTER_LOCKS, table(), recordRange(100));
        Coprocessor.Response resp = kv.coprocessor(reqs.get(0));
        assertThat(resp.hasLocked()).as(resp.toString()).isTrue();
        assertThat(resp.getLocked().getLockVersion()).isEqualTo(DataGenerator.startTs(3));
        assertThat(resp.getLocked().getKey().toByteArray()).isEqualTo(Keys.tidbRecordKey(100, 1));
        assertThat(resp.getData().isEmpty()).isTrue();
        // the lock's ts in resolved_locks: read through it
        Coprocessor.Request bypass = reqs.get(0).toBuilder().setContext(reqs.get(0).getContext().toBuilder()
                .addResolvedLocks(DataGenerator.startTs(3))).build();
        Coprocessor.Response ok = kv.coprocessor(bypass);
        assertThat(ok.hasLocked()).isFalse();
        assertThat(ok.getData().isEmpty()).isFalse();
    }

    @Test
    void errorsAsTikvEndpointGivesThem() {
        Coprocessor.Request good = perRegion(AFTER_DATA, table(), recordRange(100)).get(0);
        Region first = server.regions().all().get(0);
        // DAG and analyze are not served: TiKV's answer for a request type it has no handler for
        for (long tp : new long[] {CoprocessorEndpoint.REQ_TYPE_DAG, CoprocessorEndpoint.REQ_TYPE_ANALYZE, 7}) {
            Coprocessor.Response r = kv.coprocessor(good.toBuilder().setTp(tp).build());
            assertThat(r.getOtherError()).isEqualTo("unsupported tp " + tp);
            assertThat(r.hasRegionError()).isFalse();
        }
        // the type is read before the region: a bad tp on a stale epoch is still "unsupported"
        Coprocessor.Request stale = good.toBuilder().setContext(good.getContext().toBuilder()
                .setRegionEpoch(Metapb.RegionEpoch.newBuilder().setConfVer(first.confVer()).setVersion(first.version() + 5))).build();
        assertThat(kv.coprocessor(stale.toBuilder().setTp(103).build()).getOtherError()).isEqualTo("unsupported tp 103");
        Coprocessor.Response epoch = kv.coprocessor(stale);
        assertThat(epoch.getRegionError().hasEpochNotMatch()).isTrue();
        Coprocessor.Response missing = kv.coprocessor(good.toBuilder().setContext(good.getContext().toBuilder().setRegionId(9999)).build());
        assertThat(missing.getRegionError().getRegionNotFound().getRegionId()).isEqualTo(9999);
        // a range starting in another region
        Coprocessor.Request outside = request(first, AFTER_DATA, table(), recordRange(101));
        Coprocessor.Response notIn = kv.coprocessor(outside);
        assertThat(notIn.getRegionError().hasKeyNotInRegion()).as(notIn.toString()).isTrue();
        // data that is no ChecksumRequest
        Coprocessor.Response garbage = kv.coprocessor(good.toBuilder().setData(ByteString.copyFrom(new byte[] {(byte) 0xff, (byte) 0xff})).build());
        assertThat(garbage.getOtherError()).isNotEmpty();
        // the store keeps serving
        assertThat(kv.coprocessor(good).getData().isEmpty()).isFalse();
    }

    @Test
    void batchCommandsAnswersEachCommandUnderItsIdAsTheUnaryCallDoes() throws Exception {
        Coprocessor.Request copr = perRegion(AFTER_DATA, table(), recordRange(100)).get(0);
        Region first = server.regions().all().get(0);
        Kvrpcpb.GetRequest get = Kvrpcpb.GetRequest.newBuilder().setContext(ctx(first))
                .setKey(ByteString.copyFrom(Keys.tidbRecordKey(100, 2))).setVersion(AFTER_DATA).build();
        LinkedBlockingQueue<Object> got = new LinkedBlockingQueue<>();
        StreamObserver<Tikvpb.BatchCommandsRequest> in = TikvGrpc.newStub(channel).batchCommands(new StreamObserver<>() {
            @Override
            public void onNext(Tikvpb.BatchCommandsResponse v) {
                got.add(v);
            }

            @Override
            public void onError(Throwable t) {
                got.add(t);
            }

            @Override
            public void onCompleted() {
                got.add("completed");
            }
        });
        in.onNext(Tikvpb.BatchCommandsRequest.newBuilder()
                .addRequests(Tikvpb.BatchCommandsRequest.Request.newBuilder().setCoprocessor(copr)).addRequestIds(11)
                .addRequests(Tikvpb.BatchCommandsRequest.Request.newBuilder().setGet(get)).addRequestIds(12)
                .addRequests(Tikvpb.BatchCommandsRequest.Request.newBuilder().setEmpty(Tikvpb.BatchCommandsEmptyRequest.newBuilder().setTestId(7)))
                .addRequestIds(13)
                // a command this fake has no handler for, and none at all: an empty response each
                .addRequests(Tikvpb.BatchCommandsRequest.Request.newBuilder().setGC(Kvrpcpb.GCRequest.getDefaultInstance())).addRequestIds(14)
                .addRequests(Tikvpb.BatchCommandsRequest.Request.getDefaultInstance()).addRequestIds(15).build());
        Object first1 = got.poll(30, TimeUnit.SECONDS);
        assertThat(first1).isInstanceOf(Tikvpb.BatchCommandsResponse.class);
        Tikvpb.BatchCommandsResponse r = (Tikvpb.BatchCommandsResponse) first1;
        assertThat(r.getRequestIdsList()).containsExactly(11L, 12L, 13L, 14L, 15L);
        assertThat(r.getResponses(0).getCoprocessor()).isEqualTo(kv.coprocessor(copr));
        assertThat(r.getResponses(1).getGet()).isEqualTo(kv.kvGet(get));
        assertThat(r.getResponses(1).getGet().getValue().isEmpty()).isFalse();
        assertThat(r.getResponses(2).getEmpty().getTestId()).isEqualTo(7);
        assertThat(r.getResponses(3).getCmdCase()).isEqualTo(Tikvpb.BatchCommandsResponse.Response.CmdCase.CMD_NOT_SET);
        assertThat(r.getResponses(4).getCmdCase()).isEqualTo(Tikvpb.BatchCommandsResponse.Response.CmdCase.CMD_NOT_SET);
        // the stream stays open for more, and closes when the client closes it
        in.onNext(Tikvpb.BatchCommandsRequest.newBuilder()
                .addRequests(Tikvpb.BatchCommandsRequest.Request.newBuilder().setCoprocessor(copr.toBuilder().setTp(103))).addRequestIds(16).build());
        Tikvpb.BatchCommandsResponse second = (Tikvpb.BatchCommandsResponse) got.poll(30, TimeUnit.SECONDS);
        assertThat(second.getResponses(0).getCoprocessor().getOtherError()).isEqualTo("unsupported tp 103");
        in.onCompleted();
        assertThat(got.poll(30, TimeUnit.SECONDS)).isEqualTo("completed");
    }
}
