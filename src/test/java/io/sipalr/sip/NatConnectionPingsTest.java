package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.profile.SipProfile;
import io.sipalr.profile.Transport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * NAT pings on TCP and TLS registrations without outbound: a double CRLF on the registration's
 * connection every {@code sip.nat.connection-keepalive-interval}, one per connection; a missing
 * pong fails the connection only once the registrar has answered one on it; a ping that finds
 * the connection gone fails it at once. Scripted registrar (no outbound), virtual time.
 */
class NatConnectionPingsTest {
  private static final Duration INTERVAL = SipConfig.Nat.DEFAULT_CONNECTION_INTERVAL;

  private RegistrationRig rig = rig(SipConfig.NatKeepAlive.AUTO, Transport.TCP);

  private static RegistrationRig rig(SipConfig.NatKeepAlive keepAlive, Transport transport) {
    SipProfile p = RegistrationRig.profile(600, RegistrationRig.PASSWORD);
    return new RegistrationRig(RegistrationRig.config(SipConfig.OutboundKeepAlive.AUTO,
        new SipConfig.Nat(true, keepAlive, Duration.ofSeconds(15))),
        new SipProfile(p.id(), p.aor(), p.registrar(), p.outboundProxy(), p.authUser(),
            p.password(), p.realm(), transport, p.expires(), p.autoRegister(), p.snapId(),
            p.iapId(), p.bearerFilter(), p.instanceId(), p.regId()));
  }

  private void register() {
    rig.start();
    assertTrue(rig.timeToRegistered(Duration.ofSeconds(10)) >= 0);
    assertEquals(false, rig.registration.info().outbound(), "no outbound");
  }

  /** Lets time pass (answering every request) until {@code n} more CRLF pings went. */
  private void awaitCrlf(int n) {
    int target = rig.registrar.crlfPings.size() + n;
    rig.runUntil(() -> rig.registrar.crlfPings.size() >= target, "no CRLF ping sent");
  }

  private static long at(String ping) {
    return Long.parseLong(ping.split(" ")[0]);
  }

  private FlowKeepAlive.View view() {
    return rig.keepAlive.view(rig.registration);
  }

  private FlowKeepAlive.Flow flow(String transport) {
    return new FlowKeepAlive.Flow(rig.wlan, transport, "198.18.0.1", 5060);
  }

  @Test
  void overTcpWithoutOutboundTheConnectionIsPingedEvery72To90sAndThePongsShowInTheView() {
    register();
    long last = rig.clock.now();
    for (int i = 0; i < 5; i++) {
      awaitCrlf(1);
      String ping = rig.registrar.crlfPings.get(rig.registrar.crlfPings.size() - 1);
      assertTrue(ping.endsWith(rig.wlan.address + " TCP"), ping);
      long gap = at(ping) - last;
      assertTrue(gap >= INTERVAL.toMillis() * 8 / 10 && gap <= INTERVAL.toMillis(),
          "80-100 % of 90 s, was " + gap);
      last = at(ping);
    }
    assertEquals(KeepAliveKind.CRLF, rig.keepAlive.natPingKind(flow("TCP")));
    assertEquals(KeepAliveKind.CRLF, view().kind(), "the profile view shows the NAT ping");
    assertEquals(rig.clock.clock.instant(), view().lastAnswered(), "the pong came at once");
    assertEquals(List.of(), rig.registrar.stunRequests, "no STUN on a connection");
    assertEquals(ProfileStatus.REGISTERED, rig.status());
    assertEquals(1, rig.keepAlive.natPingCount());
    assertEquals(0, rig.keepAlive.flowCount(), "no outbound flow");
  }

  @Test
  void aMissingPongAfterPongsCameFailsTheConnectionAndTheProfileReRegistersOverANewOne() {
    register();
    awaitCrlf(2); // both ponged
    rig.registrar.pongs = false; // the path loses them from now on
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
    assertEquals(List.of(rig.wlan.address + " TCP"), rig.registrar.closedConnections,
        "the REGISTER goes over a new connection, not the lost one");

    rig.registrar.answerAllCorrectly();
    rig.clock.runDue();
    assertEquals(ProfileStatus.REGISTERED, rig.status());
    assertEquals(1, rig.registrar.bindings(RegistrationRig.AOR).size(), "one binding");
    awaitCrlf(1); // the new connection is pinged again
    assertEquals(KeepAliveKind.CRLF, view().kind());
  }

