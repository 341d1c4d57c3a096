package dev.faketikv.server.backup;

import static dev.faketikv.server.TestServers.bs;
import static dev.faketikv.server.TestServers.local;
import static dev.faketikv.server.TestServers.problems;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faketikv.client.BackupClient;
import dev.faketikv.engine.gen.DataGenerator;
import dev.faketikv.engine.gen.SeedSpec;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.TestServers;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;
import org.tikv.kvproto.Encryptionpb.EncryptionMethod;
import org.tikv.kvproto.Kvrpcpb;

/** Each bad request gets a clear error, and the next good request is answered correctly. */
class BadRequestTest {
    static final String SEED = "txn:rows=2000,regions=4,value-size=20,seed=3";
    static final String LOCKED = "txn:rows=400,regions=2,table-id=900,locks=2,seed=4";

    @TempDir
    static Path tmp;
    static FakeTikvServer server;
    static BackupClient client;
    static int goodRuns;

    @BeforeAll
    static void start() throws Exception {
        server = TestServers.start(tmp.resolve("data"), List.of(SEED, LOCKED));
        client = new BackupClient(server.addr());
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
    }

    static BackupRequest.Builder good(Path out) {
        return TestServers.txn(local(out)).setStartKey(bs(new byte[] {'t'}))
                .setEndKey(bs(DataGenerator.txnRowKey(SeedSpec.parse(SEED), 1999)));
    }

    /** After every bad request the server still answers a good one completely. */
    @AfterEach
    void serverStillServes() {
        Path out = tmp.resolve("good-" + (goodRuns++));
        BackupRequest req = good(out).build();
        List<BackupResponse> responses = client.backup(req);
        assertThat(problems(req, responses, out)).isEmpty();
        assertThat(TestServers.totalKvs(responses)).isEqualTo(1999);
    }

