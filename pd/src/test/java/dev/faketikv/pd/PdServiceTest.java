package dev.faketikv.pd;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.faketikv.engine.Engine;
import dev.faketikv.engine.region.RegionMap;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Metapb;
import org.tikv.kvproto.Pdpb;

/**
 * {@link PdService} on a test clock (service safe-point TTLs, expiry, TTL overflow, {@code gc_worker}, a foreign
 * cluster id on the TSO stream, regions that do not exist) and {@link PdServer}'s silent-connection timeout
 * shortened by the test. PD v5.4 {@code server/grpc_service.go} {@code UpdateServiceGCSafePoint} (:1304-1366),
 * {@code Tso} (:150-195), {@code GetRegionByID}; {@code server/core/storage.go} {@code LoadMinServiceGCSafePoint}.
 */
class PdServiceTest {
    static final long CLUSTER = 7;
    @TempDir
    static Path tmp;
    static Engine engine;
    static RegionMap regions;

    /** Milliseconds since the epoch, moved by the tests. */
    final AtomicLong now = new AtomicLong(1_700_000_000_000L);
    final PdService pd = new PdService(CLUSTER, List::of, regions, () -> "http://pd", now::get);

    @BeforeAll
    static void open() {
        engine = Engine.open(tmp.resolve("db"));
        regions = RegionMap.load(engine);
        regions.bootstrapIfEmpty(1);
    }

    @AfterAll
    static void close() {
        engine.close();
    }

    /** What a unary call answered: its one value, or its error. */
    static final class Answer<T> implements StreamObserver<T> {
        final List<T> values = new ArrayList<>();
        Throwable error;
        boolean completed;

        @Override
        public void onNext(T v) {
            values.add(v);
        }

        @Override
        public void onError(Throwable t) {
            error = t;
        }

        @Override
        public void onCompleted() {
            completed = true;
        }

        T value() {
            assertThat(error).as("error").isNull();
            assertThat(completed).isTrue();
            assertThat(values).hasSize(1);
            return values.get(0);
        }
    }

    static Pdpb.RequestHeader h() {
        return Pdpb.RequestHeader.newBuilder().setClusterId(CLUSTER).build();
    }

    Pdpb.UpdateServiceGCSafePointResponse service(String id, long ttl, long sp) {
        Answer<Pdpb.UpdateServiceGCSafePointResponse> a = new Answer<>();
        pd.updateServiceGCSafePoint(Pdpb.UpdateServiceGCSafePointRequest.newBuilder().setHeader(h())
                .setServiceId(ByteString.copyFromUtf8(id)).setTTL(ttl).setSafePoint(sp).build(), a);
        return a.value();
    }

    @Test
    void aServiceSafePointLivesItsTtlAndThenExpires() {
        Pdpb.UpdateServiceGCSafePointResponse set = service("br-a", 300, 500);
        // gc_worker at 0 is the minimum
        assertThat(set.getServiceId().toStringUtf8()).isEqualTo("gc_worker");
        assertThat(pd.serviceSafePoints()).containsEntry("br-a", 500L);
        now.addAndGet(300_000);
        // at the last second of its TTL it is still there
        assertThat(pd.serviceSafePoints()).containsEntry("br-a", 500L);
        now.addAndGet(1_000);
        assertThat(pd.serviceSafePoints()).isEmpty();
        // expired entries are dropped when the minimum is computed, too: br-b at 100 is now the only one besides gc_worker
        service("gc_worker", Long.MAX_VALUE, 50);
        Pdpb.UpdateServiceGCSafePointResponse b = service("br-b", 60, 100);
        assertThat(b.getServiceId().toStringUtf8()).isEqualTo("gc_worker");
        assertThat(b.getMinSafePoint()).isEqualTo(50);
    }

    @Test
    void theMinimumsRemainingTtlIsReportedOnTheClock() {
        Pdpb.UpdateServiceGCSafePointResponse first = service("br-a", 300, 0);
        // a tie at 0 with gc_worker: "br-a" sorts first and is the minimum
        assertThat(first.getServiceId().toStringUtf8()).isEqualTo("br-a");
        assertThat(first.getTTL()).isEqualTo(300);
        now.addAndGet(120_000);
        Pdpb.UpdateServiceGCSafePointResponse later = service("br-z", 300, 10);
        assertThat(later.getServiceId().toStringUtf8()).isEqualTo("br-a");
        assertThat(later.getTTL()).isEqualTo(180);
    }

    @Test
    void aHugeTtlDoesNotOverflowIntoThePast() {
        service("br-forever", Long.MAX_VALUE, 10);
        service("br-almost", Long.MAX_VALUE - 1, 20);
        now.addAndGet(10L * 365 * 24 * 3600 * 1000);
        assertThat(pd.serviceSafePoints()).containsEntry("br-forever", 10L).containsEntry("br-almost", 20L);
    }

    @Test
    void gcWorkerIsNeverRemovedAndNeverExpires() {
        service("gc_worker", 10, 40);
        now.addAndGet(3_600_000);
        // a TTL of 0 removes other services; gc_worker stays, and stays the minimum
        Pdpb.UpdateServiceGCSafePointResponse r = service("gc_worker", 0, 0);
        assertThat(r.getServiceId().toStringUtf8()).isEqualTo("gc_worker");
        assertThat(r.getMinSafePoint()).isEqualTo(40);
        // a service below gc_worker is not stored
        Pdpb.UpdateServiceGCSafePointResponse low = service("br-low", 300, 39);
        assertThat(low.getMinSafePoint()).isEqualTo(40);
        assertThat(pd.serviceSafePoints()).doesNotContainKey("br-low");
        // UpdateGCSafePoint leaves gc_worker's service safe point alone
        Answer<Pdpb.UpdateGCSafePointResponse> g = new Answer<>();
        pd.updateGCSafePoint(Pdpb.UpdateGCSafePointRequest.newBuilder().setHeader(h()).setSafePoint(1000).build(), g);
        assertThat(g.value().getNewSafePoint()).isEqualTo(1000);
        assertThat(service("br-x", 0, 0).getMinSafePoint()).isEqualTo(40);
    }

