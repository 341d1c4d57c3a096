package dev.faketikv.server;

import dev.faketikv.engine.Engine;
import dev.faketikv.engine.gen.DataGenerator;
import dev.faketikv.engine.gen.SeedSpec;
import dev.faketikv.engine.region.RegionMap;
import dev.faketikv.server.backup.Endpoint;
import dev.faketikv.server.backup.Service;
import dev.faketikv.server.backup.Task;
import dev.faketikv.server.config.ConfigException;
import dev.faketikv.server.config.TikvConfig;
import dev.faketikv.server.control.FailPoints;
import dev.faketikv.server.control.FaultRules;
import dev.faketikv.server.control.Faults;
import dev.faketikv.server.control.Journal;
import dev.faketikv.server.control.Trace;
import dev.faketikv.server.importer.ImportSstService;
import dev.faketikv.server.importer.SstImporter;
import dev.faketikv.server.kv.KvForwarder;
import dev.faketikv.server.kv.KvService;
import dev.faketikv.server.metrics.BackupMetrics;
import dev.faketikv.server.metrics.GrpcMetricsInterceptor;
import dev.faketikv.server.pd.PdClient;
import dev.faketikv.server.status.StatusServer;
import dev.faketikv.server.storage.CloudFaults;
import dev.faketikv.server.storage.ExternalStorages;
import dev.faketikv.server.storage.S3Faults;
import dev.faketikv.server.worker.LazyWorker;
import dev.faketikv.server.worker.Worker;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tikv.kvproto.ImportSstpb;
import org.tikv.kvproto.Metapb;

/**
 * One fake TiKV store: the engine and region map on {@code storage.data-dir}, the {@code background}
 * worker with the {@code backup-endpoint} lazy worker on it, the backup {@link Endpoint}, the gRPC server
 * with the {@code backup.Backup} {@link Service} and the {@code import_sstpb.ImportSST}
 * {@link ImportSstService}, and the status server. In a fake cluster (the {@code pd} module's {@code FakeCluster}) the
 * stores share one engine and region map ({@link Shared}, standing in for raft replication), each keeps its
 * own workers, importer and ports, and each registers with PD through {@link PdClient} once it serves. Wiring mirrors TiKV's
 * {@code TiKVServer::register_services} ({@code components/server/src/server.rs}).
 *
 * <p>gRPC keepalive: client pings are permitted every 5 s, also without calls, since BR pings every 10 s.
 * The gRPC {@link ServerBuilder} can be injected (grpc-java style), e.g. to add interceptors.
 *
 * <p>Thread-safe; {@link #close()} stops everything and may be called from a shutdown hook.
 */
