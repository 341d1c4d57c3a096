package dev.faketikv.pd;

import dev.faketikv.engine.Engine;
import dev.faketikv.engine.gen.DataGenerator;
import dev.faketikv.engine.gen.SeedSpec;
import dev.faketikv.engine.region.Region;
import dev.faketikv.engine.region.RegionMap;
import dev.faketikv.engine.region.Peer;
import dev.faketikv.server.Addresses;
import dev.faketikv.server.FakeTikv;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.Security;
import dev.faketikv.server.StartupErrors;
import dev.faketikv.server.config.ConfigException;
import dev.faketikv.server.config.TikvConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tikv.kvproto.ImportSstpb;
import org.tikv.kvproto.Metapb;

/**
 * A fake TiKV cluster in one process: a PD facade ({@link PdServer}) and {@code N} stores
 * ({@link FakeTikvServer}, each with its own gRPC address, status server, store id, backup workers and SST
 * importer) that register with PD's {@link StoreDirectory} through the server's {@code PdClient} as they
 * start, as TiKV stores do with {@code put_store}.
 *
 * <p>Replication is modelled, not run: the stores share one engine and one region map in
 * {@code storage.data-dir}; every region has peers on {@code min(replication.max-replicas, N)} stores (PD's
 * default 3: with up to 3 stores, every store); a store backs up and ingests only the
 * regions it leads, exactly as a TiKV store answers only for its leaders. When regions get their peers on
 * the stores (a new data dir, or more stores than last time) their leaders are spread round-robin (region i
 * in key order → store {@code i mod N}, peers on stores i .. i + max-replicas − 1 mod N); a restart keeps
 * where leaders were. Leaders can move at
 * runtime ({@link #transferLeader}, or {@code POST /regions/{id}/leader} on any status server), and a
 * client then sees NotLeader / EpochNotMatch as in a real cluster. When a leader ingests an SST, the
 * copies its followers downloaded are dropped — the raft apply a real cluster would do.
 *
 * <pre>{@code
 * try (FakeCluster c = FakeCluster.builder().stores(3).seed("raw:rows=1000,regions=6").start()) {
 *     String pd = c.pdAddr();   // give this to the BR-like client: br backup raw --pd <pd> ...
 * }
 * }</pre>
 *
 * <p>{@code [security]} (ca-path, cert-path, key-path) covers the PD port too: mutual TLS with the stores' CA,
 * certificate and key ({@link PdServer}); {@code cert-allowed-cn} applies to the stores only, as in PD 5.4.
 *
 * <p>Thread-safe; {@link #close()} stops PD, then the stores, then the engine. PD starts first (stores register
 * with it), so a failed start also stops PD.
 */
