package dev.faketikv.server;

import java.io.File;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.interfaces.RSAPrivateKey;
import java.security.spec.ECGenParameterSpec;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Certificates made in a test (BouncyCastle), for the TLS tests of the store ({@code reliability/SecurityTest})
 * and of the PD port ({@code pd}'s {@code ClusterTlsTest}, through this module's test-jar): a CA,
 * and leaf certificates for 127.0.0.1 / localhost signed by it, written as PEM (key PKCS#8) into a folder.
 */
public final class TestCerts {
    private TestCerts() {}

    /** A key pair, its certificate and the two PEM files. */
    public record Pem(KeyPair keys, X509Certificate cert, File certFile, File keyFile) {
        public Path certPath() {
            return certFile.toPath();
        }

        public Path keyPath() {
            return keyFile.toPath();
        }
    }

    /**
     * A certificate for {@code cn} with an EC P-256 key, signed by {@code issuer} (null: self-signed), saved as
     * {@code dir/name.crt|key}. EC, because an RSA 2048 key takes seconds to make in a C1-only test JVM (the
     * BigInteger intrinsics are C2's); {@link #issueRsa} where a test needs the RSA path.
     */
    public static Pem issue(Path dir, String cn, Pem issuer, boolean isCa, String name) throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return issue(dir, cn, issuer, isCa, name, g.generateKeyPair());
    }

    /** As {@link #issue}, with an RSA 2048 key (the kind TiUP's certificates have). */
    public static Pem issueRsa(Path dir, String cn, Pem issuer, boolean isCa, String name) throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(2048);
        return issue(dir, cn, issuer, isCa, name, g.generateKeyPair());
    }

    private static Pem issue(Path dir, String cn, Pem issuer, boolean isCa, String name, KeyPair kp) throws Exception {
        X500Name subject = new X500Name("CN=" + cn);
        X500Name issuerName = issuer == null ? subject : new X500Name(issuer.cert().getSubjectX500Principal().getName());
        long now = System.currentTimeMillis();
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuerName, BigInteger.valueOf(now + name.hashCode()),
                new Date(now - 60_000), new Date(now + 86_400_000L), subject, kp.getPublic());
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(isCa));
        if (!isCa) {
            b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                new GeneralName(GeneralName.iPAddress, "127.0.0.1"), new GeneralName(GeneralName.dNSName, "localhost")}));
        }
        PrivateKey signer = issuer == null ? kp.getPrivate() : issuer.keys().getPrivate();
        X509Certificate cert = new JcaX509CertificateConverter().getCertificate(b.build(
                new JcaContentSignerBuilder(signer instanceof RSAPrivateKey ? "SHA256withRSA" : "SHA256withECDSA").build(signer)));
        File certFile = dir.resolve(name + ".crt").toFile();
        File keyFile = dir.resolve(name + ".key").toFile();
        Base64.Encoder pem = Base64.getMimeEncoder(64, "\n".getBytes());
        Files.writeString(certFile.toPath(), "-----BEGIN CERTIFICATE-----\n" + pem.encodeToString(cert.getEncoded()) + "\n-----END CERTIFICATE-----\n");
        Files.writeString(keyFile.toPath(), "-----BEGIN PRIVATE KEY-----\n" + pem.encodeToString(kp.getPrivate().getEncoded())
                + "\n-----END PRIVATE KEY-----\n");
        return new Pem(kp, cert, certFile, keyFile);
    }
}