  @Test
  void aRegistrarThatNeverPongsIsJustPinged() {
    rig.registrar.pongs = false;
    register();
    awaitCrlf(4);
    rig.clock.advance(rig.config.outbound().pongTimeout());
    assertEquals(ProfileStatus.REGISTERED, rig.status(), "no pong is owed without outbound");
    assertEquals(List.of(), rig.errors);
    assertEquals(List.of(), rig.registrar.closedConnections);
    assertEquals(KeepAliveKind.CRLF, view().kind());
    assertNull(view().lastAnswered());
  }

  @Test
  void aPingThatFindsTheConnectionGoneReRegistersAtOnce() {
    rig.registrar.pongs = false; // whether pongs came or not
    register();
    awaitCrlf(1);
    long sent = rig.registersSent();
    rig.registrar.keepAliveAnswers.pongMissing(rig.cell.address, 5070, "TCP", "198.18.0.1",
        5060); // another connection's
    rig.clock.runDue();
    assertEquals(ProfileStatus.REGISTERED, rig.status());
    rig.registrar.keepAliveAnswers.pongMissing(rig.wlan.address, 5070, "TCP", "198.18.0.1",
        5060); // the stack closed this one, or the write failed
    rig.clock.runDue();
    assertEquals(ProfileStatus.REGISTRATION_IN_PROGRESS, rig.status());
    assertTrue(rig.errors.get(0).reason().contains("connection gone"), rig.errors.toString());
    assertEquals(sent + 1, rig.registersSent());
  }

  @Test
  void everyKindButOffPingsAConnection() {
    for (SipConfig.NatKeepAlive kind : List.of(SipConfig.NatKeepAlive.CRLF,
        SipConfig.NatKeepAlive.STUN)) {
      rig = rig(kind, Transport.TCP);
      register();
      awaitCrlf(1);
      assertEquals(KeepAliveKind.CRLF, view().kind(), kind.name());
    }
    rig = rig(SipConfig.NatKeepAlive.OFF, Transport.TCP);
    register();
    rig.clock.advance(INTERVAL.multipliedBy(3));
    rig.clock.runDue();
    assertEquals(List.of(), rig.registrar.crlfPings, "OFF: no ping");
    assertNull(view());
  }

  @Test
  void oneConnectionIsPingedOnceWhateverTheNumberOfProfilesOnIt() { // over TLS here
    List<String> failed = new ArrayList<>();
    FlowKeepAlive.Member a = (f, why) -> failed.add("a " + why);
    FlowKeepAlive.Member b = (f, why) -> failed.add("b " + why);
    SipConfig.Nat nat = new SipConfig.Nat(true, SipConfig.NatKeepAlive.AUTO,
        Duration.ofSeconds(15), Duration.ofSeconds(30));
    rig.keepAlive.joinNatPing(flow("TLS"), a, nat, null);
    rig.keepAlive.joinNatPing(flow("TLS"), b, nat, null);
    assertEquals(1, rig.keepAlive.natPingCount());
    rig.clock.advance(Duration.ofSeconds(30));
    assertEquals(1, rig.registrar.crlfPings.size(), "one ping for both");
    assertTrue(rig.registrar.crlfPings.get(0).endsWith(" TLS"), rig.registrar.crlfPings.get(0));
    rig.registrar.pongs = false;
    rig.clock.advance(Duration.ofSeconds(30));
    rig.clock.advance(rig.config.outbound().pongTimeout());
    assertEquals(2, failed.size(), "both hear of the lost connection: " + failed);
    assertTrue(failed.get(0).contains("within 10000 ms"), failed.toString());
    assertEquals(0, rig.keepAlive.natPingCount(), "a lost connection is pinged no more");
    rig.keepAlive.leaveNatPing(flow("TLS"), a);
    rig.keepAlive.leaveNatPing(flow("TLS"), b);
    assertEquals(0, rig.keepAlive.natPingCount());
  }

  @Test
  void aNatPingsPongIsTheOnlyAnswerThatCounts() {
    register();
    awaitCrlf(1);
    java.time.Instant first = view().lastAnswered();
    assertNotNull(first);
    rig.clock.advance(Duration.ofSeconds(1));
    rig.registrar.keepAliveAnswers.pong(rig.wlan.address, "TLS", "198.18.0.1", 5060);
    rig.registrar.keepAliveAnswers.pong(rig.cell.address, "TCP", "198.18.0.1", 5060);
    assertEquals(first, view().lastAnswered(), "another connection's pong");
  }
}
