package io.sipalr.it;

import static io.sipalr.it.NetnsTopology.CELL_ADDRESS;
import static io.sipalr.it.NetnsTopology.REGISTRAR_ADDRESS;
import static io.sipalr.it.NetnsTopology.WLAN_ADDRESS;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A call that survives a move between real interfaces: the agent as users run it (child JVM,
 * linux provider) in {@link NetnsTopology}'s namespace, registered through wlan0, auto-answers
 * a call from SIPp (at the registrar's address, through Kamailio); wlan0 goes down, the profile
 * moves to cell0 and the call follows: a re-INVITE from 198.19.20.2, RTP from a socket there;
 * wlan0 comes back and the call returns to it the same way.
 * SIPp echoes every RTP packet to where it came from ({@code -rtp_echo}), so packets arriving
 * at the agent's cell0 socket were first received by SIPp from cell0's address. The agent's
 * calls are read through its control API inside the namespace (curl there). The agent's log is
 * kept in {@code target/CallRoamingIT-agent.log}. Two more scenarios: 20 calls moving
 * together, and a move the application refuses; there the far end's view is tcpdump's
 * ({@link FarEndCapture}).
 */
class CallRoamingIT {
  private static final String USER = "caller";
  private static final String PASSWORD = "caller-secret";
  private static final int CONTROL_PORT = 18470;
  private static final Duration BOUND = Duration.ofSeconds(60);
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void anEstablishedCallMovesToCell0WhenWlan0GoesDownAndBackWhenItReturns(@TempDir Path dir)
      throws Exception {
    Path sipp = requireSipp();
    try (Rig rig = Rig.start(dir, "", "CallRoamingIT-agent.log")) {
      NetnsTopology net = rig.net;
      KamailioRegistrar kamailio = rig.kamailio;
      String token = rig.token;
      Process caller = rig.caller = sipp(sipp, dir, kamailio, "call-uac-move.xml",
          rig.mediaPort, "-m", "1");

      JsonNode call = awaitCall(token, c -> "ESTABLISHED".equals(c.path("state").asText())
          && c.path("media").path("packetsReceived").asLong() >= 25, "established");
      String id = call.get("id").asText();
      assertEquals(WLAN_ADDRESS, call.get("media").get("localAddress").asText(), call.toString());
      assertTrue(call.get("media").get("lastSource").asText()
          .startsWith(REGISTRAR_ADDRESS + ":"), call.toString());

      long down = System.nanoTime();
      net.wlanDown();
      JsonNode moved = awaitCall(token, c -> CELL_ADDRESS.equals(c.path("media")
          .path("localAddress").asText()), "moved to cell0");
      long afterMove = moved.get("media").get("packetsReceived").asLong();
      System.out.printf("CallRoamingIT: wlan0 down -> call on cell0 after %d ms%n",
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - down));
      JsonNode flowing = awaitCall(token, c -> c.path("media").path("packetsReceived")
          .asLong() >= afterMove + 50, "RTP echoed back to cell0's socket");
      assertEquals(id, flowing.get("id").asText(), "the same call");
      assertEquals("ESTABLISHED", flowing.get("state").asText());
      assertEquals(CELL_ADDRESS, flowing.get("localAddress").asText());
      List<KamailioRegistrar.Binding> bindings = kamailio.lookup(USER);
      assertEquals(1, bindings.size(), bindings.toString());
      assertTrue(bindings.get(0).received().startsWith("sip:" + CELL_ADDRESS + ":"),
          bindings.toString());

      // and back: wlan0 up again, the profile returns to it (with no controller every
      // migration is allowed), and so does the call
      long up = System.nanoTime();
      net.wlanUp();
      JsonNode back = awaitCall(token, c -> WLAN_ADDRESS.equals(c.path("media")
          .path("localAddress").asText()), "moved back to wlan0");
      System.out.printf("CallRoamingIT: wlan0 up -> call on wlan0 after %d ms%n",
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - up));
      long afterReturn = back.get("media").get("packetsReceived").asLong();
      JsonNode again = awaitCall(token, c -> c.path("media").path("packetsReceived")
          .asLong() >= afterReturn + 50, "RTP echoed back to wlan0's socket");
      assertEquals(id, again.get("id").asText(), "the same call");
      List<KamailioRegistrar.Binding> atHome = kamailio.lookup(USER);
      assertEquals(1, atHome.size(), atHome.toString());
      assertTrue(atHome.get(0).received().startsWith("sip:" + WLAN_ADDRESS + ":"),
          atHome.toString());

      String ended = inNamespace("curl", "-s", "-X", "DELETE", "-H",
          "Authorization: Bearer " + token,
          "http://127.0.0.1:" + CONTROL_PORT + "/v1/calls/" + id);
      assertTrue(ended.contains("\"id\""), ended);
      assertTrue(caller.waitFor(60, TimeUnit.SECONDS), "SIPp finished");
      assertEquals(0, caller.exitValue(), "SIPp answered the re-INVITE and the BYE: "
          + sippErrors(dir));
      System.out.printf("CallRoamingIT: on cell0 %s; back on wlan0 %s%n",
          flowing.get("media"), again.get("media"));
      // the agent's view through SIPp's echo: last RTP on the old socket to first on the new
      System.out.printf("CallRoamingIT: RTP gap at the agent (echoed), wlan0 -> cell0: %s ms,"
          + " cell0 -> wlan0: %s ms%n", flowing.get("media").path("lastMoveGapMs"),
          again.get("media").path("lastMoveGapMs"));
      assertTrue(flowing.get("media").has("lastMoveGapMs"), flowing.toString());
    }
  }

  /**
   * 20 calls of one profile (one SNAP) from SIPp, all established through wlan0; wlan0 goes
   * down and every one of them moves to cell0 with the profile: the far end (tcpdump in the
   * root namespace, not the agent) receives RTP from cell0 at each call's new port; SIPp then
   * hangs up each call itself, and its BYE reaches the agent through Kamailio at the new
   * Contact. Exactly one binding before and after; an OPTIONS to the AOR reaches the agent.
   */
  @Test
  void twentyCallsOnOneSnapMoveToCell0TogetherAndAllSurvive(@TempDir Path dir)
      throws Exception {
    int count = 20;
    Path sipp = requireSipp();
    try (Rig rig = Rig.start(dir, "", "CallRoamingIT-twenty-agent.log")) {
      NetnsTopology net = rig.net;
      KamailioRegistrar kamailio = rig.kamailio;
      AgentProcess agent = rig.agent;
      FarEndCapture rtp = rig.rtp;
      int mediaPort = rig.mediaPort;
      String token = rig.token;
      Process caller = rig.caller = sipp(sipp, dir, kamailio, "call-uac-move-bye.xml", mediaPort,
          "-m", Integer.toString(count), "-l", Integer.toString(count), "-r", "20",
          "-rp", "1000");
      awaitCalls(token, count, c -> "ESTABLISHED".equals(c.path("state").asText())
          && WLAN_ADDRESS.equals(c.path("media").path("localAddress").asText())
          && c.path("media").path("packetsReceived").asLong() >= 10,
          count + " calls established through wlan0, RTP echoed");
      assertOneBinding(kamailio, WLAN_ADDRESS, "before the move");

      net.wlanDown();
      List<JsonNode> moved = awaitCalls(token, count, c -> CELL_ADDRESS.equals(c.path("media")
          .path("localAddress").asText()), "all " + count + " calls moved to cell0");
      Set<Integer> cellPorts = new TreeSet<>();
      for (JsonNode c : moved) {
        cellPorts.add(c.get("media").get("localPort").asInt());
      }
      assertEquals(count, cellPorts.size(), "one RTP socket per call on cell0: " + cellPorts);
      for (int port : cellPorts) {
        FarEndCapture.Packet seen = rtp.await(0, p -> p.from().equals(CELL_ADDRESS)
            && p.fromPort() == port, BOUND);
        assertTrue(seen != null, "the far end received RTP from " + CELL_ADDRESS + ":"
            + port + " (a moved call)");
      }
      assertOneBinding(kamailio, CELL_ADDRESS, "after the move");
      SipCaller.assertReachesAgent(kamailio, USER, "after the move",
          () -> "\n" + agent.outputTail(40));

      // SIPp hangs up each call 3 s after the move: its BYEs go to the new Contact
      assertTrue(caller.waitFor(60, TimeUnit.SECONDS), "SIPp finished");
      assertEquals(0, caller.exitValue(), "SIPp's " + count + " calls each got the"
          + " re-INVITE and a 200 to its BYE: " + sippErrors(dir));
      List<JsonNode> ended = awaitCalls(token, 0, c -> true, "every call ended");
      assertEquals(List.of(), ended);
      for (JsonNode c : moved) {
        JsonNode last = json(inNamespace("curl", "-s", "-H", "Authorization: Bearer " + token,
            api("/v1/calls/" + c.get("id").asText())));
        assertEquals("ENDED", last.path("state").asText(), last.toString());
        assertEquals(CELL_ADDRESS, last.path("media").path("localAddress").asText(),
            "ended where it moved to: " + last);
      }
      assertOneBinding(kamailio, CELL_ADDRESS, "after the calls");
    }
  }

  /**
   * A move the application refuses: the ALR policy is manual (the application decides through
   * the control API). The call is on cell0 (wlan0 went down); wlan0 comes back, the offer waits
   * in GET /v1/alr/pending showing the one call it would move, and the application refuses it.
   * The call stays on cell0: no re-INVITE, the far end goes on receiving RTP from cell0's
   * address and none from wlan0's; the one binding stays at cell0 and the agent is reachable
   * through Kamailio; the agent's BYE ends the call at SIPp.
   */
  @Test
  void aMoveTheApplicationRefusesLeavesTheCallAndTheBindingWhereTheyWere(@TempDir Path dir)
      throws Exception {
    Path sipp = requireSipp();
    String manual = "alr.policy { mode = manual, manual { timeout = 120s, default = allow } }\n";
    try (Rig rig = Rig.start(dir, manual, "CallRoamingIT-refused-agent.log")) {
      NetnsTopology net = rig.net;
      KamailioRegistrar kamailio = rig.kamailio;
      AgentProcess agent = rig.agent;
      FarEndCapture rtp = rig.rtp;
      int mediaPort = rig.mediaPort;
      String token = rig.token;
      Process caller = rig.caller = sipp(sipp, dir, kamailio, "call-uac-move.xml", mediaPort,
          "-m", "1");
      awaitCall(token, c -> "ESTABLISHED".equals(c.path("state").asText())
          && c.path("media").path("packetsReceived").asLong() >= 10, "established");
      net.wlanDown(); // a lost interface is no offer: the profile and the call go to cell0
      JsonNode onCell = awaitCall(token, c -> CELL_ADDRESS.equals(c.path("media")
          .path("localAddress").asText()), "moved to cell0");
      String id = onCell.get("id").asText();
      assertOneBinding(kamailio, CELL_ADDRESS, "on cell0");

      net.wlanUp();
      JsonNode offer = awaitPending(token);
      assertEquals(1, offer.get("iap").asInt(), offer.toString());
      assertEquals(1, offer.get("calls").asInt(), "the offer shows the call it would move");
      String decision = inNamespace("curl", "-s", "-X", "POST", "-H",
          "Authorization: Bearer " + token, "-H", "Content-Type: application/json",
          "-d", "{\"iap\": 1}", api("/v1/profiles/" + USER + "/alr/disallow"));
      assertTrue(decision.contains("disallow") || decision.contains("DISALLOW"), decision);
      int afterDecision = rtp.size();
      long receivedThen = getCall(token, id).get("media").get("packetsReceived").asLong();
      // the far end goes on receiving RTP from cell0 (150 packets: 3 s) ...
      assertTrue(rtp.await(afterDecision + 150, p -> true, BOUND) != null,
          "RTP goes on reaching the far end after the refusal");
      List<FarEndCapture.Packet> since = rtp.since(afterDecision);
      assertTrue(since.stream().allMatch(p -> p.from().equals(CELL_ADDRESS)),
          "after the refusal every RTP packet came from cell0: "
              + since.stream().map(FarEndCapture.Packet::from).distinct().toList());
      JsonNode stayed = getCall(token, id);
      assertEquals("ESTABLISHED", stayed.get("state").asText(), stayed.toString());
      assertEquals(CELL_ADDRESS, stayed.get("localAddress").asText(), stayed.toString());
      assertEquals(CELL_ADDRESS, stayed.get("media").get("localAddress").asText());
      assertTrue(stayed.get("media").get("packetsReceived").asLong() > receivedThen + 100,
          "SIPp's echo still comes back to cell0's socket: " + stayed);
      assertOneBinding(kamailio, CELL_ADDRESS, "after the refusal");
      SipCaller.assertReachesAgent(kamailio, USER, "after the refusal",
          () -> "\n" + agent.outputTail(40));

      String ended = inNamespace("curl", "-s", "-X", "DELETE", "-H",
          "Authorization: Bearer " + token, api("/v1/calls/" + id));
      assertTrue(ended.contains("\"id\""), ended);
      assertTrue(caller.waitFor(60, TimeUnit.SECONDS), "SIPp finished");
      assertEquals(0, caller.exitValue(), "SIPp got no re-INVITE it did not expect and the"
          + " agent's BYE: " + sippErrors(dir));
    }
  }

  /**
   * DTMF both ways on a call through Kamailio (RFC 4733 telephone-events, payload type 101 as
   * SIPp offers it): SIPp plays the digits 1 and # from the pcap files Debian's sip-tester
   * ships, and the agent's view of the call shows "1#"; the agent sends "42#" through
   * POST /v1/calls/{id}/dtmf, and the far end (tcpdump) receives 24 telephone-event packets
   * from it (16 bytes each: 8 per digit, the end three times).
   */
  @Test
  void dtmfGoesBothWaysAsTelephoneEvents(@TempDir Path dir) throws Exception {
    Path sipp = requireSipp();
    try (Rig rig = Rig.start(dir, "", "CallRoamingIT-dtmf-agent.log")) {
      KamailioRegistrar kamailio = rig.kamailio;
      AgentProcess agent = rig.agent;
      FarEndCapture rtp = rig.rtp;
      int mediaPort = rig.mediaPort;
      String token = rig.token;
      // -rtp_echo is not given: SIPp's RTP is what it plays
      Process caller = rig.caller = new ProcessBuilder(sippCommand(sipp, dir, kamailio,
          "call-uac-dtmf.xml", mediaPort, false, "-m", "1")).redirectErrorStream(true)
          .redirectOutput(dir.resolve("sipp.log").toFile()).start();
      JsonNode heard = awaitCall(token, c -> "1#".equals(c.path("media")
          .path("dtmfReceived").asText()), "the digits SIPp played, decoded");
      String id = heard.get("id").asText();
      int before = rtp.size();
      String queued = inNamespace("curl", "-s", "-X", "POST", "-H",
          "Authorization: Bearer " + token, "-H", "Content-Type: application/json",
          "-d", "{\"digits\": \"42#\"}", api("/v1/calls/" + id + "/dtmf"));
      assertTrue(queued.contains("\"id\""), queued);
      int[] events = {0};
      assertTrue(rtp.await(before, p -> p.from().equals(WLAN_ADDRESS) && p.length() == 16
          && ++events[0] == 24, BOUND) != null, "24 telephone-event packets at the far end,"
          + " saw " + events[0]);
      assertTrue(rtp.await(rtp.size(), p -> p.from().equals(WLAN_ADDRESS)
          && p.length() == 172, BOUND) != null, "audio again after the digits");
      String ended = inNamespace("curl", "-s", "-X", "DELETE", "-H",
          "Authorization: Bearer " + token, api("/v1/calls/" + id));
      assertTrue(ended.contains("\"id\""), ended);
      assertTrue(caller.waitFor(60, TimeUnit.SECONDS), "SIPp finished");
      assertEquals(0, caller.exitValue(), "SIPp got the agent's BYE: " + sippErrors(dir));
    }
  }

  // ---- helpers ------------------------------------------------------------------------------

  /**
   * One test's world, closed in reverse: the namespace topology, a routing Kamailio with the
   * user, the agent in the namespace (auto-answering, with extra configuration) registered
   * through wlan0, tcpdump at the far end on a free media port, and the SIPp the test starts
   * ({@link #caller}, stopped first); the agent's log is kept in target/.
   */
  private static final class Rig implements AutoCloseable {
    final NetnsTopology net;
    KamailioRegistrar kamailio;
    AgentProcess agent;
    FarEndCapture rtp;
    final int mediaPort;
    String token;
    Process caller;
    private final String log;

    private Rig(NetnsTopology net, int mediaPort, String log) {
      this.net = net;
      this.mediaPort = mediaPort;
      this.log = log;
    }

    static Rig start(Path dir, String extraConfig, String log) throws Exception {
      FarEndCapture.tcpdump();
      Rig rig = new Rig(NetnsTopology.create(), freeUdpPort(), log);
      try {
        rig.kamailio = KamailioRegistrar.builder().listenAddress(REGISTRAR_ADDRESS).routing()
            .start();
        rig.kamailio.addUser(USER, PASSWORD);
        rig.agent = startAgent(dir, rig.kamailio, extraConfig);
        rig.rtp = FarEndCapture.rtp(REGISTRAR_ADDRESS, List.of(rig.mediaPort),
            dir.resolve("tcpdump.log"));
        rig.token = awaitRegisteredThroughWlan(rig.agent, rig.kamailio, dir);
        return rig;
      } catch (Exception | Error e) {
        rig.close();
        throw e;
      }
    }

    @Override
    public void close() throws Exception {
      try {
        if (caller != null) {
          caller.destroyForcibly();
        }
        if (agent != null) {
          keepLog(agent, log);
          agent.close();
        }
      } finally {
        try {
          if (rtp != null) {
            rtp.close();
          }
          if (kamailio != null) {
            kamailio.close();
          }
        } finally {
          net.close();
        }
      }
    }
  }

  private static Path requireSipp() {
    NetnsTopology.assumeUsable();
    Path sipp = Path.of("/usr/bin/sipp");
    Assumptions.assumeTrue(Files.isExecutable(sipp) || "true".equals(System.getenv("CI")),
        "sipp (sip-tester) is not installed");
    return sipp;
  }

  /** The agent in the namespace, auto-answering, with {@code extraConfig} appended. */
  private static AgentProcess startAgent(Path dir, KamailioRegistrar kamailio,
      String extraConfig) throws Exception {
    String config = NetnsTopology.agentConfig(dir.resolve("data"), kamailio, List.of(USER),
        PASSWORD, Duration.ofSeconds(2), 600, CONTROL_PORT)
        + "calls { policy = auto-answer, answer-delay = 0s }\n" + extraConfig;
    return NetnsTopology.startAgent(dir, config, NetnsTopology.TRACE_LOGBACK,
        List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
  }

  /** Waits for the one binding through wlan0; the control API's token. */
  private static String awaitRegisteredThroughWlan(AgentProcess agent,
      KamailioRegistrar kamailio, Path dir) throws Exception {
    await("registered through wlan0").atMost(BOUND).until(() -> {
      agent.requireAlive(() -> "");
      return kamailio.lookup(USER).stream().anyMatch(b -> b.received() != null
          && b.received().startsWith("sip:" + WLAN_ADDRESS + ":"));
    });
    return Files.readString(dir.resolve("data").resolve("control.token")).strip();
  }

  /** SIPp at the registrar's address calling the AOR with {@code scenario}, -rtp_echo. */
  private static Process sipp(Path sipp, Path dir, KamailioRegistrar kamailio, String scenario,
      int mediaPort, String... extra) throws Exception {
    return new ProcessBuilder(sippCommand(sipp, dir, kamailio, scenario, mediaPort, true, extra))
        .redirectErrorStream(true).redirectOutput(dir.resolve("sipp.log").toFile()).start();
  }

  private static List<String> sippCommand(Path sipp, Path dir, KamailioRegistrar kamailio,
      String scenario, int mediaPort, boolean echo, String... extra) throws Exception {
    Path file = dir.resolve(scenario);
    try (InputStream in = CallRoamingIT.class.getResourceAsStream("/sipp/" + scenario)) {
      Files.write(file, in.readAllBytes());
    }
    List<String> command = new java.util.ArrayList<>(List.of(sipp.toString(),
        kamailio.host() + ":" + kamailio.port(), "-sf", file.toString(), "-s", USER,
        "-i", REGISTRAR_ADDRESS, "-p", Integer.toString(freeUdpPort()),
        "-mi", REGISTRAR_ADDRESS, "-mp", Integer.toString(mediaPort),
        "-timeout", "180s", "-timeout_error", "-nostdin", "-trace_err", "-trace_msg",
        "-message_file", dir.resolve("sipp-messages.log").toString(),
        "-error_file", dir.resolve("sipp-errors.log").toString()));
    if (echo) {
      command.add("-rtp_echo");
    }
    command.addAll(List.of(extra));
    return command;
  }

  private static String sippErrors(Path dir) throws Exception {
    Path errors = dir.resolve("sipp-errors.log");
    Path messages = dir.resolve("sipp-messages.log");
    String tail = Files.exists(messages) ? AgentProcess.tail(Files.readString(messages), 60) : "";
    return (Files.exists(errors) ? AgentProcess.tail(Files.readString(errors), 30) : "")
        + "\n" + Files.readString(dir.resolve("sipp.log")) + "\nSIPp's last messages:\n" + tail;
  }

  private static void assertOneBinding(KamailioRegistrar kamailio, String address, String when) {
    List<KamailioRegistrar.Binding> bindings = kamailio.lookup(USER);
    assertEquals(1, bindings.size(), when + ": " + bindings);
    assertTrue(bindings.get(0).received().startsWith("sip:" + address + ":"),
        when + ": " + bindings);
  }

  private static void keepLog(AgentProcess agent, String name) throws Exception {
    if (Files.isDirectory(Path.of("target"))) {
      Files.copy(agent.outputFile(), Path.of("target", name),
          StandardCopyOption.REPLACE_EXISTING);
    }
  }

  private static String api(String path) {
    return "http://127.0.0.1:" + CONTROL_PORT + path;
  }

  private static JsonNode json(String text) throws Exception {
    return JSON.readTree(text);
  }

  private JsonNode getCall(String token, String id) throws Exception {
    return json(inNamespace("curl", "-s", "-H", "Authorization: Bearer " + token,
        api("/v1/calls/" + id)));
  }

  /** Polls GET /v1/calls until exactly {@code count} calls are listed and all pass. */
  private List<JsonNode> awaitCalls(String token, int count, Check check, String what) {
    List<JsonNode> found = new java.util.ArrayList<>();
    String[] last = {""};
    try {
      await(what).atMost(BOUND).pollInterval(Duration.ofMillis(200)).until(() -> {
        last[0] = inNamespace("curl", "-s", "-H", "Authorization: Bearer " + token,
            api("/v1/calls"));
        if (!last[0].startsWith("[")) {
          return false;
        }
        found.clear();
        for (JsonNode c : JSON.readTree(last[0])) {
          if (!check.test(c)) {
            return false;
          }
          found.add(c);
        }
        return found.size() == count;
      });
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new AssertionError(what + ": not within " + BOUND + "; last GET /v1/calls: "
          + last[0], e);
    }
    return List.copyOf(found);
  }

  /** Polls GET /v1/alr/pending until an offer waits; that offer. */
  private JsonNode awaitPending(String token) {
    JsonNode[] offer = new JsonNode[1];
    await("an offer of wlan0 waits for the application").atMost(BOUND)
        .pollInterval(Duration.ofMillis(200)).until(() -> {
          JsonNode list = json(inNamespace("curl", "-s", "-H", "Authorization: Bearer " + token,
              api("/v1/alr/pending")));
          JsonNode first = list.isArray() ? list.path(0) : list.path("pending").path(0);
          offer[0] = first.isMissingNode() ? null : first;
          return offer[0] != null;
        });
    return offer[0];
  }

  private interface Check {
    boolean test(JsonNode call);
  }

  /** Polls GET /v1/calls in the namespace until a call passes {@code check}; that call. */
  private JsonNode awaitCall(String token, Check check, String what) {
    JsonNode[] found = new JsonNode[1];
    String[] last = {""};
    try {
      await(what).atMost(BOUND).pollInterval(Duration.ofMillis(200)).until(() -> {
        last[0] = inNamespace("curl", "-s", "-H", "Authorization: Bearer " + token,
            "http://127.0.0.1:" + CONTROL_PORT + "/v1/calls");
        if (!last[0].startsWith("[")) {
          return false;
        }
        for (JsonNode c : JSON.readTree(last[0])) {
          if (check.test(c)) {
            found[0] = c;
            return true;
          }
        }
        return false;
      });
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new AssertionError(what + ": not within " + BOUND + "; last GET /v1/calls: "
          + last[0], e);
    }
    return found[0];
  }

  private static String inNamespace(String... command) throws Exception {
    List<String> full = new java.util.ArrayList<>(List.of("ip", "netns", "exec",
        NetnsTopology.NAMESPACE));
    full.addAll(List.of(command));
    Process p = new ProcessBuilder(full).redirectErrorStream(true).start();
    byte[] out = p.getInputStream().readAllBytes();
    p.waitFor(10, TimeUnit.SECONDS);
    return new String(out, StandardCharsets.UTF_8);
  }

  private static int freeUdpPort() throws Exception {
    try (DatagramSocket s = new DatagramSocket(0, InetAddress.getByName(REGISTRAR_ADDRESS))) {
      return s.getLocalPort();
    }
  }
}
