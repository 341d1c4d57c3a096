package dev.faketikv.server.kv;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.faketikv.engine.Cf;
import dev.faketikv.engine.EngineSnapshot;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.engine.mvcc.EntryScanner;
import dev.faketikv.engine.mvcc.KeyLockedException;
import dev.faketikv.engine.mvcc.TxnEntry;
import dev.faketikv.engine.region.Region;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.TestServers;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Kvrpcpb;
import org.tikv.kvproto.Metapb;
import org.tikv.kvproto.TikvGrpc;

/** {@link KvService} on a real store over loopback: RawKV, Percolator, region errors, health. */
class KvServiceTest {
    @TempDir
    Path dir;
    FakeTikvServer server;
    ManagedChannel channel;
    TikvGrpc.TikvBlockingStub kv;

    @BeforeEach
    void start() throws Exception {
        server = TestServers.start(dir, List.of());
        channel = NettyChannelBuilder.forTarget(server.addr()).usePlaintext().build();
        kv = TikvGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    @AfterEach
    void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.close();
    }

    static ByteString b(String s) {
        return ByteString.copyFrom(s, StandardCharsets.UTF_8);
    }

    Kvrpcpb.Context ctx(Region r) {
        return Kvrpcpb.Context.newBuilder().setRegionId(r.id())
                .setRegionEpoch(Metapb.RegionEpoch.newBuilder().setConfVer(r.confVer()).setVersion(r.version()))
                .setPeer(Metapb.Peer.newBuilder().setId(r.leader().id()).setStoreId(r.leaderStoreId())).build();
    }

    Kvrpcpb.Context rawCtx(String key) {
        return ctx(server.regions().locate(key.getBytes(StandardCharsets.UTF_8)));
    }

    Kvrpcpb.Context txnCtx(String key) {
        return ctx(server.regions().locate(BytesCodec.encode(key.getBytes(StandardCharsets.UTF_8))));
    }

    @Test
    void healthIsServing() {
        HealthCheckResponse r = HealthGrpc.newBlockingStub(channel).check(HealthCheckRequest.getDefaultInstance());
        assertThat(r.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
    }

    @Test
    void otherMethodsAreUnimplemented() {
        assertThatThrownBy(() -> kv.kvGC(Kvrpcpb.GCRequest.getDefaultInstance()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNIMPLEMENTED));
    }

    @Test
    void rawPutGetScanDeleteAsTikv() {
        TreeMap<String, String> model = new TreeMap<>();
        List<Kvrpcpb.KvPair> pairs = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            String k = String.format("k%03d", i);
            model.put(k, "v" + i);
            pairs.add(Kvrpcpb.KvPair.newBuilder().setKey(b(k)).setValue(b("v" + i)).build());
        }
        assertThat(kv.rawBatchPut(Kvrpcpb.RawBatchPutRequest.newBuilder().setContext(rawCtx("")).addAllPairs(pairs).build()).getError()).isEmpty();
        assertThat(kv.rawGet(Kvrpcpb.RawGetRequest.newBuilder().setContext(rawCtx("")).setKey(b("k007")).build()).getValue()).isEqualTo(b("v7"));
        assertThat(kv.rawGet(Kvrpcpb.RawGetRequest.newBuilder().setContext(rawCtx("")).setKey(b("nope")).build()).getNotFound()).isTrue();

        Kvrpcpb.RawScanResponse fwd = kv.rawScan(Kvrpcpb.RawScanRequest.newBuilder().setContext(rawCtx("")).setStartKey(b("k010"))
                .setEndKey(b("k020")).setLimit(5).build());
        assertThat(fwd.getKvsList()).extracting(p -> p.getKey().toStringUtf8()).containsExactly("k010", "k011", "k012", "k013", "k014");
        Kvrpcpb.RawScanResponse rev = kv.rawScan(Kvrpcpb.RawScanRequest.newBuilder().setContext(rawCtx("")).setStartKey(b("k020"))
                .setEndKey(b("k010")).setLimit(3).setReverse(true).setKeyOnly(true).build());
        assertThat(rev.getKvsList()).extracting(p -> p.getKey().toStringUtf8()).containsExactly("k019", "k018", "k017");
        assertThat(rev.getKvsList()).allSatisfy(p -> assertThat(p.getValue().isEmpty()).isTrue());

        kv.rawDeleteRange(Kvrpcpb.RawDeleteRangeRequest.newBuilder().setContext(rawCtx("")).setStartKey(b("k000")).setEndKey(b("k040")).build());
        kv.rawDelete(Kvrpcpb.RawDeleteRequest.newBuilder().setContext(rawCtx("")).setKey(b("k049")).build());
        Kvrpcpb.RawBatchGetResponse left = kv.rawBatchGet(Kvrpcpb.RawBatchGetRequest.newBuilder().setContext(rawCtx(""))
                .addKeys(b("k001")).addKeys(b("k045")).addKeys(b("k049")).build());
        assertThat(left.getPairsList()).extracting(p -> p.getKey().toStringUtf8()).containsExactly("k045");
    }

