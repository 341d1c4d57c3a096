package dev.faketikv.pd.br;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import dev.faketikv.engine.codec.BytesCodec;
import dev.faketikv.pd.FakeCluster;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.tikv.kvproto.BackupGrpc;
import org.tikv.kvproto.ImportSSTGrpc;
import org.tikv.kvproto.Kvrpcpb;
import org.tikv.kvproto.Metapb;
import org.tikv.kvproto.PDGrpc;
import org.tikv.kvproto.Pdpb;
import org.tikv.kvproto.TikvGrpc;

/**
 * BR 5.4's calls against one cluster, made the way BR makes them (raw gRPC stubs, {@code java.net.http} for PD's
 * HTTP API), each followed by the checks of what BR relies on in the answer. The steps follow
 * {@code docs/BR-5.4-CALLS.md}; method docs name the BR function (pingcap/br 5.x {@code pkg/...}) they replay.
 */
final class Br54Calls implements AutoCloseable {
    static final ObjectMapper OM = new ObjectMapper();
    /** BR 5.4 pauses with {@code int64(5 * time.Minute)}: nanoseconds, read by PD as seconds. */
    static final long BR54_PAUSE_DELAY = 300_000_000_000L;
    /** {@code pdutil.Schedulers}: the schedulers BR pauses when PD lists them. */
    static final List<String> BR_SCHEDULERS = List.of("balance-leader-scheduler", "balance-hot-region-scheduler",
            "balance-region-scheduler", "shuffle-leader-scheduler", "shuffle-region-scheduler", "shuffle-hot-region-scheduler");
    /** {@code pdutil.expectPDCfg}'s keys. */
    static final List<String> PAUSE_CONFIG_KEYS = List.of("max-merge-region-keys", "max-merge-region-size", "leader-schedule-limit",
            "region-schedule-limit", "max-snapshot-count", "enable-location-replacement", "max-pending-peer-count");

    final FakeCluster cluster;
    final ManagedChannel pdChannel;
    final PDGrpc.PDBlockingStub pd;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final Map<Long, ManagedChannel> stores = new ConcurrentHashMap<>();

    Br54Calls(FakeCluster cluster) {
        this.cluster = cluster;
        this.pdChannel = ManagedChannelBuilder.forTarget(cluster.pdAddr()).usePlaintext().build();
        this.pd = PDGrpc.newBlockingStub(pdChannel);
    }

    Pdpb.RequestHeader h() {
        return Pdpb.RequestHeader.newBuilder().setClusterId(cluster.clusterId()).build();
    }

    private ManagedChannel store(long id) {
        return stores.computeIfAbsent(id, k -> {
            Metapb.Store s = pd.getStore(Pdpb.GetStoreRequest.newBuilder().setHeader(h()).setStoreId(k).build()).getStore();
            return ManagedChannelBuilder.forTarget(s.getAddress()).usePlaintext().build();
        });
    }

    TikvGrpc.TikvBlockingStub tikv(long storeId) {
        return TikvGrpc.newBlockingStub(store(storeId));
    }

    ImportSSTGrpc.ImportSSTBlockingStub importer(long storeId) {
        return ImportSSTGrpc.newBlockingStub(store(storeId));
    }

    BackupGrpc.BackupBlockingStub backup(long storeId) {
        return BackupGrpc.newBlockingStub(store(storeId));
    }

    HttpResponse<String> get(String path) {
        return send(HttpRequest.newBuilder(uri(path)).GET().build());
    }

