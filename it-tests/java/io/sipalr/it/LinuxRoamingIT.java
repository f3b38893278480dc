package io.sipalr.it;

import static io.sipalr.it.NetnsTopology.CELL_ADDRESS;
import static io.sipalr.it.NetnsTopology.REGISTRAR_ADDRESS;
import static io.sipalr.it.NetnsTopology.WLAN_ADDRESS;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.it.KamailioRegistrar.Binding;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent as users run it ({@code io.sipalr.agent.Main}, linux provider) roaming between real
 * interfaces: a child JVM in the network namespace of {@link NetnsTopology}, with uplinks wlan0
 * and cell0, registers at a Kamailio listening on 198.19.30.1 in the root namespace. Kamailio
 * stores each REGISTER's real source as the binding's Received, and the namespace routes
 * traffic from each uplink's address through that uplink only, so the Received proves which
 * interface the REGISTER left through.
 *
 * <p>Needs root (network namespaces, veth pairs), iproute2 and Docker; skips without them,
 * except with {@code CI=true}, where it fails. The agent's full log (io.sipalr at DEBUG, SIP
 * messages traced with credentials masked) is copied to {@code target/LinuxRoamingIT-agent.log}.
 */
class LinuxRoamingIT {
  private static final String USER = "roamer";
  private static final String PASSWORD = "roamer-secret";
  private static final Duration FIRST_REGISTRATION = Duration.ofSeconds(60);
  private static final Duration HANDOVER = Duration.ofSeconds(30);
  private static final Duration POLL = Duration.ofMillis(25);

  @Test
  void registersThroughWlan0MovesToCell0WhenWlan0GoesDownAndBackWhenItReturns(
      @TempDir Path dir) throws Exception {
    NetnsTopology.assumeUsable();
    try (NetnsTopology net = NetnsTopology.create();
        KamailioRegistrar kamailio =
            KamailioRegistrar.builder().listenAddress(REGISTRAR_ADDRESS).start()) {
      // Before the agent starts: a 401 after a fresh challenge would stop it for good (rule 16).
      kamailio.addUser(USER, PASSWORD);
      AgentProcess agent = startAgent(dir, kamailio);
      try (agent) {
        Checks checks = new Checks(net, kamailio, agent);

        // Rule 1: the best IAP of the SNAP, wlan, without asking anyone.
        checks.awaitOneBindingFrom(WLAN_ADDRESS, FIRST_REGISTRATION, "first registration");

        // Downgrade (rule 7): the registration through wlan0 is gone for real.
        long down = System.nanoTime();
        net.wlanDown();
        checks.awaitOneBindingFrom(CELL_ADDRESS, HANDOVER, "after `ip link set wlan0 down`");
        System.out.printf("LinuxRoamingIT: wlan0 down -> binding received from %s (cell0) after"
            + " %d ms (polled every %d ms)%n", CELL_ADDRESS, millisSince(down), POLL.toMillis());

        // Upgrade (rule 2: with no controller every migration is allowed).
        long up = System.nanoTime();
        net.wlanUp();
        checks.awaitOneBindingFrom(WLAN_ADDRESS, HANDOVER, "after wlan0 came back up");
        System.out.printf("LinuxRoamingIT: wlan0 up -> binding received from %s (wlan0) after"
            + " %d ms (polled every %d ms)%n", WLAN_ADDRESS, millisSince(up), POLL.toMillis());
      } finally {
        copyLog(agent);
      }
    }
  }

  private static long millisSince(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - nanos);
  }

  /** Waits on Kamailio's location table; failures carry everything needed to see why. */
  private record Checks(NetnsTopology net, KamailioRegistrar kamailio, AgentProcess agent) {

    /**
     * Waits (bounded) until a binding of {@link #USER} was received from {@code address}, then
     * asserts it is the only one: the old binding was replaced, not left behind (rule 14).
     */
    Binding awaitOneBindingFrom(String address, Duration atMost, String when) {
      AtomicReference<List<Binding>> last = new AtomicReference<>(List.of());
      try {
        await(USER + " registered from " + address + " " + when)
            .atMost(atMost)
            .pollDelay(Duration.ZERO)
            .pollInterval(POLL)
            .until(() -> {
              agent.requireAlive(this::diagnostics);
              List<Binding> bindings = kamailio.lookup(USER);
              last.set(bindings);
              return bindings.stream().anyMatch(b -> isFrom(b, address));
            });
      } catch (ConditionTimeoutException e) {
        throw new AssertionError("No binding of " + USER + " received from " + address + " "
            + when + " within " + atMost.toSeconds() + " s; last bindings: " + last.get()
            + diagnostics(), e);
      }
      List<Binding> bindings = kamailio.lookup(USER);
      assertEquals(1, bindings.size(),
          () -> "exactly one binding of " + USER + " " + when + ": " + bindings + diagnostics());
      assertTrue(isFrom(bindings.get(0), address), () -> "the binding of " + USER + " " + when
          + " was received from " + bindings.get(0).received() + ", expected " + address
          + diagnostics());
      return bindings.get(0);
    }

    private static boolean isFrom(Binding binding, String address) {
      return binding.received() != null && binding.received().startsWith("sip:" + address + ":");
    }

    String diagnostics() {
      return "\n---- network namespace ----\n" + net.describe()
          + "---- Kamailio log (tail, without its JSON-RPC noise) ----\n"
          + AgentProcess.tail(withoutRpcNoise(kamailio.logs()), 40)
          + "\n---- agent log " + agent.outputFile() + " (tail) ----\n" + agent.outputTail(150);
    }
  }

  /**
   * Kamailio's log without the lines its JSON-RPC error answers cause ("AOR not found in
   * location table" while the test polls before the first registration): Kamailio logs each such
   * HTTP answer as a SIP message it failed to parse, several lines each.
   */
  static String withoutRpcNoise(String log) {
    List<String> kept = new ArrayList<>();
    boolean inAnswer = false;
    for (String line : log.lines().toList()) {
      if (line.contains("message=<HTTP/")) {
        inAnswer = !line.endsWith(">");
      } else if (inAnswer) {
        inAnswer = !line.endsWith(">");
      } else if (!line.contains("build_sip_msg_from_buf(): parsing failed")
          && !line.contains("parse_first_line: bad message")) {
        kept.add(line);
      }
    }
    return String.join("\n", kept);
  }

  private static final Path LOG_COPY = Path.of("target", "LinuxRoamingIT-agent.log");

  /**
   * The agent as a child JVM in the namespace ({@code Main run --config <dir>/agent.conf}),
   * logging at DEBUG with the SIP trace to {@code <dir>/agent.log}.
   */
  static AgentProcess startAgent(Path dir, KamailioRegistrar kamailio) throws IOException {
    return NetnsTopology.startAgent(dir, kamailio, USER, PASSWORD, NetnsTopology.TRACE_LOGBACK,
        List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
  }

  /** Keeps the agent's log where a failed run can be read after the temporary dir is gone. */
  private static void copyLog(AgentProcess agent) {
    try {
      if (Files.isDirectory(LOG_COPY.getParent())) {
        Files.copy(agent.outputFile(), LOG_COPY, StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot copy the agent's log to " + LOG_COPY, e);
    }
  }
}
