package dev.faketikv.server.storage;

import static org.assertj.core.api.Assertions.assertThat;

import dev.faketikv.client.BackupCheck;
import dev.faketikv.client.BackupClient;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.TestServers;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import org.gaul.s3proxy.BlobStores;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.junit.S3ProxyExtension;
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

/** force_path_style both ways, and S3Proxy's filesystem store beside the transient one. */
class S3AddressingTest {
    static final String SEED = "txn:rows=900,regions=3,value-size=40,seed=8";

    @RegisterExtension
    final S3ProxyExtension fsProxy = S3ProxyExtension.builder()
            .withCredentials(AuthenticationType.AWS_V2_OR_V4, "fs-access", "fs-secret")
            .withBlobStoreProvider("filesystem")
            .build();

    @TempDir
    Path tmp;

    static S3Client client(URI endpoint, String access, String secret, boolean pathStyle) {
        return S3Client.builder().endpointOverride(endpoint).region(Region.US_EAST_1).forcePathStyle(pathStyle)
                .httpClient(UrlConnectionHttpClient.create())
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(access, secret))).build();
    }

    /** Backs up to {@code backend} and checks every object through {@code reader}. */
    void backupAndCheck(Brpb.S3 backend, S3Client reader) throws Exception {
        try (FakeTikvServer server = TestServers.start(tmp.resolve("data"), List.of(SEED), "fake.s3-retry-base-delay=10ms");
             BackupClient client = new BackupClient(server.addr())) {
            BackupRequest req = TestServers.txn(Brpb.StorageBackend.newBuilder().setS3(backend).build()).build();
            List<BackupResponse> responses = client.backup(req);
            assertThat(responses).hasSize(3).noneMatch(BackupResponse::hasError);
            Path dir = Files.createDirectories(tmp.resolve("dl"));
            for (BackupResponse r : responses) {
                for (Brpb.File f : r.getFilesList()) {
                    Files.write(dir.resolve(f.getName()), reader.getObjectAsBytes(b -> b.bucket(backend.getBucket())
                            .key(backend.getPrefix() + "/" + f.getName())).asByteArray());
                }
            }
            assertThat(BackupCheck.run(req, responses, dir).problems()).isEmpty();
        }
    }

    @Test
    void pathStyleAgainstTheFilesystemStore() throws Exception {
        try (S3Client s3 = client(fsProxy.getUri(), fsProxy.getAccessKey(), fsProxy.getSecretKey(), true)) {
            s3.createBucket(b -> b.bucket("br-bucket"));
            backupAndCheck(Brpb.S3.newBuilder().setEndpoint(fsProxy.getUri().toString()).setBucket("br-bucket").setPrefix("fs")
                    .setAccessKey(fsProxy.getAccessKey()).setSecretAccessKey(fsProxy.getSecretKey()).setForcePathStyle(true).build(), s3);
        }
    }

    @Test
    void virtualHostedStyleWhenForcePathStyleIsOff() throws Exception {
        Properties props = new Properties();
        props.setProperty("jclouds.identity", "vh-access");
        props.setProperty("jclouds.credential", "vh-secret");
        S3Proxy proxy = S3Proxy.builder()
                .blobStore(BlobStores.create("transient", props))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, "vh-access", "vh-secret")
                .endpoint(URI.create("http://127.0.0.1:0"))
                .virtualHost("localhost")
                .build();
        proxy.start();
        try {
            org.awaitility.Awaitility.await().until(() -> "STARTED".equals(proxy.getState()));
            URI endpoint = URI.create("http://localhost:" + proxy.getPort());
            Brpb.S3 vh = Brpb.S3.newBuilder().setEndpoint(endpoint.toString()).setBucket("vh-bucket").setPrefix("vh")
                    .setAccessKey("vh-access").setSecretAccessKey("vh-secret").build();
            try (S3Storage virtualStyle = new S3Storage(ExternalStorages.s3Config(vh), 0, java.time.Duration.ZERO, S3Faults.none());
                 S3Storage pathStyle = new S3Storage(ExternalStorages.s3Config(vh.toBuilder().setForcePathStyle(true).build()), 0,
                         java.time.Duration.ZERO, S3Faults.none())) {
                assertThat(virtualStyle.objectUrl("f.sst").toString()).isEqualTo("http://vh-bucket.localhost:" + proxy.getPort() + "/vh/f.sst");
                assertThat(pathStyle.objectUrl("f.sst").toString()).isEqualTo("http://localhost:" + proxy.getPort() + "/vh-bucket/vh/f.sst");
            }
            // with a virtual host configured, S3Proxy takes the bucket from the Host header ({bucket}.localhost)
            try (S3Client virtual = client(endpoint, "vh-access", "vh-secret", false)) {
                virtual.createBucket(b -> b.bucket("vh-bucket"));
                backupAndCheck(Brpb.S3.newBuilder().setEndpoint(endpoint.toString()).setBucket("vh-bucket").setPrefix("vh")
                        .setAccessKey("vh-access").setSecretAccessKey("vh-secret").setForcePathStyle(false).build(), virtual);
            }
        } finally {
            proxy.stop();
        }
    }
}
