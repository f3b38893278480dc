package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.sipalr.sip.TestPki.Names;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent's trust: a configured trust store, RFC 5922 names, clear reasons, no secrets. */
class SipTrustTest {
  private static final char[] PASSWORD = "trust-pw".toCharArray();
  private static TestPki pki;
  private static SipTrust trust;

  @BeforeAll
  static void setUp(@TempDir Path dir) throws Exception {
    pki = TestPki.newCa("trust test CA");
    trust = new SipTrust(TlsSettings.trusting(
        pki.writeTrustStore(dir.resolve("ca.p12"), PASSWORD), PASSWORD));
  }

  private static X509Certificate[] chain(TestPki.Issued issued) {
    return new X509Certificate[] {issued.certificate(), issued.issuer()};
  }

  private static SipTrust.Refused refused(TestPki.Issued issued, String host) {
    return assertThrows(SipTrust.Refused.class,
        () -> trust.checkServer(chain(issued), "ECDHE_ECDSA", host));
  }

  @Test
  void aCertificateOfTheTrustedCaNamingTheDomainPasses() throws Exception {
    trust.checkServer(chain(pki.server(Names.sans("x", List.of("sip:sipalr.test"), List.of(),
        List.of()))), "ECDHE_ECDSA", "sipalr.test");
  }

  @Test
  void anotherNameIsRefusedNamingHostAndReason() throws Exception {
    SipTrust.Refused e = refused(pki.server(Names.sans("x", List.of(), List.of("other.test"),
        List.of())), "sipalr.test");

    assertEquals(SipTrust.Refused.Reason.NAME_MISMATCH, e.reason);
    assertEquals("sipalr.test", e.host);
    assertTrue(e.getMessage().contains("certificate of sipalr.test refused"), e.getMessage());
    assertTrue(e.getMessage().contains("[other.test]"), e.getMessage());
  }

  @Test
  void anExpiredCertificateIsRefusedAsExpired() throws Exception {
    Instant now = Instant.now();
    SipTrust.Refused e = refused(pki.server(Names.sans("x", List.of("sip:sipalr.test"),
        List.of(), List.of()), now.minus(Duration.ofDays(2)), now.minus(Duration.ofDays(1))),
        "sipalr.test");

    assertEquals(SipTrust.Refused.Reason.EXPIRED, e.reason);
    assertTrue(e.getMessage().contains("expired on"), e.getMessage());
  }

  @Test
  void aCertificateOfAnotherCaIsRefusedAsUntrusted() throws Exception {
    TestPki stranger = TestPki.newCa("stranger CA");
    SipTrust.Refused e = refused(stranger.server(Names.sans("x", List.of("sip:sipalr.test"),
        List.of(), List.of())), "sipalr.test");

    assertEquals(SipTrust.Refused.Reason.UNTRUSTED, e.reason);
    assertTrue(e.getMessage().contains("not issued by a trusted CA"), e.getMessage());
  }

  @Test
  void theRefusalIsFoundUnderTheStacksWrapping() throws Exception {
    SipTrust.Refused e = refused(pki.server(Names.cnOnly("other.test")), "sipalr.test");
    Exception wrapped = new javax.sip.SipException("IO Error sending request",
        new javax.net.ssl.SSLHandshakeException("bad certificate") {
          { initCause(e); }
        });

    String reason = TlsRefusals.reason("alice", wrapped);
    assertTrue(reason.startsWith("TLS NAME_MISMATCH: certificate of sipalr.test refused"),
        reason);
    assertEquals(null, TlsRefusals.reason("alice", new java.io.IOException("refused")));
  }

  @Test
  void settingsReadFromConfigNeverShowTheirPasswords(@TempDir Path dir) throws Exception {
    Path store = dir.resolve("client.p12");
    Files.writeString(store, "");
    SipConfig config = SipConfig.from(ConfigFactory.parseString(
        "sip.tls { trust-store = \"" + store + "\", trust-store-password = hush1,"
            + " key-store = \"" + store + "\", key-store-password = hush2,"
            + " handshake-timeout = 3s }").withFallback(ConfigFactory.defaultReference()));

    assertEquals(store, config.tls().trustStore());
    assertEquals(store, config.tls().keyStore());
    assertEquals("hush2", new String(config.tls().keyStorePassword()));
    assertEquals(Duration.ofSeconds(3), config.tls().handshakeTimeout());
    assertFalse(config.tls().toString().contains("hush"), config.tls().toString());
    assertFalse(config.toString().contains("hush"), config.toString());
    assertEquals(TlsSettings.DEFAULTS.trustStore(),
        SipConfig.from(ConfigFactory.defaultReference()).tls().trustStore());
  }

  @Test
  void aKeyStoreWithoutPasswordIsAConfigError() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new TlsSettings(null, null, Path.of("k.p12"), null, Duration.ofSeconds(1),
            Duration.ofSeconds(1)));
    assertTrue(e.getMessage().contains("sip.tls.key-store-password"));
  }

  @Test
  void anUnreadableTrustStoreNamesItsKey() {
    Exception e = assertThrows(java.io.IOException.class, () -> new SipTrust(
        TlsSettings.trusting(Path.of("/nonexistent/ca.p12"), PASSWORD)));
    assertTrue(e.getMessage().contains("sip.tls.trust-store"), e.getMessage());
  }
}
