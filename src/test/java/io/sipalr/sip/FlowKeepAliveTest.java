package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.sip.ScriptedRegistrar.Answer;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** RFC 5626 keep-alives of an outbound flow, on the scripted registrar and virtual time. */
class FlowKeepAliveTest {
  private final RegistrationRig rig = new RegistrationRig();

  private void registerWithOutbound() {
    rig.registrar.outbound = true;
    rig.start();
    assertTrue(rig.timeToRegistered(Duration.ofSeconds(10)) >= 0);
    assertTrue(rig.registration.info().outbound());
  }

  /** Lets time pass until the next OPTIONS is sent; returns it. */
  private ScriptedRegistrar.Sent nextProbe() {
    for (int i = 0; i < 100; i++) {
      ScriptedRegistrar.Sent s = rig.registrar.nextPending();
      if (s != null && s.method().equals("OPTIONS")) {
        return s;
      }
      long due = rig.clock.nextDue();
      if (due < 0) {
        break;
      }
      rig.clock.advance(Duration.ofMillis(due - rig.clock.now()));
    }
    throw new AssertionError("no keep-alive sent");
  }

  @Test
  void anOutboundFlowIsProbedWithinItsIntervalAndStaysRegistered() {
    registerWithOutbound();
    long registeredAt = rig.clock.now();
    ScriptedRegistrar.Sent probe = nextProbe();
    long after = probe.at - registeredAt;
    assertTrue(after >= 20_000 && after <= 25_000, "80-100 % of 25 s, was " + after + " ms");
    rig.registrar.answer(probe, Answer.CORRECT);
    ScriptedRegistrar.Sent second = nextProbe();
    assertNotNull(second);
    assertEquals(ProfileStatus.REGISTERED, rig.status());
  }

  @Test
  void aProbeWithoutAnswerFailsTheFlowAndTheProfileRegistersAgainAtOnce() {
    registerWithOutbound();
    long sent = rig.registersSent();
    rig.registrar.answer(nextProbe(), Answer.DROP);
    rig.clock.advance(rig.config.registerTimeout());

    assertEquals(ProfileStatus.REGISTRATION_IN_PROGRESS, rig.status(),
        "not REGISTERED through a flow known to have failed");
    assertEquals(RegistrationError.Kind.TRANSPORT, rig.errors.get(0).kind());
    assertEquals(sent + 1, rig.registersSent(), "a REGISTER at once, through the same uplink");
    assertTrue(rig.timeToRegistered(Duration.ofSeconds(10)) >= 0);
  }

  @Test
  void aKeepAliveAnswered403SaysTheBindingIsGoneAndTheProfileRegistersAgain() {
    registerWithOutbound();
    rig.registrar.optionsStatus = 403; // a strict registrar that dropped us
    long sent = rig.registersSent();
    rig.registrar.answer(nextProbe(), Answer.CORRECT);
    rig.clock.runDue();
    assertEquals(ProfileStatus.REGISTRATION_IN_PROGRESS, rig.status(),
        "REGISTERED no more: the registrar said the binding is gone");
    assertTrue(rig.errors.get(0).reason().contains("403"), rig.errors.toString());
    assertEquals(sent + 1, rig.registersSent(), "a REGISTER at once");
    rig.registrar.optionsStatus = 200;
    assertTrue(rig.timeToRegistered(Duration.ofSeconds(10)) >= 0);
  }

  @Test
  void aNatRebindingSeenInAKeepAlivesAnswerFailsTheFlowAndTheProfileRegistersAgain() {
    rig.registrar.nat.put(rig.wlan.address, "198.18.7.7:40001");
    registerWithOutbound();
    rig.registrar.answer(nextProbe(), Answer.CORRECT); // the mapping as first seen
    rig.clock.runDue();
    rig.registrar.nat.put(rig.wlan.address, "198.18.7.7:40777"); // the NAT rebinds
    long sent = rig.registersSent();
    rig.registrar.answer(nextProbe(), Answer.CORRECT);
    rig.clock.runDue();
    assertEquals(ProfileStatus.REGISTRATION_IN_PROGRESS, rig.status());
    assertTrue(rig.errors.get(0).reason().contains("40777"), rig.errors.toString());
    assertEquals(sent + 1, rig.registersSent(), "a REGISTER at once, through the new mapping");
    assertTrue(rig.timeToRegistered(Duration.ofSeconds(10)) >= 0);
    assertEquals("198.18.7.7:40777", rig.registration.info().publicAddress());
  }

