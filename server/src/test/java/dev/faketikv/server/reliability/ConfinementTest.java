package dev.faketikv.server.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faketikv.client.BackupClient;
import dev.faketikv.server.FakeTikv;
import dev.faketikv.server.TestServers;
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
        }
    }
}
