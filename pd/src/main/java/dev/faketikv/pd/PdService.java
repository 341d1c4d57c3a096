package dev.faketikv.pd;

import dev.faketikv.server.raftstore.Regions;
import dev.faketikv.engine.codec.Keys;
import dev.faketikv.engine.region.Region;
import dev.faketikv.engine.region.RegionMap;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tikv.kvproto.Metapb;
import org.tikv.kvproto.PDGrpc;
import org.tikv.kvproto.Pdpb;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;

/**
 * The gRPC {@code pdpb.PD} facade: the subset of PD a BR client uses (GetMembers, Tso, GetAllStores,
 * GetStore, GetRegion, GetPrevRegion, GetRegionByID, ScanRegions, GetGCSafePoint, UpdateGCSafePoint,
 * UpdateServiceGCSafePoint, ScatterRegion, GetOperator). Every other RPC answers {@code UNIMPLEMENTED} — also {@code GetClusterInfo}, which
 * this kvproto lacks and which newer pd clients read as "PD mode" when unimplemented. Mirrors the behaviour of PD's
 * {@code server/grpc_service.go} for these calls, not its internals: regions and leaders come straight from
 * the cluster's {@link RegionMap} (region keys in the engine's form: memcomparable for txn data, raw for raw
 * data; {@code GetRegion} looks its key up as given), stores from the cluster.
 *
 * <p>TSO: {@code physical(ms) << 18 | logical}, strictly increasing across all streams; a batch of
 * {@code count} answers its last timestamp.
 *
 * <p>Cluster id: every call but {@code GetMembers} must carry this cluster's id in its header, else it fails
 * with {@code FAILED_PRECONDITION} "mismatch cluster id, need X but got Y" — 0 included, as PD v5.4's
 * {@code validateRequest} ({@code server/grpc_service.go:1417-1427}) and {@code Tso} ({@code :153-155}) demand an
 * exact match; {@code GetMembers} checks nothing, since a client learns the id from it ({@code :62-64}).
 *
 * <p>{@code GetStore} of an unknown id fails the call with gRPC {@code UNKNOWN} "invalid store ID X, not found"
 * ({@code :456-461}). Stores carry {@code git_hash} and {@code deploy_path} as TiKV reports them
 * ({@code src/server/node.rs:115-126}): "Unknown git hash" (TiKV's text when built without
 * {@code TIKV_BUILD_GIT_HASH}: fake-tikv is no TiKV build) and the folder the store runs from, when the
 * store left them empty.
 *
 * <p>GC: the GC safe point only moves forward, and {@code UpdateGCSafePoint} touches nothing else (not the
 * {@code gc_worker} service safe point: TiDB's GC worker moves that itself; {@code :1257-1302}), with no upper bound: PD v5.4 keeps the larger value and refuses nothing
 * ({@code server/grpc_service.go:1282-1301}), so {@code UpdateGCSafePoint(2^64-1)} is accepted and every later
 * txn backup fails its GC check until a restart. Kept as PD does; {@code [security]} (TLS with client
 * certificates on the PD port, {@link PdServer}) is what stops a stranger from sending it; service safe points follow PD v5.4's rule (see
 * {@link #updateServiceGCSafePoint}). A TSO batch must be 1 ≤ count &lt; 2^18. Thread-safe.
 */
public final class PdService extends PDGrpc.PDImplBase {
    private static final Logger LOG = LoggerFactory.getLogger(PdService.class);
    private static final int LOGICAL_BITS = 18;

    /** Builds the service once the server knows the URL it answers on. */
    public interface Factory {
        PdService create(Supplier<String> clientUrl);
    }

