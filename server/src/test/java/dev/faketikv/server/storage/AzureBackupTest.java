package dev.faketikv.server.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.BlobServiceClientBuilder;
import com.azure.storage.blob.models.BlobItem;
import com.azure.storage.blob.models.ListBlobsOptions;
import com.azure.storage.common.StorageSharedKeyCredential;
import dev.faketikv.client.BackupCheck;
import dev.faketikv.client.BackupClient;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.TestServers;
import dev.faketikv.server.config.TikvConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;

/**
 * Backups into Azure Blob Storage as Azurite serves it, through the real protocol: TiKV 5.4's blob names,
 * one Put Blob per file, "busy" answers retried and nothing else, secrets never echoed, restore's Download.
 */
class AzureBackupTest {
    static final String SEED = "txn:rows=3000,regions=3,value-size=50,long-ratio=0.1,long-value-size=600,seed=4";
    static final String KEY = Base64.getEncoder().encodeToString(new SecureRandom().generateSeed(64));

    @TempDir
    static Path emulatorDir;
    static Emulator azurite;
    static String endpoint;

    @TempDir
    Path tmp;
    BlobContainerClient container;

    @BeforeAll
    static void startAzurite() throws Exception {
        azurite = Emulator.azurite(emulatorDir, KEY);
        endpoint = "http://127.0.0.1:" + azurite.port() + "/" + Emulator.AZURE_ACCOUNT;
    }

    @AfterAll
    static void stopAzurite() {
        if (azurite != null) {
            azurite.close();
        }
    }

    @BeforeEach
    void createContainer() {
        // BR creates the container; TiKV only writes into it
        container = new BlobServiceClientBuilder().endpoint(endpoint)
                .credential(new StorageSharedKeyCredential(Emulator.AZURE_ACCOUNT, KEY)).buildClient()
                .getBlobContainerClient("br-" + Long.toHexString(System.nanoTime()));
        container.create();
    }

    Brpb.AzureBlobStorage.Builder azure(String prefix) {
        return Brpb.AzureBlobStorage.newBuilder().setEndpoint(endpoint).setBucket(container.getBlobContainerName()).setPrefix(prefix)
                .setAccountName(Emulator.AZURE_ACCOUNT).setSharedKey(KEY);
    }

    static BackupRequest request(Brpb.AzureBlobStorage.Builder backend) {
        return TestServers.txn(Brpb.StorageBackend.newBuilder().setAzureBlobStorage(backend).build()).build();
    }

    Map<String, BlobItem> blobs(String prefix) {
        return container.listBlobs(new ListBlobsOptions().setPrefix(prefix), null).stream()
                .collect(Collectors.toMap(BlobItem::getName, Function.identity()));
    }

