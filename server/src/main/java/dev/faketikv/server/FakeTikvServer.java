package dev.faketikv.server;

import dev.faketikv.engine.Engine;
import dev.faketikv.engine.gen.DataGenerator;
import dev.faketikv.engine.gen.SeedSpec;
import dev.faketikv.engine.region.RegionMap;
import dev.faketikv.server.backup.Endpoint;
import dev.faketikv.server.backup.Service;
import dev.faketikv.server.backup.Task;
import dev.faketikv.server.config.BackupConfig;
import dev.faketikv.server.config.TikvConfig;
import dev.faketikv.server.control.FailPoints;
import dev.faketikv.server.control.FaultRules;
import dev.faketikv.server.control.Faults;
import dev.faketikv.server.control.Journal;
import dev.faketikv.server.importer.ImportSstService;
import dev.faketikv.server.importer.SstImporter;
import org.tikv.kvproto.ImportSstpb;
import dev.faketikv.server.metrics.BackupMetrics;
import dev.faketikv.server.status.StatusServer;
import dev.faketikv.server.storage.ExternalStorages;
import dev.faketikv.server.storage.S3Faults;
import java.time.Duration;
import dev.faketikv.server.worker.LazyWorker;
import dev.faketikv.server.worker.Worker;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One fake TiKV store: the engine and region map on {@code storage.data-dir}, the {@code background}
 * worker with the {@code backup-endpoint} lazy worker on it, the backup {@link Endpoint}, the gRPC server
 * with the {@code backup.Backup} {@link Service} and the {@code import_sstpb.ImportSST}
 * {@link ImportSstService}, and the status server. In a {@link FakeCluster} the stores share one engine
 * and region map (standing in for raft replication) and each keeps its own workers, importer and ports. Wiring mirrors TiKV's
 * {@code TiKVServer::register_services} ({@code components/server/src/server.rs}).
 *
 * <p>gRPC keepalive: client pings are permitted every 5 s, also without calls, since BR pings every 10 s.
 * The gRPC {@link ServerBuilder} can be injected (grpc-java style), e.g. to add interceptors.
 *
 * <p>Thread-safe; {@link #close()} stops everything and may be called from a shutdown hook.
 */
public final class FakeTikvServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FakeTikvServer.class);

    private volatile TikvConfig config;
    private final AtomicReference<BackupConfig> backupConfig;
    private final Faults faults;
    private final Journal journal;
    private final dev.faketikv.server.control.Trace trace;
    private final java.util.concurrent.atomic.AtomicLong requests = new java.util.concurrent.atomic.AtomicLong();
    private final Engine engine;
    private final RegionMap regions;
    private final BackupMetrics metrics;
    private final Worker background;
    private final LazyWorker<Task> backupWorker;
    private final Endpoint endpoint;
    private final Server grpc;
    private final StatusServer status;
    private final List<DataGenerator.Result> seeds = new ArrayList<>();
    private final boolean ownsEngine;
    private final SstImporter importer;
    private boolean closed;

    /** The engine and region map a store of a {@link FakeCluster} shares with the others. */
    record Shared(Engine engine, RegionMap regions, java.util.function.Consumer<List<ImportSstpb.SSTMeta>> onIngested) {}

    private FakeTikvServer(TikvConfig config, ServerBuilder<?> serverBuilder, Endpoint.StorageFactory storages, Shared shared) throws IOException {
        this.config = config.adjusted();
        if (!this.config.tls() && !this.config.get(TikvConfig.CERT_ALLOWED_CN).isEmpty()) {
            throw new dev.faketikv.server.config.ConfigException(
                    "security.cert-allowed-cn needs TLS: set security.ca-path, cert-path and key-path");
        }
        this.backupConfig = new AtomicReference<>(this.config.backup());
        long storeId = this.config.get(TikvConfig.STORE_ID);
        Path dataDir = Path.of(this.config.get(TikvConfig.DATA_DIR));
        this.faults = new Faults(new FailPoints(), new FaultRules());
        String rulesFile = this.config.get(TikvConfig.FAULTS_FILE);
        if (!rulesFile.isEmpty()) {
            try {
                faults.rules().replace(java.nio.file.Files.readString(Path.of(rulesFile)));
            } catch (java.io.IOException e) {
                throw new IllegalArgumentException("cannot read fault rules " + rulesFile + ": " + e.getMessage());
            }
        }
        this.journal = new Journal(storeId);
        this.trace = new dev.faketikv.server.control.Trace(this.config.get(TikvConfig.TRACE));
        this.ownsEngine = shared == null;
        this.engine = shared == null ? Engine.open(dataDir.resolve("db")) : shared.engine();
        Path storeDir = shared == null ? dataDir : dataDir.resolve("store-" + storeId);
        boolean ok = false;
        Worker bg = null;
        Endpoint ep = null;
        Server srv = null;
        try {
            this.regions = shared == null ? RegionMap.load(engine) : shared.regions();
            regions.bootstrapIfEmpty(storeId);
            for (String s : shared == null ? this.config.get(TikvConfig.SEED) : List.<String>of()) {
                DataGenerator.Result r = DataGenerator.apply(engine, regions, SeedSpec.parse(s));
                seeds.add(r);
                LOG.info("seed {}: {}", s, r.skipped() ? "already applied" : r.rows() + " rows, " + r.regionsAfter() + " regions");
            }
            this.metrics = new BackupMetrics();
            bg = new Worker.Builder("background").threadCount(this.config.get(TikvConfig.BACKGROUND_THREAD_COUNT)).create();
            this.background = bg;
            this.backupWorker = bg.lazyBuild("backup-endpoint");
            ep = new Endpoint(storeId, engine, regions, backupConfig::get, this.config.get(TikvConfig.CLUSTER_ID),
                    this.config.get(TikvConfig.CHECK_CLUSTER_ID), this.config.get(TikvConfig.API_VERSION),
                    this.config.get(TikvConfig.SCRATCH_DIR).isEmpty() ? storeDir.resolve("backup-scratch")
                            : Path.of(this.config.get(TikvConfig.SCRATCH_DIR)), metrics, storages != null ? storages : defaultStorages(), faults,
                    this.config.get(TikvConfig.SCAN_RATE_PER_THREAD));
            this.endpoint = ep;
            ep.trace(trace);
            ServerBuilder<?> sb = serverBuilder != null ? serverBuilder : defaultServerBuilder(this.config);
            java.util.List<io.grpc.ServerInterceptor> interceptors = new java.util.ArrayList<>();
            interceptors.add(new dev.faketikv.server.metrics.GrpcMetricsInterceptor(metrics.registry()));
            if (this.config.tls() && !this.config.get(TikvConfig.CERT_ALLOWED_CN).isEmpty()) {
                interceptors.add(Security.commonNameCheck(this.config.get(TikvConfig.CERT_ALLOWED_CN)));
            }
            Endpoint.StorageFactory importStorages = storages != null ? storages : defaultStorages();
            this.importer = new SstImporter(storeId, storeDir.resolve("import"), engine, importStorages);
            java.util.function.Consumer<List<ImportSstpb.SSTMeta>> ingested = shared == null ? metas -> { } : shared.onIngested();
            srv = sb.addService(io.grpc.ServerInterceptors.intercept(new Service(backupWorker.scheduler(), journal, faults.failPoints(), requests, trace),
                            interceptors))
                    .addService(io.grpc.ServerInterceptors.intercept(new ImportSstService(storeId, regions, importer, faults.failPoints(), journal, ingested), interceptors))
                    .build().start();
            this.grpc = srv;
            backupWorker.start(endpoint);
            this.status = new StatusServer(parse(this.config.get(TikvConfig.STATUS_ADDR)), this);
            ok = true;
        } finally {
            if (!ok) {
                if (srv != null) {
                    srv.shutdownNow();
                }
                if (ep != null) {
                    ep.close();
                }
                if (bg != null) {
                    bg.stop();
                }
                if (ownsEngine) {
                    engine.close();
                }
            }
        }
    }

    /** Starts a store with {@code config}. */
    public static FakeTikvServer start(TikvConfig config) throws IOException {
        return new FakeTikvServer(config, null, null, null);
    }

    /** Starts one store of a cluster over a shared engine and region map (no seeding: the cluster seeds). */
    static FakeTikvServer startShared(TikvConfig config, Shared shared) throws IOException {
        return new FakeTikvServer(config, null, null, shared);
    }

    /** Starts a store with an injected gRPC server builder and storage factory (either may be null). */
    public static FakeTikvServer start(TikvConfig config, ServerBuilder<?> serverBuilder, Endpoint.StorageFactory storages) throws IOException {
        return new FakeTikvServer(config, serverBuilder, storages, null);
    }

    /** The default storage factory: every backend fake-tikv serves, with the configured S3 options. */
    private Endpoint.StorageFactory defaultStorages() {
        S3Faults faults = S3Faults.parse(config.get(TikvConfig.S3_FAULTS));
        Duration retry = config.get(TikvConfig.S3_RETRY_BASE_DELAY);
        return backend -> {
            String root = config.get(TikvConfig.LOCAL_ROOT);
            return ExternalStorages.create(backend, new ExternalStorages.Options(backupConfig.get().s3MultiPartSize(), retry,
                    faults, root.isEmpty() ? null : Path.of(root)));
        };
    }

    static NettyServerBuilder defaultServerBuilder(TikvConfig config) {
        InetSocketAddress addr = parse(config.get(TikvConfig.SERVER_ADDR));
        NettyServerBuilder b = config.tls() ? NettyServerBuilder.forAddress(addr, Security.grpcCredentials(config))
                : NettyServerBuilder.forAddress(addr);
        return b
                .permitKeepAliveTime(5, TimeUnit.SECONDS)
                .permitKeepAliveWithoutCalls(true)
                .maxInboundMessageSize(64 << 20);
    }

    static InetSocketAddress parse(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        String host = hostPort.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        return new InetSocketAddress(host, Integer.parseInt(hostPort.substring(colon + 1)));
    }

    /** {@code host:port} the gRPC server is bound to (the real port when 0 was asked for). */
    public String addr() {
        return hostPort(advertisedHost(config), ((InetSocketAddress) grpc.getListenSockets().get(0)).getPort());
    }

    /** The host clients are told: {@code server.advertise-addr}'s, else {@code server.addr}'s. */
    static String advertisedHost(TikvConfig config) {
        String adv = config.get(TikvConfig.ADVERTISE_ADDR);
        return parse(adv.isEmpty() ? config.get(TikvConfig.SERVER_ADDR) : adv).getHostString();
    }

    /** Whether {@code host} is a wildcard (0.0.0.0 or ::) that no client can dial. */
    static boolean wildcard(String host) {
        try {
            return java.net.InetAddress.getByName(host).isAnyLocalAddress();
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    /** {@code host:port}, with an IPv6 literal in brackets. */
    public static String hostPort(String host, int port) {
        return (host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host) + ":" + port;
    }

    public String statusAddr() {
        InetSocketAddress a = status.address();
        return hostPort(wildcard(a.getHostString()) ? advertisedHost(config) : a.getHostString(), a.getPort());
    }

    public long clusterId() {
        return config.get(TikvConfig.CLUSTER_ID);
    }

    public long storeId() {
        return config.get(TikvConfig.STORE_ID);
    }

    public TikvConfig config() {
        return config;
    }

    /**
     * Online config change, as TiKV's {@code POST /config}: only {@code backup.*} keys; every value is
     * validated first and nothing changes when one is bad. New values take effect on the next request
     * ({@code num-threads} resizes the {@code bkwkr} pool then); {@code io-thread-size} only at restart,
     * as in TiKV.
     */
    public synchronized void updateConfig(java.util.Map<String, Object> changes) {
        if (changes.isEmpty()) {
            throw new dev.faketikv.server.config.ConfigException("no configuration change given");
        }
        TikvConfig next = config;
        for (java.util.Map.Entry<String, Object> e : changes.entrySet()) {
            if (TikvConfig.key(e.getKey()) == null) {
                throw new dev.faketikv.server.config.ConfigException(e.getKey() + ": unknown configuration key");
            }
            if (e.getKey().equals(TikvConfig.LOCAL_ROOT.name())) {
                throw new dev.faketikv.server.config.ConfigException(e.getKey()
                        + " can not be changed online (it confines writes; set it at start)");
            }
            if (!e.getKey().startsWith("backup.")) {
                throw new dev.faketikv.server.config.ConfigException(e.getKey() + " can not be changed online (only backup.* can)");
            }
            next = next.with(e.getKey(), e.getValue());
        }
        next = next.adjusted();
        config = next;
        backupConfig.set(next.backup());
        LOG.info("online config change: {}", changes);
    }

    public Engine engine() {
        return engine;
    }

    public RegionMap regions() {
        return regions;
    }

    public Endpoint endpoint() {
        return endpoint;
    }

    public BackupMetrics metrics() {
        return metrics;
    }

    public List<DataGenerator.Result> seeds() {
        return List.copyOf(seeds);
    }

    /** The {@code fake-tikv ready: ...} line printed by {@code serve}. */
    public String readyLine() {
        return "fake-tikv ready: addr=" + addr() + " status=" + statusAddr() + " cluster-id=" + clusterId() + " store-id=" + storeId();
    }

    /** The config as {@code GET /config} shows it: every key, with the addresses actually bound. */
    public java.util.Map<String, Object> effectiveConfig() {
        java.util.Map<String, Object> m = config.toMap();
        m.put(TikvConfig.SERVER_ADDR.name(), addr());
        m.put(TikvConfig.STATUS_ADDR.name(), statusAddr());
        return m;
    }

    /** What {@code GET /status} answers. */
    public com.fasterxml.jackson.databind.node.ObjectNode statusNode() {
        var o = new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
        o.put("store_id", storeId());
        o.put("cluster_id", Long.toUnsignedString(clusterId()));
        o.put("addr", addr());
        o.put("status_addr", statusAddr());
        o.put("regions", regions.size());
        o.put("version", "5.4.0");
        o.put("busy_workers", endpoint.busyWorkers());
        return o;
    }

    public Faults faults() {
        return faults;
    }

    /** Requests received so far (the last request number). */
    public long requestCount() {
        return requests.get();
    }

    /** Numbers the next request 1 again (fault rules match on request numbers). */
    public void resetRequestNumbers() {
        requests.set(0);
    }

    public Journal journal() {
        return journal;
    }

    public dev.faketikv.server.control.Trace trace() {
        return trace;
    }

    /** {@code http://host:port} of the status server. */
    public String statusUrl() {
        return (config.tls() ? "https://" : "http://") + statusAddr();
    }

    public void awaitTermination() throws InterruptedException {
        grpc.awaitTermination();
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        // lift every pause and hang first, so no worker waits on the control plane while we stop
        faults.failPoints().clear();
        faults.rules().clear();
        grpc.shutdown();
        try {
            if (!grpc.awaitTermination(5, TimeUnit.SECONDS)) {
                grpc.shutdownNow();
                grpc.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            grpc.shutdownNow();
        }
        status.close();
        backupWorker.stop();
        endpoint.close();
        background.stop();
        // a gRPC handler can outlive the server (its client cancelled): the importer refuses it from here on
        importer.close();
        if (ownsEngine) {
            engine.close();
        }
    }

    /** This store's SST importer (restore side). */
    public SstImporter importer() {
        return importer;
    }
}
