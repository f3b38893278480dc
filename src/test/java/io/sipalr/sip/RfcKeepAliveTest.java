package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.profile.SipProfile;
import io.sipalr.profile.Transport;
import io.sipalr.sip.ScriptedRegistrar.Answer;
import io.sipalr.sip.ScriptedRegistrar.StunAnswer;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * RFC 5626 §4.4 keep-alives of outbound flows: STUN on UDP, CRLF ping and pong on TCP, the
 * OPTIONS fallback for a registrar that answers no STUN; scripted registrar, virtual time.
 */
class RfcKeepAliveTest {
  private RegistrationRig rig = new RegistrationRig(
      RegistrationRig.config(SipConfig.OutboundKeepAlive.AUTO),
      RegistrationRig.profile(600, RegistrationRig.PASSWORD));

  private void use(SipConfig.OutboundKeepAlive keepAlive, Transport transport) {
    SipProfile p = RegistrationRig.profile(600, RegistrationRig.PASSWORD);
    rig = new RegistrationRig(RegistrationRig.config(keepAlive),
        new SipProfile(p.id(), p.aor(), p.registrar(), p.outboundProxy(), p.authUser(),
            p.password(), p.realm(), transport, p.expires(), p.autoRegister(), p.snapId(),
            p.iapId(), p.bearerFilter(), p.instanceId(), p.regId()));
  }

  /** A TCP profile under AUTO: the CRLF ping. */
  private void useCrlf() {
    use(SipConfig.OutboundKeepAlive.AUTO, Transport.TCP);
  }

  /** Lets time pass (answering REGISTERs and OPTIONS) until {@code n} more CRLF pings went. */
  private void awaitCrlf(int n) {
    int target = rig.registrar.crlfPings.size() + n;
    for (int i = 0; i < 1000 && rig.registrar.crlfPings.size() < target; i++) {
      step();
    }
    assertEquals(target, rig.registrar.crlfPings.size(), "no CRLF ping sent");
  }

  private static long at(String ping) {
    return Long.parseLong(ping.split(" ")[0]);
  }

  private void registerWithOutbound() {
    rig.registrar.outbound = true;
    rig.start();
    assertTrue(rig.timeToRegistered(Duration.ofSeconds(10)) >= 0);
    assertTrue(rig.registration.info().outbound());
  }

  /** Lets time pass (answering REGISTERs and OPTIONS) until {@code n} more STUN requests came. */
  private void awaitStun(int n) {
    int target = rig.registrar.stunRequests.size() + n;
    for (int i = 0; i < 1000 && rig.registrar.stunRequests.size() < target; i++) {
      step();
    }
    assertTrue(rig.registrar.stunRequests.size() >= target, "no STUN request sent");
  }

  private void step() {
    ScriptedRegistrar.Sent s = rig.registrar.nextPending();
    if (s != null) {
      rig.registrar.answer(s, Answer.CORRECT);
      return;
    }
    long due = rig.clock.nextDue();
    if (due < 0) {
      throw new AssertionError("nothing scheduled");
    }
    rig.clock.advance(Duration.ofMillis(Math.max(0, due - rig.clock.now())));
  }

  private FlowKeepAlive.View view() {
    return rig.keepAlive.view(rig.registration);
  }

  private long optionsSent() {
    return rig.registrar.sent.stream().filter(s -> s.method().equals("OPTIONS")).count();
  }

  @Test
  void anOutboundUdpFlowIsKeptAliveWithStunAndStaysRegistered() {
    registerWithOutbound();
    long registeredAt = rig.clock.now();
    awaitStun(1);
    ScriptedRegistrar.StunSent first = rig.registrar.stunRequests.get(0);
    long after = first.at() - registeredAt;
    assertTrue(after >= 20_000 && after <= 25_000, "80-100 % of 25 s, was " + after + " ms");
    assertEquals(rig.wlan, first.from(), "from the flow's own socket");
    assertEquals(StunMessage.BINDING_REQUEST, first.request().type());
    awaitStun(3);
    assertEquals(ProfileStatus.REGISTERED, rig.status());
    assertEquals(0, optionsSent(), "STUN answered: no OPTIONS");
    assertEquals(KeepAliveKind.STUN, view().kind());
    assertNotNull(view().lastAnswered());
  }

