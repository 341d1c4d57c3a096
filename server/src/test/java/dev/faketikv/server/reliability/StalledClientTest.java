package dev.faketikv.server.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.faketikv.client.BackupCheck;
import dev.faketikv.client.BackupClient;
import dev.faketikv.server.FakeTikv;
import dev.faketikv.server.TestServers;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.BackupGrpc;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;

/**
 * A client that reads one response and then stops reading: like TiKV (whose response channel is
 * unbounded) the store finishes the work and buffers the small responses, so every worker is idle soon
 * after, no temp file stays, and the next request is served at full width.
 */
class StalledClientTest {
    @TempDir
    Path tmp;

    @Test
    void aClientThatStopsReadingDoesNotHoldTheWorkers() throws Exception {
        try (FakeTikv tikv = FakeTikv.builder().seed("txn:rows=20000,regions=200,value-size=50,seed=5")
                .set("backup.num-threads", 2).start();
             BackupClient client = new BackupClient(tikv.addr())) {
            Path out = tmp.resolve("stalled");
            AtomicInteger received = new AtomicInteger();
            ClientCall<BackupRequest, BackupResponse> call = client.channel().newCall(BackupGrpc.getBackupMethod(), CallOptions.DEFAULT);
            call.start(new ClientCall.Listener<>() {
                @Override
                public void onMessage(BackupResponse message) {
                    received.incrementAndGet(); // and never request more
                }

                @Override
                public void onClose(Status status, Metadata trailers) {}
            }, new Metadata());
            call.sendMessage(TestServers.txn(TestServers.local(out)).build());
            call.halfClose();
            call.request(1);
            await().atMost(Duration.ofSeconds(5)).until(() -> received.get() == 1);
            // the store finishes the 200 ranges and its workers go idle although the client reads nothing
            await().atMost(Duration.ofSeconds(10)).until(() -> tikv.server().endpoint().busyWorkers() == 0
                    && tikv.server().journal().toJson().split("\"kind\" : \"response\"").length - 1 == 200);
            Path scratch = Path.of(tikv.server().config().get(dev.faketikv.server.config.TikvConfig.DATA_DIR), "backup-scratch");
            try (Stream<Path> s = Files.list(scratch)) {
                assertThat(s.count()).isZero();
            }
            try (Stream<Path> s = Files.list(out)) {
                assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains(".tmp"));
            }
            // full width for the next request while the stalled call is still open
            Path out2 = tmp.resolve("next");
            BackupRequest next = TestServers.txn(TestServers.local(out2)).build();
            assertThat(BackupCheck.run(next, client.backup(next), out2).problems()).isEmpty();
            call.cancel("done", null);
        }
    }
}
