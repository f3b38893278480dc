package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.sip.ScriptedRegistrar.StunAnswer;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * NAT pings of registrations without outbound ({@code sip.nat.keepalive = AUTO}, the default):
 * STUN on the registration's socket, a new mapping re-registering at it, the CRLF fallback for
 * a registrar that answers no STUN; scripted registrar, virtual time.
 */
class NatPingsTest {
  private static final String PUBLIC = "198.18.7.7:40001";
  private static final String REBOUND = "198.18.7.7:40777";

  private RegistrationRig rig = rig(SipConfig.NatKeepAlive.AUTO);

  private static RegistrationRig rig(SipConfig.NatKeepAlive keepAlive) {
    return new RegistrationRig(RegistrationRig.config(SipConfig.OutboundKeepAlive.AUTO,
        new SipConfig.Nat(true, keepAlive, Duration.ofSeconds(15))),
        RegistrationRig.profile(600, RegistrationRig.PASSWORD));
  }

  /** Registered without outbound behind the NAT, the Contact rewritten to the public address. */
  private void registerBehindNat() {
    rig.registrar.nat.put(rig.wlan.address, PUBLIC);
    rig.start();
    assertTrue(rig.timeToRegistered(Duration.ofSeconds(10)) >= 0);
    rig.runCorrectly(Duration.ofSeconds(2)); // the contact-rewrite REGISTER
    assertEquals(List.of("sip:alice@" + PUBLIC), bindings());
    assertEquals(PUBLIC, rig.registration.info().publicAddress());
  }

  private List<String> bindings() {
    return rig.registrar.bindings(RegistrationRig.AOR);
  }

  private FlowKeepAlive.Flow flow() {
    return new FlowKeepAlive.Flow(rig.wlan, "UDP", "198.18.0.1", 5060);
  }

  /** Lets time pass, answering every request, until {@code n} more STUN requests came. */
  private void awaitStun(int n) {
    int target = rig.registrar.stunRequests.size() + n;
    rig.runUntil(() -> rig.registrar.stunRequests.size() >= target, "no STUN request sent");
  }

  private long distinctStunTransactions() {
    return rig.registrar.stunRequests.stream()
        .map(s -> java.util.HexFormat.of().formatHex(s.request().transactionId()))
        .distinct().count();
  }

  @Test
  void withoutOutboundTheNatIsPingedWithStunOnTheRegistrationsSocket() {
    registerBehindNat();
    awaitStun(3);
    ScriptedRegistrar.StunSent first = rig.registrar.stunRequests.get(0);
    assertEquals(rig.wlan, first.from(), "from the registration's own socket");
    assertEquals("198.18.0.1", first.host());
    assertEquals(5060, first.port());
    assertEquals(StunMessage.BINDING_REQUEST, first.request().type());
    assertEquals(List.of(), rig.registrar.pings, "no CRLF while STUN is answered");
    assertEquals(KeepAliveKind.STUN, rig.keepAlive.natPingKind(flow()));
    FlowKeepAlive.View view = rig.keepAlive.view(rig.registration);
    assertEquals(KeepAliveKind.STUN, view.kind(), "the profile view shows the NAT ping");
    assertEquals(rig.clock.clock.instant(), view.lastAnswered(), "answered at once");
    assertEquals(ProfileStatus.REGISTERED, rig.status());
    assertEquals(List.of(), rig.errors);
  }

  @Test
  void aNewMappingReRegistersAtOnceWithTheNewContactAndOneBinding() {
    registerBehindNat();
    awaitStun(1); // answered with the mapping the 200 showed: nothing to do
    long sent = rig.registersSent();
    assertEquals(ProfileStatus.REGISTERED, rig.status());

    rig.registrar.nat.put(rig.wlan.address, REBOUND); // the NAT rebinds
    awaitStun(1);
    rig.clock.runDue();
    assertEquals(ProfileStatus.REGISTRATION_IN_PROGRESS, rig.status(),
        "not REGISTERED at a mapping nothing reaches");
    assertTrue(rig.errors.get(0).reason().contains(REBOUND), rig.errors.toString());
    ScriptedRegistrar.Sent register = rig.registrar.nextPending();
    assertEquals("REGISTER", register.method());
    String request = register.request.toString();
    assertTrue(request.contains("<sip:alice@" + REBOUND + ">"), "the new Contact at once:\n"
        + request);
    assertTrue(request.contains("<sip:alice@" + PUBLIC + ">;expires=0"),
        "the old contact removed in the same REGISTER:\n" + request);

    assertTrue(rig.timeToRegistered(Duration.ofSeconds(10)) >= 0);
    rig.runCorrectly(Duration.ofSeconds(60));
    assertEquals(List.of("sip:alice@" + REBOUND), bindings(), "exactly one binding, the new");
    assertEquals(REBOUND, rig.registration.info().publicAddress());
    assertEquals(sent + 1, rig.registersSent(), "one REGISTER, no second round");
    assertEquals(ProfileStatus.REGISTERED, rig.status());
  }

