package dev.faketikv.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faketikv.client.BackupClient;
import dev.faketikv.client.RetryingBackup;
import dev.faketikv.server.FakeTikv;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.Noop;
import org.tikv.kvproto.Brpb.StorageBackend;

/** The README's example: a BR-style client tested against a fake TiKV in ten lines. */
class ExtensionExampleTest {
    @RegisterExtension
    final FakeTikvExtension tikv = FakeTikvExtension.builder().seed("txn:rows=1000,regions=4").build();

    @Test
    void myClientRetriesServerIsBusy() {
        tikv.faults("[[rule]]\nmatch = { start = \"74\" }\naction = \"server_is_busy\"\ntimes = 1\n");
        try (BackupClient client = new BackupClient(tikv.addr())) {
            BackupRequest req = BackupRequest.newBuilder().setEndVersion(System.currentTimeMillis() << 18)
                    .setStorageBackend(StorageBackend.newBuilder().setNoop(Noop.getDefaultInstance())).build();
            RetryingBackup.Outcome outcome = RetryingBackup.run(client, req, 3);
            assertThat(outcome.retried()).containsExactly("retry on region error");
            assertThat(outcome.complete(req)).isTrue();
        }
        assertThat(tikv.journal()).contains("\"server_is_busy\"");
    }

    @Test
    void aFaultsFileIsLoadedAtStartAndTheTempDataDirGoesAway() throws Exception {
        Path dataDir;
        try (FakeTikv store = FakeTikv.builder().seed("txn:rows=100,regions=2")
                .set("fake.faults", Path.of("..", "config", "faults", "cluster-id-mismatch.toml").toAbsolutePath().toString())
                .start();
             BackupClient client = new BackupClient(store.addr())) {
            dataDir = Path.of(store.server().config().get(dev.faketikv.server.config.TikvConfig.DATA_DIR));
            BackupRequest req = BackupRequest.newBuilder().setEndVersion(System.currentTimeMillis() << 18)
                    .setStorageBackend(StorageBackend.newBuilder().setNoop(Noop.getDefaultInstance())).build();
            assertThat(client.backup(req)).singleElement().satisfies(r -> assertThat(r.getError().hasClusterIdError()).isTrue());
            assertThat(client.backup(req)).hasSize(2);
        }
        assertThat(dataDir).doesNotExist();
    }
}