    @Test
    void ttlAndUnknownCfAreRefusedAsApiV1Does() {
        assertThat(kv.rawPut(Kvrpcpb.RawPutRequest.newBuilder().setContext(rawCtx("")).setKey(b("a")).setValue(b("1")).setTtl(10).build())
                .getError()).isEqualTo("ttl is not enabled, but get put request with ttl");
        assertThat(kv.rawPut(Kvrpcpb.RawPutRequest.newBuilder().setContext(rawCtx("")).setKey(b("a")).setValue(b("1")).setCf("nope").build())
                .getError()).isEqualTo("invalid cf name: nope");
        assertThat(kv.rawGet(Kvrpcpb.RawGetRequest.newBuilder().setContext(rawCtx("")).setKey(b("a")).build()).getNotFound()).isTrue();
    }

    @Test
    void regionErrorsAsRaftstoreSendsThem() {
        Region[] lr = server.regions().split("m".getBytes(StandardCharsets.UTF_8));
        Kvrpcpb.Context stale = ctx(lr[1]).toBuilder().setRegionEpoch(Metapb.RegionEpoch.newBuilder().setConfVer(1).setVersion(1)).build();
        Kvrpcpb.RawGetResponse epoch = kv.rawGet(Kvrpcpb.RawGetRequest.newBuilder().setContext(stale).setKey(b("x")).build());
        assertThat(epoch.getRegionError().getEpochNotMatch().getCurrentRegionsList()).extracting(Metapb.Region::getId)
                .containsExactly(lr[1].id(), lr[0].id());

        Kvrpcpb.RawGetResponse notIn = kv.rawGet(Kvrpcpb.RawGetRequest.newBuilder().setContext(ctx(lr[1])).setKey(b("a")).build());
        assertThat(notIn.getRegionError().getKeyNotInRegion().getRegionId()).isEqualTo(lr[1].id());

        Kvrpcpb.RawGetResponse missing = kv.rawGet(Kvrpcpb.RawGetRequest.newBuilder()
                .setContext(Kvrpcpb.Context.newBuilder().setRegionId(9999)).setKey(b("a")).build());
        assertThat(missing.getRegionError().getRegionNotFound().getRegionId()).isEqualTo(9999);

        server.regions().addPeer(lr[1].id(), 77);
        Region moved = server.regions().transferLeader(lr[1].id(), 77);
        Kvrpcpb.RawPutResponse notLeader = kv.rawPut(Kvrpcpb.RawPutRequest.newBuilder().setContext(ctx(lr[1]).toBuilder()
                .setRegionEpoch(Metapb.RegionEpoch.newBuilder().setConfVer(moved.confVer()).setVersion(moved.version()))).setKey(b("x")).setValue(b("1")).build());
        assertThat(notLeader.getRegionError().getNotLeader().getLeader().getStoreId()).isEqualTo(77);
        assertThat(kv.rawGet(Kvrpcpb.RawGetRequest.newBuilder().setContext(ctx(lr[0])).setKey(b("a")).build()).hasRegionError()).isFalse();
    }

    Kvrpcpb.PrewriteResponse prewrite(long startTs, String primary, String... kvs) {
        Kvrpcpb.PrewriteRequest.Builder r = Kvrpcpb.PrewriteRequest.newBuilder().setContext(txnCtx("")).setPrimaryLock(b(primary))
                .setStartVersion(startTs).setLockTtl(3000);
        for (int i = 0; i < kvs.length; i += 2) {
            r.addMutations(Kvrpcpb.Mutation.newBuilder().setOp(Kvrpcpb.Op.Put).setKey(b(kvs[i])).setValue(b(kvs[i + 1])));
        }
        return kv.kvPrewrite(r.build());
    }

