package dev.faketikv.client.br;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.tikv.kvproto.Metapb;
import org.tikv.kvproto.PDGrpc;
import org.tikv.kvproto.Pdpb;

/**
 * What BR asks of PD, over gRPC and PD's HTTP API on the same address (pd client start-up, TSO, stores,
 * regions, GC safe points; pingcap/tidb {@code br/pkg/conn}, {@code br/pkg/pdutil}). {@link #connect} reads
 * the cluster id from {@code GetMembers} and fails clearly when PD answers without one or without a leader.
 *
 * <p>Region lookups take keys in the region-key form the cluster uses (memcomparable-encoded for txn data,
 * raw for raw data); callers encode. Thread-safe.
 */
public final class PdClient implements AutoCloseable {
    /** A region and its leader peer (null if PD knows none). */
    public record RegionInfo(Metapb.Region region, Metapb.Peer leader) {}

    private static final int LOGICAL_BITS = 18;
    private final String addr;
    private final ManagedChannel channel;
    private final PDGrpc.PDBlockingStub stub;
    private final long clusterId;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private PdClient(String addr, ManagedChannel channel, long clusterId) {
        this.addr = addr;
        this.channel = channel;
        this.stub = PDGrpc.newBlockingStub(channel);
        this.clusterId = clusterId;
    }

