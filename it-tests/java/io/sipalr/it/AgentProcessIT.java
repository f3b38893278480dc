package io.sipalr.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.it.KamailioRegistrar.Binding;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent as an operating system process ({@code Main run --config FILE} in a child JVM)
 * against Kamailio: what a kill -9 leaves behind and what a restart does with it, and SIGTERM.
 * The profile has no SNAP or IAP, so it registers from sip.local-address at once.
 */
class AgentProcessIT {
  /**
   * Whether the agent runs its control API in these tests: they are about the process, not the
   * API, which has tests of its own; set true to run them with the whole product.
   */
  private static final boolean CONTROL_API_ENABLED = true;
  private static final String USER = "ann";
  private static final Duration START_BOUND = Duration.ofSeconds(60);
  private static final Duration STOP_BOUND = Duration.ofSeconds(30);

  @TempDir Path dir;

  @Test
  void afterAKillTheRestartedAgentStillHasTheProfileAndLeavesOneBinding() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start()) {
      kamailio.addUser(USER, AgentHarness.REALM_PASSWORD);
      Path data = dir.resolve("data");
      int firstPort = KamailioRegistrar.freeUdpAndTcpPort("127.0.0.1");
      Binding before;
      try (AgentProcess first = AgentProcess.start(dir.resolve("first.log"), "run", "--config",
          config("first.conf", kamailio, data, firstPort, true).toString())) {
        before = awaitOneBindingOn(kamailio, first, firstPort);
        first.kill();
      }
      // Nothing deregistered: the dead agent's binding is still there.
      assertEquals(List.of(before.address()),
          kamailio.lookup(USER).stream().map(Binding::address).toList());

      // No seed this time: the profile can only come from the store the first one left.
      int secondPort = KamailioRegistrar.freeUdpAndTcpPort("127.0.0.1");
      try (AgentProcess second = AgentProcess.start(dir.resolve("second.log"), "run",
          "--config", config("second.conf", kamailio, data, secondPort, false).toString())) {
        Binding after = awaitOneBindingOn(kamailio, second, secondPort);
        // The same +sip.instance (persistent) made the registrar replace the old binding.
        assertEquals(before.instance(), after.instance());
        assertTrue(after.instance() != null && after.instance().contains("urn:uuid:"),
            after.toString());
        assertEquals(0, second.terminate(STOP_BOUND), second.output());
      }
    }
  }

  @Test
  void sigtermDeregistersEveryProfileAndExitsZero() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start()) {
      kamailio.addUser(USER, AgentHarness.REALM_PASSWORD);
      int port = KamailioRegistrar.freeUdpAndTcpPort("127.0.0.1");
      try (AgentProcess agent = AgentProcess.start(dir.resolve("agent.log"), "run", "--config",
          config("agent.conf", kamailio, dir.resolve("data"), port, true).toString())) {
        awaitOneBindingOn(kamailio, agent, port);
        int exit = agent.terminate(STOP_BOUND);
        assertEquals(0, exit, agent.output());
        assertEquals(List.of(), kamailio.lookup(USER), agent.output());
      }
    }
  }

  /** Waits until the registrar holds exactly one binding of USER, with the contact on port. */
  private static Binding awaitOneBindingOn(KamailioRegistrar kamailio, AgentProcess agent,
      int port) {
    String contact = "sip:" + USER + "@127.0.0.1:" + port;
    return await("one binding of " + contact).atMost(START_BOUND)
        .pollInterval(Duration.ofMillis(100))
        .until(() -> {
          if (!agent.isAlive()) {
            throw new AssertionError("the agent exited; its output:\n" + agent.output());
          }
          List<Binding> bindings = kamailio.lookup(USER);
          return bindings.size() == 1 && bindings.get(0).address().startsWith(contact)
              ? bindings.get(0) : null;
        }, b -> b != null);
  }

  private Path config(String name, KamailioRegistrar kamailio, Path data, int sipPort,
      boolean seed) throws Exception {
    String profiles = !seed ? "[]" : """
        [ { id = %s, aor = "sip:%s@%s", registrar = "%s", password = "%s", transport = udp,
            expires = 600, auto-register = true } ]
        """.formatted(USER, USER, kamailio.realm(), kamailio.sipUri(),
        AgentHarness.REALM_PASSWORD);
    String text = """
        agent.data-dir = "%s"
        sip {
          local-address = "127.0.0.1"
          port = %d
          register-timeout = 2s
          backoff { base-all-failed = 1s, base-some-failed = 1s, max = 4s }
        }
        control { enabled = %s, port = 0 }
        profiles = %s
        """.formatted(data, sipPort, CONTROL_API_ENABLED, profiles);
    Path file = dir.resolve(name);
    Files.writeString(file, text);
    return file;
  }
}
