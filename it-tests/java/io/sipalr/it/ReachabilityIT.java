package io.sipalr.it;

import static io.sipalr.it.AgentHarness.REALM_PASSWORD;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.profile.BearerFilter;
import io.sipalr.profile.Transport;
import io.sipalr.sip.IncomingMessage;
import io.sipalr.sip.MigrationOrder;
import io.sipalr.sip.ProfileStatus;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * A registration is only worth something if a request to the user reaches the agent through
 * it: a caller sends MESSAGE and OPTIONS to the AOR at a routing Kamailio (lookup("location"),
 * t_relay()), and the agent answers, before and after a move (issue 9; the NAT topology comes
 * later).
 */
class ReachabilityIT {
  private static final String AGENT = "127.0.0.2";
  /** The caller: another device, at its own loopback address. */
  private static final String CALLER = "127.0.0.9";

  /** Sends {@code method} to the AOR {@code user} through the registrar; the final answer. */
  static String toAor(KamailioRegistrar kamailio, String user, String method, String body)
      throws Exception {
    return SipCaller.toAor(kamailio, CALLER, user, method, body, 5000);
  }

  private static String statusLine(String response) {
    int end = response.indexOf("\r\n");
    return end < 0 ? response : response.substring(0, end);
  }

  @Test
  void aMessageAndAnOptionsToTheAorReachTheAgentThroughTheRegistrar() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().routing().start();
         AgentHarness agent = new AgentHarness(AGENT)) {
      List<IncomingMessage> received = new CopyOnWriteArrayList<>();
      agent.registry.addMessageListener(received::add);
      kamailio.addUser("rick", REALM_PASSWORD);
      agent.registry.create(AgentHarness.profile("rick", "rick", kamailio, REALM_PASSWORD,
          Transport.UDP, 600));
      agent.awaitStatus("rick", ProfileStatus.REGISTERED);

      String options = toAor(kamailio, "rick", "OPTIONS", "");
      assertEquals("SIP/2.0 200 OK", statusLine(options), options);
      assertTrue(options.contains("sip-alr-agent"), "the agent answered: " + options);

      String message = toAor(kamailio, "rick", "MESSAGE", "are you there?");
      assertEquals("SIP/2.0 200 OK", statusLine(message), message);
      await().atMost(Duration.ofSeconds(5)).until(() -> received.size() == 1);
      assertEquals("rick", received.get(0).profileId());
      assertEquals("are you there?", received.get(0).body());

      assertEquals("SIP/2.0 404 Not Found",
          statusLine(toAor(kamailio, "nobody", "MESSAGE", "hello?")));
    }
  }

  @Test
  void theAgentIsReachedThroughTheNewUplinkAfterAMove() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().routing().start();
         AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      List<IncomingMessage> received = new CopyOnWriteArrayList<>();
      agent.registry.addMessageListener(received::add);
      kamailio.addUser("roy", REALM_PASSWORD);
      agent.iaps.up(AlrHarness.WLAN);
      agent.iaps.up(AlrHarness.CELL);
      agent.registry.create(AlrHarness.profile("roy", kamailio, AlrHarness.SNAP_WLAN_CELL,
          BearerFilter.ANY, Transport.UDP));
      agent.awaitRegisteredFrom("roy", AlrHarness.WLAN_ADDRESS);
      assertEquals("SIP/2.0 200 OK", statusLine(toAor(kamailio, "roy", "MESSAGE", "one")));

      agent.iaps.down(AlrHarness.WLAN);
      agent.awaitRegisteredFrom("roy", AlrHarness.CELL_ADDRESS);
      String after = toAor(kamailio, "roy", "MESSAGE", "two");
      assertEquals("SIP/2.0 200 OK", statusLine(after), after);
      await().atMost(Duration.ofSeconds(5)).until(() -> received.size() == 2);
      assertEquals(List.of("one", "two"), received.stream().map(IncomingMessage::body).toList());
      List<KamailioRegistrar.Binding> bindings = kamailio.lookup("roy");
      assertEquals(1, bindings.size(), bindings.toString());
      assertTrue(bindings.get(0).address().contains(AlrHarness.CELL_ADDRESS),
          bindings.toString());
    }
  }
}
