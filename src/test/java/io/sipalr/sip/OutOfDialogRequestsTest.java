package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Requests from outside get a proper final response, never silence (docs/registration.md). */
class OutOfDialogRequestsTest {
  private static SipEngine engine;

  @BeforeAll
  static void start() throws Exception {
    engine = new SipEngine(new SipConfig("127.0.0.1", 0, "sip-alr-agent-test",
        Duration.ofSeconds(1), new SipConfig.Backoff(Duration.ofSeconds(1),
        Duration.ofSeconds(1), Duration.ofSeconds(2)), Duration.ofSeconds(30), 2, 1,
        Duration.ZERO));
  }

  @AfterAll
  static void stop() {
    engine.close();
  }

  private static String exchange(String method) throws Exception {
    try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0))) {
      socket.setSoTimeout(5000);
      int localPort = socket.getLocalPort();
      String request = method + " sip:agent@127.0.0.1:" + engine.port + " SIP/2.0\r\n"
          + "Via: SIP/2.0/UDP 127.0.0.1:" + localPort + ";branch=z9hG4bK" + System.nanoTime()
          + "\r\n"
          + "Max-Forwards: 70\r\n"
          + "From: <sip:tester@127.0.0.1>;tag=t1\r\n"
          + "To: <sip:agent@127.0.0.1>\r\n"
          + "Call-ID: " + System.nanoTime() + "@127.0.0.1\r\n"
          + "CSeq: 1 " + method + "\r\n"
          + "Content-Length: 0\r\n\r\n";
      byte[] bytes = request.getBytes(StandardCharsets.US_ASCII);
      socket.send(new DatagramPacket(bytes, bytes.length, InetAddress.getByName("127.0.0.1"),
          engine.port));
      DatagramPacket answer = new DatagramPacket(new byte[4096], 4096);
      socket.receive(answer); // bounded by the socket timeout
      return new String(answer.getData(), 0, answer.getLength(), StandardCharsets.US_ASCII);
    }
  }

  @Test
  void optionsGets200WithAllowAndSupported() throws Exception {
    String response = exchange("OPTIONS");
    assertTrue(response.startsWith("SIP/2.0 200"), response);
    assertTrue(response.contains("Allow: OPTIONS"), response);
    assertTrue(response.contains("Supported: outbound, path")
        || response.contains("Supported: outbound,path"), response);
  }

  @Test
  void inviteGetsTemporarilyUnavailable() throws Exception {
    assertEquals("SIP/2.0 480", exchange("INVITE").substring(0, 11));
  }

  @Test
  void unknownMethodGets405WithAllow() throws Exception {
    String response = exchange("MESSAGE");
    assertTrue(response.startsWith("SIP/2.0 405"), response);
    assertTrue(response.contains("Allow: OPTIONS"), response);
  }
}
