package dev.faketikv.client.br;

import com.google.protobuf.ByteString;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.ConnectException;
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
 * <p>With {@link Tls#enabled()} both gRPC and HTTP use TLS with the same files (BR's {@code --ca --cert --key});
 * HTTP is then {@code https://} and HTTP/1.1 (PD serves gRPC and HTTP on one TLS port).
 *
 * <p>Every call waits at most {@value #CALL_TIMEOUT_SECONDS} s (less with {@link #callTimeout}), and never past the deadline set with
 * {@link #deadline(long)} (a caller's overall time limit): past it a call fails at once without being sent.
 *
 * <p>Region lookups take keys in the region-key form the cluster uses (memcomparable-encoded for txn data,
 * raw for raw data); callers encode. Thread-safe.
 */
public final class PdClient implements AutoCloseable {
    /** A region and its leader peer (null if PD knows none). */
    public record RegionInfo(Metapb.Region region, Metapb.Peer leader) {}

    private static final int LOGICAL_BITS = 18;
    /** The longest any one PD call may take. */
    static final long CALL_TIMEOUT_SECONDS = 30;
    private final String addr;
    private final Tls tls;
    private final ManagedChannel channel;
    private final PDGrpc.PDBlockingStub stub;
    private final long clusterId;
    private final HttpClient http;
    /** System.nanoTime() past which no call is sent; Long.MAX_VALUE = none. Volatile: set by the caller's watchdog. */
    private volatile long deadlineNanos = Long.MAX_VALUE;
    private volatile long callTimeoutNanos = TimeUnit.SECONDS.toNanos(CALL_TIMEOUT_SECONDS);

    private PdClient(String addr, Tls tls, ManagedChannel channel, long clusterId) {
        this.addr = addr;
        this.tls = tls;
        this.channel = channel;
        this.stub = PDGrpc.newBlockingStub(channel);
        this.clusterId = clusterId;
        this.http = tls.enabled() ? httpClient(tls) : PlainHttp.CLIENT;
    }

    /**
     * Java 17's {@link HttpClient} cannot be closed: its selector thread lives until the client is collected. So
     * every plaintext PdClient shares one (a program that runs many restores does not gather threads), and a TLS
     * one, whose certificates are its own, builds its own.
     */
    private static final class PlainHttp {
        static final HttpClient CLIENT = httpClient(Tls.NONE);
    }

    private static HttpClient httpClient(Tls tls) {
        HttpClient.Builder hb = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).version(HttpClient.Version.HTTP_1_1);
        if (tls.enabled()) {
            hb.sslContext(tls.sslContext());
        }
        return hb.build();
    }

    /** Dials PD at {@code host:port} in plaintext and reads the cluster id (BR's {@code initClusterID}). */
    public static PdClient connect(String addr) {
        return connect(addr, Tls.NONE);
    }

    /**
     * Dials PD at {@code host:port} (TLS iff {@code tls} is enabled; an {@code http://} / {@code https://} prefix
     * must agree, as BR checks {@code --pd}) and reads the cluster id.
     */
    public static PdClient connect(String pdUrl, Tls tls) {
        String addr = tls.normalizePd(pdUrl);
        ManagedChannel ch = Grpc.newChannelBuilder(addr, tls.channelCredentials()).build();
        try {
            Pdpb.GetMembersResponse m = PDGrpc.newBlockingStub(ch).withDeadlineAfter(CALL_TIMEOUT_SECONDS, TimeUnit.SECONDS)
                    .getMembers(Pdpb.GetMembersRequest.getDefaultInstance());
            if (m.getHeader().getClusterId() == 0) {
                throw new BrException("failed to init cluster id: PD " + addr + " answered cluster id 0");
            }
            if (!m.hasLeader() || m.getLeader().getClientUrlsCount() == 0) {
                throw new BrException("leader url doesn't exist (PD " + addr + ")");
            }
            return new PdClient(addr, tls, ch, m.getHeader().getClusterId());
        } catch (StatusRuntimeException e) {
            ch.shutdownNow();
            throw connectError(addr, e);
        } catch (RuntimeException e) {
            ch.shutdownNow();
            throw e;
        }
    }

    private static boolean refused(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof ConnectException || String.valueOf(t.getMessage()).contains("Connection refused")) {
                return true;
            }
        }
        return false;
    }

    /**
     * The first call to PD failed: a store's address given as {@code --pd} (UNIMPLEMENTED) and nothing listening
     * (connection refused) each get one line naming the address; other failures stay gRPC's status.
     */
    private static RuntimeException connectError(String addr, StatusRuntimeException e) {
        Status.Code code = e.getStatus().getCode();
        if (code == Status.Code.UNIMPLEMENTED) {
            return new BrException(addr + " is not a PD (it answers UNIMPLEMENTED to pdpb.PD/GetMembers; is it a store's address?)");
        }
        if (code == Status.Code.UNAVAILABLE && refused(e)) {
            return new BrException("cannot reach PD at " + addr + ": connection refused", e);
        }
        // anything else (a TLS handshake refused, a name that does not resolve) keeps gRPC's status, which br prints in one line
        return e;
    }

    public long clusterId() {
        return clusterId;
    }

    private Pdpb.RequestHeader header() {
        return Pdpb.RequestHeader.newBuilder().setClusterId(clusterId).build();
    }

    /** No call may take longer than {@code d} (default {@value #CALL_TIMEOUT_SECONDS} s; larger values are capped at that). */
    public void callTimeout(Duration d) {
        this.callTimeoutNanos = Math.min(TimeUnit.SECONDS.toNanos(CALL_TIMEOUT_SECONDS), d.toNanos());
    }

    /** No call is sent after {@code System.nanoTime()} passes {@code nanos}; each one ends by then. */
    public void deadline(long nanos) {
        this.deadlineNanos = nanos;
    }

    /** Nanoseconds a call may take now: {@value #CALL_TIMEOUT_SECONDS} s, or less near the deadline. */
    private long budgetNanos() {
        long cap = callTimeoutNanos;
        long d = deadlineNanos;
        if (d == Long.MAX_VALUE) {
            return cap;
        }
        long left = d - System.nanoTime();
        if (left <= 0) {
            throw new BrException("PD " + addr + ": time limit reached, call not sent");
        }
        return Math.min(cap, left);
    }

    private PDGrpc.PDBlockingStub call() {
        return stub.withDeadlineAfter(budgetNanos(), TimeUnit.NANOSECONDS);
    }

    private static void check(Pdpb.ResponseHeader h, String what) {
        if (h.hasError() && h.getError().getType() != Pdpb.ErrorType.OK) {
            throw new BrException("PD " + what + ": " + h.getError().getType() + " " + h.getError().getMessage());
        }
    }

    /** One timestamp from TSO ({@code physical << 18 | logical}). */
    public long tso() {
        long budget = budgetNanos();
        CompletableFuture<Pdpb.TsoResponse> f = new CompletableFuture<>();
        StreamObserver<Pdpb.TsoRequest> req = PDGrpc.newStub(channel).withDeadlineAfter(budget, TimeUnit.NANOSECONDS).tso(new StreamObserver<>() {
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
            Pdpb.TsoResponse r = f.get(budget, TimeUnit.NANOSECONDS);
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

    /** {@code ScatterRegion} of one region (BR's {@code pdClient.ScatterRegion}); a header error is thrown. */
    public void scatterRegion(long regionId) {
        Pdpb.ScatterRegionResponse r = call().scatterRegion(Pdpb.ScatterRegionRequest.newBuilder().setHeader(header()).setRegionId(regionId).build());
        check(r.getHeader(), "ScatterRegion");
    }

    /** {@code GetOperator} of a region, header errors included (REGION_NOT_FOUND means none: BR counts it as finished). */
    public Pdpb.GetOperatorResponse operator(long regionId) {
        return call().getOperator(Pdpb.GetOperatorRequest.newBuilder().setHeader(header()).setRegionId(regionId).build());
    }

    /** An HTTP answer of PD: status and body. */
    public record HttpAnswer(int status, String body) {}

    /** {@code POST path} with a JSON body; any status is returned (BR decides what it accepts). */
    HttpAnswer httpPost(String path, String json) {
        long budget = budgetNanos();
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create((tls.enabled() ? "https://" : "http://") + addr + path))
                            .timeout(Duration.ofNanos(budget)).header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(json)).build(),
                    HttpResponse.BodyHandlers.ofString());
            return new HttpAnswer(r.statusCode(), r.body());
        } catch (IOException e) {
            throw new BrException("PD HTTP " + path + ": " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BrException("interrupted");
        }
    }

    String httpGet(String path) {
        long budget = budgetNanos();
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create((tls.enabled() ? "https://" : "http://") + addr + path))
                            .timeout(Duration.ofNanos(budget)).GET().build(),
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
