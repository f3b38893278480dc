package io.sipalr.it;

import static io.sipalr.it.NetnsTopology.CELL_ADDRESS;
import static io.sipalr.it.NetnsTopology.CELL_PUBLIC;
import static io.sipalr.it.NetnsTopology.NAT_UDP_TIMEOUT_SECONDS;
import static io.sipalr.it.NetnsTopology.REGISTRAR_ADDRESS;
import static io.sipalr.it.NetnsTopology.WLAN_ADDRESS;
import static io.sipalr.it.NetnsTopology.WLAN_NAT;
import static io.sipalr.it.NetnsTopology.WLAN_PUBLIC;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.it.KamailioRegistrar.Binding;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reachable behind a real NAT (issue 9, items 6 and 7): the agent as users run it, in the
 * namespace of {@link NetnsTopology#createWithNat()}, where each uplink leaves through its own
 * masquerading NAT namespace (wlan0: ports preserved; cell0: {@code masquerade random}; both
 * forget an idle UDP mapping after {@value NetnsTopology#NAT_UDP_TIMEOUT_SECONDS} s). Kamailio
 * routes requests for its registered users ({@code routing()}: {@code lookup("location")},
 * {@code t_relay()}) and has no nathelper; its usrloc keeps each binding's source address
 * (received) and relays there, so a request reaches the agent only through a NAT mapping that
 * is still alive (the agent's keep-alives' job). The tests also assert the Contact the agent
 * registers: the NAT's public address without outbound (contact rewrite from the 200's Via
 * received/rport), which a registrar that routes by Contact alone needs.
 *
 * <p>Every test asserts both Kamailio's location table (exactly one binding, from the NAT's
 * public address, never the uplink's private one) and that a MESSAGE sent to the AOR through
 * Kamailio by a caller (a raw UDP socket on the registrar's address) is answered 200 by the
 * agent itself: the answer carries the agent's User-Agent, which Kamailio's own answers (404,
 * 408) do not. Where a NAT's address is first learnt ((1), and (2) after the move), the agent's
 * own status ({@code Main status}) shows it as {@code publicAddress}, and the MESSAGE is
 * delivered: {@code MESSAGE_RECEIVED} with its body on the agent's {@code /v1/events}.
 *
 * <p>Needs root, iproute2, nftables and Docker; skips without them, except with
 * {@code CI=true}, where it fails. Each agent's log (io.sipalr at DEBUG with the SIP trace) is
 * copied to {@code target/NatReachabilityIT-<test>-agent.log}.
 */
class NatReachabilityIT {
  private static final String USER = "natted";
  private static final String PASSWORD = "natted-secret";
  /** The child JVM starts, finds its uplinks, registers and rewrites its Contact once. */
  private static final Duration FIRST_REGISTRATION = Duration.ofSeconds(60);
  private static final Duration HANDOVER = Duration.ofSeconds(30);
  private static final Duration POLL = Duration.ofMillis(100);
  /** The agent's keep-alive interval without outbound (its default, sip.nat). */
  private static final Duration NAT_KEEPALIVE = Duration.ofSeconds(15);
  /** Idle for more than twice the NAT's UDP timeout: a mapping left alone would be gone. */
  private static final Duration IDLE = Duration.ofSeconds(NAT_UDP_TIMEOUT_SECONDS * 2L + 5);
  /** The caller waits this long for a final answer. */
  private static final int ANSWER_TIMEOUT_MS = 5000;

  // ---- (1) through the wlan NAT, without outbound -----------------------------------------

  /**
   * Registered through the wlan NAT at a registrar without outbound: the agent learns its
   * public address from the 200's Via and registers it, so Kamailio's only binding has the NAT's
   * public address as its contact (not wlan0's 198.19.10.2), and a MESSAGE to the AOR reaches the
   * agent through the NAT.
   */
  @Test
  void throughTheWlanNatWithoutOutboundTheOneBindingIsThePublicAddressAndAMessageReachesTheAgent(
      @TempDir Path dir, TestInfo test) throws Exception {
    behindTheNats(dir, test, KamailioRegistrar.builder().noOutbound(), false,
        kamailio -> startAgent(dir, kamailio),
        (net, kamailio, agent, checks) -> {
          Binding binding = checks.awaitOneBindingAt(WLAN_PUBLIC, FIRST_REGISTRATION,
              "first registration through the wlan NAT");
          assertFalse(binding.address().contains(WLAN_ADDRESS), binding.toString());
          checks.assertAgentShowsPublicAddress(binding);
          checks.assertMessageDelivered("through the wlan NAT");
        });
  }

  // ---- (2) wlan0 down: through the cell NAT -----------------------------------------------

  /**
   * Then wlan0 goes down: the agent registers through cell0, whose NAT randomises ports; the
   * one binding is the cell NAT's public address and port, and a MESSAGE reaches the agent
   * through that NAT. Then wlan0 comes back: the one binding is the wlan NAT's again, and a
   * MESSAGE reaches the agent through it.
   */
  @Test
  void wlan0DownTheOneBindingIsTheCellNatsPublicAddressAndAMessageReachesTheAgent(
      @TempDir Path dir, TestInfo test) throws Exception {
    behindTheNats(dir, test, KamailioRegistrar.builder().noOutbound(), false,
        kamailio -> startAgent(dir, kamailio),
        (net, kamailio, agent, checks) -> {
          checks.awaitOneBindingAt(WLAN_PUBLIC, FIRST_REGISTRATION,
              "first registration through the wlan NAT");
          checks.assertMessageReachesTheAgent("through the wlan NAT");

          net.wlanDown();
          Binding binding = checks.awaitOneBindingAt(CELL_PUBLIC, HANDOVER,
              "after `ip link set wlan0 down`");
          assertFalse(binding.address().contains(CELL_ADDRESS), binding.toString());
          checks.assertAgentShowsPublicAddress(binding);
          checks.assertMessageDelivered("through the cell NAT after wlan0 went down");

          net.wlanUp();
          checks.awaitOneBindingAt(WLAN_PUBLIC, HANDOVER, "after wlan0 came back up");
          checks.assertMessageReachesTheAgent("through the wlan NAT after wlan0 came back");
        });
  }

  // ---- (3) idle longer than the NAT's UDP timeout -----------------------------------------

  /**
   * Registered through the wlan NAT without outbound, then nothing but the agent's keep-alives
   * for {@link #IDLE} (more than twice the NAT's UDP timeout, and no refresh: expires is 600 s):
   * the NAT forwarded the keep-alives, the agent's view shows them (keepAlive.kind STUN,
   * answered), and a MESSAGE still reaches the agent, through the same one binding.
   */
  @Test
  void idleLongerThanTheNatsUdpTimeoutKeepAlivesKeepTheAgentReachable(@TempDir Path dir,
      TestInfo test) throws Exception {
    behindTheNats(dir, test, KamailioRegistrar.builder().noOutbound(), false,
        kamailio -> startAgent(dir, kamailio),
        (net, kamailio, agent, checks) -> {
          Binding before = checks.awaitOneBindingAt(WLAN_PUBLIC, FIRST_REGISTRATION,
              "first registration through the wlan NAT");
          long sentBefore = net.natForwarded(WLAN_NAT)[0];

          checks.idle(IDLE);

          long keepAlives = net.natForwarded(WLAN_NAT)[0] - sentBefore;
          // One every 15 s (jittered or not): at least two in 45 s.
          assertTrue(keepAlives >= IDLE.toSeconds() / NAT_KEEPALIVE.toSeconds() - 1,
              () -> "the wlan NAT forwarded " + keepAlives + " datagrams from the agent while it"
                  + " was idle for " + IDLE.toSeconds() + " s" + checks.diagnostics());
          Binding after = checks.awaitOneBindingAt(WLAN_PUBLIC, Duration.ZERO, "after idling");
          assertEquals(before.address(), after.address(), "the same binding after idling");
          // The view shows the NAT ping without outbound: STUN, answered by Kamailio's stun module.
          checks.awaitKeepAlive("STUN", VIEW_READ);
          checks.assertMessageReachesTheAgent("after idling " + IDLE.toSeconds() + " s");
        });
  }

  /**
   * The control of (3): the same without keep-alives ({@code sip.nat.keepalive = OFF}). After
   * {@link #IDLE} the NAT has forgotten the mapping, so the registrar's one binding still points
   * at it but a MESSAGE to the AOR no longer reaches the agent: what (3) proves is the
   * keep-alives' doing, not a NAT that never forgets.
   */
  @Test
  void idleLongerThanTheNatsUdpTimeoutWithoutKeepAlivesTheAgentIsNoLongerReachable(
      @TempDir Path dir, TestInfo test) throws Exception {
    behindTheNats(dir, test, KamailioRegistrar.builder().noOutbound(), false,
        kamailio -> NetnsTopology.startAgent(dir,
            NetnsTopology.agentConfig(dir.resolve("data"), kamailio, List.of(USER), PASSWORD,
                Duration.ofSeconds(2), 600, CONTROL_PORT) + "sip.nat.keepalive = OFF\n",
            NetnsTopology.TRACE_LOGBACK,
            List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")),
        (net, kamailio, agent, checks) -> {
          checks.awaitOneBindingAt(WLAN_PUBLIC, FIRST_REGISTRATION,
              "first registration through the wlan NAT");
          long sentBefore = net.natForwarded(WLAN_NAT)[0];

          checks.idle(IDLE);

          assertEquals(sentBefore, net.natForwarded(WLAN_NAT)[0],
              "no keep-alive crossed the NAT while idle");
          checks.awaitOneBindingAt(WLAN_PUBLIC, Duration.ZERO, "after idling");
          String answer = messageToAor(kamailio, USER, "anyone?");
          assertFalse(answer.startsWith("SIP/2.0 200 "), () -> "without keep-alives the NAT"
              + " forgot the mapping, yet the MESSAGE was answered: " + answer);
        });
  }

  // ---- (4) with outbound ------------------------------------------------------------------

  /**
   * A registrar with outbound (RFC 5626): the binding keeps the agent's instance and reg-id and
   * was received from the wlan NAT's public address; Kamailio routes the MESSAGE over that flow
   * and it reaches the agent.
   */
  @Test
  void withOutboundTheFlowThroughTheWlanNatReachesTheAgent(@TempDir Path dir, TestInfo test)
      throws Exception {
    behindTheNats(dir, test, KamailioRegistrar.builder(), false,
        kamailio -> startAgent(dir, kamailio),
        (net, kamailio, agent, checks) -> {
          Binding binding = checks.awaitOneReceivedFrom(WLAN_PUBLIC, FIRST_REGISTRATION,
              "first registration through the wlan NAT");
          assertNotNull(binding.instance(), "an outbound binding has the instance: " + binding);
          assertTrue(binding.regId() > 0, "an outbound binding has a reg-id: " + binding);
          checks.assertMessageReachesTheAgent("over the outbound flow through the wlan NAT");
        });
  }

  // ---- (5) with outbound, idle longer than the NAT's UDP timeout --------------------------

  /** The registrar's Flow-Timer in (5) and (6): under the NATs' UDP timeout. */
  private static final int FLOW_TIMER = 15;

  /**
   * With outbound and {@code Flow-Timer: 15}, idle for {@link #IDLE}: the agent's OPTIONS
   * keep-alives crossed the NAT, and a MESSAGE still reaches the agent over the same flow.
   */
  @Test
  void withOutboundIdleLongerThanTheNatsUdpTimeoutTheFlowStillReachesTheAgent(@TempDir Path dir,
      TestInfo test) throws Exception {
    behindTheNats(dir, test, KamailioRegistrar.builder().flowTimer(FLOW_TIMER), false,
        kamailio -> startAgent(dir, kamailio),
        (net, kamailio, agent, checks) -> {
          Binding before = checks.awaitOneReceivedFrom(WLAN_PUBLIC, FIRST_REGISTRATION,
              "first registration through the wlan NAT");
          long[] forwardedBefore = net.natForwarded(WLAN_NAT);

          checks.idle(IDLE);

          long[] forwarded = net.natForwarded(WLAN_NAT);
          long out = forwarded[0] - forwardedBefore[0];
          long in = forwarded[1] - forwardedBefore[1];
          // One OPTIONS every 12-15 s and its 200: at least two each way in 45 s.
          assertTrue(out >= 2 && in >= 2, () -> "the wlan NAT forwarded " + out + " datagrams"
              + " from the agent and " + in + " to it while idle for " + IDLE.toSeconds() + " s"
              + checks.diagnostics());
          Binding after = checks.awaitOneReceivedFrom(WLAN_PUBLIC, Duration.ZERO, "after idling");
          assertEquals(before.received(), after.received(), "the same flow after idling");
          checks.assertMessageReachesTheAgent("over the outbound flow after idling "
              + IDLE.toSeconds() + " s");
        });
  }

  // ---- (6) NAT rebinding on the port-randomising NAT, with outbound -----------------------

  /** A keep-alive within the Flow-Timer reveals the new mapping; then one REGISTER exchange. */
  private static final Duration REBINDING = Duration.ofSeconds(FLOW_TIMER + 10);

  /**
   * Registered through the cell NAT (wlan0 down) with outbound and {@code Flow-Timer: 15}, one
   * keep-alive answered over the flow; the NAT forgets its mappings ({@code conntrack -F}): the
   * agent's next keep-alive leaves with a new random public port, its answer's Via shows it, and
   * the agent registers again over the new mapping, within {@link #REBINDING}: exactly one binding, received from the new port, and
   * a MESSAGE reaches the agent through it.
   */
  @Test
  void natRebindingOnTheCellNatTheAgentIsReachableAgainThroughTheNewMapping(@TempDir Path dir,
      TestInfo test) throws Exception {
    NetnsTopology.assumeConntrack();
    behindTheNats(dir, test, KamailioRegistrar.builder().flowTimer(FLOW_TIMER), true,
        kamailio -> startAgent(dir, kamailio),
        (net, kamailio, agent, checks) -> {
          Binding before = checks.awaitOneReceivedFrom(CELL_PUBLIC, FIRST_REGISTRATION,
              "first registration through the cell NAT");
          checks.assertMessageReachesTheAgent("through the cell NAT");
          // Kamailio answers the agent's STUN keep-alives (RFC 5626 §4.4.2): the agent's view
          // shows STUN and a keep-alive answered; the NAT forgets once one has crossed it.
          long[] afterMessage = net.natForwarded(NetnsTopology.CELL_NAT);
          checks.awaitKeepAlive("STUN", Duration.ofSeconds(FLOW_TIMER + 5));
          await("a first keep-alive and its answer through the cell NAT")
              .atMost(Duration.ofSeconds(FLOW_TIMER + 5)).pollInterval(POLL)
              .until(() -> {
                long[] now = net.natForwarded(NetnsTopology.CELL_NAT);
                return now[0] > afterMessage[0] && now[1] > afterMessage[1];
              });

          long flushed = System.nanoTime();
          net.flushNatMappings(NetnsTopology.CELL_NAT);
          Binding after = checks.awaitOne(REBINDING, "after the cell NAT lost its mappings",
              "source " + CELL_PUBLIC + " at another port than " + before.received(),
              b -> isFrom(b, CELL_PUBLIC) && !b.received().equals(before.received()));
          System.out.printf("NatReachabilityIT: cell NAT flushed -> registered again through the"
              + " new mapping (%s -> %s) after %d ms%n", before.received(), after.received(),
              java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - flushed));
          checks.assertMessageReachesTheAgent("through the new mapping of the cell NAT");
        });
  }

  // ---- (6c) NAT rebinding on the port-randomising NAT, WITHOUT outbound -------------------

  /**
   * Without outbound: the next STUN NAT ping (at most {@link #NAT_KEEPALIVE} later) shows the
   * new mapping, then one REGISTER exchange (with its challenge) binds it; 5 s for those.
   */
  private static final Duration REBINDING_WITHOUT_OUTBOUND = NAT_KEEPALIVE.plusSeconds(5);

  /**
   * Registered through the cell NAT (wlan0 down) at a Kamailio without outbound (stun module
   * loaded), the Contact rewritten to the NAT's public address, one STUN NAT ping answered
   * through the NAT; the NAT forgets its mappings ({@code conntrack -F}): the agent's next STUN
   * NAT ping leaves with a new random public port, its XOR-MAPPED-ADDRESS differs from what
   * the 200's Via showed, and the agent registers again at once with a Contact at the new
   * mapping, removing the old: within {@link #REBINDING_WITHOUT_OUTBOUND}, exactly one binding,
   * contact and source the new port, and a MESSAGE reaches the agent through it.
   */
  @Test
  void natRebindingWithoutOutboundTheStunNatPingReRegistersAtTheNewMapping(@TempDir Path dir,
      TestInfo test) throws Exception {
    NetnsTopology.assumeConntrack();
    behindTheNats(dir, test, KamailioRegistrar.builder().noOutbound(), true,
        kamailio -> startAgent(dir, kamailio),
        (net, kamailio, agent, checks) -> {
          Binding before = checks.awaitOneBindingAt(CELL_PUBLIC, FIRST_REGISTRATION,
              "first registration through the cell NAT");
          checks.assertMessageReachesTheAgent("through the cell NAT");
          // A NAT ping and its answer crossed the NAT: STUN (a CRLF ping has no answer).
          long[] afterMessage = net.natForwarded(NetnsTopology.CELL_NAT);
          await("a STUN NAT ping and its answer through the cell NAT")
              .atMost(NAT_KEEPALIVE.plusSeconds(5)).pollInterval(POLL)
              .until(() -> {
                long[] now = net.natForwarded(NetnsTopology.CELL_NAT);
                return now[0] > afterMessage[0] && now[1] > afterMessage[1];
              });

          long flushed = System.nanoTime();
          net.flushNatMappings(NetnsTopology.CELL_NAT);
          Binding after = checks.awaitOne(REBINDING_WITHOUT_OUTBOUND,
              "after the cell NAT lost its mappings", "contact and source " + CELL_PUBLIC
                  + " at another port than " + before.received(),
              b -> isFrom(b, CELL_PUBLIC) && !b.received().equals(before.received())
                  && b.address() != null && b.address().contains("@" + CELL_PUBLIC + ":"
                      + port(b.received())));
          System.out.printf("NatReachabilityIT: cell NAT flushed, no outbound -> registered again"
              + " at the new mapping (%s -> %s) after %d ms%n", before.received(),
              after.received(),
              java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - flushed));
          assertTrue(Files.readString(agent.outputFile()).contains("(STUN NAT ping)"),
              () -> "the rebinding is logged: " + agent.outputTail(100));
          checks.assertMessageReachesTheAgent("through the new mapping of the cell NAT");
        });
  }

  /** The port of a {@code sip:host:port} source. */
  private static String port(String received) {
    return received.substring(received.lastIndexOf(':') + 1);
  }

  // ---- (6b) a registrar that answers no STUN: the OPTIONS fallback, visible --------------

  /** Two STUN requests unanswered (2 s each) while OPTIONS are, at Flow-Timer 5 s. */
  private static final Duration FALLBACK = Duration.ofSeconds(2 * (5 + 2 + 1) + 10);

  /**
   * Registered with outbound through the wlan NAT at a Kamailio without the stun module
   * ({@code NO_STUN}), {@code Flow-Timer: 5}: two STUN keep-alives go unanswered while the
   * OPTIONS that check the path are answered, so the agent keeps the flow alive with OPTIONS
   * from then on and its view says so ({@code keepAlive.kind} OPTIONS, a keep-alive answered),
   * REGISTERED all along, and a MESSAGE reaches it over the flow.
   */
  @Test
  void aRegistrarWithoutStunIsKeptAliveWithOptionsAndTheViewSaysSo(@TempDir Path dir,
      TestInfo test) throws Exception {
    behindTheNats(dir, test, KamailioRegistrar.builder().noStun().flowTimer(5), false,
        kamailio -> startAgent(dir, kamailio),
        (net, kamailio, agent, checks) -> {
          Binding before = checks.awaitOneReceivedFrom(WLAN_PUBLIC, FIRST_REGISTRATION,
              "first registration through the wlan NAT");
          checks.awaitKeepAlive("OPTIONS", FALLBACK);
          assertEquals("REGISTERED", checks.agentStatus(),
              "the flow works: " + agent.outputTail(40));
          assertTrue(agent.outputTail(400).contains("answers no STUN keep-alive"),
              () -> "the fallback is logged: " + agent.outputTail(100));
          Binding after = checks.awaitOneReceivedFrom(WLAN_PUBLIC, Duration.ZERO, "after it");
          assertEquals(before.received(), after.received(), "the same flow, never re-registered");
          checks.assertMessageReachesTheAgent("over the flow kept alive with OPTIONS");
        });
  }

  // ---- (7) keep-alives dropped at the NAT, with outbound ---------------------------------

  /** A keep-alive within the Flow-Timer, unanswered for the REGISTER timeout (2 s). */
  private static final Duration FLOW_FAILURE = Duration.ofSeconds(FLOW_TIMER + 2 + 8);
  /**
   * Once the NAT forwards again: the SNAP retries the IAP it rejected after
   * {@code alr.retry-rejected-after} (30 s) at the latest, then one REGISTER exchange.
   */
  private static final Duration HEALED = Duration.ofSeconds(30 + 15);

  /**
   * Registered through the cell NAT only (wlan0 down) with outbound and {@code Flow-Timer: 15};
   * the NAT then drops every UDP datagram: within {@link #FLOW_FAILURE} the agent's own status
   * leaves REGISTERED and its event stream says so for the profile, and why (the keep-alive).
   * Once the NAT forwards again, without any hand on the agent, it is REGISTERED again within {@link #HEALED}, with exactly
   * one binding through the cell NAT, and a MESSAGE reaches it.
   */
  @Test
  void keepAlivesDroppedAtTheNatTheStatusSaysSoAndTheAgentHealsByItself(@TempDir Path dir,
      TestInfo test) throws Exception {
    behindTheNats(dir, test, KamailioRegistrar.builder().flowTimer(FLOW_TIMER), true,
        kamailio -> startAgent(dir, kamailio),
        (net, kamailio, agent, checks) -> {
          checks.awaitOneReceivedFrom(CELL_PUBLIC, FIRST_REGISTRATION,
              "first registration through the cell NAT");
          checks.awaitAgentStatus("REGISTERED"::equals, "REGISTERED", Duration.ofSeconds(30));

          Process events = checks.openEvents();
          try {
            long blocked = System.nanoTime();
            net.blockNat(NetnsTopology.CELL_NAT);
            checks.awaitAgentStatus(st -> !st.isEmpty() && !"REGISTERED".equals(st),
                "other than REGISTERED after the cell NAT dropped everything", FLOW_FAILURE);
            long detected = System.nanoTime();
            String stream = Files.readString(dir.resolve("events.out"));
            assertTrue(stream.lines().anyMatch(l -> l.contains("\"source\":\"registry\"")
                    && l.contains("\"profile\":\"" + USER + "\"")
                    && !l.contains("\"status\":\"REGISTERED\"") && l.contains("keep-alive")),
                () -> "a registry event for " + USER + " leaving REGISTERED, saying the"
                    + " keep-alive failed: " + stream);

            net.unblockNat(NetnsTopology.CELL_NAT);
            checks.awaitAgentStatus("REGISTERED"::equals, "REGISTERED again", HEALED);
            long healed = System.nanoTime();
            checks.awaitOneReceivedFrom(CELL_PUBLIC, Duration.ofSeconds(5),
                "after the cell NAT forwards again");
            checks.assertMessageReachesTheAgent("after the cell NAT forwards again");
            System.out.printf("NatReachabilityIT: cell NAT dropping -> status left REGISTERED"
                + " after %d ms; forwarding again -> REGISTERED after %d ms%n",
                java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(detected - blocked),
                java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(healed - detected));
          } finally {
            events.destroyForcibly().waitFor();
          }
        });
  }

  // ---- (8) and (9) TCP and UDP, without and with outbound: moves in both orders -----------

  /**
   * Over TCP at a registrar without outbound: through the wlan NAT, the one binding is the NAT's
   * public address and was received over TCP from it, and a MESSAGE reaches the agent over that
   * connection; after wlan0 goes down, the same through the cell NAT; after it comes back up,
   * through the wlan NAT again.
   */
  @Test
  void overTcpWithoutOutboundTheAgentIsReachedThroughEachNat(@TempDir Path dir, TestInfo test)
      throws Exception {
    movesThroughEachNat(dir, test, "tcp", false, false);
  }

  /**
   * The other order at a registrar with outbound: wlan0 down before the agent starts, so it
   * registers through the cell NAT (the flow is the TCP connection through it); wlan0 up (an
   * upgrade) moves it to the wlan NAT, wlan0 down again back to the cell NAT; after each, one
   * binding received over TCP from that NAT and a MESSAGE reaches the agent over the new flow.
   */
  @Test
  void overTcpWithOutboundTheAgentIsReachedThroughEachNat(@TempDir Path dir, TestInfo test)
      throws Exception {
    movesThroughEachNat(dir, test, "tcp", true, true);
  }

  /**
   * UDP in that order too (the other order is test (2)), at a registrar with outbound: cell NAT
   * first, up to the wlan NAT, down to the cell NAT; one binding from each, and reachable.
   */
  @Test
  void overUdpWithOutboundAnUpgradeAndADowngradeKeepTheAgentReachable(@TempDir Path dir,
      TestInfo test) throws Exception {
    movesThroughEachNat(dir, test, "udp", true, true);
  }

  /**
   * Registers over {@code transport} (at a registrar with or without outbound) and moves:
   * wlan NAT, wlan0 down to the cell NAT, up to the wlan NAT; or, {@code cellFirst}, wlan0 down
   * before the agent starts: cell NAT, up to the wlan NAT, down to the cell NAT. After each step,
   * exactly one binding received over {@code transport} from that NAT (without outbound its
   * contact is the NAT's public address too) and a MESSAGE to the AOR reaches the agent.
   */
  private void movesThroughEachNat(Path dir, TestInfo test, String transport, boolean outbound,
      boolean cellFirst) throws Exception {
    KamailioRegistrar.Builder registrar = KamailioRegistrar.builder();
    if (!outbound) {
      registrar.noOutbound();
    }
    boolean tcp = transport.equals("tcp");
    behindTheNats(dir, test, registrar, cellFirst,
        kamailio -> tcp ? startTcpAgent(dir, kamailio) : startAgent(dir, kamailio),
        (net, kamailio, agent, checks) -> {
          boolean onWlan = !cellFirst;
          String step = "first registration";
          for (int move = 0; move < 3; move++) {
            if (move > 0) {
              onWlan = !onWlan;
              if (onWlan) {
                net.wlanUp();
                step = "after wlan0 came up";
              } else {
                net.wlanDown();
                step = "after wlan0 went down";
              }
            }
            String nat = onWlan ? WLAN_PUBLIC : CELL_PUBLIC;
            String when = step + ", over " + transport + " through the "
                + (onWlan ? "wlan" : "cell") + " NAT";
            Duration bound = move == 0 ? FIRST_REGISTRATION : HANDOVER;
            Binding binding = outbound ? checks.awaitOneReceivedFrom(nat, bound, when)
                : checks.awaitOneBindingAt(nat, bound, when);
            if (tcp) {
              assertTrue(binding.received().endsWith(";transport=tcp"), binding.toString());
            }
            checks.assertMessageReachesTheAgent(when);
          }
        });
  }

  /**
   * Over TCP with outbound and {@code Flow-Timer: 5}: the agent pings the flow with a double
   * CRLF every 4-5 s (RFC 5626 §4.4.1) and Kamailio answers each with a CRLF pong (its
   * {@code tcp_crlf_ping}, on by default); the view shows kind CRLF and its lastAnswered
   * advancing; for {@link #KEEPALIVE_WATCH} the agent stays REGISTERED on the same connection
   * (no flow failed: before the network layer took pongs out of JAIN-SIP's reader, every second
   * pong was misread as a ping and a healthy connection closed), exactly one binding, and a
   * MESSAGE reaches the agent over it.
   */
  @Test
  void overTcpWithOutboundTheFlowIsKeptAliveWithCrlfPongsOnTheSameConnection(@TempDir Path dir,
      TestInfo test) throws Exception {
    onATcpFlowThroughTheWlanNat(dir, test, (net, kamailio, agent, checks, before, first) -> {
      checks.idle(KEEPALIVE_WATCH);
      assertEquals("REGISTERED", checks.agentStatus());
      String later = checks.awaitKeepAlive("CRLF", VIEW_READ);
      assertTrue(java.time.Instant.parse(later).isAfter(java.time.Instant.parse(first)),
          () -> "lastAnswered advances: " + first + " then " + later);
      Binding after = checks.awaitOneReceivedFrom(WLAN_PUBLIC, Duration.ZERO, "after pings");
      assertEquals(before.received(), after.received(), "the same TCP connection");
      assertFalse(agent.outputTail(400).contains("failed ("),
          () -> "no flow failed: " + agent.outputTail(60));
      checks.assertMessageReachesTheAgent("over the TCP flow kept alive");
    });
  }

  /** What a test does on a TCP flow: {@link #onATcpFlowThroughTheWlanNat}. */
  private interface OnTcpFlow {
    void run(NetnsTopology net, KamailioRegistrar kamailio, AgentProcess agent, Checks checks,
        Binding registered, String firstPong) throws Exception;
  }

  /**
   * Runs {@code body} once the agent is registered over TCP with outbound ({@code Flow-Timer:
   * 5}) through the wlan NAT, one binding, and its view shows a CRLF ping ponged.
   */
  private void onATcpFlowThroughTheWlanNat(Path dir, TestInfo test, OnTcpFlow body)
      throws Exception {
    onTcpThroughTheWlanNat(dir, test, true, body);
  }

  /**
   * The same with outbound ({@code Flow-Timer: 5}) or without ({@code noOutbound()}, the NAT
   * pings of the connection every {@link #NAT_CONNECTION_PING} by configuration).
   */
  private void onTcpThroughTheWlanNat(Path dir, TestInfo test, boolean outbound,
      OnTcpFlow body) throws Exception {
    KamailioRegistrar.Builder registrar = KamailioRegistrar.builder();
    if (outbound) {
      registrar.flowTimer(5);
    } else {
      registrar.noOutbound();
    }
    behindTheNats(dir, test, registrar, false,
        kamailio -> startTcpAgent(dir, kamailio, outbound ? ""
            : "sip.nat.connection-keepalive-interval = " + NAT_CONNECTION_PING.toSeconds()
                + "s\n"),
        (net, kamailio, agent, checks) -> {
          Binding registered = outbound
              ? checks.awaitOneReceivedFrom(WLAN_PUBLIC, FIRST_REGISTRATION, "over TCP via wlan")
              : checks.awaitOneBindingAt(WLAN_PUBLIC, FIRST_REGISTRATION, "over TCP via wlan");
          String first = checks.awaitKeepAlive("CRLF", Duration.ofSeconds(5 + 5));
          body.run(net, kamailio, agent, checks, registered, first);
        });
  }

  /** One read of the agent's view (a `status` process in its namespace). */
  private static final Duration VIEW_READ = Duration.ofSeconds(10);
  /** The agent's pong timeout ({@code sip.outbound.pong-timeout}, RFC 5626 §4.4.1). */
  private static final Duration PONG_TIMEOUT = Duration.ofSeconds(10);
  /** The next ping (Flow-Timer 5 s) and its pong's timeout, and the status poll. */
  private static final Duration PONG_FAILURE = Duration.ofSeconds(5).plus(PONG_TIMEOUT)
      .plusSeconds(5);

  /**
   * Over TCP with outbound and {@code Flow-Timer: 5}, the wlan NAT then drops Kamailio's pongs
   * (TCP segments with a lone CRLF) and nothing else: within {@link #PONG_FAILURE} of that the
   * agent's event stream says the profile left REGISTERED because no pong came (a failed flow:
   * the connection is closed, and the profile re-registers at once over a new one through the
   * same NAT, which still passes REGISTERs). Once pongs pass again, without any hand on the
   * agent, within {@link #PONG_FAILURE} pongs are answered again (lastAnswered after the NAT
   * let them through) on a flow that stays up, REGISTERED, exactly one binding through the wlan
   * NAT, and a MESSAGE reaches the agent.
   */
  @Test
  void overTcpPongsDroppedAtTheNatTheFlowFailsAndTheAgentHealsByItself(@TempDir Path dir,
      TestInfo test) throws Exception {
    onATcpFlowThroughTheWlanNat(dir, test, (net, kamailio, agent, checks, registered, first) -> {
      Process events = checks.openEvents();
      try {
        long dropping = System.nanoTime();
        net.dropPongs(WLAN_NAT, kamailio.port());
        checks.awaitLeftRegisteredForNoPong(PONG_FAILURE);
        long detected = System.nanoTime();
        assertTrue(net.pongsDropped(WLAN_NAT) >= 1, "the NAT dropped a pong");

        net.passPongs(WLAN_NAT);
        java.time.Instant passing = java.time.Instant.now();
        String answered = checks.awaitKeepAliveAnsweredAfter(passing, PONG_FAILURE);
        long healed = System.nanoTime();
        checks.idle(Duration.ofSeconds(12)); // two more pings, their pongs through
        assertEquals("REGISTERED", checks.agentStatus());
        String later = checks.awaitKeepAlive("CRLF", VIEW_READ);
        assertTrue(java.time.Instant.parse(later).isAfter(java.time.Instant.parse(answered)),
            () -> "pongs keep coming: " + answered + " then " + later);
        checks.awaitOneReceivedFrom(WLAN_PUBLIC, Duration.ZERO, "after pongs pass again");
        checks.assertMessageReachesTheAgent("after pongs pass again");
        System.out.printf("NatReachabilityIT: TCP pongs dropped -> flow failed (event) after"
            + " %d ms; pongs passing -> a pong answered again after %d ms%n",
            java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(detected - dropping),
            java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(healed - detected));
      } finally {
        events.destroyForcibly().waitFor();
      }
    });
  }

  private static AgentProcess startTcpAgent(Path dir, KamailioRegistrar kamailio)
      throws IOException {
    return startTcpAgent(dir, kamailio, "");
  }

  /** The same with {@code config} lines added. */
  private static AgentProcess startTcpAgent(Path dir, KamailioRegistrar kamailio,
      String config) throws IOException {
    return NetnsTopology.startAgent(dir,
        NetnsTopology.agentConfig(dir.resolve("data"), kamailio, List.of(USER), PASSWORD,
            Duration.ofSeconds(2), 600, CONTROL_PORT, "tcp") + config,
        NetnsTopology.TRACE_LOGBACK,
        List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
  }

  /** Long enough for several keep-alives at Flow-Timer 5 s. */
  private static final Duration KEEPALIVE_WATCH = Duration.ofSeconds(30);

  /**
   * The NAT pings of a TCP connection without outbound in these tests ({@code
   * sip.nat.connection-keepalive-interval}; 90 s by default): every 2.4-3 s, the pong awaited
   * half of that.
   */
  private static final Duration NAT_CONNECTION_PING = Duration.ofSeconds(3);

  /**
   * Over TCP at a registrar without outbound, the connection through the wlan NAT is pinged
   * with a double CRLF every {@link #NAT_CONNECTION_PING} (no outbound: the NAT pings of
   * {@code sip.nat.keepalive = AUTO}), and Kamailio answers each with a pong though outbound
   * obliges it to nothing here: after {@link #NAT_IDLE_WATCH} idle (several pings) the view
   * shows kind CRLF with lastAnswered advancing, the agent stays REGISTERED on the same
   * connection (the one binding's address unchanged, no connection lost), and a MESSAGE
   * reaches the agent over it.
   */
  @Test
  void overTcpWithoutOutboundTheConnectionIsPingedAndPongedAndStaysReachable(@TempDir Path dir,
      TestInfo test) throws Exception {
    onTcpThroughTheWlanNat(dir, test, false, (net, kamailio, agent, checks, before, first) -> {
      checks.idle(NAT_IDLE_WATCH);
      assertEquals("REGISTERED", checks.agentStatus());
      String later = checks.awaitKeepAlive("CRLF", VIEW_READ);
      assertTrue(java.time.Instant.parse(later).isAfter(java.time.Instant.parse(first)),
          () -> "lastAnswered advances: " + first + " then " + later);
      Binding after = checks.awaitOneBindingAt(WLAN_PUBLIC, Duration.ZERO, "after pings");
      assertEquals(before.address(), after.address(), "the same TCP connection");
      assertEquals(before.received(), after.received(), "the same TCP connection");
      assertFalse(agent.outputTail(400).contains(" lost ("),
          () -> "no connection lost: " + agent.outputTail(60));
      checks.assertMessageReachesTheAgent("over the TCP connection kept alive");
    });
  }

  /** Several NAT pings of a connection at {@link #NAT_CONNECTION_PING}. */
  private static final Duration NAT_IDLE_WATCH = Duration.ofSeconds(15);
  /** The next NAT ping, its pong's wait (half the interval) and the event's way out. */
  private static final Duration NAT_PONG_FAILURE = NAT_CONNECTION_PING.multipliedBy(2)
      .plusSeconds(5);

  /**
   * Over TCP without outbound, once pongs have come on the connection the wlan NAT drops them
   * (and nothing else): within {@link #NAT_PONG_FAILURE} the event stream says the profile left
   * REGISTERED because no pong came (the connection is lost: closed, and the profile
   * re-registers at once over a new one through the same NAT). Once pongs pass again, without
   * any hand on the agent, a pong is answered after that on the new connection, the agent is
   * REGISTERED with exactly one binding through the wlan NAT, and a MESSAGE reaches it.
   */
  @Test
  void overTcpWithoutOutboundPongsDroppedTheLostConnectionIsReplacedByItself(@TempDir Path dir,
      TestInfo test) throws Exception {
    onTcpThroughTheWlanNat(dir, test, false, (net, kamailio, agent, checks, before, first) -> {
      Process events = checks.openEvents();
      try {
        long dropping = System.nanoTime();
        net.dropPongs(WLAN_NAT, kamailio.port());
        checks.awaitLeftRegisteredForNoPong(NAT_PONG_FAILURE);
        long detected = System.nanoTime();
        assertTrue(net.pongsDropped(WLAN_NAT) >= 1, "the NAT dropped a pong");

        net.passPongs(WLAN_NAT);
        java.time.Instant passing = java.time.Instant.now();
        checks.awaitKeepAliveAnsweredAfter(passing, NAT_PONG_FAILURE);
        long healed = System.nanoTime();
        checks.awaitAgentStatus("REGISTERED"::equals, "REGISTERED", VIEW_READ);
        Binding after = checks.awaitOneBindingAt(WLAN_PUBLIC, HANDOVER,
            "after pongs pass again");
        assertFalse(before.received().equals(after.received()),
            () -> "a new connection: " + before + " then " + after);
        checks.assertMessageReachesTheAgent("after pongs pass again");
        System.out.printf("NatReachabilityIT: TCP without outbound, pongs dropped -> connection"
            + " lost (event) after %d ms; pongs passing -> a pong answered again after %d ms%n",
            java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(detected - dropping),
            java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(healed - detected));
      } finally {
        events.destroyForcibly().waitFor();
      }
    });
  }

  // ---- (10) MESSAGE delivered once, retransmissions absorbed ------------------------------

  /**
   * Through the wlan NAT without outbound, the NAT loses the agent's first 200 to a MESSAGE, so
   * Kamailio retransmits the MESSAGE to the agent: the caller still gets the agent's 200, the
   * NAT dropped exactly one answer, and the agent delivered the MESSAGE exactly once with its
   * body (checked once a second MESSAGE's event has followed it on the ordered event stream).
   */
  @Test
  void aMessageWhoseAnswerIsLostIsDeliveredOnceWithItsBody(@TempDir Path dir, TestInfo test)
      throws Exception {
    behindTheNats(dir, test, KamailioRegistrar.builder().noOutbound(), false,
        kamailio -> startAgent(dir, kamailio),
        (net, kamailio, agent, checks) -> {
          checks.awaitOneBindingAt(WLAN_PUBLIC, FIRST_REGISTRATION,
              "first registration through the wlan NAT");
          Process events = checks.openEvents();
          try {
            net.dropFirstAnswer(WLAN_NAT);
            String first = "once only " + System.nanoTime();
            checks.assertMessageReachesTheAgent("with its first answer lost", first);
            assertEquals(1, net.firstAnswersDropped(WLAN_NAT),
                "the NAT dropped the agent's first answer, and only that one");
            String second = "and then " + System.nanoTime();
            checks.assertMessageReachesTheAgent("after the retransmitted one", second);
            Path out = dir.resolve("events.out");
            try {
              await("the second MESSAGE delivered").atMost(Duration.ofSeconds(5))
                  .pollInterval(POLL)
                  .until(() -> Files.readString(out).contains(second));
            } catch (ConditionTimeoutException e) {
              throw new AssertionError("the second MESSAGE was not delivered; the stream said:\n"
                  + Files.readString(out) + checks.diagnostics(), e);
            }
            List<String> delivered = Files.readString(out).lines()
                .filter(l -> l.contains("\"MESSAGE_RECEIVED\"") && l.contains(first)).toList();
            assertEquals(1, delivered.size(),
                () -> "the retransmitted MESSAGE delivered exactly once: " + delivered);
            assertTrue(delivered.get(0).contains("\"body\":\"" + first + "\""), delivered.get(0));
          } finally {
            events.destroyForcibly().waitFor();
          }
        });
  }

  // ---- helpers ----------------------------------------------------------------------------

  private static boolean isFrom(Binding binding, String address) {
    return binding.received() != null && binding.received().startsWith("sip:" + address + ":");
  }

  /** Waits on Kamailio's location table and sends requests; failures say everything. */
  private record Checks(NetnsTopology net, KamailioRegistrar kamailio, AgentProcess agent,
      Path dir) {

    /**
     * Waits (bounded) until {@link #USER} has exactly one binding whose contact is at
     * {@code publicAddress} and which was received from there; returns it.
     */
    Binding awaitOneBindingAt(String publicAddress, Duration atMost, String when) {
      return awaitOne(atMost, when, "contact and source " + publicAddress,
          b -> b.address() != null && b.address().contains("@" + publicAddress + ":")
              && isFrom(b, publicAddress));
    }

    /** The same for the source only (with outbound the contact stays the agent's own). */
    Binding awaitOneReceivedFrom(String publicAddress, Duration atMost, String when) {
      return awaitOne(atMost, when, "source " + publicAddress, b -> isFrom(b, publicAddress));
    }

    Binding awaitOne(Duration atMost, String when, String what,
        java.util.function.Predicate<Binding> wanted) {
      AtomicReference<List<Binding>> last = new AtomicReference<>(List.of());
      try {
        await(USER + " has one binding with " + what + " " + when)
            .atMost(atMost.isZero() ? Duration.ofMillis(POLL.toMillis() * 2) : atMost)
            .pollDelay(Duration.ZERO)
            .pollInterval(POLL)
            .until(() -> {
              agent.requireAlive(this::diagnostics);
              List<Binding> bindings = kamailio.lookup(USER);
              last.set(bindings);
              return bindings.size() == 1 && wanted.test(bindings.get(0));
            });
      } catch (ConditionTimeoutException e) {
        throw new AssertionError("No single binding of " + USER + " with " + what + " " + when
            + " within " + atMost.toSeconds() + " s; last bindings: " + last.get()
            + diagnostics(), e);
      }
      return last.get().get(0);
    }

    /**
     * Nothing for {@code idle} but what the agent sends by itself. Waiting out the NAT's UDP
     * timeout is the point: a bounded await on the clock (there is nothing else to wait for),
     * checking all along that the agent still runs.
     */
    void idle(Duration idle) {
      long until = System.nanoTime() + idle.toNanos();
      await("idle for " + idle.toSeconds() + " s").atMost(idle.plusSeconds(5))
          .pollInterval(Duration.ofMillis(500))
          .until(() -> {
            agent.requireAlive(this::diagnostics);
            return System.nanoTime() - until >= 0;
          });
    }

    /** A MESSAGE to the AOR through Kamailio is answered 200 by the agent. */
    void assertMessageReachesTheAgent(String when) throws IOException {
      assertMessageReachesTheAgent(when, "are you there, " + when + "?");
    }

    void assertMessageReachesTheAgent(String when, String body) throws IOException {
      String answer = messageToAor(kamailio, USER, body);
      assertTrue(answer.startsWith("SIP/2.0 200 "), () -> "MESSAGE to the AOR " + when
          + " answered: " + answer + diagnostics());
      assertTrue(answer.contains("\r\nUser-Agent: sip-alr-agent"), () -> "the 200 " + when
          + " comes from the agent (its User-Agent): " + answer + diagnostics());
    }

    /**
     * The same, and the agent delivered it: {@code MESSAGE_RECEIVED} with the body on its
     * {@code /v1/events}, read by {@link EventTap} in the agent's namespace.
     */
    void assertMessageDelivered(String when) throws Exception {
      String body = "delivered " + when + " " + System.nanoTime();
      Process tap = openEvents();
      Path out = dir.resolve("events.out");
      try {
        assertMessageReachesTheAgent(when, body);
        try {
          await("MESSAGE_RECEIVED " + when).atMost(Duration.ofSeconds(5)).pollInterval(POLL)
              .until(() -> Files.readString(out).lines().anyMatch(
                  l -> l.contains("\"MESSAGE_RECEIVED\"") && l.contains(body)));
        } catch (ConditionTimeoutException e) {
          throw new AssertionError("no MESSAGE_RECEIVED with the body on /v1/events " + when
              + "; the stream said:\n" + Files.readString(out) + diagnostics(), e);
        }
      } finally {
        tap.destroyForcibly().waitFor();
      }
    }

    /**
     * Follows the agent's {@code /v1/events} from now on ({@link EventTap} in its namespace),
     * into {@code <dir>/events.out}; the caller destroys the process.
     */
    Process openEvents() throws Exception {
      Path out = dir.resolve("events.out");
      List<String> command = List.of("ip", "netns", "exec", NetnsTopology.NAMESPACE,
          Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp",
          System.getProperty("java.class.path"), EventTap.class.getName(),
          String.valueOf(CONTROL_PORT), dir.resolve("data").resolve("control.token").toString());
      Process tap = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(out.toFile()).start();
      tap.getOutputStream().close();
      try {
        await("the event stream open").atMost(Duration.ofSeconds(20)).pollInterval(POLL)
            .until(() -> {
              if (!tap.isAlive()) {
                throw new IllegalStateException("the event tap exited: " + Files.readString(out));
              }
              return Files.readString(out).contains("TAP 200");
            });
      } catch (RuntimeException | Error e) {
        tap.destroyForcibly().waitFor();
        throw e;
      }
      return tap;
    }

    /**
     * Awaits (bounded) a registry event on the stream {@link #openEvents} follows saying the
     * profile left REGISTERED because no pong came.
     */
    void awaitLeftRegisteredForNoPong(Duration atMost) throws IOException {
      Path out = dir.resolve("events.out");
      try {
        await("a registry event: " + USER + " left REGISTERED, no pong")
            .atMost(atMost).pollInterval(POLL)
            .until(() -> Files.readString(out).lines().anyMatch(
                l -> l.contains("\"source\":\"registry\"")
                    && l.contains("\"profile\":\"" + USER + "\"")
                    && !l.contains("\"status\":\"REGISTERED\"") && l.contains("no pong")));
      } catch (ConditionTimeoutException e) {
        throw new AssertionError("no registry event saying the pong was missing within "
            + atMost.toSeconds() + " s; the stream said:\n" + Files.readString(out)
            + diagnostics(), e);
      }
    }

    /** The profile's status in the agent's own view ({@code Main status}). */
    String agentStatus() throws Exception {
      List<String> lines = statusTable().lines().filter(l -> !l.isBlank()).toList();
      if (lines.size() < 2) {
        return "";
      }
      String[] columns = lines.get(1).trim().split("\\s+");
      return columns.length > 1 ? columns[1] : "";
    }

    /** Awaits (bounded) the agent's own view saying {@code wanted} (or not, when negated). */
    void awaitAgentStatus(java.util.function.Predicate<String> wanted, String what,
        Duration atMost) {
      AtomicReference<String> last = new AtomicReference<>();
      try {
        await("the agent's status " + what).atMost(atMost).pollDelay(Duration.ZERO)
            .pollInterval(Duration.ofMillis(200))
            .until(() -> {
              agent.requireAlive(this::diagnostics);
              last.set(agentStatus());
              return wanted.test(last.get());
            });
      } catch (ConditionTimeoutException e) {
        throw new AssertionError("the agent's status is not " + what + " within "
            + atMost.toSeconds() + " s; last: " + last.get() + diagnostics(), e);
      }
    }

    /**
     * Awaits (bounded) the agent's own view showing its outbound flow kept alive with
     * {@code kind} ({@code keepAlive.kind}) and a keep-alive answered
     * ({@code keepAlive.lastAnswered}).
     */
    String awaitKeepAlive(String kind, Duration atMost) {
      AtomicReference<String> last = new AtomicReference<>();
      try {
        await("the agent's flow kept alive with " + kind).atMost(atMost)
            .pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(500))
            .until(() -> {
              agent.requireAlive(this::diagnostics);
              last.set(statusTable());
              return kind.equals(columnOf(last.get(), "KEEPALIVE.KIND"))
                  && !columnOf(last.get(), "KEEPALIVE.LASTANSWERED").matches("-?");
            });
      } catch (ConditionTimeoutException e) {
        throw new AssertionError("the agent's view does not show a keep-alive of kind " + kind
            + " answered within " + atMost.toSeconds() + " s; last:\n" + last.get()
            + diagnostics(), e);
      }
      return columnOf(last.get(), "KEEPALIVE.LASTANSWERED");
    }

    /**
     * Awaits (bounded) the view showing a CRLF keep-alive answered after {@code after}, while
     * REGISTERED; returns that lastAnswered.
     */
    String awaitKeepAliveAnsweredAfter(java.time.Instant after, Duration atMost) {
      AtomicReference<String> last = new AtomicReference<>();
      try {
        await("a CRLF pong answered after " + after).atMost(atMost)
            .pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(500))
            .until(() -> {
              agent.requireAlive(this::diagnostics);
              last.set(statusTable());
              String answered = columnOf(last.get(), "KEEPALIVE.LASTANSWERED");
              return "CRLF".equals(columnOf(last.get(), "KEEPALIVE.KIND"))
                  && !answered.matches("-?")
                  && java.time.Instant.parse(answered).isAfter(after);
            });
      } catch (ConditionTimeoutException e) {
        throw new AssertionError("no CRLF pong answered after " + after + " within "
            + atMost.toSeconds() + " s; last:\n" + last.get() + diagnostics(), e);
      }
      return columnOf(last.get(), "KEEPALIVE.LASTANSWERED");
    }

    /** The cell of the column {@code name} in the table's one row, or "". */
    private static String columnOf(String table, String name) {
      List<String> lines = table.lines().filter(l -> !l.isBlank()).toList();
      if (lines.size() < 2) {
        return "";
      }
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?<=^|\\s)"
          + java.util.regex.Pattern.quote(name) + "(?=\\s|$)").matcher(lines.get(0));
      if (!m.find() || lines.get(1).length() <= m.start()) {
        return "";
      }
      return lines.get(1).substring(m.start()).split("\\s+")[0];
    }

    /** The agent's own view ({@code Main status} in its namespace) shows the NAT's address. */
    void assertAgentShowsPublicAddress(Binding binding) throws Exception {
      // The binding's received is sip:IP:PORT; the agent shows IP:PORT.
      String expected = binding.received().substring("sip:".length());
      AtomicReference<String> last = new AtomicReference<>();
      try {
        await("the agent shows publicAddress " + expected).atMost(Duration.ofSeconds(30))
            .pollInterval(Duration.ofMillis(500))
            .until(() -> {
              last.set(statusTable());
              return publicAddressOf(last.get()).contains(expected);
            });
      } catch (ConditionTimeoutException e) {
        throw new AssertionError("the agent's status does not show publicAddress " + expected
            + ":\n" + last.get() + diagnostics(), e);
      }
    }

    private String statusTable() throws Exception {
      Path out = Files.createTempFile(dir, "status", ".out");
      try (AgentProcess status = AgentProcess.start(out, java.util.Map.of(),
          NetnsTopology.NAMESPACE, List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"),
          "status", "--config", dir.resolve("agent.conf").toString())) {
        int exit = status.awaitExit(Duration.ofSeconds(20));
        String text = status.output();
        assertEquals(0, exit, () -> "`status` exited with " + exit + ": " + text);
        return text;
      } finally {
        Files.deleteIfExists(out);
      }
    }

    /** The cell of the column whose name ends in PUBLICADDRESS, in the table's one row. */
    private static String publicAddressOf(String table) {
      List<String> lines = table.lines().filter(l -> !l.isBlank()).toList();
      if (lines.size() < 2) {
        return "";
      }
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\S*PUBLICADDRESS")
          .matcher(lines.get(0));
      if (!m.find() || lines.get(1).length() <= m.start()) {
        return "";
      }
      return lines.get(1).substring(m.start()).split("\\s+")[0];
    }

    String diagnostics() {
      return "\n---- network namespaces ----\n" + net.describe()
          + "---- Kamailio log (tail, without its JSON-RPC noise) ----\n"
          + AgentProcess.tail(LinuxRoamingIT.withoutRpcNoise(kamailio.logs()), 40)
          + "\n---- agent log " + agent.outputFile() + " (tail) ----\n" + agent.outputTail(150);
    }
  }

  /**
   * Sends MESSAGE to the AOR {@code user} through the registrar, from a UDP socket on the
   * registrar's own address (the caller: another device on the registrar's side of the NATs);
   * returns the final answer, or what happened instead.
   */
  static String messageToAor(KamailioRegistrar kamailio, String user, String body)
      throws IOException {
    return SipCaller.toAor(kamailio, REGISTRAR_ADDRESS, user, "MESSAGE", body,
        ANSWER_TIMEOUT_MS);
  }

  /** The agent's control API, on the ue namespace's own loopback (nothing else there). */
  private static final int CONTROL_PORT = 8470;

  /**
   * The agent in the ue namespace ({@link NetnsTopology#agentConfig}: REGISTER timeout 2 s,
   * expires 600 s, the control API on {@link #CONTROL_PORT}).
   */
  /** Starts the agent against the registrar {@link #behindTheNats} started. */
  private interface AgentStarter {
    AgentProcess start(KamailioRegistrar kamailio) throws IOException;
  }

  /** What a test does with the agent running behind the NATs. */
  private interface BehindTheNats {
    void run(NetnsTopology net, KamailioRegistrar kamailio, AgentProcess agent, Checks checks)
        throws Exception;
  }

  /**
   * The set-up every test here shares: the NAT topology, {@code registrar} routing on
   * {@link #REGISTRAR_ADDRESS} with the test user, wlan0 down first when {@code cellOnly}, the
   * agent started by {@code starter}; then {@code body}, and the agent's log kept whatever
   * happened.
   */
  private static void behindTheNats(Path dir, TestInfo test, KamailioRegistrar.Builder registrar,
      boolean cellOnly, AgentStarter starter, BehindTheNats body) throws Exception {
    NetnsTopology.assumeUsable();
    NetnsTopology.assumeNftables();
    try (NetnsTopology net = NetnsTopology.createWithNat();
        KamailioRegistrar kamailio = registrar.routing().listenAddress(REGISTRAR_ADDRESS)
            .start()) {
      kamailio.addUser(USER, PASSWORD);
      if (cellOnly) {
        net.wlanDown();
      }
      AgentProcess agent = starter.start(kamailio);
      try (agent) {
        body.run(net, kamailio, agent, new Checks(net, kamailio, agent, dir));
      } finally {
        copyLog(agent, test);
      }
    }
  }

  private static AgentProcess startAgent(Path dir, KamailioRegistrar kamailio)
      throws IOException {
    return NetnsTopology.startAgent(dir,
        NetnsTopology.agentConfig(dir.resolve("data"), kamailio, List.of(USER), PASSWORD,
            Duration.ofSeconds(2), 600, CONTROL_PORT),
        NetnsTopology.TRACE_LOGBACK,
        List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
  }

  private static void copyLog(AgentProcess agent, TestInfo test) {
    Path copy = Path.of("target", "NatReachabilityIT-"
        + test.getTestMethod().map(m -> m.getName()).orElse("test") + "-agent.log");
    try {
      if (Files.isDirectory(copy.getParent())) {
        Files.copy(agent.outputFile(), copy, StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot copy the agent's log to " + copy, e);
    }
  }
}