    private final long clusterId;
    private final Supplier<List<Metapb.Store>> stores;
    private final RegionMap regions;
    private final Supplier<String> clientUrl;
    private final LongSupplier clockMillis;
    private final Object tsoLock = new Object();
    private long lastTs;
    private final Object gcLock = new Object();
    private long gcSafePoint;
    /** Service id → {safe point, expiry in seconds since the epoch}; guarded by {@code gcLock}. */
    /** Sorted by service id as etcd keys are (byte order; ids here are ASCII), for PD's tie rule. */
    private final Map<String, long[]> serviceSafePoints = new java.util.TreeMap<>(Map.of(GC_WORKER, new long[] {0, Long.MAX_VALUE}));
    private static final String GC_WORKER = "gc_worker";

    public PdService(long clusterId, Supplier<List<Metapb.Store>> stores, RegionMap regions, Supplier<String> clientUrl,
                     LongSupplier clockMillis) {
        this.clusterId = clusterId;
        this.stores = stores;
        this.regions = regions;
        this.clientUrl = clientUrl;
        this.clockMillis = clockMillis;
    }

    private Pdpb.ResponseHeader ok() {
        return Pdpb.ResponseHeader.newBuilder().setClusterId(clusterId).build();
    }

    private Pdpb.ResponseHeader err(Pdpb.ErrorType type, String message) {
        return Pdpb.ResponseHeader.newBuilder().setClusterId(clusterId)
                .setError(Pdpb.Error.newBuilder().setType(type).setMessage(message)).build();
    }

    /** PD's {@code validateRequest}: false (and the call failed) unless the header carries exactly this cluster's id. */
    private boolean check(Pdpb.RequestHeader h, StreamObserver<?> out) {
        if (h.getClusterId() != clusterId) {
            out.onError(mismatch(h.getClusterId()));
            return false;
        }
        return true;
    }

    private io.grpc.StatusRuntimeException mismatch(long got) {
        return Status.FAILED_PRECONDITION.withDescription("mismatch cluster id, need " + Long.toUnsignedString(clusterId)
                + " but got " + Long.toUnsignedString(got)).asRuntimeException();
    }

    private static <T> void reply(StreamObserver<T> out, T v) {
        out.onNext(v);
        out.onCompleted();
    }

    public long clusterId() {
        return clusterId;
    }

    /** The member this facade is: leader of a one-member PD cluster. */
    public Pdpb.Member member() {
        String url = clientUrl.get();
        return Pdpb.Member.newBuilder().setName("fake-pd").setMemberId(1).addClientUrls(url).addPeerUrls(url)
                .setBinaryVersion("5.4.0").build();
    }

    @Override
    public void getMembers(Pdpb.GetMembersRequest request, StreamObserver<Pdpb.GetMembersResponse> out) {
        // no cluster id check: the client does not know it yet
        Pdpb.Member m = member();
        reply(out, Pdpb.GetMembersResponse.newBuilder().setHeader(ok()).addMembers(m).setLeader(m).setEtcdLeader(m).build());
    }

    @Override
    public StreamObserver<Pdpb.TsoRequest> tso(StreamObserver<Pdpb.TsoResponse> out) {
        return new StreamObserver<>() {
            @Override
            public void onNext(Pdpb.TsoRequest req) {
                if (req.getHeader().getClusterId() != clusterId) {
                    out.onError(mismatch(req.getHeader().getClusterId()));
                    return;
                }
                long count = Integer.toUnsignedLong(req.getCount());
                if (count == 0 || count >= 1L << LOGICAL_BITS) {
                    out.onError(Status.INVALID_ARGUMENT.withDescription(count == 0 ? "tso count should be positive"
                            : "tso count " + count + " is outside of the max logical interval").asRuntimeException());
                    return;
                }
                long ts = nextTs((int) count);
                synchronized (out) {
                    out.onNext(Pdpb.TsoResponse.newBuilder().setHeader(ok()).setCount(req.getCount())
                            .setTimestamp(Pdpb.Timestamp.newBuilder().setPhysical(ts >>> LOGICAL_BITS)
                                    .setLogical(ts & ((1L << LOGICAL_BITS) - 1)))
                            .build());
                }
            }

            @Override
            public void onError(Throwable t) {
                // the client went away
            }

            @Override
            public void onCompleted() {
                synchronized (out) {
                    out.onCompleted();
                }
            }
        };
    }

