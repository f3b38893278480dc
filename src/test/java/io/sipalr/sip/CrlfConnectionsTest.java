package io.sipalr.sip;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The keep-alives of real loopback TCP connections as the stack would use them: the agent's
 * ping goes out on the connection, the far end's pong is told (and never read by the stack),
 * a far end's ping is answered, a flow without a connection is a pong missing at once, and a
 * failed flow's connection is closed.
 */
class CrlfConnectionsTest {
  private static final byte[] MESSAGE =
      "OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nContent-Length: 4\r\n\r\n\r\n\r\n"
          .getBytes(StandardCharsets.US_ASCII);

  private final CrlfConnections connections = new CrlfConnections();
  private final List<String> told = new CopyOnWriteArrayList<>();
  private final ServerSocket registrar;
  private Socket agentSide;
  private Socket registrarSide;

  CrlfConnectionsTest() throws IOException {
    registrar = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
    connections.answers(new SipWire.KeepAliveAnswers() {
      @Override
      public void stunAnswer(StunMessage answer) {
        told.add("stun");
      }

      @Override
      public void pong(String localAddress, String transport, String host, int port) {
        told.add("pong " + localAddress + " " + transport + " " + host + ":" + port);
      }

      @Override
      public void pongMissing(String localAddress, int localPort, String transport,
          String host, int port) {
        told.add("missing " + localAddress + " " + transport + " " + host + ":" + port);
      }
    });
  }

  @AfterEach
  void close() throws IOException {
    connections.close();
    for (java.io.Closeable c : new java.io.Closeable[] {agentSide, registrarSide, registrar}) {
      if (c != null) {
        c.close();
      }
    }
  }

  /** Connects as the stack does: a socket from the layer, its input stream asked for. */
  private InputStream connect() throws IOException {
    agentSide = connections.tcp();
    agentSide.connect(new InetSocketAddress(registrar.getInetAddress(), registrar.getLocalPort()),
        2000);
    registrarSide = registrar.accept();
    registrarSide.setSoTimeout(5000);
    agentSide.setSoTimeout(5000);
    return agentSide.getInputStream();
  }

  private String flow() {
    return "127.0.0.1 TCP 127.0.0.1:" + registrar.getLocalPort();
  }

  private void ping() {
    connections.ping("127.0.0.1", 5060, "TCP", "127.0.0.1", registrar.getLocalPort());
  }

  @Test
  void thePingGoesOutAndThePongIsToldNotRead() throws IOException {
    InputStream in = connect();
    ping();
    byte[] ping = registrarSide.getInputStream().readNBytes(4);
    assertEquals("\r\n\r\n", new String(ping, StandardCharsets.US_ASCII));
    OutputStream back = registrarSide.getOutputStream();
    back.write("\r\n".getBytes(StandardCharsets.US_ASCII));
    back.write(MESSAGE);
    back.flush();
    byte[] read = in.readNBytes(MESSAGE.length);
    assertEquals(new String(MESSAGE, StandardCharsets.US_ASCII),
        new String(read, StandardCharsets.US_ASCII), "the stack reads the message only");
    assertEquals(List.of("pong " + flow()), told);
  }

  @Test
  void aPingFromTheRegistrarIsAnsweredWithAPong() throws IOException {
    InputStream in = connect();
    OutputStream back = registrarSide.getOutputStream();
    back.write("\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    back.write(MESSAGE);
    back.flush();
    in.readNBytes(MESSAGE.length); // the reader meets the ping on the way
    byte[] pong = registrarSide.getInputStream().readNBytes(2);
    assertEquals("\r\n", new String(pong, StandardCharsets.US_ASCII));
    assertEquals(List.of(), told);
  }

  @Test
  void aFlowWithoutAConnectionIsAPongMissingAtOnce() throws IOException {
    ping();
    assertEquals(List.of("missing " + flow()), told);
    connect();
    told.clear();
    connections.ping("127.0.0.2", 5060, "TCP", "127.0.0.1", registrar.getLocalPort());
    connections.ping("127.0.0.1", 5060, "TLS", "127.0.0.1", registrar.getLocalPort());
    assertEquals(2, told.size(), "another local address, another transport: " + told);
  }

  @Test
  void aFailedFlowsConnectionIsClosed() throws IOException {
    connect();
    connections.close("127.0.0.1", "TCP", "127.0.0.1", registrar.getLocalPort());
    assertTrue(agentSide.isClosed());
    assertEquals(-1, registrarSide.getInputStream().read(), "the registrar sees it closed");
    ping();
    await().atMost(Duration.ofSeconds(5)).until(() -> !told.isEmpty());
    assertEquals(List.of("missing " + flow()), told, "no connection any more");
  }
}
