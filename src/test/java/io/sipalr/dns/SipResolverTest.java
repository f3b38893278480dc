package io.sipalr.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.Test;

/** RFC 3263 §4 resolution against a scripted nameserver (no sockets, one thread). */
class SipResolverTest {
  private final ScriptedDns dns = new ScriptedDns();
  private final MutableClock clock = new MutableClock();
  private SipResolver resolver = resolver(new java.util.Random(1));

  private SipResolver resolver(RandomGenerator random) {
    return new SipResolver(DnsConfig.DEFAULTS, List.of("udp", "tcp"), via -> dns, Runnable::run,
        clock, random, false);
  }

  static final class MutableClock extends Clock {
    Instant now = Instant.parse("2026-01-01T00:00:00Z");

    @Override public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override public Instant instant() {
      return now;
    }
  }

  private List<String> targets(String host, int port, String transport, AddressFamily family)
      throws Exception {
    CompletableFuture<TargetResolver.Resolved> f = resolver.resolve(
        new TargetQuery(host, port, transport, false, family, null));
    assertTrue(f.isDone(), "a scripted lookup completes at once");
    return f.get().targets().stream().map(SipTarget::toString).toList();
  }

  private List<String> targets(String host, String transport) throws Exception {
    return targets(host, -1, transport, AddressFamily.IPV4);
  }

  private DnsException failure(String host, String transport) throws Exception {
    try {
      resolver.resolve(new TargetQuery(host, -1, transport, false, AddressFamily.IPV4, null))
          .get();
    } catch (ExecutionException e) {
      return assertInstanceOf(DnsException.class, e.getCause());
    }
    return fail("resolved " + host);
  }

  @Test
  void anIpLiteralIsUsedAsItIsWithoutAnyQuery() throws Exception {
    assertEquals(List.of("198.18.0.1 (198.18.0.1:5060/udp)"),
        targets("198.18.0.1", -1, "udp", AddressFamily.IPV4));
    assertEquals(List.of("2001:2::1 ([2001:2:0:0:0:0:0:1]:5062/tcp)"),
        targets("[2001:2::1]", 5062, "tcp", AddressFamily.IPV6));
    assertEquals(List.of(), dns.asked);
  }

  @Test
  void aPortInTheUriMeansAddressRecordsOnly() throws Exception {
    dns.a("sip.alr.test", "198.18.0.21", 60).srv("_sip._udp.sip.alr.test", 1, 1, 5080,
        "other.alr.test", 60);
    assertEquals(List.of("sip.alr.test (198.18.0.21:5070/udp)"),
        targets("sip.alr.test", 5070, "udp", AddressFamily.IPV4));
    assertEquals(List.of("sip.alr.test A"), dns.asked);
  }

  @Test
  void aFixedTransportFollowsItsSrvByPriority() throws Exception {
    dns.srv("_sip._udp.sip.alr.test", 20, 0, 5080, "b.alr.test", 60)
        .srv("_sip._udp.sip.alr.test", 10, 0, 5070, "a.alr.test", 60)
        .srv("_sip._tcp.sip.alr.test", 1, 0, 5090, "c.alr.test", 60)
        .a("a.alr.test", "198.18.0.21", 60).a("b.alr.test", "198.18.0.22", 60)
        .a("c.alr.test", "198.18.0.23", 60);
    assertEquals(List.of("a.alr.test (198.18.0.21:5070/udp)", "b.alr.test (198.18.0.22:5080/udp)"),
        targets("sip.alr.test", "udp"));
    assertEquals(0, dns.count("sip.alr.test NAPTR"), "a fixed transport asks no NAPTR");
    assertEquals(0, dns.count("_sip._tcp.sip.alr.test SRV"));
  }

  @Test
  void withoutSrvTheHostItselfOnTheDefaultPort() throws Exception {
    dns.a("sip.alr.test", "198.18.0.21", 60);
    assertEquals(List.of("sip.alr.test (198.18.0.21:5060/tcp)"), targets("sip.alr.test", "tcp"));
  }

  @Test
  void naptrChoosesTheTransportInItsOrderSkippingWhatWeCannotSpeak() throws Exception {
    dns.naptr("sip.alr.test", 5, 10, "SIPS+D2T", "_sips._tcp.sip.alr.test", 60)
        .naptr("sip.alr.test", 20, 10, "SIP+D2U", "_sip._udp.sip.alr.test", 60)
        .naptr("sip.alr.test", 10, 10, "SIP+D2T", "_sip._tcp.sip.alr.test", 60)
        .srv("_sips._tcp.sip.alr.test", 1, 0, 5061, "a.alr.test", 60)
        .srv("_sip._tcp.sip.alr.test", 1, 0, 5060, "a.alr.test", 60)
        .srv("_sip._udp.sip.alr.test", 1, 0, 5060, "b.alr.test", 60)
        .a("a.alr.test", "198.18.0.21", 60).a("b.alr.test", "198.18.0.22", 60);
    assertEquals(List.of("a.alr.test (198.18.0.21:5060/tcp)", "b.alr.test (198.18.0.22:5060/udp)"),
        targets("sip.alr.test", null));
    assertEquals(0, dns.count("_sips._tcp.sip.alr.test SRV"), "no TLS yet: SIPS+D2T not followed");
  }

