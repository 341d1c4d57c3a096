package dev.faketikv.server.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.faketikv.client.BackupClient;
import dev.faketikv.server.FakeTikv;
import dev.faketikv.server.TestServers;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.hawkular.agent.prometheus.text.TextPrometheusMetricDataParser;
import org.hawkular.agent.prometheus.types.Histogram;
import org.hawkular.agent.prometheus.types.Metric;
import org.hawkular.agent.prometheus.types.MetricFamily;
import org.hawkular.agent.prometheus.types.MetricType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb.BackupResponse;

/**
 * {@code /metrics} as a Prometheus text parser (hawkular's {@code prometheus-scraper}, written by nobody here)
 * reads it, against TiKV v5.4.0's declarations: {@code components/backup/src/metrics.rs},
 * {@code components/external_storage/src/metrics.rs}, {@code components/sst_importer/src/metrics.rs}; and
 * against every series the backup and import panels of TiKV 5.4's Grafana dashboard query.
 */
class TikvMetricsExpositionTest {
    /** name, type, label names, buckets (null: not a histogram), HELP — TiKV 5.4's declarations. */
    record Declared(String name, MetricType type, Set<String> labels, double[] buckets, String help) {
    }

    static final double[] DEFAULT = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    static final List<Declared> TIKV_5_4 = List.of(
            new Declared("tikv_backup_range_duration_seconds", MetricType.HISTOGRAM, Set.of("type"),
                    exp(0.01, 16), "Bucketed histogram of backup range duration"),
            new Declared("tikv_backup_range_size_bytes", MetricType.HISTOGRAM, Set.of("cf"),
                    exp(4096, 20), "Bucketed histogram of backup range size"),
            new Declared("tikv_backup_thread_pool_size", MetricType.GAUGE, Set.of(), null, "Total size of backup thread pool"),
            new Declared("tikv_backup_error_counter", MetricType.COUNTER, Set.of("error"), null, "Total number of backup errors"),
            new Declared("tikv_backup_softlimit", MetricType.GAUGE, Set.of(), null, "Soft limit applied to the backup thread pool."),
            new Declared("tikv_backup_scan_wait_for_writer_seconds", MetricType.HISTOGRAM, Set.of(), DEFAULT,
                    "The time backup scanner wait for available writer."),
            new Declared("tikv_backup_scan_kv_count", MetricType.COUNTER, Set.of("cf"), null, "Total number of kvs backed up"),
            new Declared("tikv_backup_scan_kv_size_bytes", MetricType.COUNTER, Set.of("cf"), null, "Total size of kvs backed up"),
            new Declared("tikv_external_storage_create_seconds", MetricType.HISTOGRAM, Set.of("type"),
                    exp(0.0005, 20), "Bucketed histogram of creating external storage duration"),
            new Declared("tikv_import_rpc_duration", MetricType.HISTOGRAM, Set.of("request", "result"),
                    exp(0.01, 20), "Bucketed histogram of import rpc duration"),
            new Declared("tikv_import_download_duration", MetricType.HISTOGRAM, Set.of("type"),
                    exp(0.01, 20), "Bucketed histogram of importer download duration"),
            new Declared("tikv_import_download_bytes", MetricType.HISTOGRAM, Set.of(),
                    exp(1024, 20), "Bucketed histogram of importer download bytes"),
            new Declared("tikv_import_ingest_duration", MetricType.HISTOGRAM, Set.of("type"),
                    exp(0.01, 20), "Bucketed histogram of importer ingest duration"),
            new Declared("tikv_import_ingest_bytes", MetricType.HISTOGRAM, Set.of(),
                    exp(1024, 20), "Bucketed histogram of importer ingest bytes"),
            new Declared("tikv_import_ingest_count", MetricType.HISTOGRAM, Set.of(),
                    exp(1, 20), "Bucketed histogram of importer ingest count"),
            new Declared("tikv_import_error_counter", MetricType.COUNTER, Set.of("type", "error"), null, "Total number of importer errors"));

    static String text;
    static Map<String, MetricFamily> families;

