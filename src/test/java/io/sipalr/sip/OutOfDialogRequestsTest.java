package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Requests from outside get a proper final response, never silence, with a To tag
 * (docs/registration.md): 404 for a user that is no profile of ours, MESSAGE delivered once.
 */
class OutOfDialogRequestsTest {
  private static final int MAX_BODY = 64;
  private static SipEngine engine;
  private static final List<IncomingMessage> delivered = new CopyOnWriteArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    engine = new SipEngine(new SipConfig("127.0.0.1", 0, "sip-alr-agent-test",
        Duration.ofSeconds(1), new SipConfig.Backoff(Duration.ofSeconds(1),
        Duration.ofSeconds(1), Duration.ofSeconds(2)), Duration.ofSeconds(30), 2, 1,
        Duration.ZERO, SipConfig.RegisterLimits.DEFAULTS, MAX_BODY));
    engine.inbound(new SipWire.Inbound() {
      @Override
      public boolean knows(String profileId) {
        return profileId.equals("agent");
      }

      @Override
      public void message(IncomingMessage message) {
        delivered.add(message);
      }
    });
  }

  @BeforeEach
  void clear() {
    delivered.clear();
  }

  @AfterAll
  static void stop() {
    engine.close();
  }

  private static String request(String method, String user, String body, int localPort) {
    String target = user == null ? "" : user + "@";
    return method + " sip:" + target + "127.0.0.1:" + engine.port + " SIP/2.0\r\n"
        + "Via: SIP/2.0/UDP 127.0.0.1:" + localPort + ";branch=z9hG4bK" + System.nanoTime()
        + "\r\n"
        + "Max-Forwards: 70\r\n"
        + "From: <sip:tester@127.0.0.1>;tag=t1\r\n"
        + "To: <sip:" + target + "127.0.0.1>\r\n"
        + "Call-ID: " + System.nanoTime() + "@127.0.0.1\r\n"
        + "CSeq: 1 " + method + "\r\n"
        + (method.equals("INVITE")
            ? "Contact: <sip:tester@127.0.0.1:" + localPort + ">\r\n" : "")
        + (body.isEmpty() ? "" : "Content-Type: text/plain\r\n")
        + "Content-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body;
  }

  /** Sends {@code times} copies of one request (retransmissions) and returns each answer. */
  private static List<String> exchange(String method, String user, String body, int times)
      throws Exception {
    try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0))) {
      socket.setSoTimeout(5000);
      byte[] bytes = request(method, user, body, socket.getLocalPort())
          .getBytes(StandardCharsets.UTF_8);
      List<String> answers = new java.util.ArrayList<>();
      for (int i = 0; i < times; i++) {
        socket.send(new DatagramPacket(bytes, bytes.length, InetAddress.getByName("127.0.0.1"),
            engine.port));
        DatagramPacket answer = new DatagramPacket(new byte[4096], 4096);
        socket.receive(answer); // bounded by the socket timeout
        answers.add(new String(answer.getData(), 0, answer.getLength(), StandardCharsets.UTF_8));
      }
      return answers;
    }
  }

  private static String exchange(String method, String user) throws Exception {
    return exchange(method, user, "", 1).get(0);
  }

  private static String toTag(String response) {
    Matcher m = Pattern.compile("(?m)^To: [^\\r\\n]*;tag=([^;\\r\\n]+)").matcher(response);
    return m.find() ? m.group(1) : null;
  }

  @Test
  void optionsGets200WithAllowSupportedAndATag() throws Exception {
    for (String user : new String[] {"agent", null}) { // a probe of the user, a keep-alive
      String response = exchange("OPTIONS", user);
      assertTrue(response.startsWith("SIP/2.0 200"), response);
      assertTrue(response.contains("Allow: OPTIONS"), response);
      assertTrue(response.contains("MESSAGE"), response);
      assertTrue(response.contains("Supported: outbound, path")
          || response.contains("Supported: outbound,path"), response);
      assertTrue(toTag(response) != null, response);
    }
  }

  @Test
  void inviteGetsTemporarilyUnavailableWithATag() throws Exception {
    String response = exchange("INVITE", "agent");
    assertEquals("SIP/2.0 480", response.substring(0, 11));
    assertTrue(toTag(response) != null, response);
  }

  @Test
  void aRequestForNoProfileOfOursGets404() throws Exception {
    for (String method : new String[] {"OPTIONS", "INVITE", "MESSAGE"}) {
      String response = exchange(method, "nobody");
      assertEquals("SIP/2.0 404", response.substring(0, 11), method);
      assertTrue(toTag(response) != null, response);
    }
    assertEquals(List.of(), delivered);
  }

  @Test
  void aMessageIsAnswered200AndDeliveredOnceWhateverTheRetransmissions() throws Exception {
    List<String> answers = exchange("MESSAGE", "agent", "héllo, agent", 3);
    for (String a : answers) {
      assertTrue(a.startsWith("SIP/2.0 200"), a);
    }
    assertEquals(1, answers.stream().map(OutOfDialogRequestsTest::toTag).distinct().count(),
        "one tag: " + answers);
    assertEquals(1, delivered.size(), delivered.toString());
    IncomingMessage m = delivered.get(0);
    assertEquals("agent", m.profileId());
    assertEquals("sip:tester@127.0.0.1", m.from());
    assertEquals("text/plain", m.contentType());
    assertEquals("héllo, agent", m.body());
  }

  @Test
  void aMessageAboveTheBodyLimitGets413AndIsNotDelivered() throws Exception {
    String response = exchange("MESSAGE", "agent", "x".repeat(MAX_BODY + 1), 1).get(0);
    assertEquals("SIP/2.0 413", response.substring(0, 11));
    assertEquals(List.of(), delivered);
  }

  @Test
  void unknownMethodGets405WithAllow() throws Exception {
    String response = exchange("SUBSCRIBE", "agent");
    assertTrue(response.startsWith("SIP/2.0 405"), response);
    assertTrue(response.contains("Allow: OPTIONS"), response);
  }

  /**
   * The calls layer's hook: INVITE goes to the registered handler, which answers it in a server
   * transaction (a retransmission gets the same answer, the handler sees it once); a BYE the
   * handler declines gets the core's 481; without the handler INVITE is 480 again.
   */
  @Test
  void aCallHandlerTakesInviteAndWhatItDeclinesGetsTheCoresAnswer() throws Exception {
    List<String> seen = new CopyOnWriteArrayList<>();
    engine.inboundCalls(new InboundCalls() {
      @Override
      public boolean onRequest(CallRequest request) {
        seen.add(request.request().getMethod() + " " + request.profileId() + " on "
            + request.localAddress());
        if (!request.request().getMethod().equals("INVITE")) {
          return false;
        }
        try {
          javax.sip.message.Response busy = engine.messages.createResponse(486,
              request.request());
          ((javax.sip.header.ToHeader) busy.getHeader("To")).setTag("busy");
          request.respond(busy);
        } catch (Exception e) {
          throw new AssertionError(e);
        }
        return true;
      }

      @Override
      public void onStrayResponse(javax.sip.message.Response response) {
      }
    });
    try {
      List<String> answers = exchange("INVITE", "agent", "", 2);
      for (String a : answers) {
        assertTrue(a.startsWith("SIP/2.0 486 "), a);
        assertTrue(a.contains(";tag=busy"), a);
      }
      assertTrue(exchange("BYE", "agent").startsWith("SIP/2.0 481 "));
      assertEquals(List.of("INVITE agent on 127.0.0.1", "BYE agent on 127.0.0.1"), seen);
    } finally {
      engine.inboundCalls(null);
    }
    assertTrue(exchange("INVITE", "agent").startsWith("SIP/2.0 480 "));
  }
}