  @Test
  void aRegistrarThatAnswersNoStunGetsCrlfPingsAndStaysRegistered() {
    rig.registrar.stunAnswer = StunAnswer.NONE;
    registerBehindNat();
    rig.runCorrectly(Duration.ofSeconds(120));
    assertEquals(2, distinctStunTransactions(), "two unanswered STUN pings, then CRLF");
    assertEquals(KeepAliveKind.CRLF, rig.keepAlive.natPingKind(flow()));
    int pings = rig.registrar.pings.size();
    assertTrue(pings >= 5, pings + " CRLF pings after the fallback: " + rig.registrar.pings);
    assertEquals(ProfileStatus.REGISTERED, rig.status(), "no STUN answer is no failure");
    assertEquals(List.of(), rig.errors);
    FlowKeepAlive.View view = rig.keepAlive.view(rig.registration);
    assertEquals(KeepAliveKind.CRLF, view.kind(), "the view shows the fallback");
    assertEquals(null, view.lastAnswered(), "a CRLF NAT ping is never answered");
    assertEquals(List.of("sip:alice@" + PUBLIC), bindings());
  }

  @Test
  void aStunErrorFallsBackToCrlfAtOnce() {
    rig.registrar.stunAnswer = StunAnswer.ERROR;
    registerBehindNat();
    awaitStun(1);
    rig.clock.runDue();
    assertEquals(KeepAliveKind.CRLF, rig.keepAlive.natPingKind(flow()));
    rig.runCorrectly(Duration.ofSeconds(60));
    assertEquals(1, rig.registrar.stunRequests.size());
    assertTrue(rig.registrar.pings.size() >= 3, rig.registrar.pings.toString());
    assertEquals(ProfileStatus.REGISTERED, rig.status());
  }

  @Test
  void aStunRegistrarThatStopsAnsweringFailsNothingWithoutOutbound() {
    registerBehindNat();
    awaitStun(1);
    long sent = rig.registersSent();
    rig.registrar.stunAnswer = StunAnswer.NONE;
    rig.runCorrectly(Duration.ofSeconds(120));
    assertEquals(ProfileStatus.REGISTERED, rig.status());
    assertEquals(List.of(), rig.errors);
    assertEquals(sent, rig.registersSent(), "nothing proves the flow dead: no REGISTER");
    assertEquals(KeepAliveKind.STUN, rig.keepAlive.natPingKind(flow()),
        "it answered STUN once: no fallback");
  }

  @Test
  void stunConfiguredNeverFallsBack() {
    rig = rig(SipConfig.NatKeepAlive.STUN);
    rig.registrar.stunAnswer = StunAnswer.NONE;
    registerBehindNat();
    rig.runCorrectly(Duration.ofSeconds(120));
    assertTrue(distinctStunTransactions() >= 8);
    assertEquals(List.of(), rig.registrar.pings);
    assertEquals(ProfileStatus.REGISTERED, rig.status());
  }

  @Test
  void stunNatPingsAreJitteredWithin80To100PercentOfTheInterval() {
    registerBehindNat();
    long last = rig.clock.now();
    long shortest = Long.MAX_VALUE;
    long longest = 0;
    for (int i = 0; i < 40; i++) {
      awaitStun(1);
      long at = rig.registrar.stunRequests.get(rig.registrar.stunRequests.size() - 1).at();
      if (i > 0) {
        shortest = Math.min(shortest, at - last);
        longest = Math.max(longest, at - last);
      }
      last = at;
    }
    assertTrue(shortest >= 12_000 && longest <= 15_000,
        "80-100 % of 15 s: " + shortest + ".." + longest + " ms");
    assertTrue(longest - shortest >= 1_000, "jittered: " + shortest + ".." + longest + " ms");
  }
}
