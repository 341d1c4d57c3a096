package dev.faketikv.server.storage;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faketikv.client.BackupCheck;
import dev.faketikv.client.BackupClient;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.TestServers;
import dev.faketikv.server.config.TikvConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.junit.S3ProxyExtension;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupRequest;
import org.tikv.kvproto.Brpb.BackupResponse;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

/** Backups into a real S3 endpoint (S3Proxy in this JVM) through the real protocol. */
class S3BackupTest {
    static final String BUCKET = "br-bucket";
    static final String SEED = "txn:rows=3000,regions=3,value-size=50,long-ratio=0.1,long-value-size=600,seed=4";

    @RegisterExtension
    final S3ProxyExtension s3proxy = S3ProxyExtension.builder()
            .withCredentials(AuthenticationType.AWS_V2_OR_V4, "test-access", "test-secret-do-not-log")
            .build();

    @TempDir
    Path tmp;
    S3Client s3;

    @BeforeEach
    void bucket() {
        s3 = S3Client.builder()
                .endpointOverride(s3proxy.getUri())
                .region(Region.US_EAST_1)
                .forcePathStyle(true)
                .httpClient(UrlConnectionHttpClient.create())
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(s3proxy.getAccessKey(), s3proxy.getSecretKey())))
                .build();
        s3.createBucket(b -> b.bucket(BUCKET));
    }

    Brpb.S3.Builder s3Backend(String prefix) {
        return Brpb.S3.newBuilder().setEndpoint(s3proxy.getUri().toString()).setRegion("us-east-1").setBucket(BUCKET)
                .setPrefix(prefix).setAccessKey(s3proxy.getAccessKey()).setSecretAccessKey(s3proxy.getSecretKey())
                .setForcePathStyle(true);
    }

    static BackupRequest request(Brpb.S3.Builder backend) {
        return TestServers.txn(Brpb.StorageBackend.newBuilder().setS3(backend).build()).build();
    }

    Map<String, S3Object> objects(String prefix) {
        return s3.listObjectsV2Paginator(b -> b.bucket(BUCKET).prefix(prefix)).contents().stream()
                .collect(Collectors.toMap(S3Object::key, Function.identity()));
    }

    /** Downloads every listed file and runs the independent checks over the copies. */
    List<String> downloadAndCheck(BackupRequest req, List<BackupResponse> responses, String prefix) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("download-" + System.nanoTime()));
        for (BackupResponse r : responses) {
            for (Brpb.File f : r.getFilesList()) {
                byte[] bytes = s3.getObjectAsBytes(b -> b.bucket(BUCKET).key(prefix + "/" + f.getName())).asByteArray();
                Files.write(dir.resolve(f.getName()), bytes);
                assertThat(MessageDigest.getInstance("SHA-256").digest(bytes)).isEqualTo(f.getSha256().toByteArray());
            }
        }
        return BackupCheck.run(req, responses, dir).problems();
    }

    FakeTikvServer server(String seed, String... extra) throws Exception {
        String[] all = new String[extra.length + 1];
        all[0] = "fake.s3-retry-base-delay=10ms";
        System.arraycopy(extra, 0, all, 1, extra.length);
        return TestServers.start(tmp.resolve("data"), List.of(seed), all);
    }

    @Test
    void backupLandsUnderThePrefixWithTikvNamesAndVerifies() throws Exception {
        try (FakeTikvServer server = server(SEED); BackupClient client = new BackupClient(server.addr())) {
            BackupRequest req = request(s3Backend("cluster-1/full"));
            List<BackupResponse> responses = client.backup(req);
            assertThat(responses).hasSize(3).noneMatch(BackupResponse::hasError);
            Map<String, S3Object> objects = objects("cluster-1/full/");
            List<String> listed = responses.stream().flatMap(r -> r.getFilesList().stream()).map(f -> "cluster-1/full/" + f.getName()).toList();
            assertThat(objects.keySet()).containsExactlyInAnyOrderElementsOf(listed);
            responses.forEach(r -> r.getFilesList().forEach(f ->
                    assertThat(objects.get("cluster-1/full/" + f.getName()).size()).isEqualTo(f.getSize())));
            assertThat(downloadAndCheck(req, responses, "cluster-1/full")).isEmpty();
            assertThat(server.metrics().scrape()).contains("tikv_external_storage_create_seconds_count{type=\"s3\"}")
                    .contains("fake_tikv_backup_files_total{cf=\"write\",storage=\"s3\"} 3");
        }
    }

    @Test
    void bigFilesGoUpInMultipartSmallOnesInOnePut() throws Exception {
        // one region of ~12 MB: its SSTs exceed the 5 MiB part size
        try (FakeTikvServer server = server("txn:rows=3000,regions=1,value-size=4000,seed=1");
             BackupClient client = new BackupClient(server.addr())) {
            BackupRequest req = request(s3Backend("mp"));
            List<BackupResponse> responses = client.backup(req);
            assertThat(responses).singleElement().satisfies(r -> assertThat(r.hasError()).isFalse());
            Brpb.File big = responses.get(0).getFilesList().stream().filter(f -> f.getSize() > (5 << 20)).findFirst().orElseThrow();
            String etag = objects("mp/").get("mp/" + big.getName()).eTag();
            assertThat(etag).as("multipart ETag ends with -<parts>").contains("-3");
            assertThat(downloadAndCheck(req, responses, "mp")).isEmpty();
        }
    }

    @Test
    void injected503sAreRetriedAndTheBackupCompletes() throws Exception {
        // one upload at a time, so the first file meets all three 503s: attempts 1-3 fail, the 4th succeeds
        try (FakeTikvServer server = server(SEED, "fake.s3-faults=SlowDown*3", "backup.io-thread-size=1");
             BackupClient client = new BackupClient(server.addr())) {
            BackupRequest req = request(s3Backend("retry"));
            List<BackupResponse> responses = client.backup(req);
            assertThat(responses).hasSize(3).noneMatch(BackupResponse::hasError);
            assertThat(downloadAndCheck(req, responses, "retry")).isEmpty();
        }
    }

    @Test
    void anUploadGetsFourAttemptsAsInTikv54() throws Exception {
        // the same, with a fourth 503: the first file's four attempts all fail, the other files go up at once
        try (FakeTikvServer server = server(SEED, "fake.s3-faults=SlowDown*4", "backup.io-thread-size=1");
             BackupClient client = new BackupClient(server.addr())) {
            BackupRequest req = request(s3Backend("four"));
            List<BackupResponse> responses = client.backup(req);
            assertThat(responses.stream().filter(BackupResponse::hasError).toList()).singleElement().satisfies(r ->
                    assertThat(r.getError().getMsg()).contains("failed to put object rusoto error Request ID: Some(\\\"FAKE")
                            .contains("<Code>SlowDown</Code>"));
            assertThat(responses.stream().filter(r -> !r.hasError()).toList()).hasSize(2);
        }
    }

    @Test
    void retriesGiveUpWithTikvsMessageCarryingTheS3Body() throws Exception {
        try (FakeTikvServer server = server(SEED, "fake.s3-faults=InternalError"); BackupClient client = new BackupClient(server.addr())) {
            List<BackupResponse> responses = client.backup(request(s3Backend("fail")));
            assertThat(responses).hasSize(3).allSatisfy(r -> {
                assertThat(r.getFilesCount()).isZero();
                assertThat(r.getError().getMsg()).startsWith("Io(Custom { kind: Other, error: \"failed to put object rusoto error Request ID: ")
                        .contains("Body: <?xml").contains("<Code>InternalError</Code>");
            });
            assertThat(objects("fail/")).isEmpty();
        }
    }

    @Test
    void aPermanentErrorIsNotRetriedAndNothingListedIsMissing() throws Exception {
        try (FakeTikvServer server = server(SEED, "fake.s3-faults=AccessDenied*1"); BackupClient client = new BackupClient(server.addr())) {
            BackupRequest req = request(s3Backend("perm"));
            List<BackupResponse> responses = client.backup(req);
            List<BackupResponse> failed = responses.stream().filter(BackupResponse::hasError).toList();
            assertThat(failed).singleElement().satisfies(r -> assertThat(r.getError().getMsg())
                    .contains("kind: Other").contains("failed to put object rusoto error").contains("<Code>AccessDenied</Code>"));
            // every file a successful response lists is in the bucket, whole
            List<BackupResponse> ok = responses.stream().filter(r -> !r.hasError()).toList();
            assertThat(ok).hasSize(2);
            assertThat(downloadAndCheck(req, ok, "perm")).noneMatch(p -> !p.startsWith("range not covered"));
        }
    }

    @Test
    void wrongCredentialsFailClearlyAndTheSecretIsNeverEchoed() throws Exception {
        try (FakeTikvServer server = server(SEED); BackupClient client = new BackupClient(server.addr())) {
            List<BackupResponse> responses = client.backup(request(s3Backend("creds").setSecretAccessKey("wrong-secret-xyz")));
            assertThat(responses).isNotEmpty().allSatisfy(r -> {
                assertThat(r.getError().getMsg()).contains("failed to put object rusoto error").contains("<Code>");
                assertThat(r.getError().getMsg()).doesNotContain("wrong-secret-xyz").doesNotContain(s3proxy.getSecretKey());
            });
            assertThat(server.metrics().scrape()).doesNotContain("wrong-secret-xyz");
            // an access key without a secret is refused before any call
            List<BackupResponse> noSecret = client.backup(request(s3Backend("creds").setSecretAccessKey("")));
            assertThat(noSecret).singleElement().satisfies(r -> assertThat(r.getError().getMsg()).contains("missing secret access key"));
            List<BackupResponse> noBucket = client.backup(request(s3Backend("x").setBucket("")));
            assertThat(noBucket).singleElement().satisfies(r -> assertThat(r.getError().getMsg()).contains("missing bucket name"));
        }
    }

    @Test
    void cloudDynamicWithProviderS3IsTheSameBackend() throws Exception {
        try (FakeTikvServer server = server(SEED); BackupClient client = new BackupClient(server.addr())) {
            Brpb.CloudDynamic cd = Brpb.CloudDynamic.newBuilder().setProviderName("aws")
                    .setBucket(Brpb.Bucket.newBuilder().setEndpoint(s3proxy.getUri().toString()).setRegion("us-east-1")
                            .setBucket(BUCKET).setPrefix("dyn"))
                    .putAttrs("access_key", s3proxy.getAccessKey()).putAttrs("secret_access_key", s3proxy.getSecretKey())
                    .putAttrs("force_path_style", "true").build();
            BackupRequest req = TestServers.txn(Brpb.StorageBackend.newBuilder().setCloudDynamic(cd).build()).build();
            List<BackupResponse> responses = client.backup(req);
            assertThat(responses).hasSize(3).noneMatch(BackupResponse::hasError);
            assertThat(downloadAndCheck(req, responses, "dyn")).isEmpty();
            Brpb.CloudDynamic other = cd.toBuilder().setProviderName("floppy").build();
            assertThat(client.backup(TestServers.txn(Brpb.StorageBackend.newBuilder().setCloudDynamic(other).build()).build()))
                    .singleElement().satisfies(r -> assertThat(r.getError().getMsg()).contains("does not support the cloud_dynamic(floppy)"));
        }
    }

    @Test
    void rateLimitAndThrottleApplyToS3Uploads() throws Exception {
        try (FakeTikvServer server = server(SEED); BackupClient client = new BackupClient(server.addr())) {
            BackupRequest req = request(s3Backend("slow")).toBuilder().setRateLimit(256 << 10).build();
            long t0 = System.nanoTime();
            List<BackupResponse> responses = client.backup(req);
            double secs = (System.nanoTime() - t0) / 1e9;
            assertThat(responses).noneMatch(BackupResponse::hasError);
            long bytes = responses.stream().flatMap(r -> r.getFilesList().stream()).mapToLong(Brpb.File::getSize).sum();
            assertThat(secs).isGreaterThanOrEqualTo(0.95 * (bytes - 0.1 * (256 << 10)) / (256 << 10));
        }
        assertThat(S3Faults.parse(List.of("throttle=1MB")).throttle()).isNotNull();
    }

    @Test
    void objectKeysFollowTikvsLayout() throws Exception {
        S3Storage withPrefix = new S3Storage(ExternalStorages.s3Config(s3Backend("a/b").build()), 0, java.time.Duration.ZERO, S3Faults.none());
        S3Storage noPrefix = new S3Storage(ExternalStorages.s3Config(s3Backend("").build()), 0, java.time.Duration.ZERO, S3Faults.none());
        try (withPrefix; noPrefix) {
            assertThat(withPrefix.objectKey("1_2_3_write.sst")).isEqualTo("a/b/1_2_3_write.sst");
            assertThat(noPrefix.objectKey("1_2_3_write.sst")).isEqualTo("1_2_3_write.sst");
            assertThat(withPrefix.config().toString()).doesNotContain(s3proxy.getSecretKey()).doesNotContain(s3proxy.getAccessKey());
            // the read side, for restore
            withPrefix.write("x.sst", new java.io.ByteArrayInputStream(new byte[] {1, 2}), 2);
            try (var in = withPrefix.read("x.sst")) {
                assertThat(in.readAllBytes()).containsExactly(1, 2);
            }
        }
    }
}
