package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.sip.TestPki.Names;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.HandshakeCompletedEvent;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Connections set up ahead (TlsNetworkLayer#connectAhead, on the connector pool) and handed to
 * the stack, against a TLS server on loopback: the stack never connects or shakes hands on its
 * sending thread, and the handshake it starts on a ready socket only tells its listener.
 */
class TlsNetworkLayerTest {
  private static final char[] PASSWORD = "layer-pw".toCharArray();
  private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

  private TlsNetworkLayer layer;
  private ServerSocket server;
  /** What the server read, one line per connection. */
  private final LinkedBlockingQueue<String> received = new LinkedBlockingQueue<>();
  private Thread acceptor;

  @BeforeEach
  void setUp(@TempDir Path dir) throws Exception {
    TestPki pki = TestPki.newCa("layer test CA");
    TlsSettings settings = TlsSettings.trusting(pki.writeTrustStore(dir.resolve("ca.p12"),
        PASSWORD), PASSWORD);
    layer = TlsNetworkLayer.forStack(new TlsNetworkLayer.Setup(new SipTrust(settings),
        settings), TlsNetworkLayer::new);
    Path keys = dir.resolve("server.p12");
    pki.server(Names.sans("x", List.of("sip:sipalr.test"), List.of(), List.of()))
        .writeKeyStore(keys, PASSWORD);
    KeyStore store = KeyStore.getInstance("PKCS12");
    try (InputStream in = java.nio.file.Files.newInputStream(keys)) {
      store.load(in, PASSWORD);
    }
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(store, PASSWORD);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(kmf.getKeyManagers(), null, null);
    server = context.getServerSocketFactory().createServerSocket(0, 5, LOOPBACK);
    acceptor = new Thread(this::serve, "tls-test-server");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  @AfterEach
  void tearDown() throws IOException {
    server.close();
  }

  private void serve() {
    while (!server.isClosed()) {
      try {
        Socket s = server.accept();
        Thread reader = new Thread(() -> {
          try (s) {
            byte[] line = s.getInputStream().readNBytes(5);
            received.add(new String(line, StandardCharsets.US_ASCII));
            s.getOutputStream().write("OK".getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            s.getInputStream().read(); // until the client closes
          } catch (IOException e) {
            received.add("error: " + e.getMessage());
          }
        });
        reader.setDaemon(true);
        reader.start();
      } catch (IOException closed) {
        return;
      }
    }
  }

  @Test
  void aConnectionSetUpAheadIsHandedToTheStackWithItsHandshakeDone() throws Exception {
    int port = server.getLocalPort();
    assertFalse(layer.connected(LOOPBACK, port, LOOPBACK));

    layer.connectAhead(LOOPBACK, port, LOOPBACK, true, "sipalr.test");
    assertTrue(layer.connected(LOOPBACK, port, LOOPBACK));
    assertEquals(1, layer.connections());

    // What IOHandler.sendBytes does with it: a listener, the handshake, the write.
    SSLSocket socket = layer.createSSLSocket(LOOPBACK, port, LOOPBACK);
    List<HandshakeCompletedEvent> heard = new CopyOnWriteArrayList<>();
    socket.addHandshakeCompletedListener(heard::add);
    socket.startHandshake();
    assertEquals(1, heard.size(), "the stack's watchdog is told at once");
    assertNotNull(heard.get(0).getSession().getPeerCertificates());
    socket.getOutputStream().write("HELLO".getBytes(StandardCharsets.US_ASCII));
    socket.getOutputStream().flush();
    assertEquals("HELLO", received.poll(10, TimeUnit.SECONDS), "one TLS stream, not renegotiated");
    assertEquals(1, layer.connections(), "no second connection");
    assertTrue(layer.connected(LOOPBACK, port, LOOPBACK), "the stack's, open");
    socket.close();
    assertFalse(layer.connected(LOOPBACK, port, LOOPBACK));
  }

  /**
   * JAIN-SIP's one socket table, keyed by the remote only, loses the new uplink's connection
   * when the old uplink's channel closes after a move: the stack then asks for a connection
   * from the same address again, and gets back the one it has, still open, rather than a
   * refusal (the answer to a request that came over it would be lost); once that one is
   * closed, it is refused as before.
   */
  @Test
  void theStackGetsBackItsOpenConnectionFromTheSameAddressWhenItLostTrackOfIt()
      throws Exception {
    int port = server.getLocalPort();
    layer.connectAhead(LOOPBACK, port, LOOPBACK, true, "sipalr.test");
    SSLSocket socket = layer.createSSLSocket(LOOPBACK, port, LOOPBACK);

    assertSame(socket, layer.createSSLSocket(LOOPBACK, port, LOOPBACK));
    assertEquals(1, layer.connections(), "no second connection");

    socket.close();
    IOException e = assertThrows(IOException.class,
        () -> layer.createSSLSocket(LOOPBACK, port, LOOPBACK));
    assertTrue(e.getMessage().contains("set up ahead"), e.getMessage());
  }

  @Test
  void theStackIsRefusedRatherThanConnectingOnItsSendingThread() {
    IOException e = assertThrows(IOException.class,
        () -> layer.createSSLSocket(LOOPBACK, server.getLocalPort(), LOOPBACK));
    assertTrue(e.getMessage().contains("set up ahead"), e.getMessage());
    assertThrows(IOException.class,
        () -> layer.createSocket(LOOPBACK, server.getLocalPort(), LOOPBACK));
    assertEquals(0, layer.connections());
  }

  @Test
  void aRefusedCertificateFailsTheConnectAheadNamingTheDomain() {
    Exception e = assertThrows(Exception.class, () -> layer.connectAhead(LOOPBACK,
        server.getLocalPort(), LOOPBACK, true, "other.test"));
    SipTrust.Refused refused = SipTrust.refusal(e);
    assertNotNull(refused, e.toString());
    assertEquals(SipTrust.Refused.Reason.NAME_MISMATCH, refused.reason);
    assertEquals("other.test", refused.host);
    assertFalse(layer.connected(LOOPBACK, server.getLocalPort(), LOOPBACK));
  }

  @Test
  void aSecondConnectionResumesTheSessionOfTheFirstUnlessResumptionIsOff() throws Exception {
    int port = server.getLocalPort();
    for (int i = 0; i < 2; i++) {
      layer.connectAhead(LOOPBACK, port, LOOPBACK, true, "sipalr.test");
      SSLSocket socket = layer.createSSLSocket(LOOPBACK, port, LOOPBACK);
      socket.getOutputStream().write("HELLO".getBytes(StandardCharsets.US_ASCII));
      socket.getOutputStream().flush();
      assertEquals("HELLO", received.poll(10, TimeUnit.SECONDS));
      // The answer comes after the server's session ticket (TLS 1.3): reading it stores it.
      assertEquals("OK", new String(socket.getInputStream().readNBytes(2),
          StandardCharsets.US_ASCII));
      socket.close();
    }
    assertEquals(2, layer.connections());
    assertEquals(1, layer.resumedSessions(), "the second resumed the first's session");
  }
}
