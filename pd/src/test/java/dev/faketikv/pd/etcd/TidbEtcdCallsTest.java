package dev.faketikv.pd.etcd;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.etcd.jetcd.api.ClusterGrpc;
import io.etcd.jetcd.api.CompactionRequest;
import io.etcd.jetcd.api.Compare;
import io.etcd.jetcd.api.DeleteRangeRequest;
import io.etcd.jetcd.api.Event;
import io.etcd.jetcd.api.KVGrpc;
import io.etcd.jetcd.api.KeyValue;
import io.etcd.jetcd.api.LeaseGrantRequest;
import io.etcd.jetcd.api.LeaseGrpc;
import io.etcd.jetcd.api.LeaseKeepAliveRequest;
import io.etcd.jetcd.api.LeaseKeepAliveResponse;
import io.etcd.jetcd.api.LeaseRevokeRequest;
import io.etcd.jetcd.api.LeaseTimeToLiveRequest;
import io.etcd.jetcd.api.Member;
import io.etcd.jetcd.api.MemberListRequest;
import io.etcd.jetcd.api.PutRequest;
import io.etcd.jetcd.api.RangeRequest;
import io.etcd.jetcd.api.RangeResponse;
import io.etcd.jetcd.api.RequestOp;
import io.etcd.jetcd.api.TxnRequest;
import io.etcd.jetcd.api.TxnResponse;
import io.etcd.jetcd.api.WatchCancelRequest;
import io.etcd.jetcd.api.WatchCreateRequest;
import io.etcd.jetcd.api.WatchRequest;
import io.etcd.jetcd.api.WatchResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.PDGrpc;
import org.tikv.kvproto.Pdpb;

/**
 * The etcd requests TiDB 5.4's store driver and domain send on the PD address (BR 5.4 opens both), in the shapes
 * etcd's Go client v3 gives them, over plain gRPC: the GC safe point read, the DDL schema syncer's keys, server
 * info, the DDL owner election ({@code concurrency.Election.Campaign}: lease, create-if-absent txn, wait for
 * older candidates' deletion through a watch); and etcd's errors for bad requests.
 */
class TidbEtcdCallsTest {
    static PdEtcd pd;

    @BeforeAll
    static void start(@TempDir Path dir) throws Exception {
        pd = new PdEtcd(dir);
    }

