package dev.faketikv.server.importer;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.faketikv.client.BackupClient;
import dev.faketikv.engine.region.Region;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.TestServers;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hawkular.agent.prometheus.text.TextPrometheusMetricDataParser;
import org.hawkular.agent.prometheus.types.Counter;
import org.hawkular.agent.prometheus.types.Histogram;
import org.hawkular.agent.prometheus.types.Metric;
import org.hawkular.agent.prometheus.types.MetricFamily;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupResponse;
import org.tikv.kvproto.ImportSSTGrpc;
import org.tikv.kvproto.ImportSstpb;
import org.tikv.kvproto.Kvrpcpb;
import org.tikv.kvproto.Metapb;

/**
 * A restore driven call by call against one real store (gRPC over loopback), then its {@code /metrics}
 * parsed by a Prometheus text parser: the import series are observed where TiKV 5.4 observes them
 * (notes 13 part C.2): Download always {@code result="ok"} and never in the error counter,
 * {@code download_bytes} = {@code SSTMeta.length} even for a failed read, the ingest triple once per
 * successful batch, ingest region errors counted, the missing-file stale_command and the write stall not.
 */
class ImportSstMetricsTest {
    @TempDir
    Path tmp;

    @Test
    void aRestoreIsObservedWhereTikvObservesIt() throws Exception {
        Path dir = tmp.resolve("backup");
        Brpb.File file;
        try (FakeTikvServer source = TestServers.start(tmp.resolve("a"), List.of("raw:keys=300,regions=1,value-size=40,seed=3"));
             BackupClient client = new BackupClient(source.addr())) {
            List<BackupResponse> rs = client.backup(TestServers.raw(TestServers.local(dir), "default").build());
            file = rs.stream().flatMap(r -> r.getFilesList().stream()).filter(f -> f.getTotalKvs() > 0).findFirst().orElseThrow();
        }
        try (FakeTikvServer target = TestServers.start(tmp.resolve("b"), List.of())) {
            ManagedChannel ch = ManagedChannelBuilder.forTarget(target.addr()).usePlaintext().build();
            try {
                ImportSSTGrpc.ImportSSTBlockingStub imp = ImportSSTGrpc.newBlockingStub(ch);
                Region r = target.regions().all().get(0);
                ImportSstpb.SSTMeta m = meta(r, file.getSize());
                ImportSstpb.DownloadResponse ok = imp.download(download(m, file.getName(), dir));
                assertThat(ok.hasError()).as(ok.getError().getMessage()).isFalse();
                // 5.4 fills range (or is_empty) only
                assertThat(ok.getLength()).isZero();
                assertThat(ok.getCrc32()).isZero();
                // a failed read: still download_bytes (its SSTMeta.length) and result="ok"
                assertThat(imp.download(download(meta(r, 777), file.getName(), dir)).getError().getMessage()).contains("expected 777");

                Kvrpcpb.Context ctx = Kvrpcpb.Context.newBuilder().setRegionId(r.id())
                        .setRegionEpoch(Metapb.RegionEpoch.newBuilder().setConfVer(r.confVer()).setVersion(r.version())).build();
                ImportSstpb.MultiIngestRequest req = ImportSstpb.MultiIngestRequest.newBuilder().setContext(ctx).addSsts(m).build();
                // stale version: counted as epoch_not_match
                assertThat(imp.multiIngest(req.toBuilder().setContext(ctx.toBuilder()
                        .setRegionEpoch(ctx.getRegionEpoch().toBuilder().setVersion(r.version() + 3))).build()).getError().hasEpochNotMatch()).isTrue();
                // a file never downloaded: stale_command, not counted
                assertThat(imp.multiIngest(req.toBuilder().clearSsts().addSsts(meta(r, 1)).build()).getError().hasStaleCommand()).isTrue();
                // the write stall (failpoint): ServerIsBusy, no observation at all
                target.faults().failPoints().set("import_write_stall", "1*return");
                ImportSstpb.IngestResponse busy = imp.multiIngest(req);
                assertThat(busy.getError().getServerIsBusy().getReason()).isEqualTo("too many sst files are ingesting");
                assertThat(imp.multiIngest(req).hasError()).isFalse();

                Map<String, MetricFamily> f = parse(get(target.statusUrl() + "/metrics"));
                assertThat(histogramCount(f, "tikv_import_rpc_duration", Map.of("request", "download", "result", "ok"))).isEqualTo(2);
                assertThat(histogramCount(f, "tikv_import_rpc_duration", Map.of("request", "download", "result", "error"))).isZero();
                // 3 answered ingests; the write-stall answer is not observed
                assertThat(histogramCount(f, "tikv_import_rpc_duration", Map.of("request", "multi-ingest", "result", "ok"))).isEqualTo(3);
                Histogram bytes = (Histogram) only(f, "tikv_import_download_bytes", Map.of());
                assertThat(bytes.getSampleCount()).isEqualTo(2);
                assertThat(bytes.getSampleSum()).isEqualTo(file.getSize() + 777.0);
                assertThat(histogramCount(f, "tikv_import_download_duration", Map.of("type", "queue"))).isEqualTo(2);
                assertThat(histogramCount(f, "tikv_import_download_duration", Map.of("type", "read"))).isEqualTo(1);
                // no prefix change, every key in range: TiKV moves the file as is
                assertThat(histogramCount(f, "tikv_import_download_duration", Map.of("type", "rename"))).isEqualTo(1);
                assertThat(histogramCount(f, "tikv_import_download_duration", Map.of("type", "rewrite"))).isZero();
                assertThat(histogramCount(f, "tikv_import_ingest_duration", Map.of("type", "ingest"))).isEqualTo(1);
                Histogram count = (Histogram) only(f, "tikv_import_ingest_count", Map.of());
                assertThat(count.getSampleSum()).isEqualTo(1.0);
                Histogram ingested = (Histogram) only(f, "tikv_import_ingest_bytes", Map.of());
                // raw key + value bytes of RocksDB's properties: at least the file's logical bytes
                assertThat(ingested.getSampleSum()).isGreaterThanOrEqualTo((double) file.getTotalBytes());
                MetricFamily errors = f.get("tikv_import_error_counter");
                assertThat(errors.getMetrics()).singleElement().satisfies(e -> {
                    assertThat(e.getLabels()).containsEntry("type", "multi-ingest").containsEntry("error", "epoch_not_match");
                    assertThat(((Counter) e).getValue()).isEqualTo(1.0);
                });
            } finally {
                ch.shutdownNow();
            }
        }
    }