    /** Dials PD at {@code host:port} and reads the cluster id (BR's {@code initClusterID}). */
    public static PdClient connect(String addr) {
        ManagedChannel ch = ManagedChannelBuilder.forTarget(addr).usePlaintext().build();
        try {
            Pdpb.GetMembersResponse m = PDGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS)
                    .getMembers(Pdpb.GetMembersRequest.getDefaultInstance());
            if (m.getHeader().getClusterId() == 0) {
                throw new BrException("failed to init cluster id: PD " + addr + " answered cluster id 0");
            }
            if (!m.hasLeader() || m.getLeader().getClientUrlsCount() == 0) {
                throw new BrException("leader url doesn't exist (PD " + addr + ")");
            }
            return new PdClient(addr, ch, m.getHeader().getClusterId());
        } catch (RuntimeException e) {
            ch.shutdownNow();
            throw e;
        }
    }

    public long clusterId() {
        return clusterId;
    }

    private Pdpb.RequestHeader header() {
        return Pdpb.RequestHeader.newBuilder().setClusterId(clusterId).build();
    }

    private PDGrpc.PDBlockingStub call() {
        return stub.withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    private static void check(Pdpb.ResponseHeader h, String what) {
        if (h.hasError() && h.getError().getType() != Pdpb.ErrorType.OK) {
            throw new BrException("PD " + what + ": " + h.getError().getType() + " " + h.getError().getMessage());
        }
    }

    /** One timestamp from TSO ({@code physical << 18 | logical}). */
    public long tso() {
        CompletableFuture<Pdpb.TsoResponse> f = new CompletableFuture<>();
        StreamObserver<Pdpb.TsoRequest> req = PDGrpc.newStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS).tso(new StreamObserver<>() {
            @Override
            public void onNext(Pdpb.TsoResponse v) {
                f.complete(v);
            }

            @Override
            public void onError(Throwable t) {
                f.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                f.completeExceptionally(new BrException("PD closed the TSO stream without a timestamp"));
            }
        });
        req.onNext(Pdpb.TsoRequest.newBuilder().setHeader(header()).setCount(1).build());
        try {
            Pdpb.TsoResponse r = f.get(30, TimeUnit.SECONDS);
            check(r.getHeader(), "Tso");
            return (r.getTimestamp().getPhysical() << LOGICAL_BITS) | r.getTimestamp().getLogical();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BrException("interrupted while waiting for TSO");
        } catch (ExecutionException | TimeoutException e) {
            throw new BrException("PD Tso failed: " + (e.getCause() != null ? e.getCause() : e));
        } finally {
            req.onCompleted();
        }
    }

    public List<Metapb.Store> allStores() {
        Pdpb.GetAllStoresResponse r = call().getAllStores(Pdpb.GetAllStoresRequest.newBuilder().setHeader(header())
                .setExcludeTombstoneStores(true).build());
        check(r.getHeader(), "GetAllStores");
        return r.getStoresList();
    }

    public Metapb.Store store(long id) {
        Pdpb.GetStoreResponse r = call().getStore(Pdpb.GetStoreRequest.newBuilder().setHeader(header()).setStoreId(id).build());
        check(r.getHeader(), "GetStore");
        return r.getStore();
    }

    /** The region containing {@code key} (region-key form). */
    public RegionInfo region(byte[] key) {
        Pdpb.GetRegionResponse r = call().getRegion(Pdpb.GetRegionRequest.newBuilder().setHeader(header())
                .setRegionKey(ByteString.copyFrom(key)).build());
        check(r.getHeader(), "GetRegion");
        if (!r.hasRegion()) {
            throw new BrException("PD GetRegion: no region contains " + java.util.HexFormat.of().formatHex(key));
        }
        return new RegionInfo(r.getRegion(), r.hasLeader() ? r.getLeader() : null);
    }

    public RegionInfo regionById(long id) {
        Pdpb.GetRegionResponse r = call().getRegionByID(Pdpb.GetRegionByIDRequest.newBuilder().setHeader(header()).setRegionId(id).build());
        check(r.getHeader(), "GetRegionByID");
        return r.hasRegion() ? new RegionInfo(r.getRegion(), r.hasLeader() ? r.getLeader() : null) : null;
    }

    /**
     * Every region overlapping {@code [start, end)} (region-key form, empty end = +inf), paginated 128 at a
     * time like BR's {@code PaginateScanRegion}.
     */
    public List<RegionInfo> scanRegions(byte[] start, byte[] end) {
        List<RegionInfo> out = new ArrayList<>();
        byte[] from = start;
        while (true) {
            Pdpb.ScanRegionsResponse r = call().scanRegions(Pdpb.ScanRegionsRequest.newBuilder().setHeader(header())
                    .setStartKey(ByteString.copyFrom(from)).setEndKey(ByteString.copyFrom(end)).setLimit(128).build());
            check(r.getHeader(), "ScanRegions");
            for (Pdpb.Region reg : r.getRegionsList()) {
                out.add(new RegionInfo(reg.getRegion(), reg.hasLeader() && reg.getLeader().getStoreId() != 0 ? reg.getLeader() : null));
            }
            if (r.getRegionsCount() < 128) {
                return out;
            }
            byte[] last = r.getRegions(r.getRegionsCount() - 1).getRegion().getEndKey().toByteArray();
            if (last.length == 0 || (end.length != 0 && java.util.Arrays.compareUnsigned(last, end) >= 0)) {
                return out;
            }
            from = last;
        }
    }

    /** BR's GC check: {@code UpdateGCSafePoint(0)} answers the current GC safe point. */
    public long gcSafePoint() {
        Pdpb.UpdateGCSafePointResponse r = call().updateGCSafePoint(Pdpb.UpdateGCSafePointRequest.newBuilder().setHeader(header())
                .setSafePoint(0).build());
        check(r.getHeader(), "UpdateGCSafePoint");
        return r.getNewSafePoint();
    }

    /** Sets (ttl > 0) or removes (ttl = 0) a service safe point; returns PD's {@code min_safe_point}. */
    public long updateServiceSafePoint(String serviceId, long ttlSeconds, long safePoint) {
        Pdpb.UpdateServiceGCSafePointResponse r = call().updateServiceGCSafePoint(Pdpb.UpdateServiceGCSafePointRequest.newBuilder()
                .setHeader(header()).setServiceId(ByteString.copyFromUtf8(serviceId)).setTTL(ttlSeconds).setSafePoint(safePoint).build());
        check(r.getHeader(), "UpdateServiceGCSafePoint");
        return r.getMinSafePoint();
    }

    /** {@code GET /pd/api/v1/config/cluster-version}: the body as PD sends it (a JSON string, quotes included). */
    public String clusterVersion() {
        return httpGet("/pd/api/v1/config/cluster-version").trim();
    }

    String httpGet(String path) {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://" + addr + path)).timeout(Duration.ofSeconds(30)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                throw new BrException("PD HTTP " + path + ": " + r.statusCode() + " " + r.body());
            }
            return r.body();
        } catch (IOException e) {
            throw new BrException("PD HTTP " + path + ": " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BrException("interrupted");
        }
    }

    @Override
    public void close() {
        channel.shutdownNow();
    }
}
