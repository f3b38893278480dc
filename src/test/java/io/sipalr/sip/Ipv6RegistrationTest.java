package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.dns.AddressFamily;
import io.sipalr.dns.SipTarget;
import io.sipalr.dns.TargetQuery;
import io.sipalr.dns.TargetResolver;
import io.sipalr.profile.SipProfile;
import io.sipalr.profile.Transport;
import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import javax.sip.header.ViaHeader;
import org.junit.jupiter.api.Test;

/**
 * A registration from an IPv6 uplink: the registrar's name resolved to AAAA (the family the
 * uplink has), the Contact and Via with the address in brackets (RFC 3261 §25.1); and back to
 * IPv4 (A) after a move to an IPv4 uplink, with one binding throughout.
 */
class Ipv6RegistrationTest {
  private final List<TargetQuery> queries = new ArrayList<>();

  /** sip.alr.test: 198.18.0.21 (A) and 2001:2::21 (AAAA), as the family asks. */
  private final TargetResolver dualStackRegistrar = q -> {
    queries.add(q);
    try {
      String address = q.family() == AddressFamily.IPV6 ? "2001:2::21" : "198.18.0.21";
      return CompletableFuture.completedFuture(new TargetResolver.Resolved(List.of(
          new SipTarget("sip.alr.test", InetAddress.getByName(address), 5060, "udp")),
          Instant.MAX));
    } catch (java.net.UnknownHostException e) {
      throw new AssertionError(e);
    }
  };

  @Test
  void anIpv6UplinkRegistersOverIpv6WithABracketedContactAndMovesBackToIpv4() {
    SipProfile profile = new SipProfile("alice", RegistrationRig.AOR, "sip:sip.alr.test", null,
        "alice", RegistrationRig.PASSWORD, null, Transport.UDP, 600, true, 1, null, null,
        "urn:uuid:00000000-0000-4000-8000-000000000001", 1);
    RegistrationRig rig = new RegistrationRig(RegistrationRig.CONFIG, profile,
        dualStackRegistrar);
    rig.start();
    assertTrue(rig.timeToRegistered(Duration.ofSeconds(10)) >= 0, "registered over IPv4");
    assertEquals("198.18.0.21", rig.registration.info().server().host());

    SipEngine.Endpoint cell6 = rig.registrar.acquire("2001:2:0:1::10");
    rig.run(rig.registration.migrate(cell6, MigrationOrder.MAKE_BEFORE_BREAK, () -> { }));
    rig.runCorrectly(Duration.ofSeconds(10));
    assertEquals(ProfileStatus.REGISTERED, rig.status());

    assertEquals(AddressFamily.IPV6, queries.get(queries.size() - 1).family());
    assertEquals("2001:2:0:0:0:0:0:21", rig.registration.info().server().host());
    assertEquals("sip:alice@[2001:2:0:1::10]:5070", rig.registration.info().contact());
    ScriptedRegistrar.Sent last = rig.registrar.sent.get(rig.registrar.sent.size() - 1);
    assertEquals("2001:2:0:0:0:0:0:21", last.host);
    String via = ((ViaHeader) last.request.getHeader(ViaHeader.NAME)).toString();
    assertTrue(via.contains("[2001:2:0:1::10]:5070"), via);
    assertEquals(List.of("sip:alice@[2001:2:0:1::10]:5070"),
        rig.registrar.bindings(RegistrationRig.AOR));

    SipEngine.Endpoint wlan4 = rig.registrar.acquire("198.18.0.11");
    rig.run(rig.registration.migrate(wlan4, MigrationOrder.MAKE_BEFORE_BREAK, () -> { }));
    rig.runCorrectly(Duration.ofSeconds(10));

    assertEquals(ProfileStatus.REGISTERED, rig.status());
    assertEquals(AddressFamily.IPV4, queries.get(queries.size() - 1).family());
    assertEquals("198.18.0.21", rig.registration.info().server().host());
    assertEquals(List.of("sip:alice@198.18.0.11:5070"),
        rig.registrar.bindings(RegistrationRig.AOR), "one binding, the IPv6 one removed");
  }
}