    @Test
    void startAfterEndFailsTheCallWithInvalidArgument() {
        BackupRequest req = TestServers.txn(TestServers.noop()).setStartKey(bs("b".getBytes())).setEndKey(bs("a".getBytes())).build();
        assertThatThrownBy(() -> client.backup(req)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(e.getStatus().getDescription()).contains("62").contains("61").contains("greater than");
        });
    }

    @Test
    void unknownCfFailsTheCallAsTikvDoes() {
        BackupRequest req = TestServers.raw(TestServers.noop(), "nope").build();
        assertThatThrownBy(() -> client.backup(req)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNKNOWN);
            assertThat(e.getStatus().getDescription()).isEqualTo("InvalidCf { cf: \"nope\" }");
        });
        // validated for txn requests too
        assertThatThrownBy(() -> client.backup(TestServers.txn(TestServers.noop()).setCf("bogus").build()))
                .isInstanceOf(StatusRuntimeException.class).hasMessageContaining("InvalidCf");
    }

    @Test
    void missingBackendIsOneErrorResponse() {
        List<BackupResponse> r = client.backup(BackupRequest.newBuilder().setEndVersion(TestServers.NOW_TS).build());
        assertThat(r).singleElement().satisfies(x -> {
            assertThat(x.getError().getMsg()).startsWith("Io(Custom { kind: NotFound, error: \"bad storage backend");
            assertThat(x.getFilesCount()).isZero();
            assertThat(x.getStartKey().isEmpty()).isTrue();
        });
    }

    @Test
    void unsupportedOrIncompleteBackendIsOneErrorResponseNamingWhy() {
        Brpb.StorageBackend hdfs = Brpb.StorageBackend.newBuilder().setHdfs(Brpb.HDFS.newBuilder().setRemote("hdfs://nn/x")).build();
        assertThat(client.backup(TestServers.txn(hdfs).build())).singleElement()
                .satisfies(x -> assertThat(x.getError().getMsg()).contains("does not support the hdfs storage backend"));
        Brpb.StorageBackend azure = Brpb.StorageBackend.newBuilder().setAzureBlobStorage(Brpb.AzureBlobStorage.newBuilder().setBucket("c")).build();
        assertThat(client.backup(TestServers.txn(azure).build())).singleElement()
                .satisfies(x -> assertThat(x.getError().getMsg()).contains("credential info not found"));
        Brpb.StorageBackend gcs = Brpb.StorageBackend.newBuilder().setGcs(Brpb.GCS.newBuilder().setBucket("b")).build();
        // TiKV 5.4 checks a GCS bucket name when it writes a file (gcs.rs `write`): every range answers the error
        // (ranges of other tests' seeded locks may answer their lock first; no range writes a file)
        assertThat(client.backup(TestServers.txn(gcs).build())).isNotEmpty()
                .allSatisfy(x -> assertThat(x.hasError()).isTrue())
                .anySatisfy(x -> assertThat(x.getError().getMsg()).contains("invalid bucket b"));
        Brpb.StorageBackend emptyLocal = Brpb.StorageBackend.newBuilder().setLocal(Brpb.Local.newBuilder()).build();
        assertThat(client.backup(TestServers.txn(emptyLocal).build())).singleElement()
                .satisfies(x -> assertThat(x.getError().getMsg()).isEqualTo("Io(Os { code: 2, kind: NotFound, message: \"No such file or directory\" })"));
    }

    @Test
    void clusterIdMismatchAnswersClusterIdError() {
        List<BackupResponse> r = client.backup(good(tmp.resolve("cid")).setClusterId(42).build());
        assertThat(r).singleElement().satisfies(x -> {
            assertThat(x.getError().getClusterIdError().getCurrent()).isEqualTo(server.clusterId());
            assertThat(x.getError().getClusterIdError().getRequest()).isEqualTo(42);
        });
        assertThat(tmp.resolve("cid")).doesNotExist();
        assertThat(server.metrics().scrape()).contains("tikv_backup_error_counter{error=\"cluster_mismatch\"}");
        // the right id is accepted
        BackupRequest ok = good(tmp.resolve("cid-ok")).setClusterId(server.clusterId()).build();
        List<BackupResponse> okResponses = client.backup(ok);
        assertThat(problems(ok, okResponses, tmp.resolve("cid-ok"))).isEmpty();
        assertThat(TestServers.totalKvs(okResponses)).isEqualTo(1999);
    }

    @Test
    void badCipherKeyLengthFailsEveryFileGroupAndStoresNothing() throws Exception {
        Path out = tmp.resolve("badkey");
        BackupRequest req = good(out).setCipherInfo(Brpb.CipherInfo.newBuilder().setCipherType(EncryptionMethod.AES128_CTR)
                .setCipherKey(bs(new byte[5]))).build();
        List<BackupResponse> r = client.backup(req);
        assertThat(r).isNotEmpty().allSatisfy(x -> {
            assertThat(x.getError().getMsg()).contains("new EncrypterReader error").contains("unexpected key length, expected 16 vs actual 5");
            assertThat(x.getFilesCount()).isZero();
            assertThat(x.getApiVersionValue()).isZero();
        });
        // local storage makes its folder on the first write, and here no file is ever written
        assertThat(out).satisfiesAnyOf(p -> assertThat(p).doesNotExist(), p -> assertThat(p).isEmptyDirectory());
        List<BackupResponse> unknown = client.backup(good(tmp.resolve("unknown-cipher"))
                .setCipherInfo(Brpb.CipherInfo.newBuilder().setCipherType(EncryptionMethod.UNKNOWN)).build());
        assertThat(unknown).isNotEmpty().allSatisfy(x -> assertThat(x.getError().getMsg()).contains("UnknownEncryption"));
    }

    @Test
    void plaintextIgnoresTheKey() {
        Path out = tmp.resolve("plain-key");
        BackupRequest req = good(out).setCipherInfo(Brpb.CipherInfo.newBuilder().setCipherType(EncryptionMethod.PLAINTEXT)
                .setCipherKey(bs(new byte[3]))).build();
        assertThat(problems(req, client.backup(req), out)).isEmpty();
    }

    @Test
    void pendingLockSurfacesAsKeyLockedForItsRegionOnly() {
        SeedSpec spec = SeedSpec.parse(LOCKED);
        BackupRequest req = TestServers.txn(TestServers.noop())
                .setStartKey(bs(dev.faketikv.engine.codec.Keys.tidbTablePrefix(900)))
                .setEndKey(bs(dev.faketikv.engine.codec.Keys.tidbTablePrefix(901))).build();
        List<BackupResponse> r = client.backup(req);
        List<BackupResponse> locked = r.stream().filter(x -> x.getError().hasKvError()).toList();
        assertThat(locked).hasSize(2);
        Kvrpcpb.LockInfo li = locked.get(0).getError().getKvError().getLocked();
        assertThat(li.getLockVersion()).isEqualTo(DataGenerator.startTs(2));
        assertThat(li.getPrimaryLock().toByteArray()).isEqualTo(DataGenerator.txnRowKey(spec, 0));
        assertThat(li.getLockType()).isEqualTo(Kvrpcpb.Op.Put);
        assertThat(li.getLockTtl()).isEqualTo(3000);
        assertThat(li.getTxnSize()).isEqualTo(2);
        assertThat(locked.get(0).getError().getMsg()).isEmpty();
        assertThat(locked.get(0).getStartKey().isEmpty()).isTrue();
        // a backup_ts before the lock sees no conflict
        List<BackupResponse> before = client.backup(req.toBuilder().setEndVersion(DataGenerator.startTs(2) - 1).build());
        assertThat(before).hasSize(2).noneMatch(BackupResponse::hasError);
        assertThat(server.metrics().scrape()).contains("tikv_backup_error_counter{error=\"key_is_locked\"}");
    }
}