  @Test
  void aRebindingBeforeTheFirstKeepAliveIsNoticedAgainstTheRegistersMapping() {
    rig.registrar.nat.put(rig.wlan.address, "198.18.7.7:40001");
    registerWithOutbound(); // the 200's Via: 40001
    rig.registrar.nat.put(rig.wlan.address, "198.18.7.7:40888"); // rebinds at once
    rig.registrar.answer(nextProbe(), Answer.CORRECT); // the very first keep-alive
    rig.clock.runDue();
    assertEquals(ProfileStatus.REGISTRATION_IN_PROGRESS, rig.status());
    assertTrue(rig.errors.get(0).reason().contains("40888"), rig.errors.toString());
  }

  @Test
  void aKeepAliveAnswered405StillProvesTheFlow() {
    registerWithOutbound();
    rig.registrar.optionsStatus = 405; // a registrar that does no OPTIONS
    rig.registrar.answer(nextProbe(), Answer.CORRECT);
    rig.clock.runDue();
    assertEquals(ProfileStatus.REGISTERED, rig.status());
    assertEquals(java.util.List.of(), rig.errors);
  }

  /** A rig whose NAT pings are double CRLFs ({@code sip.nat.keepalive = CRLF}). */
  private static RegistrationRig crlfRig() {
    return new RegistrationRig(RegistrationRig.config(SipConfig.OutboundKeepAlive.OPTIONS,
        new SipConfig.Nat(true, SipConfig.NatKeepAlive.CRLF, Duration.ofSeconds(15))),
        RegistrationRig.profile(600, RegistrationRig.PASSWORD));
  }

  @Test
  void withoutOutboundTheNatIsPingedEveryIntervalAndNothingIsProbed() {
    RegistrationRig rig = crlfRig(); // STUN NAT pings: NatPingsTest
    rig.start();
    rig.timeToRegistered(Duration.ofSeconds(10));
    long registeredAt = rig.clock.now();
    rig.runCorrectly(Duration.ofSeconds(120));
    assertTrue(rig.registrar.sent.stream().noneMatch(s -> s.method().equals("OPTIONS")));
    // 15 s jittered 80-100 %: 8 to 10 pings in 120 s, each from the registration's uplink.
    int pings = rig.registrar.pings.size();
    assertTrue(pings >= 8 && pings <= 10, pings + " pings: " + rig.registrar.pings);
    assertTrue(rig.registrar.pings.stream().allMatch(p -> p.endsWith(" 198.18.0.10")));
    long first = Long.parseLong(rig.registrar.pings.get(0).split(" ")[0]) - registeredAt;
    assertTrue(first >= 12_000 && first <= 15_000, "first ping after " + first + " ms");
  }

  @Test
  void pingsFollowAMoveAndStopWithTheRegistration() {
    RegistrationRig rig = crlfRig(); // STUN NAT pings: NatPingsTest
    rig.start();
    rig.timeToRegistered(Duration.ofSeconds(10));
    rig.registration.migrate(rig.cell, MigrationOrder.MAKE_BEFORE_BREAK, () -> { });
    rig.runCorrectly(Duration.ofSeconds(5));
    rig.registrar.pings.clear();
    rig.runCorrectly(Duration.ofSeconds(60));
    assertTrue(!rig.registrar.pings.isEmpty()
        && rig.registrar.pings.stream().allMatch(p -> p.endsWith(" 198.18.1.10")),
        rig.registrar.pings.toString());

    rig.registration.stop();
    rig.runCorrectly(Duration.ofSeconds(5));
    rig.registrar.pings.clear();
    rig.runCorrectly(Duration.ofSeconds(60));
    assertEquals(java.util.List.of(), rig.registrar.pings, "no pings once disabled");
  }

  @Test
  void withOutboundTheProbeKeepsTheNatOpenAndThereAreNoPings() {
    registerWithOutbound();
    rig.runCorrectly(Duration.ofSeconds(120));
    assertEquals(java.util.List.of(), rig.registrar.pings);
  }
}