public final class FakeTikvServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FakeTikvServer.class);

    /** The live config and its online-change policy. */
    private final ConfigController configs;
    private final Faults faults;
    private final Journal journal;
    private final Trace trace;
    private final AtomicLong requests = new AtomicLong();
    private final Engine engine;
    private final RegionMap regions;
    private final BackupMetrics metrics;
    private final Worker background;
    private final LazyWorker<Task> backupWorker;
    private final Endpoint endpoint;
    private final Server grpc;
    private final StatusServer status;
    private final List<DataGenerator.Result> seeds = new ArrayList<>();
    private final SstImporter importer;
    /** What {@link #close()} stops, last started first; the same stack unwinds a failed start. */
    private final Deque<AutoCloseable> closers = new ArrayDeque<>();
    private boolean closed;

    private FakeTikvServer(Builder b) throws IOException {
        TikvConfig config = b.config.adjusted();
        if (!config.tls() && !config.get(TikvConfig.CERT_ALLOWED_CN).isEmpty()) {
            throw new ConfigException("security.cert-allowed-cn needs TLS: set security.ca-path, cert-path and key-path");
        }
        this.configs = new ConfigController(config);
        long storeId = config.get(TikvConfig.STORE_ID);
        Path dataDir = Path.of(config.get(TikvConfig.DATA_DIR));
        this.faults = new Faults(new FailPoints(), new FaultRules());
        String rulesFile = config.get(TikvConfig.FAULTS_FILE);
        if (!rulesFile.isEmpty()) {
            try {
                faults.rules().replace(Files.readString(Path.of(rulesFile)));
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot read fault rules " + rulesFile + ": " + e.getMessage());
            }
        }
        this.journal = new Journal(storeId);
        this.trace = new Trace(config.get(TikvConfig.TRACE));
        Path storeDir = b.shared == null ? dataDir : dataDir.resolve("store-" + storeId);
        Endpoint.StorageFactory storages = b.storages != null ? b.storages : defaultStorages();
        // a store that cannot start says so before it touches the data dir, and leaves behind nothing it created
        if (b.shared == null && b.serverBuilder == null) {
            StartupErrors.checkBindable(TikvConfig.SERVER_ADDR.name(), "--addr", Addresses.parse(config.get(TikvConfig.SERVER_ADDR)));
        }
        StartupErrors.checkBindable(TikvConfig.STATUS_ADDR.name(), "--status-addr", Addresses.parse(config.get(TikvConfig.STATUS_ADDR)));
        StartupErrors.CreatedPaths created = b.shared == null ? StartupErrors.CreatedPaths.before(dataDir) : null;
        boolean ok = false;
        try {
            if (b.shared == null) {
                this.engine = StartupErrors.openEngine(dataDir);
                closers.push(engine::close);
                this.regions = RegionMap.load(engine);
            } else {
                this.engine = b.shared.engine();
                this.regions = b.shared.regions();
            }
            regions.bootstrapIfEmpty(storeId);
            List<SeedSpec> specs = (b.shared == null ? config.get(TikvConfig.SEED) : List.<String>of()).stream().map(SeedSpec::parse).toList();
            for (DataGenerator.Result r : DataGenerator.applyAll(engine, regions, specs)) {
                seeds.add(r);
                LOG.info("seed {}: {}", r.spec().text(), r.skipped() ? "already applied" : r.rows() + " rows, " + r.regionsAfter() + " regions");
            }
            this.metrics = new BackupMetrics();
            this.background = new Worker.Builder("background").threadCount(config.get(TikvConfig.BACKGROUND_THREAD_COUNT)).create();
            closers.push(background::stop);
            this.backupWorker = background.lazyBuild("backup-endpoint");
            this.endpoint = new Endpoint(endpointDeps(storeDir, storages));
            closers.push(endpoint::close);
            endpoint.start();
            // a gRPC handler can outlive the server (its client cancelled): the importer refuses it once closed
            this.importer = new SstImporter(storeId, storeDir.resolve("import"), engine, storages, SstImporter.Settings.defaults()
                    .withImportModeTimeout(config.get(TikvConfig.IMPORT_MODE_TIMEOUT)).withMetrics(metrics.importer()));
            closers.push(importer::close);
            backupWorker.start(endpoint);
            closers.push(backupWorker::stop);
            List<ServerInterceptor> interceptors = new ArrayList<>();
            interceptors.add(new GrpcMetricsInterceptor(metrics.registry()));
            if (config.tls() && !config.get(TikvConfig.CERT_ALLOWED_CN).isEmpty()) {
                interceptors.add(Security.commonNameCheck(config.get(TikvConfig.CERT_ALLOWED_CN)));
            }
            ServerBuilder<?> sb = b.serverBuilder != null ? b.serverBuilder : defaultServerBuilder(config);
            Consumer<List<ImportSstpb.SSTMeta>> ingested = b.shared == null ? metas -> { } : b.shared.onIngested();
            KvForwarder forwarder = new KvForwarder();
            closers.push(forwarder::close);
            try {
                this.grpc = sb.addService(ServerInterceptors.intercept(
                                new Service(backupWorker.scheduler(), journal, faults.failPoints(), requests, trace), interceptors))
                        .addService(ServerInterceptors.intercept(
                                new ImportSstService(storeId, regions, importer, faults.failPoints(), journal, ingested), interceptors))
                        .addService(ServerInterceptors.intercept(KvService.definition(storeId, engine, regions, forwarder), interceptors))
                        .addService(new HealthStatusManager().getHealthService())
                        .build().start();
            } catch (IOException e) {
                throw StartupErrors.bindFailed(TikvConfig.SERVER_ADDR.name(), "--addr", config.get(TikvConfig.SERVER_ADDR), e);
            }
            closers.push(this::stopGrpc);
            SSLContext statusTls = config.tls() ? Security.sslContext(config) : null;
            try {
                this.status = new StatusServer(Addresses.parse(config.get(TikvConfig.STATUS_ADDR)), statusTls);
            } catch (IOException e) {
                throw StartupErrors.bindFailed(TikvConfig.STATUS_ADDR.name(), "--status-addr", config.get(TikvConfig.STATUS_ADDR), e);
            }
            closers.push(status::close);
            status.start(new StoreStatusView(configs, addr(), statusAddr(), endpoint, regions, metrics, faults, trace, journal, requests));
            b.pd.putStore(storePb());
            ok = true;
        } finally {
            if (!ok) {
                unwind();
                if (created != null) {
                    created.undo();
                }
            }
        }
    }

    /** What the backup endpoint is built from: this store's identity, scratch folder, scan rate and parts. */
    private Endpoint.Deps endpointDeps(Path storeDir, Endpoint.StorageFactory storages) {
        TikvConfig config = configs.config();
        String scratch = config.get(TikvConfig.SCRATCH_DIR);
        return new Endpoint.Deps(
                new Endpoint.StoreIdentity(config.get(TikvConfig.STORE_ID), config.get(TikvConfig.CLUSTER_ID),
                        config.get(TikvConfig.CHECK_CLUSTER_ID), config.get(TikvConfig.API_VERSION)),
                scratch.isEmpty() ? storeDir.resolve("backup-scratch") : Path.of(scratch),
                config.get(TikvConfig.SCAN_RATE_PER_THREAD),
                new Endpoint.Collaborators(engine, regions, configs::backup, metrics, storages, faults, trace));
    }

    /** Starts a store with {@code config}. */
    public static FakeTikvServer start(TikvConfig config) throws IOException {
        return builder(config).start();
    }

    /** Starts a store with an injected gRPC server builder and storage factory (either may be null). */
    public static FakeTikvServer start(TikvConfig config, ServerBuilder<?> serverBuilder, Endpoint.StorageFactory storages) throws IOException {
        return builder(config).serverBuilder(serverBuilder).storages(storages).start();
    }

    /** A store to be assembled from {@code config} and the optional parts the builder names. */
    public static Builder builder(TikvConfig config) {
        return new Builder(config);
    }

    /**
     * The engine and region map a store of a cluster shares with the others (they stand in for raft
     * replication), and what the cluster does when a leader has ingested SSTs (drops the followers' copies).
     * A store given these seeds nothing and does not close the engine.
     */
    public record Shared(Engine engine, RegionMap regions, Consumer<List<ImportSstpb.SSTMeta>> onIngested) {
    }

    /**
     * Everything a store is assembled from besides its config, each part optional with the default named
     * (grpc-java's {@code ServerBuilder} style): nothing is bound until {@link #start()}.
     */
    public static final class Builder {
        private final TikvConfig config;
        private ServerBuilder<?> serverBuilder;
        private Endpoint.StorageFactory storages;
        private Shared shared;
        private PdClient pd = PdClient.NONE;

        private Builder(TikvConfig config) {
            this.config = Objects.requireNonNull(config, "config");
        }

        /** The gRPC server builder (default: Netty on {@code server.addr}, TLS from {@code [security]}). */
        public Builder serverBuilder(ServerBuilder<?> serverBuilder) {
            this.serverBuilder = serverBuilder;
            return this;
        }

        /** External storage for backups and downloads (default: every backend fake-tikv serves). */
        public Builder storages(Endpoint.StorageFactory storages) {
            this.storages = storages;
            return this;
        }

        /** A cluster's shared engine and region map (default: this store opens its own in {@code storage.data-dir}). */
        public Builder shared(Shared shared) {
            this.shared = shared;
            return this;
        }

        /** The PD this store registers with once it serves (default: {@link PdClient#NONE}). */
        public Builder pd(PdClient pd) {
            this.pd = Objects.requireNonNull(pd, "pd");
            return this;
        }

        /** Binds and starts everything; on a failure what had started is stopped again. */
        public FakeTikvServer start() throws IOException {
            return new FakeTikvServer(this);
        }
    }

    /** {@code metapb.Store} as this store registers itself with PD. */
    private Metapb.Store storePb() {
        TikvConfig config = configs.config();
        return Metapb.Store.newBuilder()
                .setId(storeId())
                .setAddress(addr())
                .setStatusAddress(statusAddr())
                .setVersion(config.get(TikvConfig.STORE_VERSION).replaceFirst("^v", ""))
                .setStartTimestamp(System.currentTimeMillis() / 1000)
                .setState(Metapb.StoreState.Up)
                .build();
    }

    private void stopGrpc() {
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
    }

    /** Stops what has started, last first; one part failing to stop does not keep the others running. */
    private void unwind() {
        while (!closers.isEmpty()) {
            try {
                closers.pop().close();
            } catch (Exception e) {
                LOG.warn("stopping a part of store failed: {}", e.toString());
            }
        }
    }

    /** The default storage factory: every backend fake-tikv serves, with the configured S3 options. */
    private Endpoint.StorageFactory defaultStorages() {
        TikvConfig config = configs.config();
        S3Faults faults = S3Faults.parse(config.get(TikvConfig.S3_FAULTS));
        CloudFaults gcs = CloudFaults.parse("GCS", config.get(TikvConfig.GCS_FAULTS));
        CloudFaults azure = CloudFaults.parse("Azure", config.get(TikvConfig.AZURE_FAULTS));
        Duration retry = config.get(TikvConfig.S3_RETRY_BASE_DELAY);
        return backend -> {
            String root = config.get(TikvConfig.LOCAL_ROOT);
            return ExternalStorages.create(backend, new ExternalStorages.Options(configs.backup().s3MultiPartSize(), retry,
                    faults, root.isEmpty() ? null : Path.of(root)).withCloudFaults(gcs, azure));
        };
    }

    static NettyServerBuilder defaultServerBuilder(TikvConfig config) {
        InetSocketAddress addr = Addresses.parse(config.get(TikvConfig.SERVER_ADDR));
        NettyServerBuilder b = config.tls() ? NettyServerBuilder.forAddress(addr, Security.grpcCredentials(config))
                : NettyServerBuilder.forAddress(addr);
        return b
                .permitKeepAliveTime(5, TimeUnit.SECONDS)
                .permitKeepAliveWithoutCalls(true)
                .maxInboundMessageSize(64 << 20);
    }

    /** {@code host:port} the gRPC server is bound to (the real port when 0 was asked for). */
    public String addr() {
        return Addresses.hostPort(Addresses.advertisedHost(configs.config()), ((InetSocketAddress) grpc.getListenSockets().get(0)).getPort());
    }

    public String statusAddr() {
        InetSocketAddress a = status.address();
        return Addresses.hostPort(Addresses.wildcard(a.getHostString()) ? Addresses.advertisedHost(configs.config()) : a.getHostString(), a.getPort());
    }

    public long clusterId() {
        return configs.config().get(TikvConfig.CLUSTER_ID);
    }

    public long storeId() {
        return configs.config().get(TikvConfig.STORE_ID);
    }

    public TikvConfig config() {
        return configs.config();
    }

    /** Online config change, as TiKV's {@code POST /config}: see {@link ConfigController#update}. */
    public void updateConfig(Map<String, Object> changes) {
        configs.update(changes);
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

    public Trace trace() {
        return trace;
    }

    /** {@code http://host:port} of the status server. */
    public String statusUrl() {
        return (configs.config().tls() ? "https://" : "http://") + statusAddr();
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
        unwind();
    }

    /** This store's SST importer (restore side). */
    public SstImporter importer() {
        return importer;
    }
}