    static ImportSstpb.SSTMeta meta(Region r, long length) {
        byte[] uuid = new byte[16];
        new SecureRandom().nextBytes(uuid);
        return ImportSstpb.SSTMeta.newBuilder().setUuid(ByteString.copyFrom(uuid)).setLength(length).setCfName("default")
                .setRegionId(r.id()).setRegionEpoch(Metapb.RegionEpoch.newBuilder().setConfVer(r.confVer()).setVersion(r.version()))
                .setEndKeyExclusive(true).build();
    }

    static ImportSstpb.DownloadRequest download(ImportSstpb.SSTMeta m, String name, Path dir) {
        return ImportSstpb.DownloadRequest.newBuilder().setSst(m).setName(name).setIsRawKv(true)
                .setStorageBackend(TestServers.local(dir)).build();
    }

    static String get(String url) throws IOException, InterruptedException {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        return r.body();
    }

    static Map<String, MetricFamily> parse(String exposition) throws IOException {
        Map<String, MetricFamily> out = new LinkedHashMap<>();
        try (InputStream in = new ByteArrayInputStream(exposition.getBytes(StandardCharsets.UTF_8))) {
            TextPrometheusMetricDataParser parser = new TextPrometheusMetricDataParser(in);
            for (MetricFamily fam = parser.parse(); fam != null; fam = parser.parse()) {
                out.put(fam.getName(), fam);
            }
        }
        return out;
    }

    /** The sample count of the series of {@code family} with exactly {@code labels}; 0 when absent. */
    static long histogramCount(Map<String, MetricFamily> f, String family, Map<String, String> labels) {
        MetricFamily fam = f.get(family);
        if (fam == null) {
            return 0;
        }
        return fam.getMetrics().stream().filter(m -> m.getLabels().equals(labels)).mapToLong(m -> ((Histogram) m).getSampleCount())
                .sum();
    }

    static Metric only(Map<String, MetricFamily> f, String family, Map<String, String> labels) {
        assertThat(f).containsKey(family);
        return f.get(family).getMetrics().stream().filter(m -> m.getLabels().equals(labels)).findFirst().orElseThrow();
    }
}