    @Test
    void twoPhaseCommitIsReadAtItsTsAndBackedUpAsWritten() {
        long now = TestServers.NOW_TS;
        String big = "x".repeat(300);
        assertThat(prewrite(now + 10, "a", "a", "1", "b", big).getErrorsList()).isEmpty();
        // a reader after start_ts meets the lock
        Kvrpcpb.GetResponse locked = kv.kvGet(Kvrpcpb.GetRequest.newBuilder().setContext(txnCtx("a")).setKey(b("b")).setVersion(now + 15).build());
        assertThat(locked.getError().getLocked().getLockVersion()).isEqualTo(now + 10);
        assertThat(locked.getError().getLocked().getPrimaryLock()).isEqualTo(b("a"));
        // a conflicting prewrite sees it too
        assertThat(prewrite(now + 12, "b", "b", "2").getErrors(0).getLocked().getKey()).isEqualTo(b("b"));

        Kvrpcpb.CommitResponse c = kv.kvCommit(Kvrpcpb.CommitRequest.newBuilder().setContext(txnCtx("a")).setStartVersion(now + 10)
                .setCommitVersion(now + 20).addKeys(b("a")).addKeys(b("b")).build());
        assertThat(c.hasError()).isFalse();
        assertThat(kv.kvGet(Kvrpcpb.GetRequest.newBuilder().setContext(txnCtx("a")).setKey(b("b")).setVersion(now + 19).build()).getNotFound()).isTrue();
        assertThat(kv.kvGet(Kvrpcpb.GetRequest.newBuilder().setContext(txnCtx("a")).setKey(b("b")).setVersion(now + 21).build()).getValue())
                .isEqualTo(b(big));
        // a later writer that started before the commit conflicts
        assertThat(prewrite(now + 15, "a", "a", "3").getErrors(0).getConflict().getConflictCommitTs()).isEqualTo(now + 20);
        Kvrpcpb.ScanResponse scan = kv.kvScan(Kvrpcpb.ScanRequest.newBuilder().setContext(txnCtx("")).setStartKey(b("")).setLimit(10)
                .setVersion(now + 30).build());
        assertThat(scan.getPairsList()).extracting(p -> p.getKey().toStringUtf8()).containsExactly("a", "b");

        // what the backup endpoint reads: exactly those two versions
        List<TxnEntry> entries = new ArrayList<>();
        try (EngineSnapshot s = server.engine().snapshot(); EntryScanner es = new EntryScanner(s, null, null, now + 30, 0, false)) {
            while (es.nextBatch(entries, 100)) {
                // drain
            }
        }
        assertThat(entries).hasSize(2);
    }

    @Test
    void abandonedTransactionIsResolvedAndRolledBack() {
        long now = TestServers.NOW_TS;
        assertThat(prewrite(now + 10, "p", "p", "1", "s", "2").getErrorsList()).isEmpty();
        Kvrpcpb.CheckTxnStatusResponse alive = kv.kvCheckTxnStatus(Kvrpcpb.CheckTxnStatusRequest.newBuilder().setContext(txnCtx("p"))
                .setPrimaryKey(b("p")).setLockTs(now + 10).setCallerStartTs(now + 11).setCurrentTs(now + 11).build());
        assertThat(alive.getLockTtl()).isEqualTo(3000);
        assertThat(kv.kvTxnHeartBeat(Kvrpcpb.TxnHeartBeatRequest.newBuilder().setContext(txnCtx("p")).setPrimaryLock(b("p"))
                .setStartVersion(now + 10).setAdviseLockTtl(5000).build()).getLockTtl()).isEqualTo(5000);
        long later = now + (10_000L << 18);
        Kvrpcpb.CheckTxnStatusResponse expired = kv.kvCheckTxnStatus(Kvrpcpb.CheckTxnStatusRequest.newBuilder().setContext(txnCtx("p"))
                .setPrimaryKey(b("p")).setLockTs(now + 10).setCallerStartTs(later).setCurrentTs(later).build());
        assertThat(expired.getAction()).isEqualTo(Kvrpcpb.Action.TTLExpireRollback);
        assertThat(kv.kvScanLock(Kvrpcpb.ScanLockRequest.newBuilder().setContext(txnCtx("")).setMaxVersion(later).build()).getLocksList())
                .extracting(l -> l.getKey().toStringUtf8()).containsExactly("s");
        kv.kvResolveLock(Kvrpcpb.ResolveLockRequest.newBuilder().setContext(txnCtx("")).setStartVersion(now + 10).build());
        assertThat(kv.kvScanLock(Kvrpcpb.ScanLockRequest.newBuilder().setContext(txnCtx("")).setMaxVersion(later).build()).getLocksList()).isEmpty();
        assertThat(kv.kvGet(Kvrpcpb.GetRequest.newBuilder().setContext(txnCtx("s")).setKey(b("s")).setVersion(later).build()).getNotFound()).isTrue();
        // the rolled-back transaction can no longer commit
        Kvrpcpb.CommitResponse late = kv.kvCommit(Kvrpcpb.CommitRequest.newBuilder().setContext(txnCtx("p")).setStartVersion(now + 10)
                .setCommitVersion(now + 20).addKeys(b("p")).build());
        assertThat(late.getError().getRetryable()).contains("TxnLockNotFound");
    }