    @BeforeAll
    static void observeEverything() throws IOException {
        BackupMetrics m = new BackupMetrics();
        m.setSoftLimit(4);
        m.setThreadPoolSize(4);
        m.observeRange("snapshot", Duration.ofMillis(3));
        m.observeRange("scan", Duration.ofMillis(30));
        m.observeRange("scan", Duration.ofMillis(700));
        m.observeRange("save", Duration.ofMillis(20));
        m.observeBuiltFile("write", 5000, 100, 4000);
        m.observeBuiltFile("default", 70_000, 10, 65_000);
        m.countError("not_leader");
        m.countError("not_leader");
        m.observeScanWait(Duration.ofMillis(2));
        m.observeStorageCreate("local", Duration.ofMillis(1));
        ImportMetrics i = m.importer();
        i.observeRpc("download", true, Duration.ofMillis(40));
        i.observeRpc("ingest", true, Duration.ofMillis(15));
        i.observeRpc("multi-ingest", false, Duration.ofMillis(1));
        i.observeDownload("queue", Duration.ofMillis(1));
        i.observeDownload("read", Duration.ofMillis(5));
        i.observeDownload("rewrite", Duration.ofMillis(7));
        i.observeDownloadBytes(3000);
        i.observeIngest(Duration.ofMillis(9), 2048, 2);
        i.countError("ingest", "not_leader");
        text = m.scrape();
        families = parse(text);
    }

    static Map<String, MetricFamily> parse(String exposition) throws IOException {
        Map<String, MetricFamily> out = new LinkedHashMap<>();
        try (InputStream in = new ByteArrayInputStream(exposition.getBytes(StandardCharsets.UTF_8))) {
            TextPrometheusMetricDataParser parser = new TextPrometheusMetricDataParser(in);
            for (MetricFamily f = parser.parse(); f != null; f = parser.parse()) {
                out.put(f.getName(), f);
            }
        }
        return out;
    }

    @Test
    void everyTikvSeriesHasTikvsNameTypeLabelsBucketsAndHelp() {
        for (Declared d : TIKV_5_4) {
            MetricFamily f = families.get(d.name());
            assertThat(f).as(d.name()).isNotNull();
            assertThat(f.getType()).as(d.name()).isEqualTo(d.type());
            assertThat(f.getHelp()).as(d.name()).isEqualTo(d.help());
            for (Metric s : f.getMetrics()) {
                assertThat(s.getLabels().keySet()).as(d.name()).isEqualTo(d.labels());
                if (d.buckets() != null) {
                    List<Double> bounds = new ArrayList<>();
                    ((Histogram) s).getBuckets().forEach(b -> bounds.add(b.getUpperBound()));
                    List<Double> expected = new ArrayList<>();
                    for (double b : d.buckets()) {
                        expected.add(b);
                    }
                    expected.add(Double.POSITIVE_INFINITY);
                    assertThat(bounds).as(d.name()).containsExactlyElementsOf(expected);
                }
            }
        }
    }

    @Test
    void countersAndValuesAreWrittenAsRustPrometheusWritesThem() {
        assertThat(text).contains("tikv_backup_error_counter{error=\"not_leader\"} 2\n")
                .contains("tikv_backup_softlimit 4\n")
                .contains("tikv_backup_range_duration_seconds_bucket{type=\"scan\",le=\"0.04\"} 1\n")
                .contains("tikv_backup_range_duration_seconds_bucket{type=\"scan\",le=\"+Inf\"} 2\n")
                .contains("tikv_import_rpc_duration_count{request=\"multi-ingest\",result=\"error\"} 1\n")
                .contains("tikv_import_ingest_count_sum 2\n");
        for (String line : text.split("\n")) {
            if (line.startsWith("tikv_") || line.startsWith("# TYPE tikv_")) {
                assertThat(line).as("TiKV writes no _total and no _max").doesNotContain("_total").doesNotContain("_max");
            }
        }
        Histogram scan = (Histogram) families.get("tikv_backup_range_duration_seconds").getMetrics().stream()
                .filter(s -> s.getLabels().get("type").equals("scan")).findFirst().orElseThrow();
        assertThat(scan.getSampleCount()).isEqualTo(2);
        assertThat(scan.getSampleSum()).isCloseTo(0.73, within(1e-9));
    }

    @Test
    void requestDurationIsNotRegisteredAs54NeverUsesIt() {
        assertThat(families).doesNotContainKey("tikv_backup_request_duration_seconds");
        assertThat(families).containsKey("fake_tikv_backup_request_duration_seconds");
    }

