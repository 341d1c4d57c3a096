package dev.faketikv.server;

import dev.faketikv.server.config.ConfigException;
import dev.faketikv.server.config.TikvConfig;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.TlsServerCredentials;
import java.io.File;
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
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import javax.net.ssl.TrustManagerFactory;
import javax.security.auth.x500.X500Principal;

/**
 * TiKV's {@code [security]} for fake-tikv ({@code components/security}): with {@code ca-path},
 * {@code cert-path} and {@code key-path} set, the gRPC port and the status server speak TLS and require a
 * client certificate signed by the CA; {@code cert-allowed-cn} further limits the client certificates'
 * common names (a refused name gets {@code PERMISSION_DENIED} on gRPC, 403 on HTTP). Stateless helpers.
 */
public final class Security {
    private Security() {}

    /** gRPC server credentials: mutual TLS with the configured files. */
    public static ServerCredentials grpcCredentials(TikvConfig c) {
        try {
            return TlsServerCredentials.newBuilder()
                    .keyManager(new File(c.get(TikvConfig.CERT_PATH)), new File(c.get(TikvConfig.KEY_PATH)))
                    .trustManager(new File(c.get(TikvConfig.CA_PATH)))
                    .clientAuth(TlsServerCredentials.ClientAuth.REQUIRE)
                    .build();
        } catch (IOException | RuntimeException e) {
            throw new ConfigException("security: cannot load TLS files: " + e.getMessage());
        }
    }

    /** An SSL context for the status server, trusting the CA for client certificates. */
    public static SSLContext sslContext(TikvConfig c) {
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            Collection<? extends Certificate> chain;
            try (InputStream in = Files.newInputStream(Path.of(c.get(TikvConfig.CERT_PATH)))) {
                chain = cf.generateCertificates(in);
            }
            Collection<? extends Certificate> cas;
            try (InputStream in = Files.newInputStream(Path.of(c.get(TikvConfig.CA_PATH)))) {
                cas = cf.generateCertificates(in);
            }
            PrivateKey key = privateKey(Path.of(c.get(TikvConfig.KEY_PATH)));
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("store", key, new char[0], chain.toArray(Certificate[]::new));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, new char[0]);
            KeyStore ts = KeyStore.getInstance("PKCS12");
            ts.load(null, null);
            int i = 0;
            for (Certificate ca : cas) {
                ts.setCertificateEntry("ca" + i++, ca);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ts);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
            return ctx;
        } catch (IOException | GeneralSecurityException e) {
            throw new ConfigException("security: cannot load TLS files: " + e.getMessage());
        }
    }

    private static PrivateKey privateKey(Path pem) throws IOException, GeneralSecurityException {
        String text = Files.readString(pem);
        String b64 = text.replaceAll("-----BEGIN PRIVATE KEY-----|-----END PRIVATE KEY-----|\\s", "");
        byte[] der = Base64.getDecoder().decode(b64);
        for (String alg : new String[] {"RSA", "EC"}) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (GeneralSecurityException e) {
                // try the next algorithm
            }
        }
        throw new GeneralSecurityException("key-path must hold a PKCS#8 RSA or EC private key");
    }

    /** The CN of the client certificate of a TLS session, or null. */
    public static String clientCommonName(SSLSession session) {
        if (session == null) {
            return null;
        }
        try {
            Certificate[] peer = session.getPeerCertificates();
            if (peer.length == 0 || !(peer[0] instanceof X509Certificate x)) {
                return null;
            }
            String dn = x.getSubjectX500Principal().getName(X500Principal.RFC2253);
            for (String part : dn.split(",")) {
                if (part.startsWith("CN=")) {
                    return part.substring(3);
                }
            }
            return null;
        } catch (SSLPeerUnverifiedException e) {
            return null;
        }
    }

    /** Refuses calls whose client certificate CN is not in {@code allowed}: TiKV's {@code check_common_name}. */
    public static ServerInterceptor commonNameCheck(List<String> allowed) {
        return new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
                String cn = clientCommonName(call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION));
                if (cn == null || !allowed.contains(cn)) {
                    call.close(Status.PERMISSION_DENIED.withDescription("Common name check fail, reason: " + cn
                            + " is not in cert-allowed-cn " + allowed), new Metadata());
                    return new ServerCall.Listener<>() {};
                }
                return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(next.startCall(call, headers)) {};
            }
        };
    }
}
