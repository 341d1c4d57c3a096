package dev.faketikv.pd.cluster;

import dev.faketikv.server.TestCerts;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faketikv.client.br.BrBackup;
import dev.faketikv.client.br.BrChecksum;
import dev.faketikv.client.br.BrRestore;
import dev.faketikv.client.br.BrStorage;
import dev.faketikv.client.br.PdClient;
import dev.faketikv.client.br.Tls;
import dev.faketikv.engine.Cf;
import dev.faketikv.pd.FakeCluster;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tikv.kvproto.PDGrpc;
import org.tikv.kvproto.Pdpb;

/**
 * Issue 19 item 7: {@code [security]} covers the PD port (mutual TLS, the stores' CA/cert/key), and br takes
 * BR's {@code --ca --cert --key}. Before, PD spoke plaintext whatever [security] said, so a stranger's
 * {@code UpdateGCSafePoint(2^64-1)} stopped every later txn backup, and br could not reach a TLS cluster.
 */
class ClusterTlsTest {
    @TempDir
    static Path dir;
    static TestCerts.Pem ca;
    static TestCerts.Pem server;
    static TestCerts.Pem client;
    static TestCerts.Pem stranger;

    @BeforeAll
    static void certificates() throws Exception {
        ca = TestCerts.issue(dir, "fake-tikv test CA", null, true, "ca");
        server = TestCerts.issue(dir, "tikv", ca, false, "server");
        client = TestCerts.issue(dir, "br", ca, false, "client");
        TestCerts.Pem otherCa = TestCerts.issue(dir, "other CA", null, true, "other-ca");
        stranger = TestCerts.issue(dir, "br", otherCa, false, "stranger");
    }

    static FakeCluster.Builder secure(FakeCluster.Builder b) {
        return b.set("security.ca-path", ca.certFile().toString())
                .set("security.cert-path", server.certFile().toString())
                .set("security.key-path", server.keyFile().toString());
    }

    static Tls br() {
        return new Tls(ca.certPath(), client.certPath(), client.keyPath());
    }

    @Test
    void plaintextAndUnsignedPdCallsAgainstATlsClusterAreRefused() throws Exception {
        try (FakeCluster c = secure(FakeCluster.builder().stores(1)).start()) {
            ManagedChannel plain = ManagedChannelBuilder.forTarget(c.pdAddr()).usePlaintext().build();
            try {
                Pdpb.UpdateGCSafePointRequest max = Pdpb.UpdateGCSafePointRequest.newBuilder()
                        .setHeader(Pdpb.RequestHeader.newBuilder().setClusterId(c.clusterId())).setSafePoint(-1L).build();
                assertThatThrownBy(() -> PDGrpc.newBlockingStub(plain).withDeadlineAfter(10, TimeUnit.SECONDS).updateGCSafePoint(max))
                        .isInstanceOf(StatusRuntimeException.class);
            } finally {
                plain.shutdownNow();
            }
            assertThat(c.pd().gcSafePoint()).isZero();
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            assertThatThrownBy(() -> http.send(HttpRequest.newBuilder(URI.create("http://" + c.pdAddr() + "/pd/api/v1/version"))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString())).isInstanceOf(IOException.class);
            // br without TLS options fails at once (it retried 98 s before), so do TLS without a client certificate and a stranger's
            assertThatThrownBy(() -> PdClient.connect(c.pdAddr())).isInstanceOf(StatusRuntimeException.class);
            assertThatThrownBy(() -> PdClient.connect(c.pdAddr(), new Tls(ca.certPath(), null, null))).isInstanceOf(StatusRuntimeException.class);
            assertThatThrownBy(() -> PdClient.connect(c.pdAddr(), new Tls(ca.certPath(), stranger.certPath(), stranger.keyPath())))
                    .isInstanceOf(StatusRuntimeException.class);
            // a signed client is served on gRPC and HTTP alike; PD keeps the larger safe point and refuses nothing, as PD 5.4
            try (PdClient pd = PdClient.connect(c.pdAddr(), br())) {
                assertThat(pd.clusterVersion()).isEqualTo("\"5.4.0\"");
                assertThat(pd.tso()).isPositive();
                assertThat(pd.gcSafePoint()).isZero();
            }
            assertThat(c.pd().gcSafePoint()).isZero();
        }
    }

    @Test
    void brBacksUpRestoresAndChecksumsATlsCluster() throws Exception {
        Path backup = dir.resolve("tls-backup");
        try (FakeCluster a = secure(FakeCluster.builder().stores(3).seed("txn:rows=600,regions=4,seed=5")).start();
             FakeCluster b = secure(FakeCluster.builder().stores(3)).start()) {
            BrBackup.Result r = BrBackup.run(ClusterRoundTripTest.backup(a, false, backup).withTls(br()));
            assertThat(r.kvs()).isEqualTo(600);
            BrRestore.Result rr = BrRestore.run(BrRestore.Options.builder("https://" + b.pdAddr(), BrStorage.parse("local://" + backup))
                    .tls(br()).backoffScale(ClusterRoundTripTest.FAST).build());
            assertThat(rr.checksum()).isEqualTo(BrRestore.ChecksumStatus.MATCH);
            assertThat(rr.kvs()).isEqualTo(600);
            assertThat(BrChecksum.run(b.pdAddr(), false, BrStorage.parse("local://" + backup), null, null, null, br()).ok()).isTrue();
            assertThat(ClusterData.count(b.engine(), Cf.WRITE)).isEqualTo(ClusterData.count(a.engine(), Cf.WRITE));
        }
    }
}