    @Test
    void lazySeriesAreAbsentUntilFirstUse() throws IOException {
        Map<String, MetricFamily> fresh = parse(new BackupMetrics().scrape());
        assertThat(fresh.keySet()).filteredOn(n -> n.startsWith("tikv_")).containsExactly("tikv_backup_softlimit");
    }

    @Test
    void everySeriesTheDashboardQueriesIsServedWithTheLabelsItUses() throws IOException {
        List<String> missing = new ArrayList<>();
        Set<String> absentInTikvToo = new TreeSet<>();
        for (String[] q : dashboardQueries()) {
            String series = q[2];
            String family = series.replaceFirst("_(bucket|sum|count)$", "");
            MetricFamily f = families.get(family);
            if (series.equals("tikv_import_ingest_byte")) {
                absentInTikvToo.add(series);
                assertThat(f).as("the dashboard's typo names nothing").isNull();
                continue;
            }
            if (f == null || (!family.equals(series) && f.getType() != MetricType.HISTOGRAM)) {
                missing.add(q[0] + " " + series);
                continue;
            }
            Set<String> have = new TreeSet<>();
            f.getMetrics().forEach(s -> have.addAll(s.getLabels().keySet()));
            if (f.getType() == MetricType.HISTOGRAM) {
                have.add("le");
            }
            for (String label : q[3].equals("-") ? new String[0] : q[3].split(",")) {
                assertThat(have).as("line " + q[0] + " groups " + series + " by " + label).contains(label);
            }
            if (!q[4].equals("-")) {
                String[] kv = q[4].split("=", 2);
                assertThat(f.getMetrics()).as("line " + q[0] + " selects " + q[4])
                        .anyMatch(s -> kv[1].equals(s.getLabels().get(kv[0])));
            }
        }
        assertThat(missing).isEmpty();
        assertThat(absentInTikvToo).containsExactly("tikv_import_ingest_byte");
    }

    @Test
    void aRealStoreServesTheBackupSeriesAtItsStatusPort(@TempDir Path dir) throws Exception {
        try (FakeTikv tikv = FakeTikv.builder().seed("txn:rows=3000,regions=3,long-ratio=0.2,seed=4").start();
             BackupClient client = new BackupClient(tikv.addr())) {
            List<BackupResponse> responses = client.backup(TestServers.txn(TestServers.local(dir.resolve("b"))).build());
            assertThat(responses).hasSize(3).noneMatch(BackupResponse::hasError);
            HttpResponse<String> got = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create(tikv.statusUrl() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(got.statusCode()).isEqualTo(200);
            Map<String, MetricFamily> live = parse(got.body());
            assertThat(live.get("tikv_backup_range_duration_seconds").getMetrics())
                    .extracting(m -> m.getLabels().get("type")).contains("snapshot", "scan", "save");
            assertThat(live.get("tikv_backup_range_size_bytes").getMetrics())
                    .extracting(m -> m.getLabels().get("cf")).containsExactlyInAnyOrder("default", "write");
            assertThat(live.get("tikv_backup_scan_kv_count").getType()).isEqualTo(MetricType.COUNTER);
            assertThat(live.get("tikv_external_storage_create_seconds").getMetrics())
                    .singleElement().satisfies(m -> assertThat(m.getLabels()).containsEntry("type", "local"));
            assertThat(live).containsKeys("tikv_backup_thread_pool_size", "tikv_backup_softlimit")
                    .doesNotContainKey("tikv_backup_request_duration_seconds");
            for (Declared d : TIKV_5_4) {
                if (live.containsKey(d.name())) {
                    assertThat(live.get(d.name()).getType()).as(d.name()).isEqualTo(d.type());
                    assertThat(live.get(d.name()).getHelp()).as(d.name()).isEqualTo(d.help());
                }
            }
        }
    }

    static List<String[]> dashboardQueries() throws IOException {
        List<String[]> out = new ArrayList<>();
        try (InputStream in = TikvMetricsExpositionTest.class.getResourceAsStream("/metrics/tikv-5.4-dashboard-backup-import.tsv")) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (!line.isBlank() && !line.startsWith("#")) {
                    out.add(line.split("\t"));
                }
            }
        }
        assertThat(out).hasSize(32);
        return out;
    }

    static double[] exp(double start, int count) {
        return BackupMetrics.exponential(start, 2, count);
    }
}
