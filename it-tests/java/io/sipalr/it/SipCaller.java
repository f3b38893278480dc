package io.sipalr.it;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;

/**
 * The other party of the reachability tests: a caller on the registrar's side that sends a
 * request to a user's AOR through the (routing) Kamailio over a raw UDP socket, as any phone
 * would, and reads the final answer. Shared by ReachabilityIT, NatReachabilityIT and
 * NatHandoverBench.
 */
final class SipCaller {
  private SipCaller() {}

  /**
   * {@code method} to {@code sip:user@realm}, from {@code caller@realm} at
   * {@code fromAddress:localPort}; {@code tag} makes Call-ID, From tag and branch unique.
   */
  static String request(String method, KamailioRegistrar kamailio, String user,
      String fromAddress, int localPort, String tag, String body) {
    String uri = "sip:" + user + "@" + kamailio.realm();
    return method + " " + uri + " SIP/2.0\r\n"
        + "Via: SIP/2.0/UDP " + fromAddress + ":" + localPort + ";rport;branch=z9hG4bK" + tag
        + "\r\n"
        + "Max-Forwards: 70\r\n"
        + "From: <sip:caller@" + kamailio.realm() + ">;tag=c" + tag + "\r\n"
        + "To: <" + uri + ">\r\n"
        + "Call-ID: " + tag + "@" + fromAddress + "\r\n"
        + "CSeq: 1 " + method + "\r\n"
        + (body.isEmpty() ? "" : "Content-Type: text/plain\r\n")
        + "Content-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n"
        + body;
  }

  /**
   * Sends {@code method} to the AOR through the registrar from a new socket on
   * {@code fromAddress}; returns the final answer, or what happened instead (no answer within
   * {@code timeoutMillis}, only provisional ones).
   */
  static String toAor(KamailioRegistrar kamailio, String fromAddress, String user, String method,
      String body, int timeoutMillis) throws IOException {
    try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(fromAddress, 0))) {
      socket.setSoTimeout(timeoutMillis);
      byte[] bytes = request(method, kamailio, user, fromAddress, socket.getLocalPort(),
          Long.toString(System.nanoTime()), body).getBytes(StandardCharsets.UTF_8);
      socket.send(new DatagramPacket(bytes, bytes.length, InetAddress.getByName(kamailio.host()),
          kamailio.port()));
      for (int i = 0; i < 5; i++) { // bounded: skips provisional answers
        DatagramPacket answer = new DatagramPacket(new byte[8192], 8192);
        try {
          socket.receive(answer);
        } catch (SocketTimeoutException e) {
          return "no answer within " + timeoutMillis + " ms";
        }
        String text = new String(answer.getData(), 0, answer.getLength(), StandardCharsets.UTF_8);
        if (!text.startsWith("SIP/2.0 1")) {
          return text;
        }
      }
      return "only provisional answers";
    }
  }

  /**
   * Asserts that an OPTIONS to {@code user}'s AOR through {@code kamailio} is answered 200 by
   * the agent itself (its User-Agent), not by the registrar: the binding reaches the agent.
   * Up to {@code tries} tries of {@code timeoutMillis} each, for a path that may lose one.
   */
  static void assertReachesAgent(KamailioRegistrar kamailio, String user, String when,
      int tries, int timeoutMillis, Supplier<String> diagnostics) {
    String answer = "";
    for (int i = 0; i < tries && !answeredByAgent(answer); i++) {
      try {
        answer = toAor(kamailio, kamailio.host(), user, "OPTIONS", "", timeoutMillis);
      } catch (IOException e) {
        answer = e.toString();
      }
    }
    if (!answeredByAgent(answer)) {
      throw new AssertionError(user + " " + when + ": an OPTIONS to the AOR did not reach the"
          + " agent: " + answer + diagnostics.get());
    }
  }

  /** Reachable through a lossless path: three tries of 3 s. */
  static void assertReachesAgent(KamailioRegistrar kamailio, String user, String when,
      Supplier<String> diagnostics) {
    assertReachesAgent(kamailio, user, when, 3, 3000, diagnostics);
  }

  static boolean answeredByAgent(String answer) {
    return answer.startsWith("SIP/2.0 200") && answer.contains("sip-alr-agent");
  }
}