    @Test
    void tsoFollowsTheClockAndNeverGoesBack() {
        long a = pd.nextTs(1);
        assertThat(a >>> 18).isEqualTo(now.get());
        now.addAndGet(-5_000);
        long b = pd.nextTs(3);
        assertThat(b).isEqualTo(a + 3);
        now.addAndGet(10_000);
        assertThat(pd.nextTs(1) >>> 18).isEqualTo(now.get());
    }

    @Test
    void tsoWithAForeignClusterIdFailsTheStream() {
        Answer<Pdpb.TsoResponse> out = new Answer<>();
        StreamObserver<Pdpb.TsoRequest> in = pd.tso(out);
        in.onNext(Pdpb.TsoRequest.newBuilder().setHeader(Pdpb.RequestHeader.newBuilder().setClusterId(CLUSTER + 1)).setCount(1).build());
        assertThat(out.values).isEmpty();
        assertThat(out.error).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
            assertThat(e.getStatus().getDescription()).isEqualTo("mismatch cluster id, need 7 but got 8");
        });
        // the right id is answered, with the count asked for
        Answer<Pdpb.TsoResponse> ok = new Answer<>();
        pd.tso(ok).onNext(Pdpb.TsoRequest.newBuilder().setHeader(h()).setCount(5).build());
        assertThat(ok.error).isNull();
        assertThat(ok.values).singleElement().satisfies(r -> assertThat(r.getCount()).isEqualTo(5));
    }

    @Test
    void unknownRegionsAndTheFirstRegionsLeftNeighbourAreEmptyAnswers() {
        Answer<Pdpb.GetRegionResponse> byId = new Answer<>();
        pd.getRegionByID(Pdpb.GetRegionByIDRequest.newBuilder().setHeader(h()).setRegionId(999).build(), byId);
        assertThat(byId.value().hasRegion()).isFalse();
        assertThat(byId.value().hasLeader()).isFalse();
        assertThat(byId.value().getHeader().hasError()).isFalse();
        Answer<Pdpb.GetRegionResponse> prev = new Answer<>();
        pd.getPrevRegion(Pdpb.GetRegionRequest.newBuilder().setHeader(h()).setRegionKey(ByteString.copyFromUtf8("a")).build(), prev);
        assertThat(prev.value().hasRegion()).isFalse();
        Answer<Pdpb.GetRegionResponse> only = new Answer<>();
        pd.getRegion(Pdpb.GetRegionRequest.newBuilder().setHeader(h()).setRegionKey(ByteString.copyFromUtf8("a")).build(), only);
        assertThat(only.value().getRegion().getId()).isEqualTo(regions.all().get(0).id());
        assertThat(only.value().getLeader().getStoreId()).isEqualTo(1);
    }

    @Test
    void theStoreListSkipsTombstonesOnlyWhenAsked() {
        List<Metapb.Store> stores = List.of(Metapb.Store.newBuilder().setId(1).setState(Metapb.StoreState.Up).build(),
                Metapb.Store.newBuilder().setId(2).setState(Metapb.StoreState.Tombstone).setGitHash("g").setDeployPath("/d").build());
        PdService withStores = new PdService(CLUSTER, () -> stores, regions, () -> "http://pd", now::get);
        Answer<Pdpb.GetAllStoresResponse> all = new Answer<>();
        withStores.getAllStores(Pdpb.GetAllStoresRequest.newBuilder().setHeader(h()).build(), all);
        assertThat(all.value().getStoresList()).extracting(Metapb.Store::getId).containsExactly(1L, 2L);
        // what a store reported is passed on; what it left empty is filled as TiKV fills it
        assertThat(all.value().getStores(1).getGitHash()).isEqualTo("g");
        assertThat(all.value().getStores(1).getDeployPath()).isEqualTo("/d");
        assertThat(all.value().getStores(0).getGitHash()).isEqualTo(PdService.GIT_HASH);
        Answer<Pdpb.GetAllStoresResponse> up = new Answer<>();
        withStores.getAllStores(Pdpb.GetAllStoresRequest.newBuilder().setHeader(h()).setExcludeTombstoneStores(true).build(), up);
        assertThat(up.value().getStoresList()).extracting(Metapb.Store::getId).containsExactly(1L);
    }

    @Test
    @Timeout(30)
    void aSilentConnectionIsClosedAfterThePrefaceTimeoutNotBefore() throws Exception {
        try (PdServer server = PdServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                url -> new PdService(CLUSTER, List::of, regions, url, System::currentTimeMillis), "5.4.0").prefaceTimeoutMs(1_000)) {
            String[] hp = server.addr().split(":");
            try (Socket silent = new Socket(hp[0], Integer.parseInt(hp[1]))) {
                long t0 = System.nanoTime();
                silent.setSoTimeout(20_000);
                // the server closes it: end of stream, not our read timeout
                assertThat(silent.getInputStream().read()).isEqualTo(-1);
                long waitedMs = (System.nanoTime() - t0) / 1_000_000;
                assertThat(waitedMs).as("closed after the timeout, not at once").isGreaterThanOrEqualTo(900);
            }
        }
    }
}
