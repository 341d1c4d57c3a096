package dev.faketikv.server.metrics;

import static dev.faketikv.server.metrics.BackupMetrics.exponential;
import static dev.faketikv.server.metrics.BackupMetrics.seconds;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;

/**
 * The SST importer's metrics as TiKV v5.4.0 declares them in {@code components/sst_importer/src/metrics.rs}
 * (names, types, labels, buckets, HELP) and observes them in {@code src/import/sst_service.rs},
 * {@code components/sst_importer/src/sst_importer.rs} and {@code import_file.rs}. The upload and
 * local-write series exist in TiKV only once {@code Upload}/{@code Write} are called; fake-tikv answers
 * those UNIMPLEMENTED, so they never appear. Written by {@link TikvTextFormat}. Thread-safe.
 */
public final class ImportMetrics {
    private static final double[] DURATION_BUCKETS = exponential(0.01, 2, 20);
    private static final double[] BYTES_BUCKETS = exponential(1024, 2, 20);

    private final MeterRegistry registry;

    ImportMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    /** Metrics that go nowhere a scrape can see (an importer built without a store, e.g. in a unit test). */
    public static ImportMetrics unregistered() {
        return new ImportMetrics(new SimpleMeterRegistry());
    }

    /**
     * {@code tikv_import_rpc_duration{request,result}}: one RPC answered ({@code send_rpc_response!} in
     * {@code src/import/mod.rs}); {@code request} is TiKV's label ({@code switch_mode}, {@code download},
     * {@code ingest}, {@code multi-ingest}, {@code set_download_speed_limit}), {@code ok} is whether the
     * gRPC call succeeded (a Download error in its response body is still {@code ok}).
     */
    public void observeRpc(String request, boolean ok, Duration d) {
        Timer.builder("tikv_import_rpc_duration").description("Bucketed histogram of import rpc duration")
                .tag("request", request).tag("result", ok ? "ok" : "error")
                .serviceLevelObjectives(seconds(DURATION_BUCKETS)).register(registry).record(d);
    }

    /** {@code tikv_import_download_duration{type}}: {@code queue}, {@code read}, {@code rename}, {@code rewrite}, {@code finish}. */
    public void observeDownload(String type, Duration d) {
        Timer.builder("tikv_import_download_duration").description("Bucketed histogram of importer download duration")
                .tag("type", type).serviceLevelObjectives(seconds(DURATION_BUCKETS)).register(registry).record(d);
    }

    /** {@code tikv_import_download_bytes}: TiKV observes the {@code SSTMeta.length} asked for, before the read's result is known. */
    public void observeDownloadBytes(long length) {
        DistributionSummary.builder("tikv_import_download_bytes").description("Bucketed histogram of importer download bytes")
                .serviceLevelObjectives(BYTES_BUCKETS).register(registry).record(length);
    }

    /**
     * One successful ingest of a batch of SSTs ({@code import_file.rs}): {@code tikv_import_ingest_duration{type="ingest"}},
     * {@code tikv_import_ingest_bytes} (raw key + value bytes of the files) and {@code tikv_import_ingest_count}
     * (files in the batch).
     */
    public void observeIngest(Duration d, long bytes, int files) {
        Timer.builder("tikv_import_ingest_duration").description("Bucketed histogram of importer ingest duration")
                .tag("type", "ingest").serviceLevelObjectives(seconds(DURATION_BUCKETS)).register(registry).record(d);
        DistributionSummary.builder("tikv_import_ingest_bytes").description("Bucketed histogram of importer ingest bytes")
                .serviceLevelObjectives(BYTES_BUCKETS).register(registry).record(bytes);
        DistributionSummary.builder("tikv_import_ingest_count").description("Bucketed histogram of importer ingest count")
                .serviceLevelObjectives(exponential(1, 2, 20)).register(registry).record(files);
    }

    /**
     * {@code tikv_import_error_counter{type,error}}: {@code type} is the RPC's label, {@code error} TiKV's error
     * kind ({@code io}, {@code rocksdb}, {@code engine}, ... for failed calls; {@code not_leader},
     * {@code epoch_not_match}, {@code region_not_found}, ... for ingest region errors).
     */
    public void countError(String type, String error) {
        Counter.builder("tikv_import_error_counter").description("Total number of importer errors")
                .tag("type", type).tag("error", error).register(registry).increment();
    }
}