  @Test
  void aChangedMappedAddressReRegistersAtOnce() {
    rig.registrar.nat.put(rig.wlan.address, "198.18.7.7:40001");
    registerWithOutbound();
    awaitStun(2); // answered with the mapping the REGISTER's 200 saw
    assertEquals(ProfileStatus.REGISTERED, rig.status());
    rig.registrar.nat.put(rig.wlan.address, "198.18.7.7:40777"); // the NAT rebinds
    long sent = rig.registersSent();
    awaitStun(1);
    assertEquals(ProfileStatus.REGISTRATION_IN_PROGRESS, rig.status(),
        "not REGISTERED through a mapping nothing reaches");
    assertTrue(rig.errors.get(0).reason().contains("198.18.7.7:40777"), rig.errors.toString());
    assertEquals(sent + 1, rig.registersSent(), "a REGISTER at once, through the same uplink");
    assertEquals(rig.wlan.address, rig.registration.info().localAddress());
    assertTrue(rig.timeToRegistered(Duration.ofSeconds(10)) >= 0);
  }

  @Test
  void stunUnansweredIsRetransmittedThenFailsTheFlowUnderRfc5626() {
    use(SipConfig.OutboundKeepAlive.RFC5626, Transport.UDP);
    rig.registrar.stunAnswer = StunAnswer.NONE;
    registerWithOutbound();
    awaitStun(1);
    long sent = rig.registersSent();
    rig.clock.advance(rig.config.registerTimeout());
    // RFC 5389 §7.2.1 within the 5 s probe timeout: at 0, 0.5, 1.5 and 3.5 s, one transaction.
    List<ScriptedRegistrar.StunSent> tries = rig.registrar.stunRequests;
    assertEquals(4, tries.size(), tries.toString());
    assertEquals(List.of(0L, 500L, 1500L, 3500L),
        tries.stream().map(t -> t.at() - tries.get(0).at()).toList());
    assertTrue(tries.stream().allMatch(t -> t.request().equals(tries.get(0).request())));
    assertEquals(ProfileStatus.REGISTRATION_IN_PROGRESS, rig.status());
    assertTrue(rig.errors.get(0).reason().contains("STUN"), rig.errors.toString());
    assertEquals(sent + 1, rig.registersSent(), "a REGISTER at once");
    assertEquals(0, optionsSent(), "RFC5626: never an OPTIONS");
  }

  @Test
  void aRegistrarThatAnswersNoStunIsKeptAliveWithOptionsVisibly() {
    rig.registrar.stunAnswer = StunAnswer.NONE;
    registerWithOutbound();
    for (int i = 0; i < 2; i++) {
      awaitStun(1);
      rig.clock.advance(rig.config.registerTimeout()); // unanswered: an OPTIONS checks the path
      assertEquals(i + 1, optionsSent());
      rig.registrar.answer(rig.registrar.nextPending(), Answer.CORRECT);
      rig.clock.runDue();
      assertEquals(ProfileStatus.REGISTERED, rig.status(), "the flow works");
    }
    assertEquals(KeepAliveKind.OPTIONS, view().kind(), "fallen back, and the view says so");
    int stun = rig.registrar.stunRequests.size();
    rig.runCorrectly(Duration.ofSeconds(120));
    assertEquals(stun, rig.registrar.stunRequests.size(), "no STUN after the fallback");
    assertTrue(optionsSent() >= 6, optionsSent() + " OPTIONS");
    assertEquals(ProfileStatus.REGISTERED, rig.status());
    assertEquals(List.of(), rig.errors);
  }

  @Test
  void aStunErrorFallsBackToOptionsAtOnce() {
    rig.registrar.stunAnswer = StunAnswer.ERROR;
    registerWithOutbound();
    awaitStun(1);
    rig.clock.runDue();
    assertEquals(KeepAliveKind.OPTIONS, view().kind());
    assertEquals(ProfileStatus.REGISTERED, rig.status());
  }

