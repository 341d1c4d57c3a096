package dev.faketikv.server.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.cloud.NoCredentials;
import com.google.cloud.storage.Blob;
import com.google.cloud.storage.BlobId;
import com.google.cloud.storage.Storage;
import com.google.cloud.storage.StorageOptions;
import com.sun.net.httpserver.HttpServer;
import dev.faketikv.client.BackupCheck;
import dev.faketikv.client.BackupClient;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.TestServers;
import dev.faketikv.server.config.TikvConfig;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;

/**
 * Backups into GCS as the Cloud Storage emulator of firebase-tools serves its JSON API, through the real
 * protocol: TiKV 5.4's object names, one multipart insert per file, 429/408/5xx retried, a refused token
 * exchange clean and not retried, secrets never echoed, restore's Download.
 */
class GcsBackupTest {
    static final String SEED = "txn:rows=3000,regions=3,value-size=50,long-ratio=0.1,long-value-size=600,seed=4";

    @TempDir
    static Path emulatorDir;
    static Emulator gcs;
    static String endpoint;
    static Storage sdk;

    @TempDir
    Path tmp;
    final String bucket = "br-" + Long.toHexString(System.nanoTime());

    @BeforeAll
    static void startEmulator() throws Exception {
        gcs = Emulator.gcs(emulatorDir);
        endpoint = "http://127.0.0.1:" + gcs.port();
        sdk = StorageOptions.http().setHost(endpoint).setProjectId("test").setCredentials(NoCredentials.getInstance()).build().getService();
    }

    @AfterAll
    static void stopEmulator() throws Exception {
        if (sdk != null) {
            sdk.close();
        }
        if (gcs != null) {
            gcs.close();
        }
    }

    Brpb.GCS.Builder gcsBackend(String prefix) {
        // as BR passes it: the endpoint with its API path (TiKV cuts "storage/v1/" off)
        return Brpb.GCS.newBuilder().setEndpoint(endpoint + "/storage/v1/").setBucket(bucket).setPrefix(prefix);
    }

    static BackupRequest request(Brpb.GCS.Builder backend) {
        return TestServers.txn(Brpb.StorageBackend.newBuilder().setGcs(backend).build()).build();
    }

    Map<String, Blob> objects(String prefix) {
        Map<String, Blob> out = new HashMap<>();
        sdk.list(bucket, Storage.BlobListOption.prefix(prefix)).iterateAll().forEach(b -> out.put(b.getName(), b));
        return out;
    }

