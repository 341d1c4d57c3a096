package dev.faketikv.server.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * fake-tikv's configuration: TiKV's own section and key names and defaults for what fake-tikv honours
 * ({@code [server]}, {@code [storage]}, {@code [backup]}, {@code [import]}), plus a {@code [fake]} section. Every key is a
 * {@link ConfigKey}; values are validated when set, and a bad one fails with the key's name.
 *
 * <p>Sections TiKV has but fake-tikv does not model ({@code [raftstore]}, {@code [rocksdb]}, ...) and
 * unknown keys in {@code [server]}/{@code [storage]} are ignored with a warning, so a real TiKV config
 * file loads. Unknown keys in {@code [backup]} and {@code [fake]}, and sections TiKV 5.4 does not have
 * ({@code [backupp]}), are errors: they can only be typos.
 *
 * <p>Immutable; {@link #with} returns a changed copy.
 */
public final class TikvConfig {
    private static final Logger LOG = LoggerFactory.getLogger(TikvConfig.class);

    /** TiKV's default {@code coprocessor.region-max-size} (144 MiB), which bounds sst-max-size. */
    static final long REGION_MAX_SIZE = 144L << 20;
    static final long MIN_SST_MAX_SIZE = REGION_MAX_SIZE / 10;
    static final long MAX_SST_MAX_SIZE = REGION_MAX_SIZE * 2;

    /** {@code SysQuota::cpu_cores_quota()}: the JVM's processor count, lowered by TIKV_CPU_CORES_QUOTA. */
    public static double cpuQuota() {
        double cpus = Runtime.getRuntime().availableProcessors();
        String env = System.getenv("TIKV_CPU_CORES_QUOTA");
        if (env != null) {
            try {
                double q = Double.parseDouble(env);
                if (q > 0 && q < cpus) {
                    cpus = q;
                }
            } catch (NumberFormatException ignored) {
                // TiKV ignores a malformed quota too
            }
        }
        return cpus;
    }

    private static String hostPort(Object raw) {
        String s = raw.toString().trim();
        int colon = s.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("expected HOST:PORT");
        }
        int port = Integer.parseInt(s.substring(colon + 1));
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port out of range");
        }
        return s;
    }

    @SuppressWarnings("unchecked")
    private static List<String> stringList(Object raw) {
        if (raw instanceof List<?> l) {
            List<String> out = new ArrayList<>();
            for (Object o : l) {
                out.add(o.toString());
            }
            return List.copyOf(out);
        }
        String text = raw.toString().trim();
        if (text.startsWith("[")) {
            // a JSON/TOML array of strings, as given on the command line: ["a","b"]
            try {
                List<String> out = new ArrayList<>();
                new com.fasterxml.jackson.databind.ObjectMapper().readTree(text).forEach(n -> out.add(n.asText()));
                return List.copyOf(out);
            } catch (IOException e) {
                throw new IllegalArgumentException("not an array of strings: " + e.getMessage().lines().findFirst().orElse(""));
            }
        }
        return List.of(text);
    }

    private static List<String> s3Faults(Object raw) {
        List<String> specs = stringList(raw);
        dev.faketikv.server.storage.S3Faults.parse(specs);
        return specs;
    }

    private static List<String> gcsFaults(Object raw) {
        List<String> specs = stringList(raw);
        dev.faketikv.server.storage.CloudFaults.parse("GCS", specs);
        return specs;
    }

    private static List<String> azureFaults(Object raw) {
        List<String> specs = stringList(raw);
        dev.faketikv.server.storage.CloudFaults.parse("Azure", specs);
        return specs;
    }

    /** A part size; 0 is refused here, though TiKV 5.4's {@code BackupConfig::validate} lets it through (only &gt; 5GB fails). */
    private static long partSize(Object raw) {
        long v = ConfigKey.toSize(raw);
        if (v == 0) {
            throw new IllegalArgumentException("cannot be 0");
        }
        return v;
    }

    private static final double CPU = cpuQuota();

    public static final ConfigKey<String> SERVER_ADDR = new ConfigKey<>("server.addr", String.class, "127.0.0.1:20160",
            TikvConfig::hostPort, s -> true, "", "gRPC listen address (port 0 picks a free port)");
    public static final ConfigKey<String> STATUS_ADDR = new ConfigKey<>("server.status-addr", String.class, "127.0.0.1:20180",
            TikvConfig::hostPort, s -> true, "", "status server (HTTP /metrics) listen address");
    public static final ConfigKey<String> ADVERTISE_ADDR = new ConfigKey<>("server.advertise-addr", String.class, "",
            v -> v.toString().isEmpty() ? "" : TikvConfig.hostPort(v), s -> !s.startsWith("0.") && !s.startsWith("[::]"),
            "must not be a wildcard address",
            "address clients are told (PD's store list, ready lines); only its host is used, the ports are the bound ones; empty = the host of addr");
    public static final ConfigKey<Integer> BACKGROUND_THREAD_COUNT = new ConfigKey<>("server.background-thread-count", Integer.class,
            CPU > 16 ? 3 : 2, ConfigKey::toInt, v -> v > 0, "must be > 0", "threads of the background worker that runs backup-endpoint");
    public static final ConfigKey<String> CA_PATH = new ConfigKey<>("security.ca-path", String.class, "",
            Object::toString, s -> true, "", "PEM CA certificate; with cert-path and key-path turns on (mutual) TLS for gRPC and status");
    public static final ConfigKey<String> CERT_PATH = new ConfigKey<>("security.cert-path", String.class, "",
            Object::toString, s -> true, "", "PEM certificate chain of this store");
    public static final ConfigKey<String> KEY_PATH = new ConfigKey<>("security.key-path", String.class, "",
            Object::toString, s -> true, "", "PEM (PKCS#8) private key of this store");
    @SuppressWarnings({"unchecked", "rawtypes"})
    public static final ConfigKey<List<String>> CERT_ALLOWED_CN = new ConfigKey<>("security.cert-allowed-cn", (Class) List.class,
            List.of(), TikvConfig::stringList, v -> true, "", "client certificate common names allowed (empty = any the CA signed)");
    public static final ConfigKey<String> DATA_DIR = new ConfigKey<>("storage.data-dir", String.class, "./fake-tikv-data",
            Object::toString, s -> !s.isBlank(), "must not be empty", "RocksDB data folder");
    public static final ConfigKey<Integer> API_VERSION = new ConfigKey<>("storage.api-version", Integer.class, 1,
            ConfigKey::toInt, v -> v == 1, "must be 1 (API V2 is not modelled)", "storage API version reported in BackupResponse.api_version");
    public static final ConfigKey<Integer> NUM_THREADS = new ConfigKey<>("backup.num-threads", Integer.class,
            (int) Math.max(1, Math.min(8, CPU * 0.5)), ConfigKey::toInt, v -> v > 0, "cannot be 0",
            "scan workers per request and size of the bkwkr pool; default clamp(cpu * 0.5, 1, 8)");
    public static final ConfigKey<Integer> BATCH_SIZE = new ConfigKey<>("backup.batch-size", Integer.class, 8,
            ConfigKey::toInt, v -> v > 0, "cannot be 0", "region ranges a scan worker takes at a time");
    public static final ConfigKey<Long> SST_MAX_SIZE = new ConfigKey<>("backup.sst-max-size", Long.class, 144L << 20,
            ConfigKey::toSize, v -> v >= 0, "must be >= 0",
            "cut a region's files when default+write KV bytes reach this; clamped at start-up to [region-max-size / 10, region-max-size * 2] = [14.4MB, 288MB], taken as given online (as TiKV 5.4)");
    public static final ConfigKey<Boolean> ENABLE_AUTO_TUNE = new ConfigKey<>("backup.enable-auto-tune", Boolean.class, true,
            ConfigKey::toBool, v -> true, "", "let the soft limit follow idle CPU (TiKV's auto-tune); false = soft limit is num-threads");
    public static final ConfigKey<Integer> AUTO_TUNE_REMAIN_THREADS = new ConfigKey<>("backup.auto-tune-remain-threads", Integer.class,
            (int) Math.round(CPU * 0.2), ConfigKey::toInt, v -> v >= 0, "must be >= 0", "CPUs auto-tune leaves free");
    public static final ConfigKey<Duration> AUTO_TUNE_REFRESH_INTERVAL = new ConfigKey<>("backup.auto-tune-refresh-interval", Duration.class,
            Duration.ofSeconds(60), ConfigKey::toDuration, v -> !v.isNegative() && !v.isZero(), "must be > 0", "auto-tune period");
    public static final ConfigKey<Integer> IO_THREAD_SIZE = new ConfigKey<>("backup.io-thread-size", Integer.class, 2,
            ConfigKey::toInt, v -> v > 0, "cannot be 0", "threads of the backup-io pool that uploads files (read at start-up)");
    public static final ConfigKey<Long> S3_MULTI_PART_SIZE = new ConfigKey<>("backup.s3-multi-part-size", Long.class, 5L << 20,
            TikvConfig::partSize, v -> v <= 5L << 30, "cannot larger than 5GB", "S3 multipart part size (0 is refused: fake-tikv's rule)");
    public static final ConfigKey<String> LOCAL_ROOT = new ConfigKey<>("backup.local-root", String.class, "",
            Object::toString, s -> s.isEmpty() || java.nio.file.Path.of(s).isAbsolute(), "must be an absolute path",
            "fake-tikv's: when set, local:// backups may only write inside this folder (empty = anywhere)");
    public static final ConfigKey<Duration> IMPORT_MODE_TIMEOUT = new ConfigKey<>("import.import-mode-timeout", Duration.class,
            Duration.ofMinutes(10), ConfigKey::toDuration, v -> !v.isNegative(), "must be >= 0",
            "import mode (SwitchMode) reverts to normal this long after the last switch into it (TiKV's default 10m)");
    public static final ConfigKey<Boolean> STATUS_READONLY = new ConfigKey<>("fake.status-readonly", Boolean.class, false,
            ConfigKey::toBool, v -> true, "", "the status server refuses every mutating request (403)");
    public static final ConfigKey<String> HADOOP_HOME = new ConfigKey<>("backup.hadoop.home", String.class, "",
            Object::toString, s -> true, "", "accepted for compatibility; HDFS is not supported");
    public static final ConfigKey<String> HADOOP_LINUX_USER = new ConfigKey<>("backup.hadoop.linux-user", String.class, "",
            Object::toString, s -> true, "", "accepted for compatibility; HDFS is not supported");
    public static final ConfigKey<Long> CLUSTER_ID = new ConfigKey<>("fake.cluster-id", Long.class, 7_061_136_542_108_762_113L,
            ConfigKey::toLong, v -> v != 0, "must not be 0", "the cluster id this store belongs to");
    public static final ConfigKey<Long> STORE_ID = new ConfigKey<>("fake.store-id", Long.class, 1L,
            ConfigKey::toLong, v -> v > 0, "must be > 0", "this store's id (first number of every file name)");
    public static final ConfigKey<Boolean> CHECK_CLUSTER_ID = new ConfigKey<>("fake.check-cluster-id", Boolean.class, true,
            ConfigKey::toBool, v -> true, "", "answer ClusterIDError for a non-zero, different cluster_id (5.4 ignores it: false)");
    @SuppressWarnings({"unchecked", "rawtypes"})
    public static final ConfigKey<List<String>> S3_FAULTS = new ConfigKey<>("fake.s3-faults", (Class) List.class, List.of(),
            TikvConfig::s3Faults, v -> true, "", "injected S3 upload faults, e.g. [\"SlowDown*3\", \"stall=2s*1\", \"throttle=1MB\"]");
    @SuppressWarnings({"unchecked", "rawtypes"})
    public static final ConfigKey<List<String>> GCS_FAULTS = new ConfigKey<>("fake.gcs-faults", (Class) List.class, List.of(),
            TikvConfig::gcsFaults, v -> true, "", "injected GCS faults, same rules as fake.s3-faults");
    @SuppressWarnings({"unchecked", "rawtypes"})
    public static final ConfigKey<List<String>> AZURE_FAULTS = new ConfigKey<>("fake.azure-faults", (Class) List.class, List.of(),
            TikvConfig::azureFaults, v -> true, "", "injected Azure Blob Storage faults, same rules as fake.s3-faults");
    public static final ConfigKey<Long> SCAN_RATE_PER_THREAD = new ConfigKey<>("fake.scan-rate-per-thread", Long.class, 0L,
            ConfigKey::toSize, v -> v >= 0, "must be >= 0",
            "cap on the logical KV bytes/s each backup scan thread produces (0 = unlimited; config/tikv-realistic.toml: 20MB)");
    public static final ConfigKey<String> SCRATCH_DIR = new ConfigKey<>("fake.scratch-dir", String.class, "",
            Object::toString, s -> true, "", "where SSTs are built before upload (empty = {data-dir}/backup-scratch; a tmpfs keeps them in memory as TiKV does)");
    public static final ConfigKey<Boolean> TRACE = new ConfigKey<>("fake.trace", Boolean.class, false,
            ConfigKey::toBool, v -> true, "", "log the life of each request, one line per step (also serve --trace, GET/PUT /trace)");
    public static final ConfigKey<String> FAULTS_FILE = new ConfigKey<>("fake.faults", String.class, "",
            Object::toString, s -> true, "", "fault rules file (TOML) loaded at start; see config/faults/");
    public static final ConfigKey<Duration> S3_RETRY_BASE_DELAY = new ConfigKey<>("fake.s3-retry-base-delay", Duration.class,
            Duration.ofSeconds(1), ConfigKey::toDuration, v -> !v.isNegative(), "must be >= 0",
            "first back-off of the S3 retry loop (TiKV: 1s, doubling to 32s)");
    @SuppressWarnings({"unchecked", "rawtypes"})
    public static final ConfigKey<List<String>> SEED = new ConfigKey<>("fake.seed", (Class) List.class, List.of(),
            TikvConfig::stringList, v -> true, "", "seed specs applied to an empty data dir (see docs)");
    public static final ConfigKey<Integer> STORES = new ConfigKey<>("fake.stores", Integer.class, 1,
            ConfigKey::toInt, v -> v >= 1 && v <= 128, "must be in [1, 128]",
            "stores in this process (serve --stores N): ids store-id .. store-id+N-1, one engine shared as raft replicas would be");
    public static final ConfigKey<Integer> MAX_REPLICAS = new ConfigKey<>("replication.max-replicas", Integer.class, 3,
            ConfigKey::toInt, v -> v >= 1, "must be >= 1",
            "peers per region in a cluster (PD's replication.max-replicas): min(max-replicas, stores) stores hold each region");
    public static final ConfigKey<String> PD_ADDR = new ConfigKey<>("fake.pd-addr", String.class, "",
            v -> v.toString().isEmpty() ? "" : TikvConfig.hostPort(v), s -> true, "",
            "PD facade (pdpb.PD gRPC + PD HTTP on one port); empty = 127.0.0.1:2379 when stores > 1, otherwise none");
    public static final ConfigKey<String> STORE_VERSION = new ConfigKey<>("fake.store-version", String.class, "5.4.0",
            Object::toString, v -> v.matches("v?\\d+\\.\\d+\\.\\d+.*"), "must be a semantic version such as 5.4.0",
            "version the stores and the PD facade report (BR's version check reads it)");

    /** Every key, in documentation order. */
    public static final List<ConfigKey<?>> KEYS = List.of(SERVER_ADDR, STATUS_ADDR, ADVERTISE_ADDR, BACKGROUND_THREAD_COUNT,
            CA_PATH, CERT_PATH, KEY_PATH, CERT_ALLOWED_CN, DATA_DIR, API_VERSION,
            NUM_THREADS, BATCH_SIZE, SST_MAX_SIZE, ENABLE_AUTO_TUNE, AUTO_TUNE_REMAIN_THREADS, AUTO_TUNE_REFRESH_INTERVAL,
            IO_THREAD_SIZE, S3_MULTI_PART_SIZE, LOCAL_ROOT, HADOOP_HOME, HADOOP_LINUX_USER, IMPORT_MODE_TIMEOUT, CLUSTER_ID, STORE_ID, CHECK_CLUSTER_ID,
            S3_FAULTS, GCS_FAULTS, AZURE_FAULTS, S3_RETRY_BASE_DELAY, SCAN_RATE_PER_THREAD, SCRATCH_DIR, FAULTS_FILE, STATUS_READONLY, TRACE, SEED,
            STORES, MAX_REPLICAS, PD_ADDR, STORE_VERSION);

    private static final Set<String> STRICT_SECTIONS = Set.of("backup", "backup.hadoop", "fake");
    /**
     * The top-level items of TiKV 5.4's config file ({@code TiKvConfig} in {@code src/config.rs}, kebab-case):
     * a name outside this list and outside {@code [fake]} is a typo, not a TiKV setting fake-tikv ignores.
     */
    private static final Set<String> TIKV_TOP_LEVEL = Set.of("log-level", "log-file", "log-format", "log-rotation-timespan",
            "log-rotation-size", "slow-log-file", "slow-log-threshold", "panic-when-unexpected-key-or-data", "enable-io-snoop",
            "abort-on-panic", "memory-usage-limit", "memory-usage-high-water", "log", "readpool", "server", "storage", "pd",
            "metric", "raftstore", "coprocessor", "rocksdb", "raftdb", "raft-engine", "security", "import", "backup",
            "pessimistic-txn", "gc", "split", "cdc", "resolved-ts", "resource-metering", "fake");

    private final Map<String, Object> values;

    private TikvConfig(Map<String, Object> values) {
        this.values = Collections.unmodifiableMap(values);
    }

    public static TikvConfig defaults() {
        Map<String, Object> m = new LinkedHashMap<>();
        for (ConfigKey<?> k : KEYS) {
            m.put(k.name(), k.dflt());
        }
        return new TikvConfig(m);
    }

    public static ConfigKey<?> key(String name) {
        for (ConfigKey<?> k : KEYS) {
            if (k.name().equals(name)) {
                return k;
            }
        }
        return null;
    }

    /** Loads a TOML file over the defaults. */
    public static TikvConfig load(Path file) {
        JsonNode root;
        try {
            root = new TomlMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new ConfigException("cannot read config " + file + ": " + e.getMessage());
        }
        TikvConfig cfg = defaults();
        Map<String, Object> flat = new LinkedHashMap<>();
        flatten("", root, flat);
        for (Map.Entry<String, Object> e : flat.entrySet()) {
            String name = e.getKey();
            if (key(name) == null) {
                String section = name.contains(".") ? name.substring(0, name.lastIndexOf('.')) : "";
                if (STRICT_SECTIONS.contains(section)) {
                    throw new ConfigException(name + ": unknown configuration key (in " + file + ")");
                }
                String top = name.contains(".") ? name.substring(0, name.indexOf('.')) : name;
                if (!TIKV_TOP_LEVEL.contains(top)) {
                    throw new ConfigException(top + ": not a TiKV 5.4 config " + (name.contains(".") ? "section" : "item")
                            + " (in " + file + "); the sections fake-tikv reads are [server], [storage], [security], [backup], [import] and [fake]");
                }
                LOG.warn("ignoring configuration item {} (not modelled by fake-tikv)", name);
                continue;
            }
            cfg = cfg.with(name, e.getValue());
        }
        return cfg;
    }

    /**
     * Flattens a TOML/JSON tree into {@code section.key → value} (nested tables join with '.'; arrays become
     * lists of strings; numbers Long or Double), the shape {@link #with} takes.
     */
    public static void flatten(String prefix, JsonNode node, Map<String, Object> out) {
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            String name = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
            JsonNode v = e.getValue();
            if (v.isObject()) {
                flatten(name, v, out);
            } else if (v.isArray()) {
                List<Object> list = new ArrayList<>();
                v.forEach(x -> list.add(x.isTextual() ? x.asText() : x.toString()));
                out.put(name, list);
            } else if (v.isBoolean()) {
                out.put(name, v.booleanValue());
            } else if (v.isIntegralNumber()) {
                out.put(name, v.longValue());
            } else if (v.isNumber()) {
                out.put(name, v.doubleValue());
            } else {
                out.put(name, v.asText());
            }
        }
    }

    /** A copy with {@code name} set from {@code raw} (parsed and validated). */
    public TikvConfig with(String name, Object raw) {
        ConfigKey<?> k = key(name);
        if (k == null) {
            throw new ConfigException(name + ": unknown configuration key");
        }
        Map<String, Object> m = new LinkedHashMap<>(values);
        m.put(name, k.parse(raw));
        return new TikvConfig(m);
    }

    @SuppressWarnings("unchecked")
    public <T> T get(ConfigKey<T> key) {
        return (T) values.get(key.name());
    }

    /** Whether TLS is configured; all three paths must be given together (TiKV's rule). */
    public boolean tls() {
        int set = (get(CA_PATH).isEmpty() ? 0 : 1) + (get(CERT_PATH).isEmpty() ? 0 : 1) + (get(KEY_PATH).isEmpty() ? 0 : 1);
        if (set != 0 && set != 3) {
            throw new ConfigException("security.ca-path, security.cert-path and security.key-path must be set together");
        }
        return set == 3;
    }

    /**
     * TiKV's {@code TiKvConfig::validate} ({@code src/config.rs:2612-2711}) over the keys fake-tikv has: every
     * value against its rule, and the TLS paths together. {@link #with} checks one key as it is set; this checks
     * the whole config, as TiKV does before it applies an online change ({@code ConfigController::update_impl},
     * {@code src/config.rs:3446-3455}).
     *
     * @throws ConfigException with the first rule broken
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public TikvConfig validate() {
        for (ConfigKey k : KEYS) {
            k.check(values.get(k.name()));
        }
        tls();
        return this;
    }

    /**
     * {@code compatible_adjust}: sst-max-size is clamped into [region_max_size / 10, region_max_size × 2]
     * with a warning, as TiKV does at start-up.
     */
    public TikvConfig adjusted() {
        long sst = get(SST_MAX_SIZE);
        long clamped = Math.max(MIN_SST_MAX_SIZE, Math.min(MAX_SST_MAX_SIZE, sst));
        if (clamped != sst) {
            LOG.warn("override backup.sst-max-size with {} sst-max-size: {} (was {})", clamped < sst ? "max" : "min",
                    ReadableSize.format(clamped), ReadableSize.format(sst));
            Map<String, Object> m = new LinkedHashMap<>(values);
            m.put(SST_MAX_SIZE.name(), clamped);
            return new TikvConfig(m);
        }
        return this;
    }

    public BackupConfig backup() {
        return new BackupConfig(get(NUM_THREADS), get(BATCH_SIZE), get(SST_MAX_SIZE), get(ENABLE_AUTO_TUNE),
                get(AUTO_TUNE_REMAIN_THREADS), get(AUTO_TUNE_REFRESH_INTERVAL), get(IO_THREAD_SIZE), get(S3_MULTI_PART_SIZE));
    }

    /** Every value by full key name, in documentation order (sizes and durations in TiKV's text form). */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        for (ConfigKey<?> k : KEYS) {
            Object v = values.get(k.name());
            if (k == SST_MAX_SIZE || k == S3_MULTI_PART_SIZE || k == SCAN_RATE_PER_THREAD) {
                v = ReadableSize.format((Long) v);
            } else if (v instanceof Duration d) {
                v = ReadableDuration.format(d);
            }
            m.put(k.name(), v);
        }
        return m;
    }
}
