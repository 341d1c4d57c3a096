package dev.faketikv.server.reliability;

import static dev.faketikv.server.TestServers.bs;
import static org.assertj.core.api.Assertions.assertThat;

import dev.faketikv.client.BackupClient;
import dev.faketikv.server.FakeTikvServer;
import dev.faketikv.server.TestServers;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;
import org.tikv.kvproto.Brpb;
import org.tikv.kvproto.Brpb.BackupResponse;
import org.tikv.kvproto.Encryptionpb.EncryptionMethod;

/**
 * Credentials sent with a request that fails (S3 keys for an endpoint that refuses connections, a cipher key)
 * appear nowhere a user would look: not in what the store logs (slf4j-simple to {@code System.err}, captured here
 * at every level the tests log at), not in the metrics, not in the error texts sent back. (cloud_dynamic secrets
 * and an S3 Download were left out: their retries against a dead endpoint take minutes on a loaded box.)
 */
class SecretsInLogsTest {
    static final String ACCESS = "AKIAFAKETIKVACCESS42";
    static final String SECRET = "s3cr3t-Fake-Tikv-Secret-Key-0042";
    static final byte[] KEY = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path tmp;

    @Test
    void failingRequestsWithCredentialsLogNoneOfThem() throws Exception {
        PrintStream realErr = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        List<String> answers = new java.util.ArrayList<>();
        String metrics;
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try (FakeTikvServer server = TestServers.start(tmp.resolve("data"), List.of("txn:rows=50,regions=2,seed=1"),
                "fake.s3-retry-base-delay=1ms");
             BackupClient client = new BackupClient(server.addr())) {
            // the capture works: a warning of ours lands in it
            LoggerFactory.getLogger(SecretsInLogsTest.class).warn("capture-marker");
            Brpb.StorageBackend s3 = Brpb.StorageBackend.newBuilder().setS3(Brpb.S3.newBuilder().setEndpoint("http://127.0.0.1:1")
                    .setBucket("b").setAccessKey(ACCESS).setSecretAccessKey(SECRET).setForcePathStyle(true)).build();
            Brpb.CipherInfo cipher = Brpb.CipherInfo.newBuilder().setCipherType(EncryptionMethod.AES256_CTR).setCipherKey(bs(KEY)).build();
            for (BackupResponse r : client.backup(TestServers.txn(s3).setCipherInfo(cipher).build())) {
                answers.add(r.toString());
            }
            metrics = server.metrics().scrape();
        } finally {
            System.err.flush();
            System.setErr(realErr);
        }
        String logs = captured.toString(StandardCharsets.UTF_8);
        assertThat(logs).contains("capture-marker");
        assertThat(answers).as("every response carries an error").isNotEmpty()
                .allSatisfy(a -> assertThat(a).contains("error"));
        String keyHex = HexFormat.of().formatHex(KEY);
        String keyText = new String(KEY, StandardCharsets.US_ASCII);
        for (String where : List.of(logs, metrics, String.join("\n", answers))) {
            assertThat(where).doesNotContain(ACCESS).doesNotContain(SECRET)
                    .doesNotContain(keyHex).doesNotContain(keyText);
        }
    }
}
