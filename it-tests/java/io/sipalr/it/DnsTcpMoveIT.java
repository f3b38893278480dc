package io.sipalr.it;

import static io.sipalr.it.NetnsTopology.CELL_ADDRESS;
import static io.sipalr.it.NetnsTopology.REGISTRAR_ADDRESS;
import static io.sipalr.it.NetnsTopology.WLAN_ADDRESS;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
 * Over TCP and TLS with the registrar given by name (issue 10: such a move never completed, the
 * connection bookkeeping keyed by host name, the stack's by address). The agent as users run
 * it, in {@link NetnsTopology}'s namespace (linux provider, wlan0 and cell0), registers at
 * {@code sip:sip.alr.test} with transport tcp: dnsmasq ({@link TestDns}, on the registrar's
 * address 198.19.30.1) answers {@code _sip._tcp.sip.alr.test} SRV to sip1.alr.test and its A
 * record, Kamailio listens there. wlan0 goes down: within {@link #HANDOVER} Kamailio holds
 * exactly one binding, received from cell0 over TCP, and an OPTIONS to the AOR through Kamailio
 * reaches the agent; before and after, likewise through wlan0.
 *
 * <p>Over TLS likewise ({@code _sips._tcp} SRV to Kamailio's TLS port, its certificate for
 * sip.alr.test from a CA generated here, which the agent trusts through
 * {@code sip.tls.trust-store}): after wlan0 goes down one TLS binding from cell0; after wlan0
 * comes back one TLS binding from wlan0 over a new connection, and Kamailio's
 * {@code core.tcp_list} without the cell0 connection and without the first wlan0 one (closed by
 * the agent when it left wlan0; its FIN reaches Kamailio only once wlan0 is back).
 */
class DnsTcpMoveIT {
  private static final String USER = "roamer";
  private static final String PASSWORD = "roamer-secret";
  private static final Duration FIRST_REGISTRATION = Duration.ofSeconds(60);
  /** As LinuxRoamingIT's: link down noticed, a REGISTER through cell0, its challenge. */
  private static final Duration HANDOVER = Duration.ofSeconds(30);
  private static final Path LOG_COPY = Path.of("target", "DnsTcpMoveIT-agent.log");

  @Test
  void aTcpMoveWithTheRegistrarGivenByNameLeavesOneBindingFromTheNewUplink(@TempDir Path dir)
      throws Exception {
    NetnsTopology.assumeUsable();
    try (NetnsTopology net = NetnsTopology.create();
        KamailioRegistrar kamailio = KamailioRegistrar.builder().routing()
            .listenAddress(REGISTRAR_ADDRESS).start();
        TestDns dns = TestDns.start(REGISTRAR_ADDRESS, List.of(
            "--srv-host=_sip._tcp.sip.alr.test,sip1.alr.test," + kamailio.port() + ",10,0",
            "--host-record=sip1.alr.test," + REGISTRAR_ADDRESS))) {
      kamailio.addUser(USER, PASSWORD);
      AgentProcess agent = startAgent(dir, kamailio, dns, "tcp", "");
      try (agent) {
        Checks checks = new Checks(net, kamailio, agent, dns, "tcp");
        checks.awaitOneBindingFrom(WLAN_ADDRESS, FIRST_REGISTRATION, "first registration");
        checks.assertReachable("through wlan0");
        assertTrue(dns.queriesFor("_sip._tcp.sip.alr.test") >= 1, dns.log());

        checks.wlanDownMovesToCell();
      } finally {
        if (Files.isDirectory(LOG_COPY.getParent())) {
          Files.copy(agent.outputFile(), LOG_COPY, StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
  }

  @Test
  void aTlsMoveWithTheRegistrarGivenByNameOpensANewConnectionAndClosesTheOld(@TempDir Path dir)
      throws Exception {
    NetnsTopology.assumeUsable();
    char[] storePassword = "it-trust".toCharArray();
    io.sipalr.sip.TestPki pki = io.sipalr.sip.TestPki.newCa("DnsTcpMoveIT CA");
    Path trust = pki.writeTrustStore(dir.resolve("trust.p12"), storePassword);
    Path tlsFiles = Files.createDirectories(dir.resolve("kamailio-tls"));
    io.sipalr.sip.TestPki.Issued cert = pki.server(io.sipalr.sip.TestPki.Names.sans(
        "sip.alr.test", List.of("sip:sip.alr.test"), List.of("sip.alr.test"), List.of()));
    cert.writeChainPem(tlsFiles.resolve("server.pem"));
    cert.writeKeyPem(tlsFiles.resolve("server.key"));
    try (NetnsTopology net = NetnsTopology.create();
        KamailioRegistrar kamailio = KamailioRegistrar.builder().routing().tls(tlsFiles)
            .listenAddress(REGISTRAR_ADDRESS).start();
        TestDns dns = TestDns.start(REGISTRAR_ADDRESS, List.of(
            "--srv-host=_sips._tcp.sip.alr.test,sip1.alr.test," + kamailio.tlsPort() + ",10,0",
            "--host-record=sip1.alr.test," + REGISTRAR_ADDRESS))) {
      kamailio.addUser(USER, PASSWORD);
      AgentProcess agent = startAgent(dir, kamailio, dns, "tls", "\n  tls { trust-store = \""
          + trust + "\", trust-store-password = \"" + new String(storePassword) + "\" }");
      try (agent) {
        Checks checks = new Checks(net, kamailio, agent, dns, "tls");
        checks.awaitOneBindingFrom(WLAN_ADDRESS, FIRST_REGISTRATION, "first registration");
        checks.assertReachable("through wlan0");
        java.util.Set<Integer> firstWlan = checks.tlsPortsFrom(WLAN_ADDRESS);
        assertEquals(1, firstWlan.size(), checks.diagnostics());
        assertTrue(dns.queriesFor("_sips._tcp.sip.alr.test") >= 1, dns.log());

        checks.wlanDownMovesToCell();
        assertEquals(1, kamailio.tlsConnectionsFrom(CELL_ADDRESS), checks.diagnostics());
        // The agent closed the wlan0 connection, but with wlan0 down its close cannot reach
        // Kamailio: the kernel retransmits the FIN until the link is back (below).
        java.util.Set<Integer> cell = checks.tlsPortsFrom(CELL_ADDRESS);

        net.wlanUp();
        checks.awaitOneBindingFrom(WLAN_ADDRESS, HANDOVER, "after wlan0 came back");
        checks.assertReachable("through wlan0 again");
        checks.awaitTlsConnectionsGone(CELL_ADDRESS, cell, Duration.ofSeconds(10),
            "closed by the agent once the binding moved back to wlan0");
        checks.awaitTlsConnectionsGone(WLAN_ADDRESS, firstWlan, Duration.ofSeconds(30),
            "the first wlan0 connection, its close delivered once wlan0 was back");
        assertEquals(1, kamailio.tlsConnectionsFrom(WLAN_ADDRESS), "one, new: "
            + kamailio.rpc("core.tcp_list"));
        assertEquals(0, kamailio.tlsConnectionsFrom(CELL_ADDRESS));
      } finally {
        if (Files.isDirectory(LOG_COPY.getParent())) {
          Files.copy(agent.outputFile(), LOG_COPY, StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
  }

  /**
   * The agent as users run it, in the namespace, its one profile over {@code transport} at
   * {@code sip:sip.alr.test} resolved by {@code dns}; {@code sipExtra} goes into its sip block.
   */
  private static AgentProcess startAgent(Path dir, KamailioRegistrar kamailio, TestDns dns,
      String transport, String sipExtra) throws Exception {
    String config = NetnsTopology.agentConfig(dir.resolve("data"), kamailio, List.of(USER),
        PASSWORD, Duration.ofSeconds(2), 600, 0, transport)
        .replace("registrar = \"" + kamailio.sipUri() + "\"", "registrar = \"sip:sip.alr.test\"")
        .replace("register-limit-per-minute = 1000", "register-limit-per-minute = 1000\n"
            + "  dns { nameserver = \"" + REGISTRAR_ADDRESS + ":" + dns.port + "\" }" + sipExtra);
    assertTrue(config.contains("registrar = \"sip:sip.alr.test\""), config);
    return NetnsTopology.startAgent(dir, config, NetnsTopology.TRACE_LOGBACK,
        List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
  }

  private record Checks(NetnsTopology net, KamailioRegistrar kamailio, AgentProcess agent,
      TestDns dns, String transport) {

    /** wlan0 down: one binding from cell0 within {@link #HANDOVER}, reachable through it. */
    void wlanDownMovesToCell() {
      long down = System.nanoTime();
      net.wlanDown();
      awaitOneBindingFrom(CELL_ADDRESS, HANDOVER, "after `ip link set wlan0 down`");
      System.out.printf("DnsTcpMoveIT: wlan0 down -> one %s binding from cell0 after %d ms%n",
          transport, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - down));
      assertReachable("through cell0");
    }

    /** The source ports of Kamailio's open TLS connections from {@code address}. */
    java.util.Set<Integer> tlsPortsFrom(String address) {
      java.util.Set<Integer> ports = new java.util.HashSet<>();
      for (com.fasterxml.jackson.databind.JsonNode c : kamailio.rpc("core.tcp_list")) {
        if (address.equals(c.path("src_ip").asText())
            && "TLS".equalsIgnoreCase(c.path("type").asText())
            && !c.path("state").asText().contains("BAD")) {
          ports.add(c.path("src_port").asInt());
        }
      }
      return ports;
    }

    /** Kamailio's TLS connections from {@code address} and {@code ports} closed. */
    void awaitTlsConnectionsGone(String address, java.util.Set<Integer> ports, Duration atMost,
        String why) {
      try {
        await("TLS connections from " + address + " " + ports + " gone at Kamailio: " + why)
            .atMost(atMost).pollInterval(Duration.ofMillis(100))
            .until(() -> java.util.Collections.disjoint(tlsPortsFrom(address), ports));
      } catch (ConditionTimeoutException e) {
        throw new AssertionError("a TLS connection from " + address + " " + ports
            + " is still open (" + why + "): " + kamailio.rpc("core.tcp_list")
            + diagnostics(), e);
      }
    }


    void awaitOneBindingFrom(String address, Duration atMost, String when) {
      AtomicReference<List<Binding>> last = new AtomicReference<>(List.of());
      try {
        await(USER + " registered from " + address + " " + when).atMost(atMost)
            .pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(50)).until(() -> {
              agent.requireAlive(this::diagnostics);
              List<Binding> bindings = kamailio.lookup(USER);
              last.set(bindings);
              return bindings.size() == 1 && isFrom(bindings.get(0), address);
            });
      } catch (ConditionTimeoutException e) {
        throw new AssertionError("Not exactly one binding of " + USER + " from " + address + " "
            + when + " within " + atMost.toSeconds() + " s; last bindings: " + last.get()
            + diagnostics(), e);
      }
      Binding b = kamailio.lookup(USER).get(0);
      assertTrue(b.address().contains("transport=" + transport)
          && b.socket().startsWith(transport + ":"), () -> "a " + transport + " binding: " + b);
    }

    private static boolean isFrom(Binding binding, String address) {
      return binding.received() != null && binding.received().startsWith("sip:" + address + ":");
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
