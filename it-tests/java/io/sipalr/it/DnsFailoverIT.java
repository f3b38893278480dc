package io.sipalr.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.dns.DnsConfig;
import io.sipalr.dns.SipTarget;
import io.sipalr.it.KamailioRegistrar.Binding;
import io.sipalr.profile.SipProfile;
import io.sipalr.profile.SipProfileBuilder;
import io.sipalr.profile.Transport;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.RegistrationError;
import io.sipalr.sip.RegistrationInfo;
import io.sipalr.sip.SipConfig;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A registrar given by name (RFC 3263), against a real nameserver (dnsmasq, {@link TestDns})
 * and two Kamailio registrars: {@code _sip._udp.sip.alr.test} has SRV records for
 * sip1.alr.test (priority 10, Kamailio on 127.0.0.21) and sip2.alr.test (priority 20, Kamailio
 * on 127.0.0.22). The agent (127.0.0.2) registers at sip1; sip1 is stopped; the agent's next
 * REGISTER there times out and goes to sip2 at once (RFC 3263 §4.3): within {@link #FAILOVER}
 * it is registered there, one binding, its status names sip2, and an OPTIONS to the AOR
 * through sip2 reaches the agent. sip1 then comes back at its address and port: the agent stays
 * with sip2 (sticky) across refreshes and a re-resolution, until sip2 is stopped, when it
 * registers at sip1 again. A domain-only registrar without transport registers over the TCP its
 * NAPTR records prefer. A name that does not exist ends in a DNS error naming it.
 */
class DnsFailoverIT {
  private static final String AGENT = "127.0.0.2";
  private static final String DNS = "127.0.0.53";
  private static final String FIRST = "127.0.0.21";
  private static final String SECOND = "127.0.0.22";
  private static final String PASSWORD = AgentHarness.REALM_PASSWORD;
  private static final int EXPIRES = 20;
  private static final Duration REGISTER_TIMEOUT = Duration.ofSeconds(2);
  /**
   * From the first registrar's stop to registered on the second: the next refresh (due before
   * the 20 s expiry), its timeout (2 s), then one attempt on the second (a challenge and the
   * REGISTER with credentials, each within the timeout), and 3 s for polling on a busy machine.
   */
  private static final Duration FAILOVER = Duration.ofSeconds(EXPIRES)
      .plus(REGISTER_TIMEOUT.multipliedBy(3)).plusSeconds(3);

  private static SipConfig config() {
    return new SipConfig(AGENT, 0, "sip-alr-agent-it", REGISTER_TIMEOUT,
        new SipConfig.Backoff(Duration.ofSeconds(1), Duration.ofSeconds(1),
            Duration.ofSeconds(10)), Duration.ofSeconds(30), 4, 2, Duration.ofSeconds(60));
  }

  private static DnsConfig dns(TestDns dns) {
    return new DnsConfig(new InetSocketAddress(DNS, dns.port), Duration.ofSeconds(1), false,
        64);
  }

  private static SipProfile profile(String user, String registrar) {
    return SipProfileBuilder.forId(user).aor("sip:" + user + "@" + KamailioRegistrar.DEFAULT_REALM)
        .registrar(registrar).authUser(user).password(PASSWORD).transport(Transport.UDP)
        .expires(EXPIRES).autoRegister(true).build();
  }

  @Test
  void registersOnTheSecondSrvTargetOnceTheFirstIsStoppedAndStaysThereWhenTheFirstComesBack()
      throws Exception {
    try (KamailioRegistrar sip1 = KamailioRegistrar.builder().routing().listenAddress(FIRST)
            .start();
        KamailioRegistrar sip2 = KamailioRegistrar.builder().routing().listenAddress(SECOND)
            .start();
        TestDns dns = TestDns.start(DNS, List.of(
            "--srv-host=_sip._udp.sip.alr.test,sip1.alr.test," + sip1.port() + ",10,0",
            "--srv-host=_sip._udp.sip.alr.test,sip2.alr.test," + sip2.port() + ",20,0",
            "--host-record=sip1.alr.test," + FIRST,
            "--host-record=sip2.alr.test," + SECOND));
        AgentHarness agent = new AgentHarness(config(), dns(dns))) {
      sip1.addUser("alice", PASSWORD);
      sip2.addUser("alice", PASSWORD);
      agent.registry.create(profile("alice", "sip:sip.alr.test"));

      agent.awaitStatus("alice", ProfileStatus.REGISTERED);
      assertServer(agent, "sip1.alr.test", FIRST, sip1.port());
      assertOneBinding(sip1, "at sip1");
      assertReachable(sip1, "through sip1");
      assertTrue(dns.queriesFor("_sip._udp.sip.alr.test") >= 1, dns.log());

      int firstPort = sip1.port();
      long stopped = System.nanoTime();
      sip1.close();
      await("registered at sip2 after sip1 stopped").atMost(FAILOVER)
          .pollInterval(Duration.ofMillis(100)).until(() -> !sip2.lookup("alice").isEmpty()
              && agent.registry.status("alice") == ProfileStatus.REGISTERED
              && agent.registry.info("alice").server().name().equals("sip2.alr.test"));
      System.out.printf("DnsFailoverIT: registered on the second SRV target %d ms after the"
          + " first was stopped (bound %d ms)%n", (System.nanoTime() - stopped) / 1_000_000,
          FAILOVER.toMillis());
      assertServer(agent, "sip2.alr.test", SECOND, sip2.port());
      assertOneBinding(sip2, "at sip2");
      assertReachable(sip2, "through sip2");

      // RFC 3263 §4.3 leaves it to the client whether to go back to a server of higher
      // priority that comes back; the agent is sticky (README, docs/registration.md): it stays
      // with the server that took the registration, across refreshes and re-resolutions
      // (dnsmasq's TTL is 30 s), until that one fails, then starts again from the first.
      try (KamailioRegistrar back = KamailioRegistrar.builder().routing().listenAddress(FIRST)
          .port(firstPort).start()) {
        back.addUser("alice", PASSWORD);
        long before = sip2.registerCount("alice");
        long queries = dns.queriesFor("_sip._udp.sip.alr.test");
        // Refreshes at sip2 until the name was resolved again with sip1 answering first.
        await("refreshes at sip2 across a re-resolution, sip1 back")
            .atMost(Duration.ofSeconds(EXPIRES * 3)).pollInterval(Duration.ofMillis(200))
            .until(() -> dns.queriesFor("_sip._udp.sip.alr.test") > queries
                && sip2.registerCount("alice") >= before + 2);
        assertServer(agent, "sip2.alr.test", SECOND, sip2.port());
        assertOneBinding(sip2, "at sip2, sip1 back");
        assertEquals(0, back.registerCount("alice"), "sticky: nothing sent to sip1 while sip2"
            + " answers");
        assertTrue(back.lookup("alice").isEmpty());
        assertReachable(sip2, "through sip2, sip1 back");

        sip2.close(); // the server in use fails: the next round starts from the first target
        await("registered at sip1 again after sip2 stopped").atMost(FAILOVER)
            .pollInterval(Duration.ofMillis(100))
            .until(() -> agent.registry.status("alice") == ProfileStatus.REGISTERED
                && agent.registry.info("alice").server().name().equals("sip1.alr.test"));
        assertServer(agent, "sip1.alr.test", FIRST, firstPort);
        assertOneBinding(back, "at sip1 again");
        assertReachable(back, "through sip1 again");
      }
    }
  }

  /**
   * A profile with a registrar given by domain only and no transport: RFC 3263's NAPTR records
   * choose. naptr.alr.test prefers TCP (order 10, SIP+D2T) to UDP (order 20, SIP+D2U); the
   * agent registers over TCP, which Kamailio's location table shows (socket, contact), and the
   * AOR is reachable over that connection.
   */
  @Test
  void aRegistrarGivenByDomainOnlyRegistersOverTheTransportItsNaptrRecordsPrefer()
      throws Exception {
    try (KamailioRegistrar sip1 = KamailioRegistrar.builder().routing().listenAddress(FIRST)
            .start();
        TestDns dns = TestDns.start(DNS, List.of(
            "--naptr-record=naptr.alr.test,20,10,S,SIP+D2U,,_sip._udp.naptr.alr.test",
            "--naptr-record=naptr.alr.test,10,10,S,SIP+D2T,,_sip._tcp.naptr.alr.test",
            "--srv-host=_sip._udp.naptr.alr.test,sip1.alr.test," + sip1.port() + ",10,0",
            "--srv-host=_sip._tcp.naptr.alr.test,sip1.alr.test," + sip1.port() + ",10,0",
            "--host-record=sip1.alr.test," + FIRST));
        AgentHarness agent = new AgentHarness(config(), dns(dns))) {
      sip1.addUser("alice", PASSWORD);
      SipProfile auto = SipProfileBuilder.forId("alice")
          .aor("sip:alice@" + KamailioRegistrar.DEFAULT_REALM).registrar("sip:naptr.alr.test")
          .authUser("alice").password(PASSWORD).expires(EXPIRES).autoRegister(true).build();
      assertEquals(Transport.AUTO, auto.transport(), "no transport given");
      agent.registry.create(auto);

      agent.awaitStatus("alice", ProfileStatus.REGISTERED);
      SipTarget server = agent.registry.info("alice").server();
      assertEquals("tcp", server.transport(), server.toString());
      assertEquals(FIRST, server.host());
      assertTrue(dns.queriesFor("naptr.alr.test") >= 1, "asked NAPTR: " + dns.log());
      List<Binding> bindings = sip1.lookup("alice");
      assertEquals(1, bindings.size(), bindings.toString());
      assertTrue(bindings.get(0).socket().startsWith("tcp:"), bindings.toString());
      assertTrue(bindings.get(0).address().contains(";transport=tcp"), bindings.toString());
      assertTrue(sip1.tcpConnectionsFrom(AGENT) >= 1, "a TCP connection from the agent");
      assertReachable(sip1, "over the TCP flow NAPTR chose");
    }
  }

  @Test
  void aRegistrarNameThatDoesNotExistIsAClearDnsError() throws Exception {
    try (TestDns dns = TestDns.start(DNS, List.of("--host-record=sip1.alr.test," + FIRST));
        AgentHarness agent = new AgentHarness(config(), dns(dns))) {
      agent.registry.create(profile("bob", "sip:nowhere.alr.test"));

      RegistrationError error = await("a DNS error").atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(50)).until(
              () -> agent.registry.info("bob").lastError(), e -> e != null);
      assertEquals(RegistrationError.Kind.DNS, error.kind(), error.toString());
      assertTrue(error.reason().startsWith("registrar sip:nowhere.alr.test: nowhere.alr.test: "
          + "no such name (NXDOMAIN from " + DNS), error.reason());
      assertTrue(error.retryIn() != null && !error.retryIn().isZero(), "backed off: " + error);
      assertEquals(ProfileStatus.REGISTRATION_IN_PROGRESS, agent.registry.status("bob"));
    }
  }

  private static void assertServer(AgentHarness agent, String name, String address, int port) {
    RegistrationInfo info = agent.registry.info("alice");
    SipTarget server = info.server();
    assertEquals(name, server.name(), info.toString());
    assertEquals(address, server.host());
    assertEquals(port, server.port());
    assertEquals("udp", server.transport());
  }

  private static void assertOneBinding(KamailioRegistrar kamailio, String when) {
    List<Binding> bindings = kamailio.lookup("alice");
    assertEquals(1, bindings.size(), when + ": " + bindings);
    assertTrue(bindings.get(0).address().startsWith("sip:alice@" + AGENT + ":"),
        when + ": " + bindings);
  }

  /** An OPTIONS to the AOR through {@code kamailio} is answered by the agent itself. */
  private static void assertReachable(KamailioRegistrar kamailio, String when) {
    SipCaller.assertReachesAgent(kamailio, "alice", when, () -> "");
  }

}