    /** A stub whose deadline starts now (a deadline is absolute: one stub per call). */
    static KVGrpc.KVBlockingStub kv() {
        return KVGrpc.newBlockingStub(pd.channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    static LeaseGrpc.LeaseBlockingStub lease() {
        return LeaseGrpc.newBlockingStub(pd.channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    @AfterAll
    static void stop() throws Exception {
        pd.close();
    }

    static ByteString b(String s) {
        return ByteString.copyFromUtf8(s);
    }

    /** clientv3's {@code GetPrefixRangeEnd}. */
    static ByteString prefixEnd(String prefix) {
        byte[] k = prefix.getBytes(UTF_8);
        for (int i = k.length - 1; i >= 0; i--) {
            if (k[i] != (byte) 0xff) {
                k[i]++;
                return ByteString.copyFrom(k, 0, i + 1);
            }
        }
        return ByteString.copyFrom(new byte[] {0});
    }

    static RangeResponse get(String key) {
        return kv().range(RangeRequest.newBuilder().setKey(b(key)).build());
    }

    static RangeResponse getPrefix(String prefix) {
        return kv().range(RangeRequest.newBuilder().setKey(b(prefix)).setRangeEnd(prefixEnd(prefix)).build());
    }

    static long grant(long ttl) {
        return lease().leaseGrant(LeaseGrantRequest.newBuilder().setTTL(ttl).build()).getID();
    }

    static void put(String key, String value, long leaseId) {
        kv().put(PutRequest.newBuilder().setKey(b(key)).setValue(b(value)).setLease(leaseId).build());
    }

    /** A watch stream, as etcd's client opens one: responses are queued for the test to take. */
    static final class WatchStream implements StreamObserver<WatchResponse> {
        final BlockingQueue<WatchResponse> got = new LinkedBlockingQueue<>();
        final StreamObserver<WatchRequest> requests = WatchGrpc().watch(this);

        static io.etcd.jetcd.api.WatchGrpc.WatchStub WatchGrpc() {
            return io.etcd.jetcd.api.WatchGrpc.newStub(pd.channel);
        }

        WatchResponse create(WatchCreateRequest c) throws InterruptedException {
            requests.onNext(WatchRequest.newBuilder().setCreateRequest(c).build());
            WatchResponse r = next();
            assertThat(r.getCreated()).isTrue();
            return r;
        }

        WatchResponse next() throws InterruptedException {
            WatchResponse r = got.poll(10, TimeUnit.SECONDS);
            assertThat(r).as("a watch response within 10 s").isNotNull();
            return r;
        }

        @Override
        public void onNext(WatchResponse r) {
            got.add(r);
        }

        @Override
        public void onError(Throwable t) {
        }

        @Override
        public void onCompleted() {
        }
    }

    @Test
    void gcSafePointIsReadFromItsKey() {
        // client-go tikv/safepoint.go EtcdSafePointKV.Get: an absent key reads as safe point 0
        RangeResponse none = get("/tidb/store/gcworker/saved_safe_point");
        assertThat(none.getKvsList()).isEmpty();
        assertThat(none.getCount()).isZero();
        // TiDB's GC worker saves it as decimal text
        put("/tidb/store/gcworker/saved_safe_point", "431234567890123456", 0);
        assertThat(get("/tidb/store/gcworker/saved_safe_point").getKvs(0).getValue().toStringUtf8()).isEqualTo("431234567890123456");
        assertThat(pd.pd.journal().methods()).contains("etcdserverpb.KV/Range", "etcdserverpb.KV/Put");
    }

    @Test
    void schemaSyncerKeysAndServerInfo() throws Exception {
        // ddl/util/syncer.go Init: a session (lease, TTL 90 s, kept alive), self version "0" under it, a watch on the global version
        long session = grant(90);
        BlockingQueue<LeaseKeepAliveResponse> alive = new LinkedBlockingQueue<>();
        StreamObserver<LeaseKeepAliveRequest> keep = LeaseGrpc.newStub(pd.channel).leaseKeepAlive(new StreamObserver<>() {
            @Override
            public void onNext(LeaseKeepAliveResponse r) {
                alive.add(r);
            }

            @Override
            public void onError(Throwable t) {
            }

            @Override
            public void onCompleted() {
            }
        });
        keep.onNext(LeaseKeepAliveRequest.newBuilder().setID(session).build());
        assertThat(alive.poll(10, TimeUnit.SECONDS).getTTL()).isEqualTo(90);

        String self = "/tidb/ddl/all_schema_versions/9f1e2d3c-0000-4000-8000-000000000001";
        put(self, "0", session);
        WatchStream global = new WatchStream();
        global.create(WatchCreateRequest.newBuilder().setKey(b("/tidb/ddl/global_schema_version")).build());

        // the DDL owner bumps the global version; every TiDB's watch sees it
        put("/tidb/ddl/global_schema_version", "42", 0);
        WatchResponse bump = global.next();
        assertThat(bump.getEvents(0).getType()).isEqualTo(Event.EventType.PUT);
        assertThat(bump.getEvents(0).getKv().getValue().toStringUtf8()).isEqualTo("42");

        // the TiDB loads schema 42 and reports it; the owner's OwnerCheckAllVersions reads the prefix
        put(self, "42", session);
        RangeResponse all = getPrefix("/tidb/ddl/all_schema_versions/");
        assertThat(all.getKvsList()).extracting(k -> k.getValue().toStringUtf8()).containsExactly("42");

        // domain/infosync: server info under its own session
        long info = grant(600);
        put("/tidb/server/info/9f1e2d3c-0000-4000-8000-000000000001", "{\"version\":\"5.7.25-TiDB-v5.4.0\"}", info);
        assertThat(getPrefix("/tidb/server/info/").getKvsList()).hasSize(1);

        // the TiDB dies: its session lease runs out and the owner stops waiting for it
        keep.onCompleted();
        pd.advanceSeconds(91);
        assertThat(getPrefix("/tidb/ddl/all_schema_versions/").getKvsList()).isEmpty();
        pd.advanceSeconds(510);
        assertThat(getPrefix("/tidb/server/info/").getKvsList()).isEmpty();
        global.requests.onCompleted();
    }

    /** concurrency.Election.Campaign's create-if-absent txn for {@code key} under {@code leaseId}. */
    static TxnResponse campaign(String key, String value, long leaseId) {
        return kv().txn(TxnRequest.newBuilder()
                .addCompare(Compare.newBuilder().setKey(b(key)).setTarget(Compare.CompareTarget.CREATE)
                        .setResult(Compare.CompareResult.EQUAL).setCreateRevision(0))
                .addSuccess(RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder().setKey(b(key)).setValue(b(value)).setLease(leaseId)))
                .addFailure(RequestOp.newBuilder().setRequestRange(RangeRequest.newBuilder().setKey(b(key))))
                .build());
    }

    /** waitDeletes' read: the newest candidate older than {@code maxCreateRev} (WithLastCreate + WithMaxCreateRev). */
    static RangeResponse lastCreatedBefore(String prefix, long maxCreateRev) {
        return kv().range(RangeRequest.newBuilder().setKey(b(prefix)).setRangeEnd(prefixEnd(prefix))
                .setSortTarget(RangeRequest.SortTarget.CREATE).setSortOrder(RangeRequest.SortOrder.DESCEND).setLimit(1)
                .setMaxCreateRevision(maxCreateRev).build());
    }

    /** Election.Leader: the oldest candidate (WithFirstCreate). */
    static KeyValue leader(String prefix) {
        RangeResponse r = kv().range(RangeRequest.newBuilder().setKey(b(prefix)).setRangeEnd(prefixEnd(prefix))
                .setSortTarget(RangeRequest.SortTarget.CREATE).setSortOrder(RangeRequest.SortOrder.ASCEND).setLimit(1).build());
        return r.getKvs(0);
    }

    @Test
    void ddlOwnerElection() throws Exception {
        // owner/manager.go: NewSession(TTL ManagerSessionTTL = 60), NewElection(session, "/tidb/ddl/fg/owner")
        String prefix = "/tidb/ddl/fg/owner/";
        long leaseA = grant(60);
        long leaseB = grant(60);
        String keyA = prefix + Long.toHexString(leaseA);
        String keyB = prefix + Long.toHexString(leaseB);

        TxnResponse a = campaign(keyA, "ddl-A", leaseA);
        assertThat(a.getSucceeded()).isTrue();
        assertThat(lastCreatedBefore(prefix, a.getHeader().getRevision() - 1).getKvsList()).as("nobody before A").isEmpty();
        KeyValue owner = leader(prefix);
        assertThat(owner.getValue().toStringUtf8()).isEqualTo("ddl-A");
        assertThat(owner.getKey().toStringUtf8()).isEqualTo(keyA);
        // A watches its own key to notice losing ownership (watchOwner)
        WatchStream watchOwnA = new WatchStream();
        watchOwnA.create(WatchCreateRequest.newBuilder().setKey(b(keyA)).build());

        // B campaigns: its own key goes in, then it waits for the older candidate's key to go
        TxnResponse bTxn = campaign(keyB, "ddl-B", leaseB);
        assertThat(bTxn.getSucceeded()).isTrue();
        RangeResponse older = lastCreatedBefore(prefix, bTxn.getHeader().getRevision() - 1);
        assertThat(older.getKvsList()).extracting(k -> k.getKey().toStringUtf8()).containsExactly(keyA);
        WatchStream waitA = new WatchStream();
        waitA.create(WatchCreateRequest.newBuilder().setKey(older.getKvs(0).getKey())
                .setStartRevision(older.getHeader().getRevision()).build());
        // a second campaign by A itself finds its own key (the failure branch reads it)
        TxnResponse again = campaign(keyA, "ddl-A", leaseA);
        assertThat(again.getSucceeded()).isFalse();
        assertThat(again.getResponses(0).getResponseRange().getKvs(0).getCreateRevision())
                .isEqualTo(owner.getCreateRevision());

        // B keeps its session alive; A's runs out
        pd.advanceSeconds(50);
        assertThat(pd.store().keepAlive(leaseB)).isEqualTo(60);
        pd.advanceSeconds(11);
        WatchResponse gone = waitA.next();
        assertThat(gone.getEvents(0).getType()).isEqualTo(Event.EventType.DELETE);
        assertThat(gone.getEvents(0).getKv().getKey().toStringUtf8()).isEqualTo(keyA);
        assertThat(watchOwnA.next().getEvents(0).getType()).isEqualTo(Event.EventType.DELETE);
        assertThat(lastCreatedBefore(prefix, bTxn.getHeader().getRevision() - 1).getKvsList()).isEmpty();
        assertThat(leader(prefix).getValue().toStringUtf8()).isEqualTo("ddl-B");

        // B resigns (session close revokes its lease) and the owner key is gone
        lease().leaseRevoke(LeaseRevokeRequest.newBuilder().setID(leaseB).build());
        assertThat(getPrefix(prefix).getKvsList()).isEmpty();
        watchOwnA.requests.onCompleted();
        waitA.requests.onCompleted();
    }

    /** PD's own gRPC and HTTP API keep answering on the port, over the channel etcd's calls use. */
    @Test
    void pdGrpcAndHttpShareThePortWithEtcd() throws Exception {
        put("/share/k", "v", 0);
        Pdpb.GetMembersResponse m = PDGrpc.newBlockingStub(pd.channel).getMembers(Pdpb.GetMembersRequest.getDefaultInstance());
        assertThat(m.getHeader().getClusterId()).isEqualTo(PdEtcd.CLUSTER_ID);
        assertThat(get("/share/k").getHeader().getClusterId()).as("etcd answers with PD's cluster id").isEqualTo(PdEtcd.CLUSTER_ID);
        HttpResponse<String> v = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create(pd.endpoint() + "/pd/api/v1/version")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(v.statusCode()).isEqualTo(200);
        assertThat(pd.pd.journal().methods()).contains("etcdserverpb.KV/Put", "pdpb.PD/GetMembers");
    }

    @Test
    void memberListNamesThePdAddress() {
        List<Member> members = ClusterGrpc.newBlockingStub(pd.channel).memberList(MemberListRequest.getDefaultInstance()).getMembersList();
        assertThat(members).hasSize(1);
        assertThat(members.get(0).getClientURLsList()).containsExactly(pd.endpoint());
        assertThat(members.get(0).getID()).isEqualTo(1);
    }

    static void assertEtcdError(ThrowingCallable call, Status.Code code, String message) {
        assertThatThrownBy(call).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(code);
            assertThat(e.getStatus().getDescription()).isEqualTo(message);
        });
    }

    @Test
    void badRequestsGetEtcdsErrors() throws Exception {
        assertEtcdError(() -> kv().range(RangeRequest.getDefaultInstance()), Status.Code.INVALID_ARGUMENT, "etcdserver: key is not provided");
        assertEtcdError(() -> kv().put(PutRequest.newBuilder().setValue(b("v")).build()), Status.Code.INVALID_ARGUMENT,
                "etcdserver: key is not provided");
        assertEtcdError(() -> kv().deleteRange(DeleteRangeRequest.getDefaultInstance()), Status.Code.INVALID_ARGUMENT,
                "etcdserver: key is not provided");
        assertEtcdError(() -> put("/err/k", "v", 12345), Status.Code.NOT_FOUND, "etcdserver: requested lease not found");
        assertEtcdError(() -> kv().put(PutRequest.newBuilder().setKey(b("/err/missing")).setIgnoreValue(true).build()),
                Status.Code.INVALID_ARGUMENT, "etcdserver: key not found");
        assertEtcdError(() -> lease().leaseRevoke(LeaseRevokeRequest.newBuilder().setID(12345).build()), Status.Code.NOT_FOUND,
                "etcdserver: requested lease not found");
        long id = grant(10);
        assertEtcdError(() -> lease().leaseGrant(LeaseGrantRequest.newBuilder().setID(id).setTTL(10).build()),
                Status.Code.FAILED_PRECONDITION, "etcdserver: lease already exists");
        assertEtcdError(() -> lease().leaseGrant(LeaseGrantRequest.newBuilder().setTTL(EtcdStore.MAX_LEASE_TTL + 1).build()),
                Status.Code.OUT_OF_RANGE, "etcdserver: too large lease TTL");
        assertThat(pd.store().keepAlive(12345)).as("a keep-alive of no lease answers TTL 0").isZero();
        assertThat(lease().leaseTimeToLive(LeaseTimeToLiveRequest.newBuilder().setID(12345).build()).getTTL()).isEqualTo(-1);

        RequestOp p = RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder().setKey(b("/err/dup")).setValue(b("v"))).build();
        assertEtcdError(() -> kv().txn(TxnRequest.newBuilder().addSuccess(p).addSuccess(p).build()), Status.Code.INVALID_ARGUMENT,
                "etcdserver: duplicate key given in txn request");
        TxnRequest.Builder many = TxnRequest.newBuilder();
        for (int i = 0; i <= EtcdStore.MAX_TXN_OPS; i++) {
            many.addSuccess(RequestOp.newBuilder().setRequestRange(RangeRequest.newBuilder().setKey(b("/err/" + i))));
        }
        assertEtcdError(() -> kv().txn(many.build()), Status.Code.INVALID_ARGUMENT, "etcdserver: too many operations in txn request");

        put("/err/c", "1", 0);
        long r1 = pd.store().revision();
        put("/err/c", "2", 0);
        long now = pd.store().revision();
        assertEtcdError(() -> kv().range(RangeRequest.newBuilder().setKey(b("/err/c")).setRevision(now + 1).build()),
                Status.Code.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision");
        kv().compact(CompactionRequest.newBuilder().setRevision(now).build());
        assertEtcdError(() -> kv().range(RangeRequest.newBuilder().setKey(b("/err/c")).setRevision(r1).build()),
                Status.Code.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted");
        assertThat(kv().range(RangeRequest.newBuilder().setKey(b("/err/c")).setRevision(now).build()).getKvs(0).getValue().toStringUtf8())
                .as("the compacted revision itself is still readable").isEqualTo("2");
        WatchStream w = new WatchStream();
        WatchResponse created = w.create(WatchCreateRequest.newBuilder().setKey(b("/err/c")).setStartRevision(r1).build());
        WatchResponse cut = w.next();
        assertThat(cut.getCanceled()).isTrue();
        assertThat(cut.getCompactRevision()).isEqualTo(now);
        assertThat(cut.getWatchId()).isEqualTo(created.getWatchId());
        // a cancel of a watch that is gone is not answered; the stream still serves new watches
        w.requests.onNext(WatchRequest.newBuilder().setCancelRequest(WatchCancelRequest.newBuilder().setWatchId(created.getWatchId())).build());
        WatchResponse second = w.create(WatchCreateRequest.newBuilder().setKey(b("/err/c")).build());
        assertThat(second.getWatchId()).isEqualTo(created.getWatchId() + 1);
        w.requests.onCompleted();

        // still serving
        assertThat(get("/err/c").getKvs(0).getValue().toStringUtf8()).isEqualTo("2");
    }

    @Test
    void watchFiltersAndCancel() throws Exception {
        WatchStream w = new WatchStream();
        long noPut = w.create(WatchCreateRequest.newBuilder().setKey(b("/f/")).setRangeEnd(prefixEnd("/f/"))
                .addFilters(WatchCreateRequest.FilterType.NOPUT).build()).getWatchId();
        put("/f/a", "1", 0);
        kv().deleteRange(DeleteRangeRequest.newBuilder().setKey(b("/f/a")).build());
        WatchResponse del = w.next();
        assertThat(del.getWatchId()).isEqualTo(noPut);
        assertThat(del.getEventsList()).extracting(Event::getType).containsExactly(Event.EventType.DELETE);
        assertThat(del.getEvents(0).hasPrevKv()).as("prev_kv only when asked").isFalse();
        w.requests.onNext(WatchRequest.newBuilder().setCancelRequest(WatchCancelRequest.newBuilder().setWatchId(noPut)).build());
        WatchResponse canceled = w.next();
        assertThat(canceled.getCanceled()).isTrue();
        assertThat(canceled.getWatchId()).isEqualTo(noPut);
        put("/f/b", "1", 0);
        kv().deleteRange(DeleteRangeRequest.newBuilder().setKey(b("/f/b")).build());
        assertThat(w.got.poll(200, TimeUnit.MILLISECONDS)).as("nothing after the cancel").isNull();
        w.requests.onCompleted();
        await().atMost(Duration.ofSeconds(10)).until(() -> pd.store().watcherCount() == 0);
    }
}
