package dev.faketikv.server.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faketikv.client.BackupClient;
import dev.faketikv.server.FakeTikv;
import dev.faketikv.server.TestServers;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb.BackupResponse;

/** backup.local-root confines local writes; fake.status-readonly turns the control plane off. */
class ConfinementTest {
    @TempDir
    Path tmp;

    @Test
    void localWritesStayInsideTheRoot() throws Exception {
        Path root = tmp.resolve("root");
        try (FakeTikv tikv = FakeTikv.builder().seed("txn:rows=100,regions=2").set("backup.local-root", root.toString()).start();
             BackupClient client = new BackupClient(tikv.addr())) {
            List<BackupResponse> inside = client.backup(TestServers.txn(TestServers.local(root.resolve("a/b"))).build());
            assertThat(inside).hasSize(2).noneMatch(BackupResponse::hasError);
            List<BackupResponse> outside = client.backup(TestServers.txn(TestServers.local(tmp.resolve("elsewhere"))).build());
            assertThat(outside).singleElement().satisfies(r -> assertThat(r.getError().getMsg())
                    .contains("kind: PermissionDenied").contains("outside backup.local-root"));
            assertThat(tmp.resolve("elsewhere")).doesNotExist();
            // a symbolic link inside the root that points out of it does not open a way out
            java.nio.file.Files.createDirectories(root);
            java.nio.file.Files.createDirectories(tmp.resolve("outside"));
            java.nio.file.Files.createSymbolicLink(root.resolve("link"), tmp.resolve("outside"));
            List<BackupResponse> viaLink = client.backup(TestServers.txn(TestServers.local(root.resolve("link/x"))).build());
            assertThat(viaLink).singleElement().satisfies(r -> assertThat(r.getError().getMsg()).contains("outside backup.local-root"));
            try (var s = java.nio.file.Files.list(tmp.resolve("outside"))) {
                assertThat(s.count()).isZero();
            }
            // and the root cannot be switched off online
            HttpResponse<String> change = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(tikv.statusUrl() + "/config"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"backup.local-root\": \"\"}")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(change.statusCode()).isEqualTo(400);
            assertThat(change.body()).contains("can not be changed online");
        }
    }