    @Test
    void rawBatchScanAndBadRangesAsTikv() {
        List<Kvrpcpb.KvPair> pairs = new ArrayList<>();
        for (String k : List.of("a1", "a2", "b1", "b2", "c1")) {
            pairs.add(Kvrpcpb.KvPair.newBuilder().setKey(b(k)).setValue(b("v")).build());
        }
        kv.rawBatchPut(Kvrpcpb.RawBatchPutRequest.newBuilder().setContext(rawCtx("")).addAllPairs(pairs).build());
        Kvrpcpb.RawBatchScanResponse r = kv.rawBatchScan(Kvrpcpb.RawBatchScanRequest.newBuilder().setContext(rawCtx(""))
                .addRanges(Kvrpcpb.KeyRange.newBuilder().setStartKey(b("a")).setEndKey(b("b")))
                .addRanges(Kvrpcpb.KeyRange.newBuilder().setStartKey(b("b")))
                .addRanges(Kvrpcpb.KeyRange.newBuilder().setStartKey(b("c"))).setEachLimit(1).build());
        assertThat(r.getKvsList()).extracting(p -> p.getKey().toStringUtf8()).containsExactly("a1", "b1", "c1");
        Kvrpcpb.RawBatchScanResponse bad = kv.rawBatchScan(Kvrpcpb.RawBatchScanRequest.newBuilder().setContext(rawCtx(""))
                .addRanges(Kvrpcpb.KeyRange.newBuilder().setStartKey(b("c")).setEndKey(b("a"))).setEachLimit(1).build());
        assertThat(bad.getKvs(0).getError().getAbort()).contains("Invalid KeyRanges");
    }

    @Test
    void txnKeysAreCheckedEncodedAgainstTheRegion() {
        Region[] lr = server.regions().split(BytesCodec.encode("m".getBytes(StandardCharsets.UTF_8)));
        Kvrpcpb.GetResponse r = kv.kvGet(Kvrpcpb.GetRequest.newBuilder().setContext(ctx(lr[1])).setKey(b("a")).setVersion(10).build());
        assertThat(r.getRegionError().getKeyNotInRegion().getKey()).isEqualTo(ByteString.copyFrom(BytesCodec.encode("a".getBytes(StandardCharsets.UTF_8))));
        assertThat(kv.kvGet(Kvrpcpb.GetRequest.newBuilder().setContext(ctx(lr[1])).setKey(b("x")).setVersion(10).build()).getNotFound()).isTrue();
    }

    @Test
    void insertOfAnExistingKeyAndCleanupOfACommittedTxn() {
        long now = TestServers.NOW_TS;
        prewrite(now + 1, "k", "k", "1");
        kv.kvCommit(Kvrpcpb.CommitRequest.newBuilder().setContext(txnCtx("k")).setStartVersion(now + 1).setCommitVersion(now + 2).addKeys(b("k")).build());
        Kvrpcpb.PrewriteResponse insert = kv.kvPrewrite(Kvrpcpb.PrewriteRequest.newBuilder().setContext(txnCtx("k")).setPrimaryLock(b("k"))
                .setStartVersion(now + 3).setLockTtl(3000)
                .addMutations(Kvrpcpb.Mutation.newBuilder().setOp(Kvrpcpb.Op.Insert).setKey(b("k")).setValue(b("2"))).build());
        assertThat(insert.getErrors(0).getAlreadyExist().getKey()).isEqualTo(b("k"));
        Kvrpcpb.CleanupResponse cleanup = kv.kvCleanup(Kvrpcpb.CleanupRequest.newBuilder().setContext(txnCtx("k")).setKey(b("k"))
                .setStartVersion(now + 1).build());
        assertThat(cleanup.getCommitVersion()).isEqualTo(now + 2);
        assertThat(cleanup.hasError()).isFalse();
        // a rolled-back start ts cannot be prewritten again
        kv.kvBatchRollback(Kvrpcpb.BatchRollbackRequest.newBuilder().setContext(txnCtx("j")).setStartVersion(now + 5).addKeys(b("j")).build());
        assertThat(prewrite(now + 5, "j", "j", "1").getErrors(0).hasConflict()).isTrue();
    }