    HttpResponse<String> post(String path, String body) {
        return send(HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    private URI uri(String path) {
        return URI.create("http://" + cluster.pdAddr() + "/" + path);
    }

    private HttpResponse<String> send(HttpRequest r) {
        try {
            return http.send(r, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new AssertionError(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    static JsonNode json(HttpResponse<String> r) {
        try {
            return OM.readTree(r.body());
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + r.body(), e);
        }
    }

    /** 0.3–0.6: {@code NewPdController} (cluster-version, ≥ 4.0.8 for pause config), pd client, {@code CheckClusterVersion}. */
    List<Metapb.Store> startUp() {
        HttpResponse<String> v = get("pd/api/v1/config/cluster-version");
        assertThat(v.statusCode()).isEqualTo(200);
        String version = v.body().trim().replace("\"", "").replaceFirst("^v", "");
        assertThat(version).as("semver BR parses; >= 4.0.8 turns on pause config").matches("5\\.4\\.\\d+");
        Pdpb.GetMembersResponse m = pd.getMembers(Pdpb.GetMembersRequest.getDefaultInstance());
        assertThat(m.getHeader().getClusterId()).isEqualTo(cluster.clusterId());
        assertThat(m.getLeader().getClientUrlsList()).isNotEmpty();
        List<Metapb.Store> all = pd.getAllStores(Pdpb.GetAllStoresRequest.newBuilder().setHeader(h()).setExcludeTombstoneStores(true).build())
                .getStoresList();
        assertThat(all).isNotEmpty().allSatisfy(s -> {
            assertThat(s.getVersion().replaceFirst("^v", "")).as("TiKV major == BR major").startsWith("5.");
            assertThat(s.getState()).isEqualTo(Metapb.StoreState.Up);
            assertThat(s.getLabelsList()).noneMatch(l -> l.getKey().equals("engine") && l.getValue().equals("tiflash"));
        });
        return all;
    }

    /** What {@code RemoveSchedulersWithOrigin} saved: the paused schedulers and the original values of the 7 keys. */
    record Saved(List<String> schedulers, Map<String, JsonNode> origin) {}

    /** 4.2–4.4: {@code pdutil.RemoveSchedulersWithOrigin} (pause schedulers, then the pause config). */
    Saved removeSchedulers() {
        int storeCount = pd.getAllStores(Pdpb.GetAllStoresRequest.newBuilder().setHeader(h()).build()).getStoresCount();
        HttpResponse<String> cfgResp = get("pd/api/v1/config/schedule");
        assertThat(cfgResp.statusCode()).isEqualTo(200);
        JsonNode cfg = json(cfgResp);
        Map<String, JsonNode> origin = new LinkedHashMap<>();
        ObjectNode disable = OM.createObjectNode();
        for (String k : PAUSE_CONFIG_KEYS) {
            JsonNode v = cfg.get(k);
            assertThat(v).as("schedule config has " + k).isNotNull();
            origin.put(k, v);
            switch (k) {
                case "max-merge-region-keys", "max-merge-region-size" -> disable.put(k, 0);
                case "enable-location-replacement" -> disable.put(k, "false");
                case "max-pending-peer-count" -> disable.put(k, Integer.MAX_VALUE);
                default -> {
                    assertThat(v.isNumber()).as(k + " is a number BR multiplies").isTrue();
                    disable.put(k, (long) Math.min(40, v.asDouble() * storeCount));
                }
            }
        }
        HttpResponse<String> list = get("pd/api/v1/schedulers");
        assertThat(list.statusCode()).isEqualTo(200);
        List<String> toPause = new ArrayList<>();
        json(list).forEach(n -> {
            if (BR_SCHEDULERS.contains(n.asText())) {
                toPause.add(n.asText());
            }
        });
        assertThat(toPause).as("PD 5.4's default schedulers BR pauses").containsExactlyInAnyOrder("balance-leader-scheduler",
                "balance-hot-region-scheduler", "balance-region-scheduler");
        for (String s : toPause) {
            HttpResponse<String> r = post("pd/api/v1/schedulers/" + s, "{\"delay\":" + BR54_PAUSE_DELAY + "}");
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        }
        HttpResponse<String> r = post("pd/api/v1/config/schedule?ttlSecond=300", disable.toString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return new Saved(toPause, origin);
    }

    /** 4.11: {@code pdutil.restoreSchedulers}: resume ({@code delay 0}), then the saved values with {@code ttlSecond=0}. */
    void restoreSchedulers(Saved saved) {
        for (String s : saved.schedulers()) {
            HttpResponse<String> r = post("pd/api/v1/schedulers/" + s, "{\"delay\":0}");
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        }
        ObjectNode back = OM.createObjectNode();
        saved.origin().forEach(back::set);
        HttpResponse<String> r = post("pd/api/v1/config/schedule?ttlSecond=0", back.toString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    }

    /** {@code PaginateScanRegion} with BR's page size (128). */
    List<Pdpb.Region> scanRegions(byte[] start, byte[] end) {
        List<Pdpb.Region> out = new ArrayList<>();
        byte[] from = start;
        while (true) {
            List<Pdpb.Region> batch = pd.scanRegions(Pdpb.ScanRegionsRequest.newBuilder().setHeader(h()).setStartKey(ByteString.copyFrom(from))
                    .setEndKey(ByteString.copyFrom(end)).setLimit(128).build()).getRegionsList();
            out.addAll(batch);
            if (batch.size() < 128) {
                return out;
            }
            from = batch.get(batch.size() - 1).getRegion().getEndKey().toByteArray();
            if (from.length == 0 || (end.length > 0 && Arrays.compareUnsigned(from, end) >= 0)) {
                return out;
            }
        }
    }

    /**
     * 2.6–2.9: {@code RegionSplitter.Split} for ranges whose end keys (user keys) and rewrite prefixes are
     * {@code checkKeys}: scan {@code [encode(min), encode(max))}, split each region holding keys with one batch
     * {@code SplitRegion} on its leader (keys raw, TiKV encodes), wait for each new region in PD
     * ({@code GetRegionByID}), scatter it ({@code ScatterRegion} single form), wait for its operator
     * ({@code GetOperator}). Returns the new regions.
     */
    List<Metapb.Region> splitAndScatter(byte[] minKey, byte[] maxKey, List<byte[]> checkKeys) {
        List<Pdpb.Region> regions = scanRegions(BytesCodec.encode(minKey), BytesCodec.encode(maxKey));
        assertThat(regions).isNotEmpty();
        Map<Long, List<byte[]>> splitKeys = new LinkedHashMap<>();
        Map<Long, Pdpb.Region> byId = new LinkedHashMap<>();
        for (byte[] key : checkKeys) {
            if (key.length == 0) {
                continue;
            }
            byte[] enc = BytesCodec.encode(key);
            for (Pdpb.Region r : regions) {
                byte[] s = r.getRegion().getStartKey().toByteArray();
                byte[] e = r.getRegion().getEndKey().toByteArray();
                if (Arrays.equals(s, enc)) {
                    break;
                }
                if (Arrays.compareUnsigned(enc, s) > 0 && (e.length == 0 || Arrays.compareUnsigned(enc, e) < 0)) {
                    splitKeys.computeIfAbsent(r.getRegion().getId(), k -> new ArrayList<>()).add(key);
                    byId.put(r.getRegion().getId(), r);
                    break;
                }
            }
        }
        List<Metapb.Region> created = new ArrayList<>();
        for (Map.Entry<Long, List<byte[]>> e : splitKeys.entrySet()) {
            Pdpb.Region r = byId.get(e.getKey());
            Metapb.Peer leader = r.getLeader().getId() != 0 ? r.getLeader() : r.getRegion().getPeers(0);
            Kvrpcpb.SplitRegionRequest.Builder req = Kvrpcpb.SplitRegionRequest.newBuilder().setContext(Kvrpcpb.Context.newBuilder()
                    .setRegionId(r.getRegion().getId()).setRegionEpoch(r.getRegion().getRegionEpoch()).setPeer(leader));
            e.getValue().forEach(k -> req.addSplitKeys(ByteString.copyFrom(k)));
            Kvrpcpb.SplitRegionResponse resp = tikv(leader.getStoreId()).splitRegion(req.build());
            assertThat(resp.hasRegionError()).as("split of region %d: %s", r.getRegion().getId(), resp.getRegionError()).isFalse();
            List<Metapb.Region> out = resp.getRegionsList();
            long distinctKeys = e.getValue().stream().map(k -> ByteString.copyFrom(k)).distinct().count();
            assertThat(out).as("one region per key, plus the original").hasSize((int) distinctKeys + 1);
            assertThat(out.get(0).getStartKey()).isEqualTo(r.getRegion().getStartKey());
            assertThat(out.get(out.size() - 1).getEndKey()).isEqualTo(r.getRegion().getEndKey());
            assertThat(out.get(out.size() - 1).getId()).as("right_derive_when_split: the original id keeps the right").isEqualTo(r.getRegion().getId());
            for (int i = 1; i < out.size(); i++) {
                assertThat(out.get(i).getStartKey()).isEqualTo(out.get(i - 1).getEndKey());
            }
            assertThat(out).allSatisfy(n -> assertThat(n.getRegionEpoch().getVersion())
                    .isEqualTo(r.getRegion().getRegionEpoch().getVersion() + distinctKeys));
            // BatchSplitRegionsWithOrigin: the leader is the peer on the old leader's store
            assertThat(out).allSatisfy(n -> assertThat(n.getPeersList()).anyMatch(p -> p.getStoreId() == leader.getStoreId()));
            for (Metapb.Region n : out) {
                if (n.getId() != r.getRegion().getId()) {
                    created.add(n);
                }
            }
        }
        assertThat(created.stream().map(Metapb.Region::getId).distinct()).hasSameSizeAs(created);
        for (Metapb.Region n : created) {
            // waitForSplit
            Pdpb.GetRegionResponse seen = pd.getRegionByID(Pdpb.GetRegionByIDRequest.newBuilder().setHeader(h()).setRegionId(n.getId()).build());
            assertThat(seen.hasRegion()).as("PD sees region %d at once", n.getId()).isTrue();
            assertThat(seen.getRegion()).isEqualTo(n);
            Pdpb.ScatterRegionResponse sr = pd.scatterRegion(Pdpb.ScatterRegionRequest.newBuilder().setHeader(h()).setRegionId(n.getId()).build());
            assertThat(sr.getHeader().hasError()).isFalse();
        }
        for (Metapb.Region n : created) {
            // isScatterRegionFinished
            Pdpb.GetOperatorResponse op = pd.getOperator(Pdpb.GetOperatorRequest.newBuilder().setHeader(h()).setRegionId(n.getId()).build());
            assertThat(op.getHeader().hasError()).isFalse();
            assertThat(op.getDesc().toStringUtf8()).isEqualTo("scatter-region");
            assertThat(op.getStatus()).isEqualTo(Pdpb.OperatorStatus.SUCCESS);
        }
        return created;
    }

    /** One timestamp from PD's {@code Tso} stream, as the pd client's oracle asks it. */
    long tso() {
        java.util.concurrent.CompletableFuture<Pdpb.TsoResponse> got = new java.util.concurrent.CompletableFuture<>();
        io.grpc.stub.StreamObserver<Pdpb.TsoRequest> up = PDGrpc.newStub(pdChannel).tso(new io.grpc.stub.StreamObserver<>() {
            @Override
            public void onNext(Pdpb.TsoResponse v) {
                got.complete(v);
            }

            @Override
            public void onError(Throwable t) {
                got.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                // one answer is all this needs
            }
        });
        up.onNext(Pdpb.TsoRequest.newBuilder().setHeader(h()).setCount(1).build());
        try {
            Pdpb.Timestamp t = got.get(10, java.util.concurrent.TimeUnit.SECONDS).getTimestamp();
            up.onCompleted();
            return t.getPhysical() << 18 | t.getLogical();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /** The paused scheduler list ({@code GET /schedulers?status=paused}; JSON {@code null} = none). */
    List<String> paused() {
        List<String> out = new ArrayList<>();
        for (Iterator<JsonNode> it = json(get("pd/api/v1/schedulers?status=paused")).elements(); it.hasNext(); ) {
            out.add(it.next().asText());
        }
        return out;
    }

    @Override
    public void close() {
        pdChannel.shutdownNow();
        stores.values().forEach(ManagedChannel::shutdownNow);
    }
}