    /**
     * Issue 19 item 3: the target folder replaced by a link to a folder outside the root while a slow backup
     * is writing into it. Every later upload still lands in the folder that was checked (held open), none
     * outside, and no temp file stays anywhere.
     */
    @Test
    void aFolderSwappedForALinkMidRequestDoesNotRedirectLaterUploads() throws Exception {
        Path root = tmp.resolve("root");
        Path target = root.resolve("target");
        Path moved = root.resolve("target.moved");
        Path elsewhere = java.nio.file.Files.createDirectories(tmp.resolve("elsewhere"));
        try (FakeTikv tikv = FakeTikv.builder().seed("txn:rows=600,regions=6,value-size=200,seed=5")
                .set("backup.local-root", root.toString()).start();
             BackupClient client = new BackupClient(tikv.addr())) {
            // 24 KiB/s: the six regions' files take a few seconds in all
            java.util.concurrent.CompletableFuture<List<BackupResponse>> backup = java.util.concurrent.CompletableFuture.supplyAsync(
                    () -> client.backup(TestServers.txn(TestServers.local(target)).setRateLimit(24 << 10).build()));
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20)).until(() -> ssts(target) >= 1);
            java.nio.file.Files.move(target, moved);
            java.nio.file.Files.createSymbolicLink(target, elsewhere);
            long atSwap = ssts(moved);
            List<BackupResponse> responses = backup.get(60, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(responses).noneMatch(BackupResponse::hasError);
            long files = responses.stream().mapToLong(BackupResponse::getFilesCount).sum();
            assertThat(files).as("files written after the swap").isGreaterThan(atSwap);
            try (var s = java.nio.file.Files.list(elsewhere)) {
                assertThat(s.toList()).as("written outside the root").isEmpty();
            }
            assertThat(ssts(moved)).isEqualTo(files);
            try (var s = java.nio.file.Files.walk(root)) {
                assertThat(s.filter(p -> p.getFileName().toString().contains(".tmp")).toList()).as("temp files left").isEmpty();
            }
        }
    }

    private static long ssts(Path dir) throws java.io.IOException {
        if (!java.nio.file.Files.isDirectory(dir)) {
            return 0;
        }
        try (var s = java.nio.file.Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".sst")).count();
        }
    }

    @Test
    void aReadOnlyStatusServerRefusesEveryMutation() throws Exception {
        try (FakeTikv tikv = FakeTikv.builder().seed("txn:rows=10").set("fake.status-readonly", true).start()) {
            HttpClient http = HttpClient.newHttpClient();
            for (String[] m : new String[][] {{"POST", "/config"}, {"PUT", "/fail/backup_before_scan"}, {"DELETE", "/fail/x"},
                    {"PUT", "/faults"}, {"DELETE", "/faults"}, {"DELETE", "/faults/x"}, {"POST", "/faults/x/release"},
                    {"DELETE", "/journal"}, {"POST", "/regions/split"}, {"POST", "/regions/1/leader"}, {"POST", "/regions/1/epoch"}}) {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(tikv.statusUrl() + m[1]))
                        .method(m[0], HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).as(m[0] + " " + m[1]).isEqualTo(403);
                assertThat(r.body()).contains("read-only");
            }
            HttpResponse<String> get = http.send(HttpRequest.newBuilder(URI.create(tikv.statusUrl() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(get.statusCode()).isEqualTo(200);
            assertThat(tikv.server().faults().failPoints().list()).isEmpty();
            // refused before the body is read: a body far over the limit gets 403, not 413. The server answers and
            // closes without reading 3 MiB, so the client may see its send reset before it reads the answer;
            // either way nothing changed and the server still serves.
            try {
                HttpResponse<String> big = http.send(HttpRequest.newBuilder(URI.create(tikv.statusUrl() + "/faults"))
                        .PUT(HttpRequest.BodyPublishers.ofByteArray(new byte[3 << 20])).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(big.statusCode()).isEqualTo(403);
            } catch (IOException reset) {
                // the connection was closed under the unread body: acceptable, checked below
            }
            assertThat(tikv.server().faults().rules().rules()).isEmpty();
            assertThat(http.send(HttpRequest.newBuilder(URI.create(tikv.statusUrl() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
        }
    }

    @Test
    void aStatusBodyOverOneMebibyteGets413AndChangesNothing() throws Exception {
        try (FakeTikv tikv = FakeTikv.builder().seed("txn:rows=10").start()) {
            HttpClient http = HttpClient.newHttpClient();
            String rule = "[[rule]]\nname = \"big\"\nmatch = { region = 1 }\naction = \"stale_command\"\n";
            // TOML comment padding up to exactly 1 MiB: accepted
            String atLimit = rule + "#" + "x".repeat((1 << 20) - rule.length() - 2) + "\n";
            assertThat(atLimit.getBytes(java.nio.charset.StandardCharsets.UTF_8)).hasSize(1 << 20);
            HttpResponse<String> ok = http.send(HttpRequest.newBuilder(URI.create(tikv.statusUrl() + "/faults"))
                    .PUT(HttpRequest.BodyPublishers.ofString(atLimit)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
            assertThat(tikv.server().faults().rules().rules()).hasSize(1);
            // one byte more: 413, and the rules stay as they were
            HttpResponse<String> over = http.send(HttpRequest.newBuilder(URI.create(tikv.statusUrl() + "/faults"))
                    .PUT(HttpRequest.BodyPublishers.ofString(atLimit + " ")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(over.statusCode()).isEqualTo(413);
            assertThat(over.body()).contains("request body over 1048576 bytes");
            HttpResponse<String> clear = http.send(HttpRequest.newBuilder(URI.create(tikv.statusUrl() + "/faults"))
                    .DELETE().build(), HttpResponse.BodyHandlers.ofString());
            assertThat(clear.statusCode()).isBetween(200, 299);
            HttpResponse<String> overAgain = http.send(HttpRequest.newBuilder(URI.create(tikv.statusUrl() + "/faults"))
                    .PUT(HttpRequest.BodyPublishers.ofString(atLimit + " ")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(overAgain.statusCode()).isEqualTo(413);
            assertThat(tikv.server().faults().rules().rules()).isEmpty();
        }
    }
}