    /** Allocates {@code count} timestamps and returns the last. */
    public long nextTs(int count) {
        synchronized (tsoLock) {
            long floor = clockMillis.getAsLong() << LOGICAL_BITS;
            long first = Math.max(lastTs + 1, floor);
            lastTs = first + count - 1;
            return lastTs;
        }
    }

    @Override
    public void getAllStores(Pdpb.GetAllStoresRequest request, StreamObserver<Pdpb.GetAllStoresResponse> out) {
        if (!check(request.getHeader(), out)) {
            return;
        }
        Pdpb.GetAllStoresResponse.Builder b = Pdpb.GetAllStoresResponse.newBuilder().setHeader(ok());
        for (Metapb.Store s : stores.get()) {
            if (request.getExcludeTombstoneStores() && s.getState() == Metapb.StoreState.Tombstone) {
                continue;
            }
            b.addStores(asReported(s));
        }
        reply(out, b.build());
    }

    @Override
    public void getStore(Pdpb.GetStoreRequest request, StreamObserver<Pdpb.GetStoreResponse> out) {
        if (!check(request.getHeader(), out)) {
            return;
        }
        for (Metapb.Store s : stores.get()) {
            if (s.getId() == request.getStoreId()) {
                reply(out, Pdpb.GetStoreResponse.newBuilder().setHeader(ok()).setStore(asReported(s)).build());
                return;
            }
        }
        out.onError(Status.UNKNOWN.withDescription("invalid store ID " + Long.toUnsignedString(request.getStoreId()) + ", not found")
                .asRuntimeException());
    }

    /** TiKV's {@code git_hash} fallback ({@code src/server/node.rs:122-126}). */
    static final String GIT_HASH = "Unknown git hash";
    /** Where the store's code runs from: TiKV reports its binary's folder ({@code node.rs:115-119}). */
    private static final String DEPLOY_PATH = deployPath();

