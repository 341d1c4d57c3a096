package dev.faketikv.server.metrics;

import io.micrometer.core.instrument.Clock;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.distribution.DistributionStatisticConfig;
import io.micrometer.core.instrument.simple.CountingMode;
import io.micrometer.core.instrument.simple.SimpleConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A store's metrics. Two families, exported together by {@link #scrape()}:
 *
 * <ul>
 *   <li><b>TiKV's own</b>, exactly as TiKV v5.4.0 declares them in {@code components/backup/src/metrics.rs}
 *       and {@code components/external_storage/src/metrics.rs} (here) and
 *       {@code components/sst_importer/src/metrics.rs} ({@link ImportMetrics}): same names, types, label
 *       names, buckets and HELP texts, written by {@link TikvTextFormat} as rust-prometheus writes them
 *       (counters without {@code _total}, no {@code _max}), so the backup and import rows of TiKV's Grafana
 *       dashboard ({@code metrics/grafana/tikv_details.json}) read fake-tikv as they read TiKV. Like TiKV's
 *       lazily registered metrics, a series appears on first use: {@code tikv_backup_thread_pool_size} at
 *       the first request, {@code tikv_backup_scan_wait_for_writer_seconds} at the first wait, a vec's series
 *       at its first label values. {@code tikv_backup_request_duration_seconds} is declared by 5.4 but never
 *       used, so never registered, and absent here too.</li>
 *   <li><b>fake-tikv's own</b> ({@code fake_tikv_*}: files, written bytes, request duration, gRPC calls),
 *       in Micrometer's Prometheus registry ({@link #registry()}) and its usual exposition.</li>
 * </ul>
 *
 * <p>Thread-safe.
 */
public final class BackupMetrics {
    static final double[] DEFAULT_BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

    private final MeterRegistry tikv;
    private final PrometheusMeterRegistry registry;
    private final AtomicInteger threadPoolSize = new AtomicInteger();
    private final AtomicInteger softLimit = new AtomicInteger();
    private final Timer requestDuration;
    private final ImportMetrics importMetrics;

