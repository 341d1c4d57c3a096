package dev.faketikv.client.br;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.Collection;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * BR's {@code --ca --cert --key} (pingcap/br {@code pkg/task/common.go} {@code TLSConfig}): TLS is on iff
 * {@code ca} is set ({@code IsEnabled}); {@code cert} and {@code key} (PEM; the key PKCS#8) identify the client,
 * and one without the other is refused as etcd's {@code TLSInfo.ClientConfig} refuses it. The same files serve
 * every connection BR makes: PD gRPC, PD HTTP and the stores.
 *
 * <p>Deliberate difference: BR's pd client (pd {@code pkg/grpcutil} {@code ToTLSConfig}) dials PD's gRPC in
 * plaintext when only {@code --ca} is given; here {@code --ca} alone means TLS without a client certificate
 * everywhere, which a PD or TiKV with {@code [security]} then refuses at the handshake (they require a
 * client certificate). Immutable, thread-safe.
 */
public record Tls(Path ca, Path cert, Path key) {
    /** No TLS: plaintext everywhere. */
    public static final Tls NONE = new Tls(null, null, null);

    public Tls {
        if (ca == null && (cert != null || key != null)) {
            throw new BrException("--cert and --key need --ca (TLS is on iff --ca is set)");
        }
        if ((cert == null) != (key == null)) {
            throw new BrException("KeyFile and CertFile must both be present");
        }
    }

    public boolean enabled() {
        return ca != null;
    }

    /** gRPC credentials for PD and the stores. */
    public ChannelCredentials channelCredentials() {
        if (!enabled()) {
            return InsecureChannelCredentials.create();
        }
        try {
            TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder().trustManager(ca.toFile());
            if (cert != null) {
                b.keyManager(cert.toFile(), key.toFile());
            }
            return b.build();
        } catch (IOException | RuntimeException e) {
            throw new BrException("cannot load TLS files: " + e.getMessage());
        }
    }

    /** An SSL context for PD's HTTP API (HTTPS with the same files). */
    public SSLContext sslContext() {
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            int i = 0;
            for (Certificate c : certificates(cf, ca)) {
                trust.setCertificateEntry("ca" + i++, c);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            KeyManagerFactory kmf = null;
            if (cert != null) {
                KeyStore ks = KeyStore.getInstance("PKCS12");
                ks.load(null, null);
                ks.setKeyEntry("client", privateKey(key), new char[0], certificates(cf, cert).toArray(Certificate[]::new));
                kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(ks, new char[0]);
            }
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
            return ctx;
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            throw new BrException("cannot load TLS files: " + e.getMessage());
        }
    }

    private static Collection<? extends Certificate> certificates(CertificateFactory cf, Path pem) throws IOException, GeneralSecurityException {
        try (InputStream in = Files.newInputStream(pem)) {
            return cf.generateCertificates(in);
        }
    }

    private static PrivateKey privateKey(Path pem) throws IOException, GeneralSecurityException {
        String b64 = Files.readString(pem).replaceAll("-----BEGIN PRIVATE KEY-----|-----END PRIVATE KEY-----|\\s", "");
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(Base64.getDecoder().decode(b64));
        for (String alg : new String[] {"RSA", "EC"}) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(spec);
            } catch (GeneralSecurityException e) {
                // try the next algorithm
            }
        }
        throw new GeneralSecurityException(pem + " must hold a PKCS#8 RSA or EC private key");
    }

    /**
     * BR's {@code --pd} normalisation ({@code pkg/task/common.go}): {@code http://} with TLS on and
     * {@code https://} with TLS off are refused; either prefix is stripped; a bare {@code host:port} is kept.
     */
    public String normalizePd(String pd) {
        if (pd.startsWith("http://")) {
            if (enabled()) {
                throw new BrException("[BR:Common:ErrInvalidArgument]pd url starts with http while TLS enabled");
            }
            return pd.substring("http://".length());
        }
        if (pd.startsWith("https://")) {
            if (!enabled()) {
                throw new BrException("[BR:Common:ErrInvalidArgument]pd url starts with https while TLS disabled");
            }
            return pd.substring("https://".length());
        }
        return pd;
    }
}