  @Test
  void aStunRegistrarThatStopsAnsweringIsAFailedFlowNotAFallback() {
    registerWithOutbound();
    awaitStun(1);
    rig.registrar.stunAnswer = StunAnswer.NONE; // the path dies
    awaitStun(1);
    rig.clock.advance(rig.config.registerTimeout());
    assertEquals(ProfileStatus.REGISTRATION_IN_PROGRESS, rig.status());
    assertEquals(0, optionsSent());
  }

  @Test
  void anUnansweredStunFollowedByAnUnansweredOptionsIsAFailedFlow() {
    rig.registrar.stunAnswer = StunAnswer.NONE;
    registerWithOutbound();
    awaitStun(1);
    rig.clock.advance(rig.config.registerTimeout());
    ScriptedRegistrar.Sent options = rig.registrar.nextPending();
    assertEquals("OPTIONS", options.method());
    rig.registrar.answer(options, Answer.DROP);
    rig.clock.advance(rig.config.registerTimeout());
    assertEquals(ProfileStatus.REGISTRATION_IN_PROGRESS, rig.status());
    assertEquals(RegistrationError.Kind.TRANSPORT, rig.errors.get(0).kind());
  }

  @Test
  void theFlowTimerOfThe200IsHonouredJittered() {
    rig.registrar.flowTimer = 10;
    registerWithOutbound();
    long last = rig.clock.now();
    for (int i = 0; i < 30; i++) {
      awaitStun(1);
      long at = rig.registrar.stunRequests.get(rig.registrar.stunRequests.size() - 1).at();
      long gap = at - last;
      assertTrue(gap >= 8_000 && gap <= 10_000, "80-100 % of Flow-Timer 10 s, was " + gap);
      last = at;
    }
  }

  @Test
  void aTcpFlowIsPingedEvery95To120sAndAMissingPongFailsItAfterThePongTimeout() {
    useCrlf();
    registerWithOutbound();
    long registeredAt = rig.clock.now();
    awaitCrlf(1);
    String ping = rig.registrar.crlfPings.get(0);
    long after = at(ping) - registeredAt;
    assertTrue(after >= 96_000 && after <= 120_000, "80-100 % of 120 s, was " + after);
    assertTrue(ping.endsWith(rig.wlan.address + " TCP"), ping);
    assertEquals(KeepAliveKind.CRLF, view().kind());
    assertEquals(rig.clock.clock.instant(), view().lastAnswered(), "the pong came at once");
    awaitCrlf(2);
    assertEquals(ProfileStatus.REGISTERED, rig.status());
    assertEquals(0, optionsSent(), "pongs come: no OPTIONS");

    rig.registrar.pongs = false; // the path dies
    awaitCrlf(1);
    long pingedAt = rig.clock.now();
    long sent = rig.registersSent();
    rig.clock.advance(rig.config.outbound().pongTimeout().minusMillis(1));
    assertEquals(ProfileStatus.REGISTERED, rig.status(), "the pong may take 10 s");
    rig.clock.advance(Duration.ofMillis(1));
    assertEquals(pingedAt + 10_000, rig.clock.now());
    assertEquals(ProfileStatus.REGISTRATION_IN_PROGRESS, rig.status());
    assertTrue(rig.errors.get(0).reason().contains("no pong"), rig.errors.toString());
    assertEquals(sent + 1, rig.registersSent(), "a REGISTER at once");
    assertEquals(rig.wlan.address, rig.registration.info().localAddress(), "the same IAP");
    assertEquals(0, optionsSent(), "pongs came before: a failed flow, no fallback");
    assertEquals(List.of(rig.wlan.address + " TCP"), rig.registrar.closedConnections,
        "RFC 5626 §4.5: a new flow, not the connection that failed");
  }

  @Test
  void theFlowTimerOfThe200IsHonouredOnTcpToo() {
    useCrlf();
    rig.registrar.flowTimer = 30;
    registerWithOutbound();
    long last = rig.clock.now();
    for (int i = 0; i < 10; i++) {
      awaitCrlf(1);
      long gap = at(rig.registrar.crlfPings.get(rig.registrar.crlfPings.size() - 1)) - last;
      assertTrue(gap >= 24_000 && gap <= 30_000, "80-100 % of Flow-Timer 30 s, was " + gap);
      last += gap;
    }
  }