    List<String> downloadAndCheck(BackupRequest req, List<BackupResponse> responses, String prefix) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("download-" + System.nanoTime()));
        for (BackupResponse r : responses) {
            for (Brpb.File f : r.getFilesList()) {
                byte[] bytes = sdk.readAllBytes(BlobId.of(bucket, prefix + "/" + f.getName()));
                Files.write(dir.resolve(f.getName()), bytes);
                assertThat(MessageDigest.getInstance("SHA-256").digest(bytes)).isEqualTo(f.getSha256().toByteArray());
            }
        }
        return BackupCheck.run(req, responses, dir).problems();
    }

    /** A server whose GCS storages see {@code faults} (as {@code fake.gcs-faults} would set them). */
    FakeTikvServer server(String seed, CloudFaults faults, String... extra) throws Exception {
        TikvConfig config = TestServers.config(tmp.resolve("data"), extra).with(TikvConfig.SEED.name(), List.of(seed));
        ExternalStorages.Options options = new ExternalStorages.Options(5L << 20, Duration.ofMillis(10), S3Faults.none(), null)
                .withCloudFaults(faults, CloudFaults.none());
        return FakeTikvServer.builder(config).storages(backend -> ExternalStorages.create(backend, options)).start();
    }

    static long files(List<BackupResponse> responses) {
        return responses.stream().mapToLong(BackupResponse::getFilesCount).sum();
    }

    @Test
    void backupLandsUnderThePrefixWithTikvNamesAndVerifies() throws Exception {
        CloudFaults counting = CloudFaults.parse("GCS", List.of());
        try (FakeTikvServer server = server(SEED, counting); BackupClient client = new BackupClient(server.addr())) {
            BackupRequest req = request(gcsBackend("cluster-1/full").setStorageClass("NEARLINE"));
            List<BackupResponse> responses = client.backup(req);
            assertThat(responses).hasSize(3).noneMatch(BackupResponse::hasError);
            Map<String, Blob> objects = objects("cluster-1/full/");
            List<String> listed = responses.stream().flatMap(r -> r.getFilesList().stream()).map(f -> "cluster-1/full/" + f.getName()).toList();
            assertThat(objects.keySet()).containsExactlyInAnyOrderElementsOf(listed);
            // (the storage class goes with each insert; the emulator stores every object as STANDARD)
            responses.forEach(r -> r.getFilesList().forEach(f ->
                    assertThat(objects.get("cluster-1/full/" + f.getName()).getSize()).isEqualTo(f.getSize())));
            assertThat(counting.calls()).as("one insert per file").isEqualTo(files(responses));
            assertThat(downloadAndCheck(req, responses, "cluster-1/full")).isEmpty();
            assertThat(server.metrics().scrape()).contains("tikv_external_storage_create_seconds_count{type=\"gcs\"}");
        }
    }

    @Test
    void aBigFileGoesUpInOneMultipartInsertAsInTikv54() throws Exception {
        CloudFaults counting = CloudFaults.parse("GCS", List.of());
        try (FakeTikvServer server = server("txn:rows=1600,regions=1,value-size=4000,seed=1", counting);
             BackupClient client = new BackupClient(server.addr())) {
            BackupRequest req = request(gcsBackend("big"));
            List<BackupResponse> responses = client.backup(req);
            assertThat(responses).singleElement().satisfies(r -> assertThat(r.hasError()).isFalse());
            assertThat(responses.get(0).getFilesList()).anyMatch(f -> f.getSize() > (5 << 20));
            assertThat(counting.calls()).as("no resumable session: one request per file").isEqualTo(files(responses));
            assertThat(downloadAndCheck(req, responses, "big")).isEmpty();
        }
    }

    @Test
    void injected503sAreRetriedAndTheBackupCompletes() throws Exception {
        CloudFaults faults = CloudFaults.parse("GCS", List.of("ServiceUnavailable*2", "SlowDown*1"));
        try (FakeTikvServer server = server(SEED, faults, "backup.io-thread-size=1"); BackupClient client = new BackupClient(server.addr())) {
            BackupRequest req = request(gcsBackend("retry"));
            List<BackupResponse> responses = client.backup(req);
            assertThat(responses).hasSize(3).noneMatch(BackupResponse::hasError);
            assertThat(faults.injected()).isEqualTo(3);
            assertThat(faults.calls()).as("the 503s and the 429 were retried").isEqualTo(files(responses) + 3);
            assertThat(downloadAndCheck(req, responses, "retry")).isEmpty();
        }
    }

    @Test
    void fourFailuresEndTheUploadWithTikvsMessage() throws Exception {
        CloudFaults faults = CloudFaults.parse("GCS", List.of("InternalError*4"));
        try (FakeTikvServer server = server(SEED, faults, "backup.io-thread-size=1"); BackupClient client = new BackupClient(server.addr())) {
            List<BackupResponse> responses = client.backup(request(gcsBackend("four")));
            assertThat(responses.stream().filter(BackupResponse::hasError).toList()).singleElement().satisfies(r ->
                    assertThat(r.getError().getMsg()).isEqualTo("Io(Custom { kind: Interrupted, error: \"GCS OAuth: " + endpoint
                            + "/upload/storage/v1/b/" + bucket + "/o?uploadType=multipart: 500 Internal Server Error\" })"));
            assertThat(faults.injected()).isEqualTo(4);
        }
    }

    @Test
    void aRefusedTokenIsAPermanentAuthErrorNotRetriedAndTheKeyIsNeverEchoed() throws Exception {
        AtomicInteger tokenRequests = new AtomicInteger();
        HttpServer oauth = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        oauth.createContext("/token", ex -> {
            tokenRequests.incrementAndGet();
            ex.getRequestBody().readAllBytes();
            byte[] body = "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT Signature.\"}".getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.sendResponseHeaders(401, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        oauth.start();
        var keys = KeyPairGenerator.getInstance("RSA");
        keys.initialize(2048);
        String pkcs8 = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(keys.generateKeyPair().getPrivate().getEncoded());
        String keyBody = pkcs8.lines().skip(2).findFirst().orElseThrow();
        String blob = "{\"type\":\"service_account\",\"project_id\":\"p\",\"private_key_id\":\"k1\",\"private_key\":\"-----BEGIN PRIVATE KEY-----\\n"
                + pkcs8.replace("\n", "\\n") + "\\n-----END PRIVATE KEY-----\\n\",\"client_email\":\"br@p.iam.gserviceaccount.com\","
                + "\"client_id\":\"1\",\"token_uri\":\"http://127.0.0.1:" + oauth.getAddress().getPort() + "/token\"}";
        CloudFaults counting = CloudFaults.parse("GCS", List.of());
        try (FakeTikvServer server = server(SEED, counting, "backup.io-thread-size=1"); BackupClient client = new BackupClient(server.addr())) {
            List<BackupResponse> responses = client.backup(request(gcsBackend("creds").setCredentialsBlob(blob)));
            assertThat(responses).hasSize(3).allSatisfy(r -> assertThat(r.getError().getMsg())
                    .isEqualTo("Io(Custom { kind: PermissionDenied, error: \"GCS OAuth: set auth request: 401 Unauthorized\" })"));
            assertThat(tokenRequests.get()).as("not retried").isBetween(3, 6);
            assertThat(objects("creds/")).isEmpty();
            assertThat(server.metrics().scrape()).doesNotContain(keyBody);
            // a blob that is no service-account key is refused without quoting it
            List<BackupResponse> bad = client.backup(request(gcsBackend("x").setCredentialsBlob("{\"private_key\": \"" + keyBody + "\"")));
            assertThat(bad).singleElement().satisfies(r -> assertThat(r.getError().getMsg())
                    .contains("oauth failed: deserialize ServiceAccountInfo").doesNotContain(keyBody));
            assertThat(client.backup(request(gcsBackend("x").setBucket("")))).singleElement()
                    .satisfies(r -> assertThat(r.getError().getMsg()).contains("Empty field bucket"));
            assertThat(client.backup(request(gcsBackend("x").setPredefinedAcl("everyone")))).singleElement()
                    .satisfies(r -> assertThat(r.getError().getMsg()).contains("invalid predefined_acl: everyone"));
        } finally {
            oauth.stop(0);
        }
    }

    @Test
    void anInjected403IsNotRetried() throws Exception {
        CloudFaults faults = CloudFaults.parse("GCS", List.of("AccessDenied*1"));
        try (FakeTikvServer server = server(SEED, faults, "backup.io-thread-size=1"); BackupClient client = new BackupClient(server.addr())) {
            List<BackupResponse> responses = client.backup(request(gcsBackend("perm")));
            assertThat(responses.stream().filter(BackupResponse::hasError).toList()).singleElement().satisfies(r ->
                    assertThat(r.getError().getMsg()).startsWith("Io(Custom { kind: PermissionDenied, error: \"GCS OAuth: ")
                            .endsWith(": 403 Forbidden\" })"));
            assertThat(faults.calls()).as("not retried").isEqualTo(files(responses) + 1);
        }
    }

    @Test
    void cloudDynamicGcpAndRestoresDownloadFromGcs() throws Exception {
        try (FakeTikvServer server = server(SEED, CloudFaults.none()); BackupClient client = new BackupClient(server.addr())) {
            Brpb.CloudDynamic cd = Brpb.CloudDynamic.newBuilder().setProviderName("gcp")
                    .setBucket(Brpb.Bucket.newBuilder().setEndpoint(endpoint).setBucket(bucket).setPrefix("dyn")).build();
            Brpb.StorageBackend backend = Brpb.StorageBackend.newBuilder().setCloudDynamic(cd).build();
            BackupRequest req = TestServers.txn(backend).build();
            List<BackupResponse> responses = client.backup(req);
            assertThat(responses).hasSize(3).noneMatch(BackupResponse::hasError);
            assertThat(downloadAndCheck(req, responses, "dyn")).isEmpty();
            Restores.downloadEvery(server, responses, backend);
            Restores.missingFileFails(server, responses, backend);
        }
    }

    @Test
    void endpointsAndNamesFollowTikv() throws Exception {
        assertThat(GcsStorage.host("")).isEqualTo("https://www.googleapis.com");
        assertThat(GcsStorage.host("http://localhost:4443/upload/storage/v1/")).isEqualTo("http://localhost:4443");
        assertThat(GcsStorage.host("http://example.com/storage/v1/")).isEqualTo("http://example.com");
        assertThat(GcsStorage.host("http://example.com/")).isEqualTo("http://example.com");
        try (GcsStorage s = new GcsStorage(new GcsStorage.Config(endpoint, bucket, "a/b", "", "", ""), Duration.ZERO, CloudFaults.none())) {
            assertThat(s.objectKey("1_2_3_write.sst")).isEqualTo("a/b/1_2_3_write.sst");
            assertThatThrownBy(() -> s.write("empty.sst", new java.io.ByteArrayInputStream(new byte[0]), 0))
                    .hasMessage("no content to write");
            s.write("x.sst", new java.io.ByteArrayInputStream(new byte[] {1, 2}), 2);
            try (var in = s.read("x.sst")) {
                assertThat(in.readAllBytes()).containsExactly(1, 2);
            }
            assertThatThrownBy(() -> s.read("missing.sst")).isInstanceOfSatisfying(StorageException.class,
                    e -> assertThat(e.kind()).isEqualTo("NotFound"));
        }
    }
}