    List<String> downloadAndCheck(BackupRequest req, List<BackupResponse> responses, String prefix) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("download-" + System.nanoTime()));
        for (BackupResponse r : responses) {
            for (Brpb.File f : r.getFilesList()) {
                byte[] bytes = container.getBlobClient(prefix + "/" + f.getName()).downloadContent().toBytes();
                Files.write(dir.resolve(f.getName()), bytes);
                assertThat(MessageDigest.getInstance("SHA-256").digest(bytes)).isEqualTo(f.getSha256().toByteArray());
            }
        }
        return BackupCheck.run(req, responses, dir).problems();
    }

    /** A server whose Azure storages see {@code faults} (as {@code fake.azure-faults} would set them). */
    FakeTikvServer server(String seed, CloudFaults faults, String... extra) throws Exception {
        String[] all = new String[extra.length + 1];
        all[0] = "fake.s3-retry-base-delay=10ms";
        System.arraycopy(extra, 0, all, 1, extra.length);
        TikvConfig config = TestServers.config(tmp.resolve("data"), all).with(TikvConfig.SEED.name(), List.of(seed));
        ExternalStorages.Options options = new ExternalStorages.Options(5L << 20, Duration.ofMillis(10), S3Faults.none(), null)
                .withCloudFaults(CloudFaults.none(), faults);
        return FakeTikvServer.builder(config).storages(backend -> ExternalStorages.create(backend, options)).start();
    }

    static long files(List<BackupResponse> responses) {
        return responses.stream().mapToLong(BackupResponse::getFilesCount).sum();
    }

    @Test
    void backupLandsUnderThePrefixWithTikvNamesInOnePutEachAndVerifies() throws Exception {
        CloudFaults counting = CloudFaults.parse("Azure", List.of());
        try (FakeTikvServer server = server(SEED, counting); BackupClient client = new BackupClient(server.addr())) {
            // TiKV trims the prefix's trailing '/' before joining
            BackupRequest req = request(azure("cluster-1/full/"));
            List<BackupResponse> responses = client.backup(req);
            assertThat(responses).hasSize(3).noneMatch(BackupResponse::hasError);
            Map<String, BlobItem> blobs = blobs("cluster-1/full/");
            List<String> listed = responses.stream().flatMap(r -> r.getFilesList().stream()).map(f -> "cluster-1/full/" + f.getName()).toList();
            assertThat(blobs.keySet()).containsExactlyInAnyOrderElementsOf(listed);
            responses.forEach(r -> r.getFilesList().forEach(f -> {
                BlobItem b = blobs.get("cluster-1/full/" + f.getName());
                assertThat(b.getProperties().getContentLength()).isEqualTo(f.getSize());
                assertThat(b.getProperties().getAccessTier().toString()).isEqualTo("Hot");
            }));
            assertThat(counting.calls()).as("one Put Blob per file").isEqualTo(files(responses));
            assertThat(downloadAndCheck(req, responses, "cluster-1/full")).isEmpty();
            assertThat(server.metrics().scrape()).contains("tikv_external_storage_create_seconds_count{type=\"azure\"}")
                    .doesNotContain(KEY);
        }
    }

    @Test
    void aBigFileGoesUpAsOnePutBlobAsInTikv54() throws Exception {
        CloudFaults counting = CloudFaults.parse("Azure", List.of());
        try (FakeTikvServer server = server("txn:rows=1600,regions=1,value-size=4000,seed=1", counting);
             BackupClient client = new BackupClient(server.addr())) {
            BackupRequest req = request(azure("big").setStorageClass("Cool"));
            List<BackupResponse> responses = client.backup(req);
            assertThat(responses).singleElement().satisfies(r -> assertThat(r.hasError()).isFalse());
            Brpb.File big = responses.get(0).getFilesList().stream().filter(f -> f.getSize() > (5 << 20)).findFirst().orElseThrow();
            assertThat(blobs("big/").get("big/" + big.getName()).getProperties().getAccessTier().toString()).isEqualTo("Cool");
            assertThat(counting.calls()).as("no staged blocks: one request per file").isEqualTo(files(responses));
            assertThat(downloadAndCheck(req, responses, "big")).isEmpty();
        }
    }

    @Test
    void busyAnswersAreRetriedAndTheBackupCompletes() throws Exception {
        CloudFaults faults = CloudFaults.parse("Azure", List.of("SlowDown*3"));
        try (FakeTikvServer server = server(SEED, faults, "backup.io-thread-size=1"); BackupClient client = new BackupClient(server.addr())) {
            BackupRequest req = request(azure("retry"));
            List<BackupResponse> responses = client.backup(req);
            assertThat(responses).hasSize(3).noneMatch(BackupResponse::hasError);
            assertThat(faults.injected()).isEqualTo(3);
            assertThat(faults.calls()).as("the three 503s were retried").isEqualTo(files(responses) + 3);
            assertThat(downloadAndCheck(req, responses, "retry")).isEmpty();
        }
    }

    @Test
    void otherErrorsAreNotRetriedAsInTikv54() throws Exception {
        CloudFaults faults = CloudFaults.parse("Azure", List.of("InternalError*1"));
        try (FakeTikvServer server = server(SEED, faults, "backup.io-thread-size=1"); BackupClient client = new BackupClient(server.addr())) {
            List<BackupResponse> responses = client.backup(request(azure("ie")));
            assertThat(responses.stream().filter(BackupResponse::hasError).toList()).singleElement().satisfies(r ->
                    assertThat(r.getError().getMsg()).startsWith("Io(Custom { kind: InvalidInput, error: \"upload block failed: HTTP 500 InternalError"));
            assertThat(faults.calls()).as("not retried").isEqualTo(files(responses) + 1);
        }
    }

    @Test
    void fourBusyAnswersEndTheUploadAsTimedOut() throws Exception {
        CloudFaults faults = CloudFaults.parse("Azure", List.of("ServiceUnavailable*4"));
        try (FakeTikvServer server = server(SEED, faults, "backup.io-thread-size=1"); BackupClient client = new BackupClient(server.addr())) {
            List<BackupResponse> responses = client.backup(request(azure("four")));
            assertThat(responses.stream().filter(BackupResponse::hasError).toList()).singleElement().satisfies(r ->
                    assertThat(r.getError().getMsg()).startsWith("Io(Custom { kind: TimedOut, error: \"the resource is busy: HTTP 503 ServerBusy")
                            .endsWith(", retry later\" })"));
            assertThat(faults.injected()).isEqualTo(4);
        }
    }

    @Test
    void aWrongKeyIsAPermanentAuthErrorNotRetriedAndNeverEchoed() throws Exception {
        String wrong = Base64.getEncoder().encodeToString(new SecureRandom().generateSeed(64));
        CloudFaults counting = CloudFaults.parse("Azure", List.of());
        try (FakeTikvServer server = server(SEED, counting); BackupClient client = new BackupClient(server.addr())) {
            List<BackupResponse> responses = client.backup(request(azure("creds").setSharedKey(wrong)));
            assertThat(responses).hasSize(3).allSatisfy(r -> assertThat(r.getError().getMsg())
                    .contains("upload block failed: HTTP 403 AuthorizationFailure: Server failed to authenticate the request").doesNotContain(wrong).doesNotContain(KEY));
            assertThat(counting.calls()).as("a 403 is not retried (4 attempts each would be 12 or more)").isBetween(3L, 6L);
            assertThat(blobs("creds/")).isEmpty();
            assertThat(server.metrics().scrape()).doesNotContain(wrong);
            List<BackupResponse> missing = client.backup(request(azure("x").setAccountName("")));
            assertThat(missing).singleElement().satisfies(r -> assertThat(r.getError().getMsg()).contains("credential info not found"));
            List<BackupResponse> noBucket = client.backup(request(azure("x").setBucket("")));
            assertThat(noBucket).singleElement().satisfies(r -> assertThat(r.getError().getMsg()).contains("Empty field bucket"));
        }
    }

    @Test
    void credentialsComeFromTheEnvironmentInTikvsOrder() throws Exception {
        AzureStorage.Config bare = new AzureStorage.Config(endpoint, container.getBlobContainerName(), "env", "", "", "");
        Map<String, String> env = Map.of("AZURE_STORAGE_ACCOUNT", Emulator.AZURE_ACCOUNT, "AZURE_STORAGE_KEY", KEY);
        try (AzureStorage s = new AzureStorage(bare, Duration.ZERO, CloudFaults.none(), env::get)) {
            assertThat(s.account()).isEqualTo(Emulator.AZURE_ACCOUNT);
            s.write("a.sst", new java.io.ByteArrayInputStream(new byte[] {1, 2, 3}), 3);
            try (var in = s.read("a.sst")) {
                assertThat(in.readAllBytes()).containsExactly(1, 2, 3);
            }
            assertThat(s.config().toString()).doesNotContain(KEY);
        }
        assertThatThrownBy(() -> new AzureStorage(bare, Duration.ZERO, CloudFaults.none(), Map.of("AZURE_STORAGE_ACCOUNT", "a")::get))
                .hasMessage("credential info not found");
        Map<String, String> ad = Map.of("AZURE_CLIENT_ID", "c", "AZURE_TENANT_ID", "t", "AZURE_CLIENT_SECRET", "s");
        assertThatThrownBy(() -> new AzureStorage(bare, Duration.ZERO, CloudFaults.none(), ad::get))
                .hasMessage("account name cannot be empty to access azure blob storage");
        assertThatThrownBy(() -> new AzureStorage(new AzureStorage.Config(endpoint, "c", "", "", "a", ""), Duration.ZERO, CloudFaults.none(), ad::get))
                .hasMessageContaining("does not support Azure AD credentials");
    }

    @Test
    void cloudDynamicAzureAndRestoresDownloadFromAzure() throws Exception {
        try (FakeTikvServer server = server(SEED, CloudFaults.none()); BackupClient client = new BackupClient(server.addr())) {
            Brpb.CloudDynamic cd = Brpb.CloudDynamic.newBuilder().setProviderName("azblob")
                    .setBucket(Brpb.Bucket.newBuilder().setEndpoint(endpoint).setBucket(container.getBlobContainerName()).setPrefix("dyn"))
                    .putAttrs("account_name", Emulator.AZURE_ACCOUNT).putAttrs("shared_key", KEY).build();
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
    void rateLimitAppliesToAzureUploads() throws Exception {
        try (FakeTikvServer server = server(SEED, CloudFaults.none()); BackupClient client = new BackupClient(server.addr())) {
            BackupRequest req = request(azure("slow")).toBuilder().setRateLimit(256 << 10).build();
            long t0 = System.nanoTime();
            List<BackupResponse> responses = client.backup(req);
            double secs = (System.nanoTime() - t0) / 1e9;
            assertThat(responses).noneMatch(BackupResponse::hasError);
            long bytes = responses.stream().flatMap(r -> r.getFilesList().stream()).mapToLong(Brpb.File::getSize).sum();
            assertThat(secs).isGreaterThanOrEqualTo(0.95 * (bytes - 0.1 * (256 << 10)) / (256 << 10));
        }
    }
}