  @Test
  void aPongOrAMissingConnectionForAnotherFlowChangesNothing() {
    useCrlf();
    registerWithOutbound();
    rig.registrar.pongs = false;
    awaitCrlf(1);
    rig.registrar.keepAliveAnswers.pongMissing(rig.cell.address, 5070, "TCP", "198.18.0.1",
        5060);
    rig.registrar.keepAliveAnswers.pong(rig.wlan.address, "TLS", "198.18.0.1", 5060);
    rig.clock.runDue();
    assertEquals(ProfileStatus.REGISTERED, rig.status());
    rig.registrar.keepAliveAnswers.pong(rig.wlan.address, "TCP", "198.18.0.1", 5060);
    assertNotNull(view().lastAnswered(), "its own pong answers it");
    rig.clock.advance(Duration.ofSeconds(20));
    assertEquals(ProfileStatus.REGISTERED, rig.status());
  }

  @Test
  void aPingThatFindsNoConnectionFailsTheFlowAtOnce() {
    useCrlf();
    registerWithOutbound();
    awaitCrlf(1);
    rig.registrar.pongs = false;
    awaitCrlf(1);
    long sent = rig.registersSent();
    rig.registrar.keepAliveAnswers.pongMissing(rig.wlan.address, 5070, "TCP", "198.18.0.1",
        5060); // the stack closed the connection
    rig.clock.runDue();
    assertEquals(ProfileStatus.REGISTRATION_IN_PROGRESS, rig.status());
    assertTrue(rig.errors.get(0).reason().contains("no connection"), rig.errors.toString());
    assertEquals(sent + 1, rig.registersSent());
  }

  @Test
  void aRegistrarThatSendsNoPongsIsKeptAliveWithOptionsVisibly() {
    useCrlf();
    rig.registrar.pongs = false;
    registerWithOutbound();
    for (int i = 0; i < 2; i++) {
      awaitCrlf(1);
      rig.clock.advance(rig.config.outbound().pongTimeout()); // an OPTIONS checks the path
      assertEquals(i + 1, optionsSent());
      rig.registrar.answer(rig.registrar.nextPending(), Answer.CORRECT);
      rig.clock.runDue();
      assertEquals(ProfileStatus.REGISTERED, rig.status(), "the flow works");
    }
    assertEquals(KeepAliveKind.OPTIONS, view().kind(), "fallen back, and the view says so");
    int pings = rig.registrar.crlfPings.size();
    rig.runCorrectly(Duration.ofSeconds(600));
    assertEquals(pings, rig.registrar.crlfPings.size(), "no CRLF after the fallback");
    assertTrue(optionsSent() >= 6, optionsSent() + " OPTIONS");
    assertEquals(List.of(), rig.errors);
  }

  @Test
  void aRegistrarThatSendsNoPongsFailsTheFlowUnderRfc5626() {
    use(SipConfig.OutboundKeepAlive.RFC5626, Transport.TCP);
    rig.registrar.pongs = false;
    registerWithOutbound();
    awaitCrlf(1);
    rig.clock.advance(rig.config.outbound().pongTimeout());
    assertEquals(ProfileStatus.REGISTRATION_IN_PROGRESS, rig.status());
    assertEquals(0, optionsSent(), "RFC5626: never an OPTIONS");
  }

  @Test
  void optionsConfiguredKeepsTheOptionsProbeOnTcp() {
    use(SipConfig.OutboundKeepAlive.OPTIONS, Transport.TCP);
    registerWithOutbound();
    rig.runCorrectly(Duration.ofSeconds(60));
    assertEquals(KeepAliveKind.OPTIONS, view().kind());
    assertTrue(optionsSent() >= 2);
    assertEquals(List.of(), rig.registrar.crlfPings);
  }

  @Test
  void optionsConfiguredKeepsTheOptionsProbeOnUdp() {
    use(SipConfig.OutboundKeepAlive.OPTIONS, Transport.UDP);
    registerWithOutbound();
    rig.runCorrectly(Duration.ofSeconds(60));
    assertTrue(optionsSent() >= 2);
    assertEquals(0, rig.registrar.stunRequests.size());
    assertEquals(KeepAliveKind.OPTIONS, view().kind());
  }
}
