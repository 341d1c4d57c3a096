package dev.faketikv.server.backup;

import static dev.faketikv.server.TestServers.local;
import static dev.faketikv.server.TestServers.problems;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.faketikv.client.BackupClient;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.TestServers;
import io.grpc.Context;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;

/** A client that cancels mid-stream leaves every worker idle, no temp file, and a server that serves on. */
class CancelTest {
    @TempDir
    Path tmp;

    static long count(Path dir) throws Exception {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.count();
        }
    }

    static boolean anyTemp(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.anyMatch(p -> p.getFileName().toString().contains(".tmp"));
        }
    }

    @Test
    void cancelMidStreamStopsTheWork() throws Exception {
        try (FakeTikvServer server = TestServers.start(tmp.resolve("data"),
                List.of("txn:rows=64000,regions=64,value-size=100,seed=2"));
             BackupClient client = new BackupClient(server.addr())) {
            Path out = tmp.resolve("out");
            // 200 KB/s: the whole backup (~9 MB) would take about 45 s
            BackupRequest req = TestServers.txn(local(out)).setRateLimit(200 << 10).build();
            Context.CancellableContext ctx = Context.current().withCancellation();
            BackupResponse first = ctx.call(() -> {
                Iterator<BackupResponse> it = client.stream(req);
                return it.next();
            });
            assertThat(first.hasError()).isFalse();
            ctx.cancel(null);

            Path scratch = tmp.resolve("data").resolve("backup-scratch");
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                assertThat(server.endpoint().busyWorkers()).isZero();
                assertThat(count(scratch)).isZero();
                assertThat(anyTemp(out)).isFalse();
            });
            long written = count(out);
            assertThat(written).isLessThan(64 * 2);

            // the pool serves the next request in full
            Path out2 = tmp.resolve("out2");
            BackupRequest again = TestServers.txn(local(out2)).build();
            List<BackupResponse> responses = client.backup(again);
            assertThat(problems(again, responses, out2)).isEmpty();
            assertThat(responses).hasSize(64);
            assertThat(count(out)).isEqualTo(written);
        }
    }

    @Test
    void rateLimitThrottlesUploadsAndAnAbsurdLimitStillCancelsPromptly() throws Exception {
        try (FakeTikvServer server = TestServers.start(tmp.resolve("data"), List.of("txn:rows=4000,regions=4,value-size=100,seed=2"));
             BackupClient client = new BackupClient(server.addr())) {
            // 512 KiB/s for ~0.5 MB of SSTs: the uploads cannot finish in less than (bytes - bucket) / rate
            Path out = tmp.resolve("limited");
            BackupRequest req = TestServers.txn(local(out)).setRateLimit(512 << 10).build();
            long t0 = System.nanoTime();
            List<BackupResponse> responses = client.backup(req);
            double secs = (System.nanoTime() - t0) / 1e9;
            assertThat(problems(req, responses, out)).isEmpty();
            long bytes = responses.stream().flatMap(r -> r.getFilesList().stream()).mapToLong(f -> f.getSize()).sum();
            double floor = (bytes - 0.1 * (512 << 10)) / (512 << 10);
            assertThat(secs).as("%d bytes at 512 KiB/s", bytes).isGreaterThanOrEqualTo(floor * 0.95);

            // 1 byte/s would take days; cancelling frees every worker at once
            BackupRequest slow = TestServers.txn(local(tmp.resolve("slow"))).setRateLimit(1).build();
            Context.CancellableContext ctx = Context.current().withCancellation();
            TestServers.startIgnoring(client, slow, ctx);
            await().atMost(Duration.ofSeconds(20)).until(() -> server.endpoint().busyWorkers() > 0);
            ctx.cancel(null);
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                assertThat(server.endpoint().busyWorkers()).isZero();
                assertThat(anyTemp(tmp.resolve("slow"))).isFalse();
            });
        }
    }
}