  @Test
  void naptrOffersTlsOnceTheAgentSpeaksIt() throws Exception {
    resolver = new SipResolver(DnsConfig.DEFAULTS, List.of("udp", "tcp", "tls"), via -> dns,
        Runnable::run, clock, new java.util.Random(1), false);
    dns.naptr("sip.alr.test", 5, 10, "SIPS+D2T", "_sips._tcp.sip.alr.test", 60)
        .naptr("sip.alr.test", 10, 10, "SIP+D2U", "_sip._udp.sip.alr.test", 60)
        .srv("_sips._tcp.sip.alr.test", 1, 0, 5061, "a.alr.test", 60)
        .srv("_sip._udp.sip.alr.test", 1, 0, 5060, "a.alr.test", 60)
        .a("a.alr.test", "198.18.0.21", 60);
    assertEquals(List.of("a.alr.test (198.18.0.21:5061/tls)", "a.alr.test (198.18.0.21:5060/udp)"),
        targets("sip.alr.test", null));
  }

  @Test
  void withoutNaptrSrvForEachTransportThenTheHostOverUdp() throws Exception {
    dns.srv("_sip._tcp.sip.alr.test", 1, 0, 5090, "a.alr.test", 60)
        .a("a.alr.test", "198.18.0.21", 60).a("sip.alr.test", "198.18.0.22", 60)
        .a("plain.alr.test", "198.18.0.23", 60);
    assertEquals(List.of("a.alr.test (198.18.0.21:5090/tcp)"), targets("sip.alr.test", null));
    assertEquals(List.of("plain.alr.test (198.18.0.23:5060/udp)"),
        targets("plain.alr.test", null));
  }

  @Test
  void weightsShareOutTheFirstChoiceWithinAPriority() throws Exception {
    dns.srv("_sip._udp.sip.alr.test", 1, 90, 5060, "heavy.alr.test", 3600)
        .srv("_sip._udp.sip.alr.test", 1, 10, 5060, "light.alr.test", 3600)
        .srv("_sip._udp.sip.alr.test", 2, 100, 5060, "backup.alr.test", 3600)
        .a("heavy.alr.test", "198.18.0.21", 3600).a("light.alr.test", "198.18.0.22", 3600)
        .a("backup.alr.test", "198.18.0.23", 3600);
    int heavyFirst = 0;
    for (int i = 0; i < 1000; i++) {
      List<String> t = targets("sip.alr.test", "udp");
      assertEquals(3, t.size());
      assertTrue(t.get(2).startsWith("backup"), "a lower priority always comes last: " + t);
      heavyFirst += t.get(0).startsWith("heavy") ? 1 : 0;
    }
    // Weight 90 of 100: first about 90 % of the time (seeded, so the count is fixed).
    assertTrue(heavyFirst > 850 && heavyFirst < 950, "heavy first " + heavyFirst + " of 1000");
    assertEquals(1, dns.count("_sip._udp.sip.alr.test SRV"), "cached for the TTL");
  }

  @Test
  void answersAreCachedForTheSmallestTtlOfTheirRecords() throws Exception {
    dns.srv("_sip._udp.sip.alr.test", 1, 0, 5060, "a.alr.test", 300)
        .a("a.alr.test", "198.18.0.21", 30);
    targets("sip.alr.test", "udp");
    clock.now = clock.now.plusSeconds(29);
    targets("sip.alr.test", "udp");
    assertEquals(1, dns.count("a.alr.test A"));
    clock.now = clock.now.plusSeconds(2);
    targets("sip.alr.test", "udp");
    assertEquals(2, dns.count("a.alr.test A"), "the A record's 30 s are over");
    assertEquals(2, dns.count("_sip._udp.sip.alr.test SRV"));
  }

