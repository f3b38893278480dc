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
 * kept in {@code target/CallRoamingIT-agent.log}.
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
    NetnsTopology.assumeUsable();
    Path sipp = Path.of("/usr/bin/sipp");
    Assumptions.assumeTrue(Files.isExecutable(sipp) || "true".equals(System.getenv("CI")),
        "sipp (sip-tester) is not installed");
    Path scenario = dir.resolve("call-uac-move.xml");
    try (InputStream in = CallRoamingIT.class.getResourceAsStream("/sipp/call-uac-move.xml")) {
      Files.write(scenario, in.readAllBytes());
    }
    try (NetnsTopology net = NetnsTopology.create();
        KamailioRegistrar kamailio = KamailioRegistrar.builder()
            .listenAddress(REGISTRAR_ADDRESS).routing().start()) {
      kamailio.addUser(USER, PASSWORD);
      String config = NetnsTopology.agentConfig(dir.resolve("data"), kamailio, List.of(USER),
          PASSWORD, Duration.ofSeconds(2), 600, CONTROL_PORT)
          + "calls { policy = auto-answer, answer-delay = 0s }\n";
      AgentProcess agent = NetnsTopology.startAgent(dir, config, NetnsTopology.TRACE_LOGBACK,
          List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
      Process caller = null;
      try (agent) {
        await("registered through wlan0").atMost(BOUND).until(() -> {
          agent.requireAlive(() -> "");
          return kamailio.lookup(USER).stream().anyMatch(b -> b.received() != null
              && b.received().startsWith("sip:" + WLAN_ADDRESS + ":"));
        });
        String token = Files.readString(dir.resolve("data").resolve("control.token")).strip();
        caller = new ProcessBuilder(sipp.toString(),
            kamailio.host() + ":" + kamailio.port(), "-sf", scenario.toString(), "-s", USER,
            "-i", REGISTRAR_ADDRESS, "-p", Integer.toString(freeUdpPort()),
            "-mi", REGISTRAR_ADDRESS, "-mp", Integer.toString(freeUdpPort()), "-rtp_echo",
            "-m", "1", "-timeout", "180s", "-timeout_error", "-nostdin", "-trace_err",
            "-error_file", dir.resolve("sipp-errors.log").toString())
            .redirectErrorStream(true).redirectOutput(dir.resolve("sipp.log").toFile()).start();

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
            + (Files.exists(dir.resolve("sipp-errors.log"))
                ? Files.readString(dir.resolve("sipp-errors.log")) : ""));
        System.out.printf("CallRoamingIT: on cell0 %s; back on wlan0 %s%n",
            flowing.get("media"), again.get("media"));
        // the agent's view through SIPp's echo: last RTP on the old socket to first on the new
        System.out.printf("CallRoamingIT: RTP gap at the agent (echoed), wlan0 -> cell0: %s ms,"
            + " cell0 -> wlan0: %s ms%n", flowing.get("media").path("lastMoveGapMs"),
            again.get("media").path("lastMoveGapMs"));
        assertTrue(flowing.get("media").has("lastMoveGapMs"), flowing.toString());
      } finally {
        if (caller != null) {
          caller.destroyForcibly();
        }
        if (Files.isDirectory(Path.of("target"))) {
          Files.copy(agent.outputFile(), Path.of("target", "CallRoamingIT-agent.log"),
              StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
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