    public BackupMetrics() {
        this(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    }

    public BackupMetrics(PrometheusMeterRegistry registry) {
        this.registry = registry;
        this.tikv = tikvRegistry();
        this.importMetrics = new ImportMetrics(tikv);
        this.requestDuration = Timer.builder("fake.tikv.backup.request.duration")
                .description("Duration of backup requests, from the call to its last response")
                .serviceLevelObjectives(seconds(DEFAULT_BUCKETS))
                .register(registry);
        // present from start-up, as TiKV's SoftLimitKeeper sets it when the endpoint is built (endpoint.rs:563)
        Gauge.builder("tikv_backup_softlimit", softLimit, AtomicInteger::get)
                .description("Soft limit applied to the backup thread pool.").register(tikv);
    }

    /**
     * A registry whose histograms never forget: Prometheus histograms are cumulative for the life of the
     * process, while Micrometer's windowed histograms would decay.
     */
    private static MeterRegistry tikvRegistry() {
        SimpleMeterRegistry r = new SimpleMeterRegistry(new SimpleConfig() {
            @Override
            public String get(String key) {
                return null;
            }

            @Override
            public CountingMode mode() {
                return CountingMode.CUMULATIVE;
            }
        }, Clock.SYSTEM);
        r.config().meterFilter(new MeterFilter() {
            @Override
            public DistributionStatisticConfig configure(Meter.Id id, DistributionStatisticConfig config) {
                return DistributionStatisticConfig.builder().expiry(Duration.ofDays(36500)).bufferLength(1).build().merge(config);
            }
        });
        return r;
    }

    /** fake-tikv's own registry (Micrometer naming); TiKV's series are not in it. */
    public MeterRegistry registry() {
        return registry;
    }

    /** The importer's metrics ({@code tikv_import_*}). */
    public ImportMetrics importer() {
        return importMetrics;
    }

    /** Prometheus text: TiKV's series as TiKV writes them, then fake-tikv's own. */
    public String scrape() {
        return TikvTextFormat.write(tikv) + registry.scrape();
    }

    /** {@code fake_tikv_backup_request_duration_seconds}: one observation per request. */
    public void observeRequest(Duration d) {
        requestDuration.record(d);
    }

    /** {@code tikv_backup_range_duration_seconds{type}}: snapshot, scan, raw_scan, save, save_raw. */
    public void observeRange(String type, Duration d) {
        Timer.builder("tikv_backup_range_duration_seconds").description("Bucketed histogram of backup range duration")
                .tag("type", type).serviceLevelObjectives(seconds(exponential(0.01, 2, 16))).register(tikv).record(d);
    }

    /**
     * One backup file: {@code tikv_backup_range_size_bytes{cf}} (the SST's size) and the scanned kv count and
     * bytes ({@code tikv_backup_scan_kv_count{cf}}, {@code tikv_backup_scan_kv_size_bytes{cf}}), as
     * TiKV's {@code writer.rs} observes them once a file is built.
     */
    public void observeBuiltFile(String cf, long size, long kvs, long bytes) {
        DistributionSummary.builder("tikv_backup_range_size_bytes").description("Bucketed histogram of backup range size")
                .tag("cf", cf).serviceLevelObjectives(exponential(4096, 2, 20)).register(tikv).record(size);
        Counter.builder("tikv_backup_scan_kv_count").description("Total number of kvs backed up")
                .tag("cf", cf).register(tikv).increment(kvs);
        Counter.builder("tikv_backup_scan_kv_size_bytes").description("Total size of kvs backed up")
                .tag("cf", cf).register(tikv).increment(bytes);
    }

    /** One file stored: fake-tikv's own {@code fake_tikv_backup_files_total} and {@code fake_tikv_backup_written_bytes_total}. */
    public void observeSavedFile(String cf, long size, String storage) {
        Counter.builder("fake.tikv.backup.files").description("Backup files saved")
                .tag("cf", cf).tag("storage", storage).register(registry).increment();
        Counter.builder("fake.tikv.backup.written").description("Bytes written to external storage").baseUnit("bytes")
                .tag("storage", storage).register(registry).increment(size);
    }

    /** {@code tikv_backup_error_counter{error}}. */
    public void countError(String label) {
        Counter.builder("tikv_backup_error_counter").description("Total number of backup errors")
                .tag("error", label).register(tikv).increment();
    }

    /** {@code tikv_backup_thread_pool_size}: registered at the first resize, as in TiKV ({@code utils.rs}). */
    public void setThreadPoolSize(int n) {
        threadPoolSize.set(n);
        Gauge.builder("tikv_backup_thread_pool_size", threadPoolSize, AtomicInteger::get)
                .description("Total size of backup thread pool").register(tikv);
    }

    public void setSoftLimit(int n) {
        softLimit.set(n);
    }

    /** {@code tikv_backup_scan_wait_for_writer_seconds}: a scan worker waited this long for a save worker. */
    public void observeScanWait(Duration d) {
        Timer.builder("tikv_backup_scan_wait_for_writer_seconds").description("The time backup scanner wait for available writer.")
                .serviceLevelObjectives(seconds(DEFAULT_BUCKETS)).register(tikv).record(d);
    }

    /** {@code tikv_external_storage_create_seconds{type}}. */
    public void observeStorageCreate(String type, Duration d) {
        Timer.builder("tikv_external_storage_create_seconds").description("Bucketed histogram of creating external storage duration")
                .tag("type", type).serviceLevelObjectives(seconds(exponential(0.0005, 2, 20))).register(tikv).record(d);
    }

    static Duration[] seconds(double... s) {
        Duration[] out = new Duration[s.length];
        for (int i = 0; i < s.length; i++) {
            out[i] = Duration.ofNanos(Math.round(s[i] * 1e9));
        }
        return out;
    }

    /** rust-prometheus's {@code exponential_buckets(start, factor, count)}. */
    static double[] exponential(double start, double factor, int count) {
        double[] s = new double[count];
        double v = start;
        for (int i = 0; i < count; i++) {
            s[i] = v;
            v *= factor;
        }
        return s;
    }
}
