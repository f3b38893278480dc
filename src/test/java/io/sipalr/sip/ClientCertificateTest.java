package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.sipalr.sip.TestPki.Names;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client certificate per profile (sip.tls.client-certificates, named by a profile's
 * tlsClientCertificate), against a TLS server on loopback that needs a client certificate
 * issued by the test CA and records which one each connection showed: each connection shows
 * the certificate it was set up for, one SSLContext per certificate; a missing or untrusted
 * one is a clear CLIENT_CERTIFICATE_REFUSED over TLS 1.3 and 1.2; profiles that would share a
 * connection with different certificates are refused naming both.
 */
class ClientCertificateTest {
  private static final char[] PASSWORD = "client-pw".toCharArray();
  private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
  private static final InetAddress OTHER_LOCAL = address("127.0.0.2");

  @TempDir
  Path dir;
  private TestPki pki;
  private SipTrust trust;
  private TlsNetworkLayer layer;
  private SSLServerSocket server;
  /** The CN each connection showed ("none"), or the server's handshake error. */
  private final LinkedBlockingQueue<String> shown = new LinkedBlockingQueue<>();
  /** What the server read after a handshake. */
  private final LinkedBlockingQueue<String> received = new LinkedBlockingQueue<>();

  private static InetAddress address(String literal) {
    try {
      return InetAddress.getByName(literal);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @BeforeEach
  void setUp() throws Exception {
    pki = TestPki.newCa("client certificate test CA");
    Path trustStore = pki.writeTrustStore(dir.resolve("ca.p12"), PASSWORD);
    TlsSettings settings = TlsSettings.trusting(trustStore, PASSWORD)
        .withClientCertificate("alice-device", keyStore(pki, "alice-device"), PASSWORD)
        .withClientCertificate("bob-device", keyStore(pki, "bob-device"), PASSWORD)
        .withClientCertificate("mallory", keyStore(TestPki.newCa("not the server's CA"),
            "mallory"), PASSWORD);
    trust = new SipTrust(settings);
    layer = TlsNetworkLayer.forStack(new TlsNetworkLayer.Setup(trust, settings),
        TlsNetworkLayer::new);
  }

  private Path keyStore(TestPki ca, String cn) throws Exception {
    Path file = dir.resolve(cn + ".p12");
    ca.server(Names.cnOnly(cn)).writeKeyStore(file, PASSWORD);
    return file;
  }

  /** The server: its certificate names sipalr.test; it needs a client certificate of the CA. */
  private int serve(String protocol) throws Exception {
    Path keys = dir.resolve("server.p12");
    pki.server(Names.sans("x", List.of("sip:sipalr.test"), List.of(), List.of()))
        .writeKeyStore(keys, PASSWORD);
    KeyStore store = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(keys)) {
      store.load(in, PASSWORD);
    }
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(
        KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(store, PASSWORD);
    KeyStore cas = KeyStore.getInstance("PKCS12");
    cas.load(null, null);
    cas.setCertificateEntry("ca", pki.caCertificate());
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(
        TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(cas);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    server = (SSLServerSocket) context.getServerSocketFactory().createServerSocket(0, 5,
        LOOPBACK);
    server.setNeedClientAuth(true);
    server.setEnabledProtocols(new String[] {protocol});
    Thread acceptor = new Thread(this::accept, "client-cert-test-server");
    acceptor.setDaemon(true);
    acceptor.start();
    return server.getLocalPort();
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        SSLSocket s = (SSLSocket) server.accept();
        Thread reader = new Thread(() -> {
          try (s) {
            s.startHandshake();
            X509Certificate peer = (X509Certificate) s.getSession().getPeerCertificates()[0];
            shown.add(peer.getSubjectX500Principal().getName().replace("CN=", ""));
            byte[] line = s.getInputStream().readNBytes(5);
            if (line.length == 0) {
              return; // closed unused (a connection replaced)
            }
            received.add(new String(line, StandardCharsets.US_ASCII));
            s.getOutputStream().write("OK".getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            s.getInputStream().read(); // until the client closes
          } catch (IOException e) {
            shown.add("refused: " + e.getMessage());
          }
        });
        reader.setDaemon(true);
        reader.start();
      } catch (IOException closed) {
        return;
      }
    }
  }

  @AfterEach
  void tearDown() throws IOException {
    if (server != null) {
      server.close();
    }
  }

  /** Writes HELLO over the stack's socket from {@code from}, reads the server's OK. */
  private void helloOver(int port, InetAddress from) throws IOException, InterruptedException {
    SSLSocket socket = layer.createSSLSocket(LOOPBACK, port, from);
    socket.startHandshake(); // as the stack does: only tells its listeners
    socket.getOutputStream().write("HELLO".getBytes(StandardCharsets.US_ASCII));
    socket.getOutputStream().flush();
    assertEquals("HELLO", received.poll(10, TimeUnit.SECONDS));
    assertEquals("OK", new String(socket.getInputStream().readNBytes(2),
        StandardCharsets.US_ASCII));
  }

  @Test
  void eachConnectionShowsTheCertificateItWasSetUpForOneContextPerCertificate()
      throws Exception {
    int port = serve("TLSv1.3");

    layer.connectAhead(LOOPBACK, port, LOOPBACK, true, "sipalr.test", "alice-device");
    assertEquals("alice-device", shown.poll(10, TimeUnit.SECONDS));
    assertTrue(layer.connected(LOOPBACK, port, LOOPBACK, "alice-device"));
    assertFalse(layer.connected(LOOPBACK, port, LOOPBACK, "bob-device"),
        "a connection showing another certificate is not this one");
    helloOver(port, LOOPBACK); // the verdict awaited after the handshake lost no byte

    layer.connectAhead(LOOPBACK, port, OTHER_LOCAL, true, "sipalr.test", "bob-device");
    assertEquals("bob-device", shown.poll(10, TimeUnit.SECONDS));
    helloOver(port, OTHER_LOCAL);

    // One context per certificate, shared by its connections (and its session cache).
    assertSame(trust.context("alice-device"), trust.context("alice-device"));
    assertFalse(trust.context("alice-device") == trust.context("bob-device"));
    assertSame(trust.context(), trust.context(null));
    assertEquals(Set.of("alice-device", "bob-device", "mallory"), trust.clientCertificates());
  }

  @Test
  void aConnectionShowingAnotherCertificateFromTheSameAddressIsClosedForTheNewOne()
      throws Exception {
    int port = serve("TLSv1.3");
    layer.connectAhead(LOOPBACK, port, LOOPBACK, true, "sipalr.test", "alice-device");
    SSLSocket alice = layer.createSSLSocket(LOOPBACK, port, LOOPBACK);
    assertEquals("alice-device", shown.poll(10, TimeUnit.SECONDS));

    layer.connectAhead(LOOPBACK, port, LOOPBACK, true, "sipalr.test", "bob-device");
    assertEquals("bob-device", shown.poll(10, TimeUnit.SECONDS));
    assertTrue(alice.isClosed(), "the stack drops it at its next write and takes bob's");
    assertTrue(layer.connected(LOOPBACK, port, LOOPBACK, "bob-device"));
    helloOver(port, LOOPBACK);
  }

  @Test
  void noCertificateForARegistrarThatNeedsOneIsRefusedClearlyOverTls13() throws Exception {
    noCertificateIsRefusedClearly("TLSv1.3");
  }

  @Test
  void noCertificateForARegistrarThatNeedsOneIsRefusedClearlyOverTls12() throws Exception {
    noCertificateIsRefusedClearly("TLSv1.2");
  }

  private void noCertificateIsRefusedClearly(String protocol) throws Exception {
    int port = serve(protocol);
    Exception e = assertThrows(IOException.class, () -> layer.connectAhead(LOOPBACK, port,
        LOOPBACK, true, "sipalr.test", ClientCertificateClaims.DEFAULT));
    SipTrust.Refused refused = SipTrust.refusal(e);
    assertNotNull(refused, e.toString());
    assertEquals(SipTrust.Refused.Reason.CLIENT_CERTIFICATE_REFUSED, refused.reason);
    assertEquals("sipalr.test", refused.host);
    assertTrue(refused.getMessage().startsWith("sipalr.test asked for a client certificate"
        + " and the agent showed none"), refused.getMessage());
    assertTrue(refused.getMessage().contains("tlsClientCertificate"), refused.getMessage());
    assertTrue(shown.poll(10, TimeUnit.SECONDS).startsWith("refused"));
    assertFalse(layer.connected(LOOPBACK, port, LOOPBACK));
  }

  @Test
  void aCertificateTheRegistrarDoesNotTrustIsRefusedNamingIt() throws Exception {
    int port = serve("TLSv1.3");
    Exception e = assertThrows(IOException.class, () -> layer.connectAhead(LOOPBACK, port,
        LOOPBACK, true, "sipalr.test", "mallory"));
    SipTrust.Refused refused = SipTrust.refusal(e);
    assertNotNull(refused, e.toString());
    assertEquals(SipTrust.Refused.Reason.CLIENT_CERTIFICATE_REFUSED, refused.reason);
    // The server names the CAs it accepts: the key manager has none of theirs to show.
    assertTrue(refused.getMessage().startsWith("sipalr.test asked for a client certificate,"
        + " and \"mallory\" is not issued by a CA it accepts (none shown): "),
        refused.getMessage());
    assertFalse(layer.connected(LOOPBACK, port, LOOPBACK, "mallory"));
  }

  @Test
  void profilesOnOneConnectionMustShowOneCertificate() {
    ClientCertificateClaims claims = new ClientCertificateClaims(
        Set.of("alice-device", "bob-device"), false);
    InetSocketAddress registrar = new InetSocketAddress(LOOPBACK, 5061);

    assertNull(claims.claim("alice", "alice-device", registrar, LOOPBACK, "sipalr.test"));
    assertNull(claims.claim("alice2", "alice-device", registrar, LOOPBACK, "sipalr.test"));
    SipTrust.Refused bob = claims.claim("bob", "bob-device", registrar, LOOPBACK,
        "sipalr.test");
    assertNotNull(bob);
    assertEquals(SipTrust.Refused.Reason.CLIENT_CERTIFICATE_CONFLICT, bob.reason);
    assertTrue(bob.getMessage().startsWith("profile bob shows client certificate"
        + " \"bob-device\" but profile alice"), bob.getMessage());
    assertTrue(bob.getMessage().contains("shows \"alice-device\" to registrar sipalr.test"
        + " (127.0.0.1:5061) from 127.0.0.1"), bob.getMessage());
    SipTrust.Refused none = claims.claim("carol", ClientCertificateClaims.DEFAULT, registrar,
        LOOPBACK, "sipalr.test");
    assertTrue(none.getMessage().contains("shows client certificate none but"),
        none.getMessage());

    // Another uplink, another connection: no conflict.
    assertNull(claims.claim("bob", "bob-device", registrar, OTHER_LOCAL, "sipalr.test"));
    // Once the profiles showing alice-device are gone (or moved), bob may come.
    claims.release("alice");
    assertTrue(claims.claim("bob", "bob-device", registrar, LOOPBACK, "sipalr.test")
        .getMessage().contains("but profile alice2 shows"));
    assertNull(claims.claim("alice2", "alice-device", registrar, OTHER_LOCAL, "sipalr.test")
        == null ? "alice2 moved onto bob's uplink with another certificate" : null);
    claims.release("alice2");
    assertNull(claims.claim("bob", "bob-device", registrar, LOOPBACK, "sipalr.test"));
  }

  @Test
  void aNameNotConfiguredIsRefusedNamingTheOnesThereAre() {
    ClientCertificateClaims claims = new ClientCertificateClaims(Set.of("alice-device"), true);
    SipTrust.Refused e = claims.claim("alice", "nobody", new InetSocketAddress(LOOPBACK, 5061),
        LOOPBACK, "sipalr.test");
    assertEquals(SipTrust.Refused.Reason.CLIENT_CERTIFICATE_UNKNOWN, e.reason);
    assertTrue(e.getMessage().contains("\"nobody\", which sip.tls.client-certificates does not"
        + " define (it has [alice-device])"), e.getMessage());
  }

  @Test
  void anUnreadableKeyStoreNamesItsKeyAndFileNeverThePassword() throws Exception {
    Path trustStore = dir.resolve("ca.p12");
    Exception missing = assertThrows(IOException.class, () -> new SipTrust(
        TlsSettings.trusting(trustStore, PASSWORD).withClientCertificate("dev",
            Path.of("/nonexistent/dev.p12"), "s3cret-pw".toCharArray())));
    assertTrue(missing.getMessage().startsWith("sip.tls.client-certificates.dev.key-store: "
        + "/nonexistent/dev.p12 is not a readable file"), missing.getMessage());

    Path dev = keyStore(pki, "dev");
    Exception wrong = assertThrows(IOException.class, () -> new SipTrust(
        TlsSettings.trusting(trustStore, PASSWORD).withClientCertificate("dev", dev,
            "s3cret-pw".toCharArray())));
    assertTrue(wrong.getMessage().startsWith("sip.tls.client-certificates.dev.key-store: "
        + "cannot read " + dev), wrong.getMessage());
    assertFalse(wrong.getMessage().contains("s3cret"), wrong.getMessage());

    Exception noKey = assertThrows(java.security.GeneralSecurityException.class,
        () -> new SipTrust(TlsSettings.trusting(trustStore, PASSWORD).withClientCertificate(
            "dev", trustStore, PASSWORD)));
    assertEquals("sip.tls.client-certificates.dev.key-store: " + trustStore
        + " holds no private key", noKey.getMessage());
  }

  @Test
  void theConfigNamesClientCertificatesAndHidesTheirPasswords() {
    SipConfig config = SipConfig.from(ConfigFactory.parseString(
        "sip.tls.client-certificates { alice-device { key-store = \"/k/alice.p12\","
            + " key-store-password = hush3 } }").withFallback(ConfigFactory.defaultReference()));
    TlsSettings.ClientCertificate alice = config.tls().clientCertificates().get("alice-device");
    assertEquals(Path.of("/k/alice.p12"), alice.keyStore());
    assertEquals("hush3", new String(alice.password()));
    assertFalse(config.tls().toString().contains("hush"), config.tls().toString());
    assertTrue(config.tls().toString().contains("clientCertificates=[alice-device]"));
    assertEquals(Set.of(), SipConfig.from(ConfigFactory.defaultReference()).tls()
        .clientCertificates().keySet());

    RuntimeException e = assertThrows(RuntimeException.class,
        () -> SipConfig.from(ConfigFactory.parseString(
            "sip.tls.client-certificates { dev { key-store = \"/k/dev.p12\" } }")
            .withFallback(ConfigFactory.defaultReference())));
    assertTrue(e.getMessage().contains(
        "sip.tls.client-certificates.dev.key-store-password: must be set"), e.getMessage());
  }
}