  @Test
  void theFamilyOfTheSendingAddressDecidesWhichRecordsCount() throws Exception {
    dns.a("sip.alr.test", "198.18.0.21", 60).aaaa("sip.alr.test", "2001:2::21", 60)
        .a("v4only.alr.test", "198.18.0.22", 60);
    assertEquals(List.of("sip.alr.test ([2001:2:0:0:0:0:0:21]:5060/udp)"),
        targets("sip.alr.test", -1, "udp", AddressFamily.IPV6));
    assertEquals(List.of("sip.alr.test (198.18.0.21:5060/udp)"),
        targets("sip.alr.test", -1, "udp", AddressFamily.IPV4));
    assertEquals(List.of("sip.alr.test ([2001:2:0:0:0:0:0:21]:5060/udp)",
        "sip.alr.test (198.18.0.21:5060/udp)"),
        targets("sip.alr.test", -1, "udp", AddressFamily.BOTH));
    try {
      targets("v4only.alr.test", -1, "udp", AddressFamily.IPV6);
      fail("an IPv6-only uplink cannot reach an IPv4-only registrar");
    } catch (ExecutionException e) {
      DnsException d = assertInstanceOf(DnsException.class, e.getCause());
      assertEquals(DnsException.Kind.NO_RECORDS, d.kind());
      assertTrue(d.getMessage().contains("v4only.alr.test: no AAAA record"), d.getMessage());
    }
  }

  @Test
  void aNameThatDoesNotExistIsAClearErrorNotATimeout() throws Exception {
    DnsException e = failure("nowhere.alr.test", "udp");
    assertEquals(DnsException.Kind.NO_SUCH_NAME, e.kind());
    assertEquals("nowhere.alr.test", e.name());
    assertTrue(e.getMessage().contains("nowhere.alr.test: no such name (NXDOMAIN"),
        e.getMessage());
  }

  @Test
  void srvTargetsWithoutAddressesAreSkippedAndNoneLeftIsAnError() throws Exception {
    dns.srv("_sip._udp.sip.alr.test", 1, 0, 5060, "gone.alr.test", 60)
        .srv("_sip._udp.sip.alr.test", 2, 0, 5060, "a.alr.test", 60)
        .a("a.alr.test", "198.18.0.21", 60);
    assertEquals(List.of("a.alr.test (198.18.0.21:5060/udp)"), targets("sip.alr.test", "udp"));
    dns.srv("_sip._udp.bad.alr.test", 1, 0, 5060, "gone.alr.test", 60);
    DnsException e = failure("bad.alr.test", "udp");
    assertEquals(DnsException.Kind.NO_SUCH_NAME, e.kind());
  }

  @Test
  void aNameserverThatDoesNotAnswerFailsTheResolutionAndIsNotCached() throws Exception {
    dns.silent.add("_sip._udp.sip.alr.test");
    DnsException e = failure("sip.alr.test", "udp");
    assertEquals(DnsException.Kind.NO_ANSWER, e.kind());
    assertTrue(e.getMessage().contains("_sip._udp.sip.alr.test SRV: no usable answer"),
        e.getMessage());
    dns.silent.clear();
    dns.a("sip.alr.test", "198.18.0.21", 60);
    assertEquals(List.of("sip.alr.test (198.18.0.21:5060/udp)"), targets("sip.alr.test", "udp"));
  }

  @Test
  void lookupsOfOneQueryInFlightTogetherAreMadeOnce() throws Exception {
    java.util.List<Runnable> held = new java.util.ArrayList<>();
    resolver = new SipResolver(DnsConfig.DEFAULTS, List.of("udp", "tcp"), via -> dns, held::add,
        clock, new java.util.Random(1), false);
    dns.a("sip.alr.test", "198.18.0.21", 60);
    TargetQuery q = new TargetQuery("sip.alr.test", 5060, "udp", false, AddressFamily.IPV4,
        null);
    CompletableFuture<TargetResolver.Resolved> first = resolver.resolve(q);
    CompletableFuture<TargetResolver.Resolved> second = resolver.resolve(q);
    for (int i = 0; i < 100 && !held.isEmpty(); i++) {
      held.remove(0).run();
    }
    assertEquals("198.18.0.21", first.get().targets().get(0).host());
    assertEquals("198.18.0.21", second.get().targets().get(0).host());
    assertEquals(1, dns.count("sip.alr.test A"));
  }

  @Test
  void theNameserverSettingTakesAnAddressAndAPortOrNothing() {
    assertEquals(null, DnsConfig.nameserver(""));
    assertEquals(new java.net.InetSocketAddress("198.18.0.53", 5353),
        DnsConfig.nameserver("198.18.0.53:5353"));
    assertEquals(53, DnsConfig.nameserver("[2001:2::53]").getPort());
    IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(
        IllegalArgumentException.class, () -> DnsConfig.nameserver("dns.alr.test"));
    assertTrue(e.getMessage().startsWith("sip.dns.nameserver"), e.getMessage());
    assertEquals(Duration.ofSeconds(3), DnsConfig.DEFAULTS.timeout());
  }
}