    private static String deployPath() {
        try {
            return java.nio.file.Path.of(PdService.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                    .toAbsolutePath().getParent().toString();
        } catch (RuntimeException | java.net.URISyntaxException e) {
            return System.getProperty("user.dir");
        }
    }

    /** {@code s} with the {@code git_hash} and {@code deploy_path} a TiKV store reports, where it left them empty. */
    private static Metapb.Store asReported(Metapb.Store s) {
        if (!s.getGitHash().isEmpty() && !s.getDeployPath().isEmpty()) {
            return s;
        }
        Metapb.Store.Builder b = s.toBuilder();
        if (s.getGitHash().isEmpty()) {
            b.setGitHash(GIT_HASH);
        }
        if (s.getDeployPath().isEmpty()) {
            b.setDeployPath(DEPLOY_PATH);
        }
        return b.build();
    }

    private Pdpb.GetRegionResponse regionResponse(Region r) {
        Pdpb.GetRegionResponse.Builder b = Pdpb.GetRegionResponse.newBuilder().setHeader(ok());
        if (r == null) {
            return b.build();
        }
        b.setRegion(Regions.toPb(r));
        if (r.leader() != null) {
            b.setLeader(Metapb.Peer.newBuilder().setId(r.leader().id()).setStoreId(r.leader().storeId()));
        }
        return b.build();
    }

    @Override
    public void getRegion(Pdpb.GetRegionRequest request, StreamObserver<Pdpb.GetRegionResponse> out) {
        if (check(request.getHeader(), out)) {
            reply(out, regionResponse(regions.locate(request.getRegionKey().toByteArray())));
        }
    }

    @Override
    public void getPrevRegion(Pdpb.GetRegionRequest request, StreamObserver<Pdpb.GetRegionResponse> out) {
        if (check(request.getHeader(), out)) {
            Region r = regions.locate(request.getRegionKey().toByteArray());
            reply(out, regionResponse(r == null ? null : regions.leftOf(r)));
        }
    }

    @Override
    public void getRegionByID(Pdpb.GetRegionByIDRequest request, StreamObserver<Pdpb.GetRegionResponse> out) {
        if (check(request.getHeader(), out)) {
            reply(out, regionResponse(regions.get(request.getRegionId())));
        }
    }

    @Override
    public void scanRegions(Pdpb.ScanRegionsRequest request, StreamObserver<Pdpb.ScanRegionsResponse> out) {
        if (!check(request.getHeader(), out)) {
            return;
        }
        int limit = request.getLimit() <= 0 ? Integer.MAX_VALUE : request.getLimit();
        byte[] end = request.getEndKey().toByteArray();
        Pdpb.ScanRegionsResponse.Builder b = Pdpb.ScanRegionsResponse.newBuilder().setHeader(ok());
        for (Region r : regions.scanFrom(request.getStartKey().toByteArray(), limit)) {
            if (end.length != 0 && Keys.compare(r.startKey(), end) >= 0) {
                break;
            }
            Metapb.Region pb = Regions.toPb(r);
            Metapb.Peer leader = r.leader() == null ? Metapb.Peer.getDefaultInstance()
                    : Metapb.Peer.newBuilder().setId(r.leader().id()).setStoreId(r.leader().storeId()).build();
            b.addRegionMetas(pb).addLeaders(leader).addRegions(Pdpb.Region.newBuilder().setRegion(pb).setLeader(leader));
        }
        reply(out, b.build());
    }

    @Override
    public void getGCSafePoint(Pdpb.GetGCSafePointRequest request, StreamObserver<Pdpb.GetGCSafePointResponse> out) {
        if (check(request.getHeader(), out)) {
            synchronized (gcLock) {
                reply(out, Pdpb.GetGCSafePointResponse.newBuilder().setHeader(ok()).setSafePoint(gcSafePoint).build());
            }
        }
    }

    @Override
    public void updateGCSafePoint(Pdpb.UpdateGCSafePointRequest request, StreamObserver<Pdpb.UpdateGCSafePointResponse> out) {
        if (!check(request.getHeader(), out)) {
            return;
        }
        long now;
        synchronized (gcLock) {
            if (Long.compareUnsigned(request.getSafePoint(), gcSafePoint) > 0) {
                // only the GC safe point: PD leaves the service safe points alone (grpc_service.go:1282-1301)
                gcSafePoint = request.getSafePoint();
            }
            now = gcSafePoint;
        }
        reply(out, Pdpb.UpdateGCSafePointResponse.newBuilder().setHeader(ok()).setNewSafePoint(now).build());
    }

    /**
     * PD v5.4's rule: TTL ≤ 0 removes the service's safe point; otherwise it is stored only when it is not
     * below the current minimum (the {@code gc_worker} entry, never expiring, counts), and the answer is the
     * minimum after the change — its service id, remaining TTL and safe point.
     */
    @Override
    public void updateServiceGCSafePoint(Pdpb.UpdateServiceGCSafePointRequest request,
                                         StreamObserver<Pdpb.UpdateServiceGCSafePointResponse> out) {
        if (!check(request.getHeader(), out)) {
            return;
        }
        String id = request.getServiceId().toStringUtf8();
        if (id.isEmpty()) {
            out.onError(Status.INVALID_ARGUMENT.withDescription("service id is empty").asRuntimeException());
            return;
        }
        long nowSec = clockMillis.getAsLong() / 1000;
        Pdpb.UpdateServiceGCSafePointResponse.Builder resp = Pdpb.UpdateServiceGCSafePointResponse.newBuilder().setHeader(ok());
        synchronized (gcLock) {
            if (request.getTTL() <= 0 && !id.equals(GC_WORKER)) {
                serviceSafePoints.remove(id);
            }
            Map.Entry<String, long[]> min = minServiceSafePoint(nowSec);
            if (request.getTTL() > 0 && Long.compareUnsigned(request.getSafePoint(), min.getValue()[0]) >= 0) {
                long expires = Long.MAX_VALUE - nowSec <= request.getTTL() ? Long.MAX_VALUE : nowSec + request.getTTL();
                serviceSafePoints.put(id, new long[] {request.getSafePoint(), id.equals(GC_WORKER) ? Long.MAX_VALUE : expires});
                LOG.info("service safe point {} = {} for {} s", id, request.getSafePoint(), request.getTTL());
                min = minServiceSafePoint(nowSec);
            }
            long[] v = min.getValue();
            resp.setServiceId(com.google.protobuf.ByteString.copyFromUtf8(min.getKey()))
                    .setTTL(v[1] - nowSec).setMinSafePoint(v[0]);
        }
        reply(out, resp.build());
    }

    /**
     * Drops expired entries and returns the smallest; on a tie the first in key order, as PD's
     * {@code LoadMinServiceGCSafePoint} walks etcd keys in order with a strict {@code <}
     * ({@code server/core/storage.go:530-585}, :567), so {@code br-…} wins over {@code gc_worker}. Under {@code gcLock}.
     */
    private Map.Entry<String, long[]> minServiceSafePoint(long nowSec) {
        serviceSafePoints.entrySet().removeIf(e -> !e.getKey().equals(GC_WORKER) && e.getValue()[1] < nowSec);
        Map.Entry<String, long[]> min = null;
        for (Map.Entry<String, long[]> e : serviceSafePoints.entrySet()) {
            if (min == null || Long.compareUnsigned(e.getValue()[0], min.getValue()[0]) < 0) {
                min = e;
            }
        }
        return Map.entry(min.getKey(), min.getValue().clone());
    }

    /** Live service safe points other than {@code gc_worker}: service id → safe point. */
    public Map<String, Long> serviceSafePoints() {
        Map<String, Long> m = new java.util.TreeMap<>();
        long nowSec = clockMillis.getAsLong() / 1000;
        synchronized (gcLock) {
            serviceSafePoints.forEach((k, v) -> {
                if (!k.equals(GC_WORKER) && v[1] >= nowSec) {
                    m.put(k, v[0]);
                }
            });
        }
        return m;
    }

    public long gcSafePoint() {
        synchronized (gcLock) {
            return gcSafePoint;
        }
    }

    // ---------------------------------------------------------------- scatter, operators, reset-ts

    /** Region id → kind of the scatter operator that finished on it; guarded by itself. */
    private final Map<Long, String> finishedOperators = new LinkedHashMap<>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, String> eldest) {
            return size() > 100_000;
        }
    };

    /**
     * PD 5.4's {@code ScatterRegion} ({@code server/grpc_service.go:1141-1208}). Every region already has a
     * peer on every store here, so the scatter moves nothing and its operator counts as finished at once:
     * {@link #getOperator} then answers it SUCCESS with desc {@code scatter-region}. Batch form
     * ({@code regions_id}): unknown ids are failures and lower {@code finished_percentage} as PD computes it;
     * single form: an unknown id fails the call ("region X not found") unless the request carries the region.
     */
    @Override
    public void scatterRegion(Pdpb.ScatterRegionRequest request, StreamObserver<Pdpb.ScatterRegionResponse> out) {
        if (!check(request.getHeader(), out)) {
            return;
        }
        if (request.getRegionsIdCount() > 0) {
            int ops = 0;
            int failures = 0;
            for (long id : new LinkedHashSet<>(request.getRegionsIdList())) {
                if (regions.get(id) == null) {
                    failures++;
                } else {
                    scattered(id);
                    ops++;
                }
            }
            long percentage = failures == 0 ? 100 : 100 - 100L * failures / (ops + failures);
            reply(out, Pdpb.ScatterRegionResponse.newBuilder().setHeader(ok()).setFinishedPercentage(percentage).build());
            return;
        }
        if (regions.get(request.getRegionId()) == null) {
            if (!request.hasRegion()) {
                out.onError(Status.UNKNOWN.withDescription("region " + Long.toUnsignedString(request.getRegionId()) + " not found")
                        .asRuntimeException());
                return;
            }
        } else {
            scattered(request.getRegionId());
        }
        reply(out, Pdpb.ScatterRegionResponse.newBuilder().setHeader(ok()).setFinishedPercentage(100).build());
    }

    private void scattered(long regionId) {
        synchronized (finishedOperators) {
            finishedOperators.put(regionId, "leader,region");
        }
    }

    /**
     * PD 5.4's {@code GetOperator} ({@code server/grpc_service.go:1377-1411}): the last operator of the region
     * (here: a finished scatter, status SUCCESS), else header error REGION_NOT_FOUND "Not Found".
     */
    @Override
    public void getOperator(Pdpb.GetOperatorRequest request, StreamObserver<Pdpb.GetOperatorResponse> out) {
        if (!check(request.getHeader(), out)) {
            return;
        }
        String kind;
        synchronized (finishedOperators) {
            kind = finishedOperators.get(request.getRegionId());
        }
        if (kind == null) {
            reply(out, Pdpb.GetOperatorResponse.newBuilder().setHeader(err(Pdpb.ErrorType.REGION_NOT_FOUND, "Not Found")).build());
            return;
        }
        reply(out, Pdpb.GetOperatorResponse.newBuilder().setHeader(ok()).setRegionId(request.getRegionId())
                .setDesc(com.google.protobuf.ByteString.copyFromUtf8("scatter-region"))
                .setKind(com.google.protobuf.ByteString.copyFromUtf8(kind)).setStatus(Pdpb.OperatorStatus.SUCCESS).build());
    }

    /** PD 5.4's largest allowed jump of {@code reset-ts} ({@code max-reset-ts-gap}, 24 h). */
    static final long MAX_RESET_TS_GAP_MS = 24L * 3600 * 1000;

    /**
     * {@code POST /pd/api/v1/admin/reset-ts}: PD 5.4's {@code timestampOracle.resetUserTimestamp}
     * ({@code server/tso/tso.go:237-285}): the next timestamps come after {@code ts} when it is above the
     * current one (physical part: now or the last handed out) and less than 24 h ahead. Returns null on success,
     * else PD's error text.
     */
    public String resetTs(long ts) {
        synchronized (tsoLock) {
            long cur = Math.max(lastTs, clockMillis.getAsLong() << LOGICAL_BITS);
            long physDiff = (ts >>> LOGICAL_BITS) - (cur >>> LOGICAL_BITS);
            long logicalDiff = (ts & ((1L << LOGICAL_BITS) - 1)) - (cur & ((1L << LOGICAL_BITS) - 1));
            String prefix = "[PD:tso:ErrResetUserTimestamp]reset user timestamp failed, ";
            if (physDiff < 0) {
                return prefix + "the specified ts is smaller than now";
            }
            if (physDiff == 0 && logicalDiff <= 0) {
                return prefix + "the specified counter is smaller than now";
            }
            if (physDiff >= MAX_RESET_TS_GAP_MS) {
                return prefix + "the specified ts is too larger than now";
            }
            lastTs = ts;
            LOG.info("tso reset to {}", ts);
            return null;
        }
    }

    /** Every store as PD reports it (for the HTTP API's {@code /store}). */
    public List<Metapb.Store> stores() {
        return stores.get().stream().map(PdService::asReported).toList();
    }

    /** The cluster's region map (for the HTTP API's store status counts). */
    public RegionMap regionMap() {
        return regions;
    }

    /** Regions overlapping {@code [start, end)} (region-key form; empty end = +inf), for {@code /stats/region}. */
    public int regionCount(byte[] start, byte[] end) {
        int n = 0;
        for (Region r : regions.scanFrom(start, Integer.MAX_VALUE)) {
            if (end.length != 0 && Keys.compare(r.startKey(), end) >= 0) {
                break;
            }
            n++;
        }
        return n;
    }
}
