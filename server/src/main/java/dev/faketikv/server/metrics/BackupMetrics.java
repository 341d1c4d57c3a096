package dev.faketikv.server.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The backup metrics, named as TiKV v5.4.0 names them ({@code components/backup/src/metrics.rs}) with
 * TiKV's bucket layouts, plus a few of fake-tikv's own ({@code fake_tikv_*}).
 *
 * <p>Exposition differences, forced by Micrometer's Prometheus naming: counters gain {@code _total}
 * ({@code tikv_backup_error_counter_total}, {@code tikv_backup_scan_kv_count_total},
 * {@code tikv_backup_scan_kv_size_bytes_total}); histograms also export {@code _max}. And
 * {@code tikv_backup_request_duration_seconds}, declared but never observed by 5.4, is observed here
 * once per request, so its {@code _count} is the request count.
 *
 * <p>Thread-safe.
 */
public final class BackupMetrics {
    private static final Duration[] DEFAULT_BUCKETS = seconds(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10);

    private final PrometheusMeterRegistry registry;
    private final Timer requestDuration;
    private final AtomicInteger threadPoolSize = new AtomicInteger();
    private final AtomicInteger softLimit = new AtomicInteger();
    private final Timer scanWaitForWriter;

    public BackupMetrics() {
        this(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    }

    public BackupMetrics(PrometheusMeterRegistry registry) {
        this.registry = registry;
        this.requestDuration = Timer.builder("tikv.backup.request.duration")
                .description("Bucketed histogram of backup requests duration")
                .serviceLevelObjectives(DEFAULT_BUCKETS)
                .register(registry);
        this.scanWaitForWriter = Timer.builder("tikv.backup.scan.wait.for.writer")
                .description("The time a backup scan worker waited for a save worker")
                .serviceLevelObjectives(DEFAULT_BUCKETS)
                .register(registry);
        Gauge.builder("tikv.backup.thread.pool.size", threadPoolSize, AtomicInteger::get)
                .description("Size of the backup thread pool").register(registry);
        Gauge.builder("tikv.backup.softlimit", softLimit, AtomicInteger::get)
                .description("Soft limit applied to the backup thread pool").register(registry);
    }

    public MeterRegistry registry() {
        return registry;
    }

    /** Prometheus text exposition. */
    public String scrape() {
        return registry.scrape();
    }

    public void observeRequest(Duration d) {
        requestDuration.record(d);
    }

    /** {@code tikv_backup_range_duration_seconds{type}}: snapshot, scan, raw_scan, save, save_raw. */
    public void observeRange(String type, Duration d) {
        histogram("tikv.backup.range.duration", "Bucketed histogram of backup range duration", "type", type,
                seconds(exponential(0.01, 2, 16))).record(d);
    }

    private Timer histogram(String name, String description, String tag, String value, Duration[] buckets) {
        return Timer.builder(name).description(description).tag(tag, value).serviceLevelObjectives(buckets).register(registry);
    }

    /** One saved file: range size, scanned kv count and bytes, and fake-tikv's file counter. */
    public void observeFile(String cf, long size, long kvs, long bytes, String storage) {
        DistributionSummary.builder("tikv.backup.range.size")
                .description("Bucketed histogram of backup range size")
                .baseUnit("bytes")
                .tag("cf", cf)
                .serviceLevelObjectives(exponential(4096, 2, 20))
                .register(registry)
                .record(size);
        Counter.builder("tikv.backup.scan.kv.count").description("Total number of scanned kvs")
                .tag("cf", cf).register(registry).increment(kvs);
        Counter.builder("tikv.backup.scan.kv.size").description("Total size of scanned kvs").baseUnit("bytes")
                .tag("cf", cf).register(registry).increment(bytes);
        Counter.builder("fake.tikv.backup.files").description("Backup files saved")
                .tag("cf", cf).tag("storage", storage).register(registry).increment();
        Counter.builder("fake.tikv.backup.written").description("Bytes written to external storage").baseUnit("bytes")
                .tag("storage", storage).register(registry).increment(size);
    }

    /** {@code tikv_backup_error_counter{error}}. */
    public void countError(String label) {
        Counter.builder("tikv.backup.error.counter").description("Total number of backup errors")
                .tag("error", label).register(registry).increment();
    }

    public void setThreadPoolSize(int n) {
        threadPoolSize.set(n);
    }

    public void setSoftLimit(int n) {
        softLimit.set(n);
    }

    public void observeScanWait(Duration d) {
        scanWaitForWriter.record(d);
    }

    /** {@code tikv_external_storage_create_seconds{type}}. */
    public void observeStorageCreate(String type, Duration d) {
        histogram("tikv.external.storage.create", "Bucketed histogram of creating external storage duration", "type", type,
                seconds(exponential(0.0005, 2, 20))).record(d);
    }

    private static Duration[] seconds(double... s) {
        Duration[] out = new Duration[s.length];
        for (int i = 0; i < s.length; i++) {
            out[i] = Duration.ofNanos((long) (s[i] * 1e9));
        }
        return out;
    }

    private static double[] exponential(double start, double factor, int count) {
        double[] s = new double[count];
        double v = start;
        for (int i = 0; i < count; i++) {
            s[i] = v;
            v *= factor;
        }
        return s;
    }
}