    @Test
    void aScanReportsALockedKeyAndGoesOn() {
        long now = TestServers.NOW_TS;
        prewrite(now + 1, "a", "a", "1", "c", "3");
        kv.kvCommit(Kvrpcpb.CommitRequest.newBuilder().setContext(txnCtx("a")).setStartVersion(now + 1).setCommitVersion(now + 2)
                .addKeys(b("a")).addKeys(b("c")).build());
        prewrite(now + 3, "b", "b", "2");
        Kvrpcpb.ScanResponse scan = kv.kvScan(Kvrpcpb.ScanRequest.newBuilder().setContext(txnCtx("")).setStartKey(b("a")).setLimit(10)
                .setVersion(now + 4).build());
        assertThat(scan.getPairsCount()).isEqualTo(3);
        assertThat(scan.getPairs(0).getKey()).isEqualTo(b("a"));
        assertThat(scan.getPairs(1).getError().getLocked().getKey()).isEqualTo(b("b"));
        assertThat(scan.getPairs(2).getKey()).isEqualTo(b("c"));
        // read committed ignores the lock; a reverse scan starts at the upper bound
        assertThat(kv.kvScan(Kvrpcpb.ScanRequest.newBuilder().setContext(txnCtx("").toBuilder().setIsolationLevel(Kvrpcpb.IsolationLevel.RC))
                .setStartKey(b("a")).setLimit(10).setVersion(now + 4).build()).getPairsList()).extracting(p -> p.getKey().toStringUtf8())
                .containsExactly("a", "c");
        Kvrpcpb.ScanResponse reverse = kv.kvScan(Kvrpcpb.ScanRequest.newBuilder().setContext(txnCtx("")).setStartKey(b("z")).setLimit(1)
                .setReverse(true).setVersion(now + 2).build());
        assertThat(reverse.getPairsList()).extracting(p -> p.getKey().toStringUtf8()).containsExactly("c");
    }

    @Test
    void aCallWithTikvForwardedHostIsServedByThatStore() throws Exception {
        try (FakeTikvServer other = TestServers.start(dir.resolve("other"), List.of())) {
            Kvrpcpb.Context otherCtx = ctx(other.regions().locate(new byte[0]));
            Metadata headers = new Metadata();
            headers.put(Metadata.Key.of("tikv-forwarded-host", Metadata.ASCII_STRING_MARSHALLER), other.addr());
            TikvGrpc.TikvBlockingStub viaThis = kv.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
            Kvrpcpb.RawPutResponse put = viaThis.rawPut(Kvrpcpb.RawPutRequest.newBuilder().setContext(otherCtx).setKey(b("fwd")).setValue(b("1")).build());
            assertThat(put.hasRegionError()).isFalse();
            assertThat(other.engine().get(Cf.DEFAULT, "zfwd".getBytes(StandardCharsets.UTF_8))).isEqualTo("1".getBytes(StandardCharsets.UTF_8));
            assertThat(server.engine().get(Cf.DEFAULT, "zfwd".getBytes(StandardCharsets.UTF_8))).isNull();
            // an unreachable target: the status, and this store keeps serving
            headers.put(Metadata.Key.of("tikv-forwarded-host", Metadata.ASCII_STRING_MARSHALLER), "127.0.0.1:1");
            assertThatThrownBy(() -> kv.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                    .rawGet(Kvrpcpb.RawGetRequest.newBuilder().setContext(otherCtx).setKey(b("fwd")).build()))
                    .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
            assertThat(kv.rawGet(Kvrpcpb.RawGetRequest.newBuilder().setContext(rawCtx("")).setKey(b("fwd")).build()).getNotFound()).isTrue();
        }
    }

    @Test
    void aBackupMeetsTheLockAPrewriteLeft() {
        long now = TestServers.NOW_TS;
        prewrite(now + 1, "p", "p", "1");
        try (EngineSnapshot s = server.engine().snapshot(); EntryScanner es = new EntryScanner(s, null, null, now + 5, 0, false)) {
            assertThatThrownBy(() -> es.nextBatch(new ArrayList<>(), 100)).isInstanceOf(KeyLockedException.class);
        }
        // before the lock's start ts the backup does not see it
        try (EngineSnapshot s = server.engine().snapshot(); EntryScanner es = new EntryScanner(s, null, null, now, 0, false)) {
            List<TxnEntry> out = new ArrayList<>();
            es.nextBatch(out, 100);
            assertThat(out).isEmpty();
        }
    }
}
