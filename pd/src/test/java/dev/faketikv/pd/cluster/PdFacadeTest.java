package dev.faketikv.pd.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import dev.faketikv.client.br.PdClient;
import dev.faketikv.engine.region.Region;
import dev.faketikv.pd.FakeCluster;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tikv.kvproto.Metapb;
import org.tikv.kvproto.PDGrpc;
import org.tikv.kvproto.Pdpb;

/** The PD facade over real gRPC and HTTP on its one port. */
class PdFacadeTest {
    static FakeCluster cluster;
    static ManagedChannel channel;
    static PDGrpc.PDBlockingStub pd;

    @BeforeAll
    static void start() throws Exception {
        cluster = FakeCluster.builder().stores(3).seed("txn:rows=1000,regions=7,seed=1").set("fake.store-version", "v5.4.0").start();
        channel = ManagedChannelBuilder.forTarget(cluster.pdAddr()).usePlaintext().build();
        pd = PDGrpc.newBlockingStub(channel);
    }

    @AfterAll
    static void stop() {
        channel.shutdownNow();
        cluster.close();
    }

    /** The header every call but GetMembers must carry: this cluster's id, as PD's validateRequest demands. */
    static Pdpb.RequestHeader h() {
        return Pdpb.RequestHeader.newBuilder().setClusterId(cluster.clusterId()).build();
    }

    @Test
    void membersNameThisAddressAndTheClusterId() {
        Pdpb.GetMembersResponse m = pd.getMembers(Pdpb.GetMembersRequest.getDefaultInstance());
        assertThat(m.getHeader().getClusterId()).isEqualTo(cluster.clusterId());
        assertThat(m.getLeader().getClientUrlsList()).containsExactly("http://" + cluster.pdAddr());
        assertThat(m.getMembersList()).hasSize(1);
    }

