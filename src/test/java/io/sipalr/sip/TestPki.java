package io.sipalr.sip;

import java.io.IOException;
import java.io.OutputStream;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A throw-away PKI for tests: a CA and certificates it signs, generated at test time (nothing
 * of value is ever committed). Server certificates name what a test asks for: subjectAltName
 * URIs (sip:domain), DNS names, IP addresses, or a CN only.
 */
public final class TestPki {
  private static final AtomicLong SERIAL = new AtomicLong(System.currentTimeMillis());

  /** A certificate and its key. */
  public record Issued(X509Certificate certificate, KeyPair keys, X509Certificate issuer) {
    /** certificate then issuer, PEM, as Kamailio's tls module reads a certificate file. */
    public void writeChainPem(Path file) throws IOException {
      StringWriter text = new StringWriter();
      try (JcaPEMWriter pem = new JcaPEMWriter(text)) {
        pem.writeObject(certificate);
        if (issuer != null && issuer != certificate) {
          pem.writeObject(issuer);
        }
      }
      Files.writeString(file, text.toString());
    }

    /** The key as PKCS#8 PEM ("PRIVATE KEY"), which OpenSSL 3 reads for every key type. */
    public void writeKeyPem(Path file) throws IOException {
      String base64 = java.util.Base64.getMimeEncoder(64, "\n".getBytes())
          .encodeToString(keys.getPrivate().getEncoded());
      Files.writeString(file, "-----BEGIN PRIVATE KEY-----\n" + base64
          + "\n-----END PRIVATE KEY-----\n");
    }

    /** A PKCS#12 key store holding this certificate (with its issuer) and key. */
    public void writeKeyStore(Path file, char[] password) throws IOException,
        GeneralSecurityException {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      store.setKeyEntry("client", keys.getPrivate(), password,
          issuer == null ? new X509Certificate[] {certificate}
              : new X509Certificate[] {certificate, issuer});
      try (OutputStream out = Files.newOutputStream(file)) {
        store.store(out, password);
      }
    }
  }

  private final Issued ca;

  private TestPki(Issued ca) {
    this.ca = ca;
  }

  /** A new CA named {@code name}, valid from an hour ago for a day. */
  public static TestPki newCa(String name) throws Exception {
    KeyPair keys = keyPair();
    X500Name subject = new X500Name("CN=" + name);
    Instant now = Instant.now();
    X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject,
        BigInteger.valueOf(SERIAL.incrementAndGet()), Date.from(now.minus(Duration.ofHours(1))),
        Date.from(now.plus(Duration.ofDays(1))), subject, keys.getPublic());
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
    b.addExtension(Extension.keyUsage, true,
        new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
    X509Certificate cert = sign(b, keys);
    return new TestPki(new Issued(cert, keys, null));
  }

  public X509Certificate caCertificate() {
    return ca.certificate();
  }

  /** This CA's certificate, PEM (a TLS server's list of CAs for client certificates). */
  public Path writeCaPem(Path file) throws IOException {
    StringWriter text = new StringWriter();
    try (JcaPEMWriter pem = new JcaPEMWriter(text)) {
      pem.writeObject(ca.certificate());
    }
    Files.writeString(file, text.toString());
    return file;
  }

  /** A client certificate named {@code cn}, valid from an hour ago for a day. */
  public Issued client(String cn) throws Exception {
    return server(Names.cnOnly(cn));
  }

  /** A PKCS#12 trust store holding only this CA. */
  public Path writeTrustStore(Path file, char[] password) throws Exception {
    KeyStore store = KeyStore.getInstance("PKCS12");
    store.load(null, null);
    store.setCertificateEntry("test-ca", ca.certificate());
    try (OutputStream out = Files.newOutputStream(file)) {
      store.store(out, password);
    }
    return file;
  }

  /** What a server certificate names. */
  public record Names(String cn, List<String> sipUris, List<String> dnsNames,
      List<String> ipAddresses) {
    public static Names cnOnly(String cn) {
      return new Names(cn, List.of(), List.of(), List.of());
    }

    public static Names sans(String cn, List<String> sipUris, List<String> dnsNames,
        List<String> ipAddresses) {
      return new Names(cn, sipUris, dnsNames, ipAddresses);
    }
  }

  /** A server certificate valid from an hour ago for a day. */
  public Issued server(Names names) throws Exception {
    Instant now = Instant.now();
    return server(names, now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(1)));
  }

  /** A server certificate valid from {@code notBefore} to {@code notAfter}. */
  public Issued server(Names names, Instant notBefore, Instant notAfter) throws Exception {
    KeyPair keys = keyPair();
    X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(
        X500Name.getInstance(ca.certificate().getSubjectX500Principal().getEncoded()),
        BigInteger.valueOf(SERIAL.incrementAndGet()), Date.from(notBefore), Date.from(notAfter),
        new X500Name("CN=" + names.cn()), keys.getPublic());
    List<GeneralName> sans = new ArrayList<>();
    names.sipUris().forEach(u -> sans.add(new GeneralName(GeneralName.uniformResourceIdentifier,
        u)));
    names.dnsNames().forEach(d -> sans.add(new GeneralName(GeneralName.dNSName, d)));
    names.ipAddresses().forEach(ip -> sans.add(new GeneralName(GeneralName.iPAddress, ip)));
    if (!sans.isEmpty()) {
      b.addExtension(Extension.subjectAlternativeName, false,
          new GeneralNames(sans.toArray(GeneralName[]::new)));
    }
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
    b.addExtension(Extension.keyUsage, true,
        new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
    return new Issued(sign(b, ca.keys()), keys, ca.certificate());
  }

  private static KeyPair keyPair() throws GeneralSecurityException {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(256);
    return g.generateKeyPair();
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, KeyPair signer)
      throws Exception {
    ContentSigner s = new JcaContentSignerBuilder("SHA256withECDSA").build(signer.getPrivate());
    return new JcaX509CertificateConverter().getCertificate(b.build(s));
  }
}
