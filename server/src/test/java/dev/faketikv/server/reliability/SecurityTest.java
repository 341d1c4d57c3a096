package dev.faketikv.server.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.faketikv.client.BackupClient;
import dev.faketikv.server.FakeTikv;
import dev.faketikv.server.TestCerts;
import dev.faketikv.server.TestCerts.Pem;
import dev.faketikv.server.TestServers;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutual TLS as TiKV configures it ({@code [security] ca-path, cert-path, key-path, cert-allowed-cn}),
 * with certificates made in the test: a signed client is served; a client without a certificate, with one
 * from another CA, or with a name outside cert-allowed-cn is refused — on gRPC and on the status server.
 */
class SecurityTest {
    @TempDir
    static Path dir;
    static Pem ca;
    static Pem server;
    static Pem client;
    static Pem intruder;
    static Pem stranger;

    static Pem issue(String cn, Pem issuer, boolean isCa, String name) throws Exception {
        return TestCerts.issue(dir, cn, issuer, isCa, name);
    }

    @BeforeAll
    static void certificates() throws Exception {
        ca = issue("fake-tikv test CA", null, true, "ca");
        // the store's key is RSA (as TiUP makes them), the others EC: both key kinds are read
        server = TestCerts.issueRsa(dir, "tikv", ca, false, "server");
        client = issue("br-client", ca, false, "client");
        intruder = issue("intruder", ca, false, "intruder");
        Pem otherCa = issue("other CA", null, true, "other-ca");
        stranger = issue("br-client", otherCa, false, "stranger");
    }

    static FakeTikv start(List<String> allowedCn) throws Exception {
        FakeTikv.Builder b = FakeTikv.builder().seed("txn:rows=100,regions=2")
                .set("security.ca-path", ca.certFile().toString())
                .set("security.cert-path", server.certFile().toString())
                .set("security.key-path", server.keyFile().toString());
        if (!allowedCn.isEmpty()) {
            b.set("security.cert-allowed-cn", allowedCn);
        }
        return b.start();
    }

    @Test
    void mutualTlsServesSignedClientsAndRefusesOthers() throws Exception {
        try (FakeTikv tikv = start(List.of())) {
            assertThat(tikv.statusUrl()).startsWith("https://");
            try (BackupClient ok = BackupClient.tls(tikv.addr(), ca.certFile(), client.certFile(), client.keyFile())) {
                assertThat(ok.backup(TestServers.txn(TestServers.noop()).build())).hasSize(2);
            }
            try (BackupClient wrongCa = BackupClient.tls(tikv.addr(), ca.certFile(), stranger.certFile(), stranger.keyFile())) {
                assertThatThrownBy(() -> wrongCa.backup(TestServers.txn(TestServers.noop()).build()))
                        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
            }
            try (BackupClient plain = new BackupClient(tikv.addr())) {
                assertThatThrownBy(() -> plain.backup(TestServers.txn(TestServers.noop()).build())).isInstanceOf(StatusRuntimeException.class);
            }
            io.grpc.ManagedChannel noCert = io.grpc.Grpc.newChannelBuilder(tikv.addr(),
                    io.grpc.TlsChannelCredentials.newBuilder().trustManager(ca.certFile()).build()).build();
            try (BackupClient anonymous = new BackupClient(noCert)) {
                assertThatThrownBy(() -> anonymous.backup(TestServers.txn(TestServers.noop()).build())).isInstanceOf(StatusRuntimeException.class);
            } finally {
                noCert.shutdownNow();
            }
            // the status server: same CA, client certificate required
            assertThat(get(tikv.statusUrl() + "/status", client).statusCode()).isEqualTo(200);
            assertThatThrownBy(() -> get(tikv.statusUrl() + "/status", null)).isInstanceOf(java.io.IOException.class);
            assertThatThrownBy(() -> get(tikv.statusUrl() + "/status", stranger)).isInstanceOf(java.io.IOException.class);
            assertThatThrownBy(() -> HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create(tikv.statusUrl().replace("https://", "http://") + "/status")).build(), HttpResponse.BodyHandlers.ofString()))
                    .isInstanceOf(java.io.IOException.class);
        }
    }

    @Test
    void certAllowedCnWithoutTlsIsRefusedAtStart() {
        assertThatThrownBy(() -> FakeTikv.builder().set("security.cert-allowed-cn", List.of("br")).start())
                .hasMessageContaining("cert-allowed-cn needs TLS");
    }

    @Test
    void certAllowedCnNarrowsTheSignedClients() throws Exception {
        try (FakeTikv tikv = start(List.of("br-client"))) {
            try (BackupClient ok = BackupClient.tls(tikv.addr(), ca.certFile(), client.certFile(), client.keyFile())) {
                assertThat(ok.backup(TestServers.txn(TestServers.noop()).build())).hasSize(2);
            }
            try (BackupClient other = BackupClient.tls(tikv.addr(), ca.certFile(), intruder.certFile(), intruder.keyFile())) {
                assertThatThrownBy(() -> other.backup(TestServers.txn(TestServers.noop()).build()))
                        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
                            assertThat(e.getStatus().getDescription()).contains("Common name check fail");
                        });
            }
            assertThat(get(tikv.statusUrl() + "/metrics", client).statusCode()).isEqualTo(200);
            assertThat(get(tikv.statusUrl() + "/metrics", intruder).statusCode()).isEqualTo(403);
        }
    }

    static HttpResponse<String> get(String url, Pem who) throws Exception {
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        ts.setCertificateEntry("ca", ca.cert());
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts);
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        if (who != null) {
            ks.setKeyEntry("me", who.keys().getPrivate(), new char[0], new java.security.cert.Certificate[] {who.cert()});
        }
        kmf.init(ks, new char[0]);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        return HttpClient.newBuilder().sslContext(ctx).build()
                .send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
    }
}