    @Test
    void storesAreUpWithAddressesAndTheConfiguredVersion() {
        List<Metapb.Store> stores = pd.getAllStores(Pdpb.GetAllStoresRequest.newBuilder().setHeader(h()).build()).getStoresList();
        assertThat(stores).extracting(Metapb.Store::getId).containsExactly(1L, 2L, 3L);
        assertThat(stores).allSatisfy(s -> {
            assertThat(s.getState()).isEqualTo(Metapb.StoreState.Up);
            assertThat(s.getVersion()).isEqualTo("5.4.0");
            assertThat(s.getAddress()).isEqualTo(cluster.store(s.getId()).addr());
            assertThat(s.getLastHeartbeat()).isPositive();
        });
        Pdpb.GetStoreResponse two = pd.getStore(Pdpb.GetStoreRequest.newBuilder().setHeader(h()).setStoreId(2).build());
        assertThat(two.getStore().getStatusAddress()).isEqualTo(cluster.store(2).statusAddr());
        // TiKV node.rs reports these; PD passes them on
        assertThat(stores).allSatisfy(s -> {
            assertThat(s.getGitHash()).isEqualTo("Unknown git hash");
            assertThat(s.getDeployPath()).isNotEmpty();
        });
        // PD fails the call itself with gRPC Unknown (grpc_service.go:458-461)
        assertThatThrownBy(() -> pd.getStore(Pdpb.GetStoreRequest.newBuilder().setHeader(h()).setStoreId(99).build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNKNOWN);
                    assertThat(e.getStatus().getDescription()).isEqualTo("invalid store ID 99, not found");
                });
        cluster.storeState(3, Metapb.StoreState.Tombstone);
        try {
            assertThat(pd.getAllStores(Pdpb.GetAllStoresRequest.newBuilder().setHeader(h()).setExcludeTombstoneStores(true).build()).getStoresList())
                    .extracting(Metapb.Store::getId).containsExactly(1L, 2L);
        } finally {
            cluster.storeState(3, Metapb.StoreState.Up);
        }
    }

    @Test
    void tsoIsStrictlyIncreasingAcrossConcurrentClients() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        ConcurrentLinkedQueue<Long> all = new ConcurrentLinkedQueue<>();
        try (PdClient client = PdClient.connect(cluster.pdAddr())) {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                fs.add(pool.submit(() -> {
                    long prev = 0;
                    for (int i = 0; i < 50; i++) {
                        long ts = client.tso();
                        assertThat(ts).isGreaterThan(prev);
                        prev = ts;
                        all.add(ts);
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(all).hasSize(200).doesNotHaveDuplicates();
        long now = System.currentTimeMillis();
        assertThat(all.peek() >>> 18).isBetween(now - 60_000, now + 1_000);
    }

    @Test
    void regionsAndLeadersComeFromTheRegionMap() {
        List<Region> regions = cluster.regions().all();
        Region third = regions.get(2);
        Pdpb.GetRegionResponse r = pd.getRegion(Pdpb.GetRegionRequest.newBuilder().setHeader(h()).setRegionKey(ByteString.copyFrom(third.startKey())).build());
        assertThat(r.getRegion().getId()).isEqualTo(third.id());
        assertThat(r.getLeader().getStoreId()).isEqualTo(third.leaderStoreId());
        assertThat(r.getRegion().getPeersCount()).isEqualTo(3);
        assertThat(pd.getRegionByID(Pdpb.GetRegionByIDRequest.newBuilder().setHeader(h()).setRegionId(third.id()).build()).getRegion().getStartKey().toByteArray())
                .isEqualTo(third.startKey());
        assertThat(pd.getPrevRegion(Pdpb.GetRegionRequest.newBuilder().setHeader(h()).setRegionKey(ByteString.copyFrom(third.startKey())).build())
                .getRegion().getId()).isEqualTo(regions.get(1).id());
        Pdpb.ScanRegionsResponse scan = pd.scanRegions(Pdpb.ScanRegionsRequest.newBuilder().setHeader(h())
                .setStartKey(ByteString.copyFrom(regions.get(1).startKey())).setEndKey(ByteString.copyFrom(regions.get(4).startKey())).build());
        assertThat(scan.getRegionsList()).extracting(x -> x.getRegion().getId())
                .containsExactly(regions.get(1).id(), regions.get(2).id(), regions.get(3).id());
        assertThat(pd.scanRegions(Pdpb.ScanRegionsRequest.newBuilder().setHeader(h()).setLimit(2).build()).getRegionsCount()).isEqualTo(2);
        // a leader moved through the cluster is what PD reports next
        long to = third.leaderStoreId() % 3 + 1;
        cluster.transferLeader(third.id(), to);
        assertThat(pd.getRegionByID(Pdpb.GetRegionByIDRequest.newBuilder().setHeader(h()).setRegionId(third.id()).build()).getLeader().getStoreId()).isEqualTo(to);
    }

    @Test
    void aLeaderMovedThroughAnyStoresStatusApiIsWhatPdAndTheStoresSee() throws Exception {
        Region r = cluster.regions().all().get(4);
        long to = r.leaderStoreId() % 3 + 1;
        HttpResponse<String> moved = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create(cluster.store(1).statusUrl() + "/regions/" + r.id() + "/leader"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"store\": " + to + "}")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(moved.statusCode()).as(moved.body()).isEqualTo(200);
        assertThat(pd.getRegionByID(Pdpb.GetRegionByIDRequest.newBuilder().setHeader(h()).setRegionId(r.id()).build()).getLeader().getStoreId()).isEqualTo(to);
        assertThat(cluster.store(2).regions().get(r.id()).leaderStoreId()).isEqualTo(to);
    }

    /** Over the wire on the real clock; expiry, TTL overflow and the remaining TTL on a test clock: {@code PdServiceTest}. */
    @Test
    void gcSafePointsMoveForwardAndServiceSafePointsAreSetAndRemoved() {
        Pdpb.UpdateGCSafePointResponse g = pd.updateGCSafePoint(Pdpb.UpdateGCSafePointRequest.newBuilder().setHeader(h()).setSafePoint(100).build());
        assertThat(g.getNewSafePoint()).isEqualTo(100);
        assertThat(pd.updateGCSafePoint(Pdpb.UpdateGCSafePointRequest.newBuilder().setHeader(h()).setSafePoint(50).build()).getNewSafePoint()).isEqualTo(100);
        assertThat(pd.getGCSafePoint(Pdpb.GetGCSafePointRequest.newBuilder().setHeader(h()).build()).getSafePoint()).isEqualTo(100);
        // PD 5.4: UpdateGCSafePoint moves the GC safe point only; gc_worker's service safe point stays 0
        // (TiDB's GC worker moves it itself), so the minimum PD reports is gc_worker at 0
        Pdpb.UpdateServiceGCSafePointResponse a = pd.updateServiceGCSafePoint(service("br-a", 300, 500));
        assertThat(a.getServiceId().toStringUtf8()).isEqualTo("gc_worker");
        assertThat(a.getMinSafePoint()).isZero();
        assertThat(cluster.pd().serviceSafePoints()).containsEntry("br-a", 500L);
        // gc_worker moves (as TiDB's GC worker does, infinite TTL); below the minimum: not kept, and the answer says so
        pd.updateServiceGCSafePoint(service("gc_worker", Long.MAX_VALUE, 100));
        Pdpb.UpdateServiceGCSafePointResponse low = pd.updateServiceGCSafePoint(service("br-b", 300, 50));
        assertThat(low.getServiceId().toStringUtf8()).isEqualTo("gc_worker");
        assertThat(low.getMinSafePoint()).isEqualTo(100);
        assertThat(cluster.pd().serviceSafePoints()).doesNotContainKey("br-b");
        Pdpb.UpdateServiceGCSafePointResponse b = pd.updateServiceGCSafePoint(service("br-b", 300, 400));
        assertThat(b.getMinSafePoint()).isEqualTo(100);
        assertThat(cluster.pd().serviceSafePoints()).containsEntry("br-a", 500L).containsEntry("br-b", 400L);
        pd.updateServiceGCSafePoint(service("br-b", 0, 0));
        pd.updateServiceGCSafePoint(service("br-a", -1, 0));
        assertThat(cluster.pd().serviceSafePoints()).isEmpty();
        // a tie with gc_worker: PD takes the first in key order, and "br-" sorts before "gc_worker" (storage.go:567)
        Pdpb.UpdateServiceGCSafePointResponse tie = pd.updateServiceGCSafePoint(service("br-c", 300, 100));
        assertThat(tie.getServiceId().toStringUtf8()).isEqualTo("br-c");
        assertThat(tie.getMinSafePoint()).isEqualTo(100);
        assertThat(tie.getTTL()).isBetween(299L, 300L);
        pd.updateServiceGCSafePoint(service("br-c", 0, 0));
        assertThatThrownBy(() -> pd.updateServiceGCSafePoint(service("", 10, 1)))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
    }

    static Pdpb.UpdateServiceGCSafePointRequest service(String id, long ttl, long sp) {
        return Pdpb.UpdateServiceGCSafePointRequest.newBuilder().setHeader(h()).setServiceId(ByteString.copyFromUtf8(id)).setTTL(ttl).setSafePoint(sp).build();
    }

    @Test
    void tsoRefusesAZeroOrHugeCount() throws Exception {
        for (int count : new int[] {0, -1, 1 << 18, Integer.MIN_VALUE}) {
            java.util.concurrent.CompletableFuture<Throwable> err = new java.util.concurrent.CompletableFuture<>();
            var req = PDGrpc.newStub(channel).tso(new io.grpc.stub.StreamObserver<>() {
                @Override
                public void onNext(Pdpb.TsoResponse v) {
                    err.complete(null);
                }

                @Override
                public void onError(Throwable t) {
                    err.complete(t);
                }

                @Override
                public void onCompleted() {
                    err.complete(null);
                }
            });
            req.onNext(Pdpb.TsoRequest.newBuilder().setHeader(h()).setCount(count).build());
            Throwable t = err.get(10, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(t).as("count %d", count).isInstanceOfSatisfying(StatusRuntimeException.class,
                    e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
        }
        try (PdClient client = PdClient.connect(cluster.pdAddr())) {
            long a = client.tso();
            assertThat(client.tso()).isGreaterThan(a);
        }
    }

    @Test
    void foreignClusterIdAndUnknownRpcsAreRefused() {
        assertThatThrownBy(() -> pd.getAllStores(Pdpb.GetAllStoresRequest.newBuilder().setHeader(h())
                .setHeader(Pdpb.RequestHeader.newBuilder().setClusterId(cluster.clusterId() + 1)).build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
                    assertThat(e.getStatus().getDescription()).contains("mismatch cluster id");
                });
        // 0 is a mismatch too (validateRequest demands equality), on every call but GetMembers
        for (io.grpc.MethodDescriptor<?, ?> m : List.of(PDGrpc.getGetAllStoresMethod(), PDGrpc.getGetStoreMethod(), PDGrpc.getGetRegionMethod(),
                PDGrpc.getGetRegionByIDMethod(), PDGrpc.getScanRegionsMethod(), PDGrpc.getGetGCSafePointMethod(),
                PDGrpc.getUpdateGCSafePointMethod(), PDGrpc.getUpdateServiceGCSafePointMethod(), PDGrpc.getGetPrevRegionMethod())) {
            io.grpc.MethodDescriptor<byte[], byte[]> raw = dev.faketikv.server.RawBytes.method(m.getFullMethodName(),
                    io.grpc.MethodDescriptor.MethodType.UNARY);
            assertThatThrownBy(() -> io.grpc.stub.ClientCalls.blockingUnaryCall(channel, raw, io.grpc.CallOptions.DEFAULT, new byte[0]))
                    .as(m.getFullMethodName())
                    .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
                        assertThat(e.getStatus().getDescription())
                                .isEqualTo("mismatch cluster id, need " + Long.toUnsignedString(cluster.clusterId()) + " but got 0");
                    });
        }
        assertThatThrownBy(() -> pd.allocID(Pdpb.AllocIDRequest.getDefaultInstance()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNIMPLEMENTED));
        assertThatThrownBy(() -> pd.splitRegions(Pdpb.SplitRegionsRequest.getDefaultInstance()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNIMPLEMENTED));
        // newer pd clients probe GetClusterInfo; this kvproto has none, and UNIMPLEMENTED means "PD mode" to them
        io.grpc.MethodDescriptor<byte[], byte[]> info = dev.faketikv.server.RawBytes.method("pdpb.PD/GetClusterInfo",
                io.grpc.MethodDescriptor.MethodType.UNARY);
        assertThatThrownBy(() -> io.grpc.stub.ClientCalls.blockingUnaryCall(channel, info, io.grpc.CallOptions.DEFAULT, new byte[0]))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNIMPLEMENTED));
        // the facade still serves
        assertThat(pd.getMembers(Pdpb.GetMembersRequest.getDefaultInstance()).getHeader().getClusterId()).isEqualTo(cluster.clusterId());
    }

    @Test
    void httpApiSharesThePortWithGrpc() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        assertThat(get(http, "/pd/api/v1/version").body()).isEqualTo("{\"version\":\"v5.4.0\"}");
        assertThat(get(http, "/pd/api/v1/config/cluster-version").body()).isEqualTo("\"5.4.0\"");
        assertThat(new PdClientProbe().clusterVersion()).isEqualTo("\"5.4.0\"");
        List<Region> regions = cluster.regions().all();
        String start = URLEncoder.encode(new String(regions.get(1).startKey(), StandardCharsets.ISO_8859_1), StandardCharsets.ISO_8859_1);
        String end = URLEncoder.encode(new String(regions.get(4).startKey(), StandardCharsets.ISO_8859_1), StandardCharsets.ISO_8859_1);
        assertThat(get(http, "/pd/api/v1/stats/region?start_key=" + start + "&end_key=" + end).body()).startsWith("{\"count\":3,");
        assertThat(get(http, "/pd/api/v1/stats/region").body()).startsWith("{\"count\":" + regions.size() + ",");
        assertThat(get(http, "/pd/api/v1/nope").statusCode()).isEqualTo(404);
        assertThat(get(http, "/fake/journal").body()).contains("\"method\" : \"pdpb.PD/GetMembers\"");
        pd.updateServiceGCSafePoint(service("br-journal-test", 0, 0));
        assertThat(get(http, "/fake/journal").body()).as("service_id as text, not base64")
                .contains("\"service_id\" : \"br-journal-test\"");
        assertThat(http.send(HttpRequest.newBuilder(URI.create("http://" + cluster.pdAddr() + "/pd/api/v1/version"))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(405);
        // and gRPC on the same port keeps working in between
        assertThat(pd.getMembers(Pdpb.GetMembersRequest.getDefaultInstance()).getMembersCount()).isEqualTo(1);
    }

    @Test
    void silentConnectionsAreCappedAndTheFacadeKeepsServing() throws Exception {
        List<java.net.Socket> idle = new ArrayList<>();
        try {
            String[] hp = cluster.pdAddr().split(":");
            for (int i = 0; i < 256; i++) {
                idle.add(new java.net.Socket(hp[0], Integer.parseInt(hp[1])));
            }
            // with every slot held by a connection that says nothing, the next one is closed at once
            await().atMost(java.time.Duration.ofSeconds(30)).untilAsserted(() -> {
                try (java.net.Socket extra = new java.net.Socket(hp[0], Integer.parseInt(hp[1]))) {
                    extra.setSoTimeout(1000);
                    assertThat(extra.getInputStream().read()).isEqualTo(-1);
                }
            });
        } finally {
            for (java.net.Socket s : idle) {
                s.close();
            }
        }
        // slots come back as the silent connections go
        await().atMost(java.time.Duration.ofSeconds(30)).untilAsserted(() ->
                assertThat(pd.getMembers(Pdpb.GetMembersRequest.getDefaultInstance()).getMembersCount()).isEqualTo(1));
    }

    private static HttpResponse<String> get(HttpClient http, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://" + cluster.pdAddr() + path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The BR-like client's view of the HTTP API. */
    static final class PdClientProbe {
        String clusterVersion() {
            try (PdClient c = PdClient.connect(cluster.pdAddr())) {
                return c.clusterVersion();
            }
        }
    }
}