public final class FakeCluster implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FakeCluster.class);

    private final TikvConfig config;
    private final Engine engine;
    private final RegionMap regions;
    private final List<FakeTikvServer> stores = new CopyOnWriteArrayList<>();
    private final StoreDirectory directory = new StoreDirectory(System::currentTimeMillis);
    private final List<DataGenerator.Result> seeds = new ArrayList<>();
    private final Path tempDir;
    private PdServer pd;

    private FakeCluster(TikvConfig config, Path tempDir) throws IOException {
        this.config = config;
        this.tempDir = tempDir;
        Path dataDir = Path.of(config.get(TikvConfig.DATA_DIR));
        int n = config.get(TikvConfig.STORES);
        long firstStore = config.get(TikvConfig.STORE_ID);
        // a cluster that cannot start leaves behind nothing it created in the data dir
        StartupErrors.CreatedPaths created = StartupErrors.CreatedPaths.before(dataDir);
        try {
            this.engine = StartupErrors.openEngine(dataDir);
        } catch (IOException | RuntimeException e) {
            created.undo();
            throw e;
        }
        boolean ok = false;
        try {
            this.regions = RegionMap.load(engine);
            regions.bootstrapIfEmpty(firstStore);
            List<SeedSpec> specs = config.get(TikvConfig.SEED).stream().map(SeedSpec::parse).toList();
            for (DataGenerator.Result r : DataGenerator.applyAll(engine, regions, specs)) {
                seeds.add(r);
                LOG.info("seed {}: {}", r.spec().text(), r.skipped() ? "already applied" : r.rows() + " rows, " + r.regionsAfter() + " regions");
            }
            placePeers(firstStore, n, config.get(TikvConfig.MAX_REPLICAS));
            InetSocketAddress addr = Addresses.parse(config.get(TikvConfig.SERVER_ADDR));
            InetSocketAddress status = Addresses.parse(config.get(TikvConfig.STATUS_ADDR));
            checkPorts(addr.getPort(), status.getPort(), n);
            String advertised = Addresses.advertisedHost(config);
            if (Addresses.wildcard(advertised)) {
                throw new ConfigException("server.advertise-addr must be set when server.addr listens on "
                        + advertised + ": PD hands the store addresses to clients");
            }
            String pdAddr = config.get(TikvConfig.PD_ADDR);
            if (pdAddr.isEmpty()) {
                pdAddr = "127.0.0.1:2379";
            }
            long clusterId = config.get(TikvConfig.CLUSTER_ID);
            InetSocketAddress pdBind = Addresses.parse(pdAddr);
            SSLContext pdTls = config.get(TikvConfig.CA_PATH).isEmpty() ? null : Security.sslContext(config);
            try {
                this.pd = PdServer.start(pdBind,
                        url -> new PdService(clusterId, directory::all, regions, url, System::currentTimeMillis),
                        config.get(TikvConfig.STORE_VERSION).replaceFirst("^v", ""),
                        Addresses.wildcard(pdBind.getHostString()) ? advertised : null, pdTls);
            } catch (IOException e) {
                throw StartupErrors.bindFailed(TikvConfig.PD_ADDR.name(), "--pd-addr", pdAddr, e);
            }
            FakeTikvServer.Shared shared = new FakeTikvServer.Shared(engine, regions, this::ingested);
            for (int s = 0; s < n; s++) {
                TikvConfig sc = config
                        .with(TikvConfig.STORE_ID.name(), firstStore + s)
                        .with(TikvConfig.SERVER_ADDR.name(), hostPort(addr, s))
                        .with(TikvConfig.STATUS_ADDR.name(), hostPort(status, s));
                stores.add(FakeTikvServer.builder(sc).shared(shared).pd(directory).start());
            }
            ok = true;
        } finally {
            if (!ok) {
                close();
                created.undo();
            }
        }
    }

    /**
     * Region i (in key order) has its peers on {@code want = min(replication.max-replicas, n)} stores. A
     * region with fewer peers on the running stores than that (a new data dir, where every region has only
     * the bootstrap store's peer, or a data dir served with fewer stores before) is laid out afresh: peers
     * on stores i, i+1, ... i+want-1 (mod n; every store in store order when want = n), reusing the peers it
     * has there and dropping the others, and its leader on store {@code i mod n}. Otherwise the region keeps
     * its peers and leader (a restart keeps where leaders were), except that peers and leaders on stores this
     * run does not start move to the running ones, as PD would replace a removed store's peers, and peers
     * beyond want are removed (never the leader's). Each added or removed peer is one conf change. One
     * synced write for all regions ({@link RegionMap#updateAll}).
     */
    private void placePeers(long firstStore, int n, int maxReplicas) {
        int want = Math.min(maxReplicas, n);
        regions.updateAll((i, r, newId) -> {
            List<Peer> kept = new ArrayList<>(r.peers().size());
            for (Peer p : r.peers()) {
                if (p.storeId() >= firstStore && p.storeId() < firstStore + n) {
                    kept.add(p);
                }
            }
            int confChanges = r.peers().size() - kept.size();
            List<Peer> peers = kept;
            long leader = r.leaderStoreId();
            if (kept.size() < want) {
                peers = new ArrayList<>(want);
                for (int k = 0; k < want; k++) {
                    long store = firstStore + (want == n ? k : (i + k) % n);
                    Peer has = kept.stream().filter(p -> p.storeId() == store).findFirst().orElse(null);
                    if (has == null) {
                        has = new Peer(newId.getAsLong(), store);
                        confChanges++;
                    }
                    peers.add(has);
                }
                for (Peer p : kept) {
                    if (!peers.contains(p)) {
                        confChanges++;
                    }
                }
                leader = firstStore + (i % n);
            } else {
                if (peers.stream().noneMatch(p -> p.storeId() == r.leaderStoreId())) {
                    long preferred = firstStore + (i % n);
                    leader = peers.stream().anyMatch(p -> p.storeId() == preferred) ? preferred : peers.get(0).storeId();
                }
                long keep = leader;
                while (peers.size() > want) {
                    for (int k = peers.size() - 1; k >= 0; k--) {
                        if (peers.get(k).storeId() != keep) {
                            peers.remove(k);
                            confChanges++;
                            break;
                        }
                    }
                }
            }
            if (confChanges == 0 && leader == r.leaderStoreId()) {
                return r;
            }
            return new Region(r.id(), r.startKey(), r.endKey(), r.confVer() + confChanges, r.version(), peers, leader);
        });
    }

    /** Store k takes port + k for gRPC and status alike; the two ranges must not meet. */
    private static void checkPorts(int grpc, int status, int n) {
        if (grpc != 0 && status != 0 && grpc < status + n && status < grpc + n) {
            throw new ConfigException("server.addr port " + grpc + " and server.status-addr port " + status
                    + " overlap for " + n + " stores (store k uses port + k): move one, or use port 0");
        }
    }

    private static String hostPort(InetSocketAddress a, int offset) {
        return Addresses.hostPort(a.getHostString(), a.getPort() == 0 ? 0 : a.getPort() + offset);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Starts the cluster {@code config} describes exactly (what {@code serve --stores N} does). */
    public static FakeCluster start(TikvConfig config) throws IOException {
        return new FakeCluster(config, null);
    }

    private void ingested(List<ImportSstpb.SSTMeta> metas) {
        for (FakeTikvServer s : stores) {
            for (ImportSstpb.SSTMeta m : metas) {
                s.importer().discard(m.getUuid().toByteArray());
            }
        }
    }

    /** {@code metapb.Store} of every store, as PD reports them. */
    public List<Metapb.Store> storesPb() {
        return directory.all();
    }

    /** {@code host:port} of the PD facade (gRPC and HTTP). */
    public String pdAddr() {
        return pd.addr();
    }

    public PdService pd() {
        return pd.service();
    }

    /** Every call made to the PD facade (also {@code GET /fake/journal} on the PD port). */
    public PdJournal pdJournal() {
        return pd.journal();
    }

    public List<FakeTikvServer> stores() {
        return List.copyOf(stores);
    }

    /** The store with this id. */
    public FakeTikvServer store(long storeId) {
        for (FakeTikvServer s : stores) {
            if (s.storeId() == storeId) {
                return s;
            }
        }
        throw new IllegalArgumentException("no store " + storeId);
    }

    public long clusterId() {
        return config.get(TikvConfig.CLUSTER_ID);
    }

    public Engine engine() {
        return engine;
    }

    public RegionMap regions() {
        return regions;
    }

    public List<DataGenerator.Result> seeds() {
        return List.copyOf(seeds);
    }

    /** Moves the leader of {@code regionId} to {@code storeId}. */
    public Region transferLeader(long regionId, long storeId) {
        return regions.transferLeader(regionId, storeId);
    }

    /** Sets the state PD reports for a store (Up, Offline, Tombstone). */
    public void storeState(long storeId, Metapb.StoreState state) {
        store(storeId);
        directory.setState(storeId, state);
    }

    /**
     * Test seam: from now on PD reports {@code address} for store {@code storeId} ({@code GetStore},
     * {@code GetAllStores}), e.g. a stand-in in front of the store; the store keeps serving at its own
     * {@link FakeTikvServer#addr()}, and keeps the state PD gave it.
     */
    public void advertiseStoreAddress(long storeId, String address) {
        store(storeId);
        for (Metapb.Store s : directory.all()) {
            if (s.getId() == storeId) {
                directory.putStore(s.toBuilder().setAddress(address).build());
            }
        }
    }

    /** The lines {@code serve} prints: the cluster's, then one per store. */
    public List<String> readyLines() {
        List<String> lines = new ArrayList<>();
        lines.add("fake-tikv cluster ready: pd=" + pdAddr() + " stores=" + stores.size() + " cluster-id=" + Long.toUnsignedString(clusterId())
                + " regions=" + regions.size());
        for (FakeTikvServer s : stores) {
            lines.add("  " + s.readyLine());
        }
        return lines;
    }

    public void awaitTermination() throws InterruptedException {
        for (FakeTikvServer s : stores) {
            s.awaitTermination();
        }
    }

    @Override
    public synchronized void close() {
        if (pd != null) {
            pd.close();
            pd = null;
        }
        for (FakeTikvServer s : stores) {
            s.close();
        }
        stores.clear();
        if (engine != null) {
            engine.close();
        }
        FakeTikv.deleteTree(tempDir);
    }

    /** Test-friendly defaults: loopback port 0 everywhere, a temporary data dir removed on close. */
    public static final class Builder {
        private final List<String> seeds = new ArrayList<>();
        private final Map<String, Object> settings = new LinkedHashMap<>();
        private int stores = 3;
        private Path dataDir;

        public Builder stores(int n) {
            this.stores = n;
            return this;
        }

        public Builder seed(String spec) {
            seeds.add(spec);
            return this;
        }

        /** Any config key, e.g. {@code set("backup.num-threads", 2)}. */
        public Builder set(String key, Object value) {
            settings.put(key, value);
            return this;
        }

        public Builder dataDir(Path dir) {
            this.dataDir = dir;
            return this;
        }

        public FakeCluster start() throws IOException {
            Path temp = dataDir == null ? Files.createTempDirectory("fake-cluster") : null;
            TikvConfig c = TikvConfig.defaults()
                    .with(TikvConfig.SERVER_ADDR.name(), "127.0.0.1:0")
                    .with(TikvConfig.STATUS_ADDR.name(), "127.0.0.1:0")
                    .with(TikvConfig.PD_ADDR.name(), "127.0.0.1:0")
                    .with(TikvConfig.DATA_DIR.name(), (dataDir != null ? dataDir : temp).toString())
                    .with(TikvConfig.STORES.name(), stores)
                    .with(TikvConfig.SEED.name(), seeds);
            for (Map.Entry<String, Object> e : settings.entrySet()) {
                c = c.with(e.getKey(), e.getValue());
            }
            return new FakeCluster(c, temp);
        }
    }
}
