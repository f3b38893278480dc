package io.sipalr.it;

import static io.sipalr.it.NetnsTopology.CELL6_ADDRESS;
import static io.sipalr.it.NetnsTopology.REGISTRAR6_ADDRESS;
import static io.sipalr.it.NetnsTopology.REGISTRAR_ADDRESS;
import static io.sipalr.it.NetnsTopology.WLAN_ADDRESS;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.it.KamailioRegistrar.Binding;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An IPv6-only uplink: {@link NetnsTopology} with cell0 made IPv6-only (2001:2:20::2, {@link
 * NetnsTopology#cellIpv6Only()}), wlan0 IPv4. Kamailio listens on 198.19.30.1 and
 * [2001:2:30::1]; dnsmasq (on 2001:2:30::1, reachable through cell0 whatever wlan0 does)
 * answers {@code _sip._udp.sip.alr.test} SRV to sip1.alr.test with an A and an AAAA record.
 * The agent (linux provider) registers by name through wlan0 over IPv4; wlan0 down: the linux
 * provider takes cell0 up by its global IPv6 address, the registrar resolves to AAAA, and
 * Kamailio holds exactly one binding, received from [2001:2:20::2], its Contact bracketed, and
 * an OPTIONS to the AOR reaches the agent over IPv6; wlan0 up: back to one IPv4 binding.
 */
class DnsIpv6IT {
  private static final String USER = "roamer";
  private static final String PASSWORD = "roamer-secret";
  private static final Duration FIRST_REGISTRATION = Duration.ofSeconds(60);
  private static final Duration HANDOVER = Duration.ofSeconds(30);
  private static final Path LOG_COPY = Path.of("target", "DnsIpv6IT-agent.log");

  @Test
  void registersOverIpv6FromAnIpv6OnlyUplinkAndBackOverIpv4(@TempDir Path dir)
      throws Exception {
    NetnsTopology.assumeUsable();
    try (NetnsTopology net = NetnsTopology.create()) {
      net.cellIpv6Only();
      try (KamailioRegistrar kamailio = KamailioRegistrar.builder().routing()
              .listenAddress(REGISTRAR_ADDRESS).listenIpv6(REGISTRAR6_ADDRESS).start();
          TestDns dns = TestDns.start(REGISTRAR6_ADDRESS, List.of(
              "--srv-host=_sip._udp.sip.alr.test,sip1.alr.test," + kamailio.port() + ",10,0",
              "--host-record=sip1.alr.test," + REGISTRAR_ADDRESS + "," + REGISTRAR6_ADDRESS))) {
        kamailio.addUser(USER, PASSWORD);
        String config = NetnsTopology.agentConfig(dir.resolve("data"), kamailio, List.of(USER),
            PASSWORD, Duration.ofSeconds(2), 600, 0, "udp")
            .replace("registrar = \"" + kamailio.sipUri() + "\"",
                "registrar = \"sip:sip.alr.test\"")
            .replace("register-limit-per-minute = 1000", "register-limit-per-minute = 1000\n"
                + "  dns { nameserver = \"[" + REGISTRAR6_ADDRESS + "]:" + dns.port + "\" }");
        AgentProcess agent = NetnsTopology.startAgent(dir, config, NetnsTopology.TRACE_LOGBACK,
            List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
        try (agent) {
          Checks checks = new Checks(net, kamailio, agent, dns);
          checks.awaitOneBindingFrom(WLAN_ADDRESS, FIRST_REGISTRATION, "first registration");
          checks.assertReachable("over IPv4 through wlan0");

          long down = System.nanoTime();
          net.wlanDown();
          Binding b = checks.awaitOneBindingFrom("[" + CELL6_ADDRESS + "]", HANDOVER,
              "after wlan0 down (cell0 IPv6 only)");
          System.out.printf("DnsIpv6IT: wlan0 down -> one IPv6 binding from cell0 after %d ms:"
              + " %s%n", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - down), b.address());
          assertTrue(b.address().startsWith("sip:" + USER + "@[2001:2:20:"),
              "a bracketed IPv6 Contact: " + b);
          checks.assertReachable("over IPv6 through cell0");

          net.wlanUp();
          checks.awaitOneBindingFrom(WLAN_ADDRESS, HANDOVER, "after wlan0 came back");
          checks.assertReachable("over IPv4 again");
        } finally {
          if (Files.isDirectory(LOG_COPY.getParent())) {
            Files.copy(agent.outputFile(), LOG_COPY, StandardCopyOption.REPLACE_EXISTING);
          }
        }
      }
    }
  }

  private record Checks(NetnsTopology net, KamailioRegistrar kamailio, AgentProcess agent,
      TestDns dns) {

    Binding awaitOneBindingFrom(String address, Duration atMost, String when) {
      AtomicReference<List<Binding>> last = new AtomicReference<>(List.of());
      try {
        await(USER + " registered from " + address + " " + when).atMost(atMost)
            .pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(50)).until(() -> {
              agent.requireAlive(this::diagnostics);
              List<Binding> bindings = kamailio.lookup(USER);
              last.set(bindings);
              return bindings.size() == 1 && bindings.get(0).received() != null
                  && bindings.get(0).received().startsWith("sip:" + address + ":");
            });
      } catch (ConditionTimeoutException e) {
        throw new AssertionError("Not exactly one binding of " + USER + " from " + address + " "
            + when + " within " + atMost.toSeconds() + " s; last bindings: " + last.get()
            + diagnostics(), e);
      }
      return kamailio.lookup(USER).get(0);
    }

    void assertReachable(String when) {
      SipCaller.assertReachesAgent(kamailio, USER, when, this::diagnostics);
    }


    String diagnostics() {
      return "\n---- network namespace ----\n" + net.describe()
          + "---- dnsmasq ----\n" + AgentProcess.tail(dns.log(), 20)
          + "\n---- Kamailio log (tail) ----\n"
          + AgentProcess.tail(LinuxRoamingIT.withoutRpcNoise(kamailio.logs()), 40)
          + "\n---- agent log " + agent.outputFile() + " (tail) ----\n" + agent.outputTail(150);
    }
  }
}
