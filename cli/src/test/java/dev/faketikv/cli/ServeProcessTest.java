package dev.faketikv.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faketikv.server.TestServers;
import dev.faketikv.client.BackupClient;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb.BackupResponse;

/** {@code fake-tikv serve} as a separate process: ready line, a backup, metrics over HTTP, clean SIGTERM. */
class ServeProcessTest {
    static final Pattern READY = Pattern.compile(
            "fake-tikv ready: addr=(127\\.0\\.0\\.1:\\d+) status=(127\\.0\\.0\\.1:\\d+) cluster-id=(\\d+) store-id=(\\d+)");

    @TempDir
    Path tmp;

    @Test
    @Timeout(120)
    void serveStartsPrintsReadyServesAndStopsOnSigterm() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "dev.faketikv.cli.Main", "serve", "--addr", "127.0.0.1:0", "--status-addr", "127.0.0.1:0",
                "--data-dir", tmp.resolve("d").toString(), "--seed", "txn:rows=500,regions=3,seed=1",
                "--set", "fake.store-id=7")
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            // read on another thread: a child that never prints fails the test at the bound, not the build
            String line = CompletableFuture.supplyAsync(() -> {
                try {
                    return out.readLine();
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).get(60, TimeUnit.SECONDS);
            assertThat(line).isNotNull();
            Matcher m = READY.matcher(line);
            assertThat(m.matches()).as(line).isTrue();
            assertThat(m.group(4)).isEqualTo("7");
            try (BackupClient client = new BackupClient(m.group(1))) {
                List<BackupResponse> r = client.backup(TestServers.txn(TestServers.noop()).build());
                assertThat(r).hasSize(3).noneMatch(BackupResponse::hasError);
                assertThat(r.get(0).getFiles(0).getName()).startsWith("7_");
            }
            HttpClient http = HttpClient.newHttpClient();
            HttpResponse<String> metrics = http.send(HttpRequest.newBuilder(URI.create("http://" + m.group(2) + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(metrics.statusCode()).isEqualTo(200);
            assertThat(metrics.body())
                    .contains("fake_tikv_backup_request_duration_seconds_count 1")
                    .doesNotContain("# TYPE tikv_backup_request_duration_seconds")
                    .contains("tikv_backup_range_size_bytes_bucket{cf=\"write\"")
                    .contains("tikv_backup_range_duration_seconds_bucket{type=\"scan\"")
                    .contains("tikv_backup_scan_kv_count{cf=\"write\"} 500")
                    .contains("tikv_backup_thread_pool_size")
                    .contains("tikv_backup_softlimit")
                    .contains("fake_tikv_grpc_server_handled_total{code=\"OK\",method=\"backup.Backup/backup\"} 1.0");
            HttpResponse<String> status = http.send(HttpRequest.newBuilder(URI.create("http://" + m.group(2) + "/status")).build(),
                    HttpResponse.BodyHandlers.ofString());
            var node = new com.fasterxml.jackson.databind.ObjectMapper().readTree(status.body());
            assertThat(node.get("store_id").asLong()).isEqualTo(7);
            assertThat(node.get("regions").asInt()).isEqualTo(3);
        } finally {
            p.destroy(); // SIGTERM
            boolean ended = p.waitFor(20, TimeUnit.SECONDS);
            if (!ended) {
                p.destroyForcibly();
            }
            assertThat(ended).isTrue();
        }
        assertThat(p.exitValue()).isIn(0, 143);
    }

    @Test
    @Timeout(60)
    void badConfigExitsWithTheKeyNamed() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                "dev.faketikv.cli.Main", "serve", "--set", "backup.num-threads=0")
                .redirectErrorStream(true).start();
        String all;
        try {
            all = CompletableFuture.supplyAsync(() -> {
                try {
                    return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).get(40, TimeUnit.SECONDS);
            assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
        } finally {
            p.destroyForcibly();
        }
        assertThat(p.exitValue()).isEqualTo(2);
        assertThat(all).contains("backup.num_threads cannot be 0");
    }
}
