package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.dns.DnsException;
import io.sipalr.dns.SipTarget;
import io.sipalr.dns.TargetQuery;
import io.sipalr.dns.TargetResolver;
import io.sipalr.profile.SipProfile;
import io.sipalr.profile.Transport;
import io.sipalr.sip.ScriptedRegistrar.Answer;
import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * RFC 3263 §4.3 / RFC 5626 §4.5 failover of one registration between the servers its
 * registrar's name resolves to, on the scripted registrar and virtual clock. The resolver is
 * scripted too (SipResolverTest covers how names become those servers).
 */
class RegistrarFailoverTest {
  static final String FIRST = "198.18.0.21";
  static final String SECOND = "198.18.0.22";

  /** Two servers for sip.alr.test, the first first; every query recorded. */
  private final List<TargetQuery> queries = new ArrayList<>();
  private CompletableFuture<TargetResolver.Resolved> next;
  private final TargetResolver twoServers = q -> {
    queries.add(q);
    if (next != null) {
      CompletableFuture<TargetResolver.Resolved> pending = next;
      next = null;
      return pending;
    }
    return CompletableFuture.completedFuture(resolved());
  };

  private static TargetResolver.Resolved resolved() {
    try {
      return new TargetResolver.Resolved(List.of(
          new SipTarget("a.alr.test", InetAddress.getByName(FIRST), 5060, "udp"),
          new SipTarget("b.alr.test", InetAddress.getByName(SECOND), 5060, "udp")),
          Instant.MAX);
    } catch (java.net.UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  private static SipProfile byName(String registrar) {
    return new SipProfile("alice", RegistrationRig.AOR, registrar, null, "alice",
        RegistrationRig.PASSWORD, null, Transport.UDP, 600, true, 1, null, null,
        "urn:uuid:00000000-0000-4000-8000-000000000001", 1);
  }

  private RegistrationRig rig(TargetResolver resolver) {
    return new RegistrationRig(RegistrationRig.CONFIG, byName("sip:sip.alr.test"), resolver);
  }

  /** Answers what comes correctly until the profile is REGISTERED (bounded). */
  private static void registeredCorrectly(RegistrationRig rig) {
    assertTrue(rig.timeToRegistered(Duration.ofSeconds(10)) >= 0,
        "registered; status " + rig.status() + ", errors " + rig.errors);
  }

  private void failsOverOn(Answer firstAnswer) {
    RegistrationRig rig = rig(twoServers);
    rig.start();
    ScriptedRegistrar.Sent first = rig.answer(firstAnswer);
    assertEquals(FIRST, first.host);
    if (firstAnswer == Answer.DROP) { // unanswered: the agent's register-timeout moves it on
      rig.clock.advance(RegistrationRig.CONFIG.registerTimeout());
      rig.clock.runDue();
    }

    assertEquals(SECOND, rig.registrar.nextPending().host, "the next server at once");
    registeredCorrectly(rig);
    assertEquals(ProfileStatus.REGISTERED, rig.status());
    SipTarget server = rig.registration.info().server();
    assertEquals("b.alr.test", server.name());
    assertEquals(SECOND + ":5060", server.hostPort());
    assertEquals(List.of(), rig.errors, "one server down is not a failed registration");
    assertEquals(1, rig.registrar.bindings(RegistrationRig.AOR).size());
  }

  @Test
  void aTimeoutOnTheFirstServerRegistersOnTheSecond() {
    failsOverOn(Answer.TIMEOUT);
  }

  @Test
  void aRegisterTimerRunningOutOnTheFirstServerRegistersOnTheSecond() {
    failsOverOn(Answer.DROP);
  }

  @Test
  void a503FromTheFirstServerRegistersOnTheSecondWithoutWaitingItsRetryAfter() {
    failsOverOn(Answer.UNAVAILABLE_503_HUGE_RETRY);
  }

  /**
   * The answer's TTL runs out while the REGISTER to the first server waits for its timeout (a
   * short TTL, or a long-registered profile): the failover's new resolution must not put the
   * registration back on the server that just failed (DnsFailoverBench saw a second timeout).
   */
  @Test
  void anAnswerExpiringDuringTheTimeoutStillMovesTheRegisterToTheSecondServer() {
    RegistrationRig[] rig = new RegistrationRig[1];
    TargetResolver oneSecondTtl = q -> {
      queries.add(q);
      return CompletableFuture.completedFuture(new TargetResolver.Resolved(
          resolved().targets(), rig[0].clock.clock.instant().plusSeconds(1)));
    };
    rig[0] = rig(oneSecondTtl);
    rig[0].start();
    assertEquals(FIRST, rig[0].answer(Answer.DROP).host);
    rig[0].clock.advance(RegistrationRig.CONFIG.registerTimeout()); // 5 s: past the TTL
    rig[0].clock.runDue();

    assertEquals(2, queries.size(), "resolved again: the answer had run out");
    assertEquals(SECOND, rig[0].registrar.nextPending().host, "the next server, not the"
        + " one that just failed");
    registeredCorrectly(rig[0]);
    assertEquals(SECOND, rig[0].registration.info().server().host());
    assertEquals(List.of(), rig[0].errors, "one server down is not a failed registration");
  }

  @Test
  void aTransportErrorTowardsTheFirstServerRegistersOnTheSecond() {
    RegistrationRig rig = rig(twoServers);
    rig.registrar.unreachableHosts.add(FIRST);
    rig.start();
    registeredCorrectly(rig);
    assertEquals(SECOND, rig.registration.info().server().host());
    assertTrue(rig.registrar.sent.stream().allMatch(s -> s.host.equals(SECOND)));
    assertEquals(List.of(), rig.errors);
  }

  @Test
  void refreshesStayWithTheServerThatTookTheRegistration() {
    RegistrationRig rig = rig(twoServers);
    rig.start();
    rig.answer(Answer.TIMEOUT);
    registeredCorrectly(rig);
    int before = rig.registrar.sent.size();

    rig.runCorrectly(Duration.ofHours(1)); // refreshes, the first server answering again

    assertTrue(rig.registrar.sent.size() > before + 4, "refreshed");
    assertTrue(rig.registrar.sent.subList(before, rig.registrar.sent.size()).stream()
        .allMatch(s -> s.host.equals(SECOND)), "sticky: no flapping back to the first");
    assertEquals(ProfileStatus.REGISTERED, rig.status());
  }

  @Test
  void everyServerDownBacksOffOnceAndStartsAgainFromTheFirst() {
    RegistrationRig rig = rig(twoServers);
    rig.start();
    assertEquals(FIRST, rig.answer(Answer.TIMEOUT).host);
    assertEquals(SECOND, rig.answer(Answer.TIMEOUT).host);

    assertEquals(ProfileStatus.REGISTRATION_IN_PROGRESS, rig.status());
    assertNull(rig.registrar.nextPending(), "backing off, nothing in flight");
    assertEquals(1, rig.errors.size(), "one failure for the round, not one per server");
    assertEquals(RegistrationError.Kind.TIMEOUT, rig.errors.get(0).kind());

    // After the backoff (at most backoff.base 30 s here, jittered).
    assertTrue(rig.timeToRegistered(Duration.ofSeconds(60)) >= 0, "registered after the backoff");
    assertEquals(FIRST, rig.registration.info().server().host(), "a new round starts first");
    assertEquals(2, queries.size(), "and asks the resolver again");
  }

  @Test
  void theRegisterWaitsForTheAnswerOffTheProfilesThreadThenGoes() {
    next = new CompletableFuture<>();
    CompletableFuture<TargetResolver.Resolved> dns = next;
    RegistrationRig rig = rig(twoServers);
    rig.start();
    assertNull(rig.registrar.nextPending(), "nothing sent before the name is resolved");
    assertEquals(ProfileStatus.REGISTRATION_IN_PROGRESS, rig.status());

    dns.complete(resolved()); // the DNS thread
    rig.clock.runDue();

    assertEquals(FIRST, rig.registrar.nextPending().host);
    registeredCorrectly(rig);
  }

  @Test
  void afterAMoveTheNameIsResolvedAgainThroughTheNewUplinkOnlyWhenConfigured() {
    for (boolean afterMove : new boolean[] {false, true}) {
      queries.clear();
      RegistrationRig rig = new RegistrationRig(RegistrationRig.CONFIG,
          byName("sip:sip.alr.test"), twoServers, afterMove);
      rig.start();
      registeredCorrectly(rig);
      SipEngine.Endpoint cell = rig.registrar.acquire("198.18.1.10");
      rig.run(rig.registration.migrate(cell, MigrationOrder.MAKE_BEFORE_BREAK, () -> { }));
      rig.runCorrectly(Duration.ofSeconds(10));
      assertEquals(ProfileStatus.REGISTERED, rig.status());

      List<String> via = queries.stream()
          .map(q -> q.via() == null ? "system" : q.via().getHostAddress()).toList();
      assertEquals(afterMove ? List.of("198.18.0.10", "198.18.1.10") : List.of("system"), via,
          "resolve-after-move " + afterMove);
      assertEquals(FIRST, rig.registration.info().server().host(), "the same server still");
    }
  }

  @Test
  void aNameThatDoesNotExistIsAClearErrorNamingTheRegistrarAndBackedOff() {
    TargetResolver nxdomain = q -> {
      queries.add(q);
      return CompletableFuture.failedFuture(new DnsException(DnsException.Kind.NO_SUCH_NAME,
          q.host(), q.host() + ": no such name (NXDOMAIN from the system's nameserver)", null));
    };
    RegistrationRig rig = new RegistrationRig(RegistrationRig.CONFIG,
        byName("sip:nowhere.alr.test"), nxdomain);
    rig.start();

    assertEquals(1, rig.errors.size());
    RegistrationError e = rig.errors.get(0);
    assertEquals(RegistrationError.Kind.DNS, e.kind());
    assertEquals("registrar sip:nowhere.alr.test: nowhere.alr.test: no such name (NXDOMAIN from "
        + "the system's nameserver)", e.reason());
    assertTrue(e.retryIn().toSeconds() >= 15, "backed off: " + e.retryIn());
    assertEquals(0, rig.registersSent());

    rig.clock.advance(Duration.ofMinutes(10));
    rig.clock.runDue();
    assertTrue(queries.size() <= 10, "asked again with backoff, not in a loop: " + queries.size());
  }

  /** sip.alr.test: a server on FIRST over {@code first}, then one on SECOND over {@code second}. */
  private TargetResolver servers(String first, String second) {
    return q -> {
      queries.add(q);
      try {
        return CompletableFuture.completedFuture(new TargetResolver.Resolved(List.of(
            new SipTarget("a.alr.test", InetAddress.getByName(FIRST), 5060, first),
            new SipTarget("b.alr.test", InetAddress.getByName(SECOND), 5060, second)),
            Instant.MAX));
      } catch (java.net.UnknownHostException e) {
        throw new AssertionError(e);
      }
    };
  }

  private RegistrationRig overTcp() {
    return new RegistrationRig(RegistrationRig.CONFIG, io.sipalr.profile.SipProfileBuilder
        .copyOf(byName("sip:sip.alr.test")).transport(Transport.TCP).build(),
        servers("tcp", "tcp"));
  }

  @Test
  void overTcpTheRegisterIsSentOnlyOnceItsConnectionIsUpOffTheProfilesThread() {
    RegistrationRig rig = overTcp();
    CompletableFuture<Void> connecting = new CompletableFuture<>();
    rig.registrar.connecting.put(FIRST, connecting);
    rig.start();
    assertNull(rig.registrar.nextPending(), "nothing sent while connecting");
    assertEquals(List.of(FIRST + ":5060/tcp"), rig.registrar.connects);

    connecting.complete(null); // the connector thread
    rig.clock.runDue();

    assertEquals(FIRST, rig.registrar.nextPending().host);
    registeredCorrectly(rig);
    assertEquals(List.of(), rig.errors);
  }

  @Test
  void aFailedConnectIsATransportErrorThatMovesTheRegisterToTheNextServer() {
    RegistrationRig rig = overTcp();
    rig.registrar.connecting.put(FIRST, CompletableFuture.failedFuture(
        new java.net.ConnectException("Connection refused")));
    rig.start();
    registeredCorrectly(rig);

    assertEquals(SECOND, rig.registration.info().server().host());
    assertTrue(rig.registrar.sent.stream().allMatch(s -> s.host.equals(SECOND)),
        "no REGISTER towards the server that could not be reached");
    assertEquals(List.of(FIRST + ":5060/tcp", SECOND + ":5060/tcp"),
        rig.registrar.connects.subList(0, 2));
    assertEquals(List.of(), rig.errors, "one server down is not a failed registration");
  }

  @Test
  void aRefusedCertificateIsAClearTlsErrorNotAFailover() {
    RegistrationRig rig = overTcp();
    javax.net.ssl.SSLHandshakeException handshake =
        new javax.net.ssl.SSLHandshakeException("bad certificate");
    handshake.initCause(new SipTrust.Refused("sip.alr.test", SipTrust.Refused.Reason.EXPIRED,
        "expired on 2020-01-01", null));
    rig.registrar.connecting.put(FIRST, CompletableFuture.failedFuture(handshake));
    rig.start();

    assertEquals(1, rig.errors.size(), "errors: " + rig.errors);
    RegistrationError e = rig.errors.get(0);
    assertEquals(RegistrationError.Kind.TLS, e.kind());
    assertTrue(e.reason().contains("sip.alr.test"), e.reason());
    assertTrue(e.reason().contains("EXPIRED"), e.reason());
    assertEquals(List.of(FIRST + ":5060/tcp"), rig.registrar.connects,
        "waits sip.auth-retry: no other server, no second connect");
    assertEquals(0, rig.registersSent());
  }

  private RegistrationRig withTransport(Transport transport) {
    return new RegistrationRig(RegistrationRig.CONFIG, io.sipalr.profile.SipProfileBuilder
        .copyOf(byName("sip:sip.alr.test")).transport(transport).build(),
        servers("tcp", "udp")); // TCP first, as a NAPTR preferring it orders them
  }

  @Test
  void withoutATransportRfc3263ChoosesItAndTheRegisterGoesOverTheChosenServersTransport() {
    RegistrationRig rig = withTransport(Transport.AUTO);
    rig.start();
    ScriptedRegistrar.Sent first = rig.registrar.nextPending();

    assertNull(queries.get(0).transport(), "no transport asked for: NAPTR decides");
    assertEquals(FIRST, first.host);
    javax.sip.header.ViaHeader via = (javax.sip.header.ViaHeader) first.request.getHeader("Via");
    assertEquals("TCP", via.getTransport().toUpperCase(java.util.Locale.ROOT));
    assertTrue(first.request.getHeader("Contact").toString().contains(";transport=tcp"),
        first.request.getHeader("Contact").toString());
    assertEquals(List.of(FIRST + ":5060/tcp"), rig.registrar.connects);
    registeredCorrectly(rig);
    assertEquals("tcp", rig.registration.info().server().transport());
  }

  @Test
  void failingOverFromATcpServerToAUdpOneSwitchesTransportAndRemovesTheTcpContact() {
    RegistrationRig rig = withTransport(Transport.AUTO);
    rig.start();
    rig.answer(Answer.TIMEOUT);
    ScriptedRegistrar.Sent second = rig.registrar.nextPending();

    assertEquals(SECOND, second.host);
    javax.sip.header.ViaHeader via = (javax.sip.header.ViaHeader) second.request.getHeader("Via");
    assertEquals("UDP", via.getTransport().toUpperCase(java.util.Locale.ROOT));
    registeredCorrectly(rig);
    assertEquals(1, rig.registrar.bindings(RegistrationRig.AOR).size());
  }

  @Test
  void anExplicitUdpTransportStillAsksForUdpServersOnly() {
    RegistrationRig rig = withTransport(Transport.UDP);
    rig.start();
    assertEquals("udp", queries.get(0).transport(), "SRV for _sip._udp, no NAPTR");
    assertEquals(List.of(), rig.registrar.connects, "no connection set up for UDP");
  }
}
