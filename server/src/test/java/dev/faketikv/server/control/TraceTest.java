package dev.faketikv.server.control;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faketikv.client.BackupClient;
import dev.faketikv.server.FakeTikv;
import dev.faketikv.server.TestServers;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The trace shows the life of a request, step by step, with the thread that did each step. */
class TraceTest {
    @Test
    void aTracedRequestShowsEveryStep() throws Exception {
        try (FakeTikv tikv = FakeTikv.builder().seed("txn:rows=300,regions=3").set("fake.trace", true).start();
             BackupClient client = new BackupClient(tikv.addr())) {
            client.backup(TestServers.txn(TestServers.noop()).build());
            org.awaitility.Awaitility.await().until(() -> tikv.server().trace().lines().stream().anyMatch(l -> l.contains("done:")));
            List<String> lines = tikv.server().trace().lines();
            assertThat(lines.get(0)).contains("req=1").contains("accepted on the gRPC thread");
            assertThat(lines).anyMatch(l -> l.contains("thread=background-") && l.contains("run on the backup-endpoint worker"));
            assertThat(lines).anyMatch(l -> l.contains("set up: storage=noop"));
            assertThat(lines).anyMatch(l -> l.contains("thread=bkwkr-") && l.contains("batch of 3 ranges"));
            assertThat(lines).filteredOn(l -> l.contains("scanned and its SSTs built")).hasSize(3);
            assertThat(lines).filteredOn(l -> l.contains("thread=backup-io-") && l.contains("; responding")).hasSize(3);
            assertThat(lines).anyMatch(l -> l.contains("scan worker ends"));
            HttpClient http = HttpClient.newHttpClient();
            String text = http.send(HttpRequest.newBuilder(URI.create(tikv.statusUrl() + "/trace")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            assertThat(text).contains("done: the last worker released the stream");
            http.send(HttpRequest.newBuilder(URI.create(tikv.statusUrl() + "/trace")).PUT(HttpRequest.BodyPublishers.ofString("false")).build(),
                    HttpResponse.BodyHandlers.ofString());
            int before = tikv.server().trace().lines().size();
            client.backup(TestServers.txn(TestServers.noop()).build());
            assertThat(tikv.server().trace().lines()).hasSize(before);
        }
    }
}
