package dev.faketikv.server.backup;

import static dev.faketikv.server.TestServers.problems;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.faketikv.client.BackupClient;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.TestServers;
import dev.faketikv.server.storage.ExternalStorage;
import dev.faketikv.server.storage.ExternalStorages;
import dev.faketikv.server.storage.ForwardingStorage;
import dev.faketikv.server.storage.StorageException;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;

/**
 * {@link SaveFileWorker}'s failure branches (TiKV v5.4.0 {@code components/backup/src/writer.rs}
 * {@code BackupWriter::save}, {@code endpoint.rs} {@code save_backup_file_worker}): the default CF's file is
 * stored and then the write CF's upload fails; a save that panics. Either way the response lists no file, no
 * scratch file stays, no worker stays busy, and the next request is served in full.
 */
class SaveFileWorkerErrorsTest {
    static final String SEED = "txn:rows=400,regions=2,value-size=20,long-ratio=0.5,long-value-size=300,seed=4";
    @TempDir
    static Path tmp;
    static FakeTikvServer server;
    static BackupClient client;

    /** Local storage, except that in a folder named "fail-write" every write-CF upload fails after reading its data. */
    static ExternalStorage storage(Brpb.StorageBackend backend) throws StorageException {
        ExternalStorage real = ExternalStorages.create(backend);
        if (!backend.getLocal().getPath().endsWith("fail-write")) {
            return real;
        }
        return new ForwardingStorage(real) {
            @Override
            public void write(String name, InputStream data, long contentLength) throws IOException {
                if (name.endsWith("_write.sst")) {
                    data.readAllBytes();
                    throw new IOException("injected: the write CF upload failed");
                }
                super.write(name, data, contentLength);
            }
        };
    }

    @BeforeAll
    static void start() throws Exception {
        server = FakeTikvServer.builder(TestServers.config(tmp.resolve("data")).with(dev.faketikv.server.config.TikvConfig.SEED.name(), List.of(SEED)))
                .storages(SaveFileWorkerErrorsTest::storage).start();
        client = new BackupClient(server.addr());
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
    }

    static List<String> files(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    void servesAGoodRequestInFull(String name) throws IOException {
        await().atMost(Duration.ofSeconds(15)).until(() -> server.endpoint().busyWorkers() == 0);
        Path out = tmp.resolve(name);
        BackupRequest good = TestServers.txn(TestServers.local(out)).build();
        List<BackupResponse> r = client.backup(good);
        assertThat(problems(good, r, out)).isEmpty();
        assertThat(TestServers.totalKvs(r)).isEqualTo(400);
    }

    @Test
    void aWriteCfUploadThatFailsAfterTheDefaultWasStoredListsNoFile() throws Exception {
        Path out = tmp.resolve("fail-write");
        List<BackupResponse> r = client.backup(TestServers.txn(TestServers.local(out)).build());
        assertThat(r).isNotEmpty().allSatisfy(x -> {
            assertThat(x.getError().getMsg()).contains("injected: the write CF upload failed");
            assertThat(x.getFilesCount()).isZero();
        });
        // as TiKV: the default CF's file was uploaded first and stays (BR never lists it); no write file, no temp file
        assertThat(files(out)).isNotEmpty().allSatisfy(n -> assertThat(n).endsWith("_default.sst"));
        servesAGoodRequestInFull("good-after-a-failed-write");
    }

    @Test
    void aSaveThatPanicsFailsTheCallAndTheEndpointServesOn() throws Exception {
        server.faults().failPoints().set("backup_before_save", "1*panic(save boom)");
        try {
            assertThatThrownBy(() -> client.backup(TestServers.txn(TestServers.local(tmp.resolve("panic"))).build()))
                    .isInstanceOfSatisfying(StatusRuntimeException.class,
                            e -> assertThat(e.getStatus().getDescription()).contains("save boom"));
        } finally {
            server.faults().failPoints().remove("backup_before_save");
        }
        servesAGoodRequestInFull("after-panic");
    }
}
