package io.sipalr.calls;

import static io.sipalr.calls.CallsTest.OFFER;
import static io.sipalr.calls.CallsTest.inDialog;
import static io.sipalr.calls.CallsTest.invite;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sipalr.calls.CallInfo.State;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.RegistrationError;
import io.sipalr.sip.RegistryEvent;
import io.sipalr.sip.RegistryListener;
import io.sipalr.sip.VirtualClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import javax.sip.header.ToHeader;
import javax.sip.message.Request;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A profile that goes for good takes its calls with it (docs/calls.md, "Profiles that go"):
 * registry events into {@link Calls#profileEnds()}, against the scripted peer on virtual time.
 */
class ProfileEndsTest {
  VirtualClock clock;
  ScriptedCallPeer peer;
  Calls calls;
  RegistryListener ends;
  final List<CallEvent> events = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    clock = new VirtualClock();
    peer = new ScriptedCallPeer();
    calls = new Calls(peer, id -> CallPolicy.autoAnswer(Duration.ofSeconds(1)), 3,
        (address, name) -> new FakeMedia(address), clock, clock.clock());
    calls.addListener(events::add);
    calls.start();
    ends = calls.profileEnds();
  }

  private void registry(RegistryEvent.Type type, String profile, ProfileStatus status,
      RegistrationError error) {
    ends.onEvent(new RegistryEvent(type, profile, status, error, Instant.EPOCH));
  }

  /** An incoming call, answered and ACKed: established. */
  private String established(String callId) throws Exception {
    ScriptedCallPeer.Incoming in = peer.deliver(invite(callId, OFFER));
    clock.advance(Duration.ofSeconds(1));
    String tag = ((ToHeader) in.last().getHeader(ToHeader.NAME)).getTag();
    peer.deliver(inDialog("ACK", callId, tag, 1, null));
    assertEquals(State.ESTABLISHED, calls.list().get(0).state());
    return calls.list().get(0).id();
  }

  private CallEvent ended() {
    CallEvent last = events.get(events.size() - 1);
    assertEquals(CallEvent.Type.CALL_ENDED, last.type(), events.toString());
    return last;
  }

  @Test
  void aDeletedProfileHangsUpItsEstablishedCallsWithBye() throws Exception {
    established("c1");
    peer.deleting = true;
    registry(RegistryEvent.Type.DEREGISTERED, "alice", ProfileStatus.UNREGISTRATION_IN_PROGRESS,
        null);
    ScriptedCallPeer.Sent bye = peer.last(Request.BYE);
    peer.answer(bye, 200, null, null, null);
    assertEquals("profile deleted", ended().reason());
    assertEquals(0, calls.activeCount());
    assertEquals(0, peer.legsHeld());
    registry(RegistryEvent.Type.DESTROYED, "alice", ProfileStatus.UNREGISTERED, null);
    assertEquals(1, peer.sent.stream().filter(s -> s.request().getMethod().equals("BYE"))
        .count()); // nothing more to end
  }

  @Test
  void aDisabledProfileAnswersARingingCall480() throws Exception {
    ScriptedCallPeer.Incoming in = peer.deliver(invite("c1", OFFER));
    peer.stopped = true;
    registry(RegistryEvent.Type.DEREGISTERED, "alice", ProfileStatus.UNREGISTRATION_IN_PROGRESS,
        null);
    assertEquals(List.of(180, 480), in.statuses());
    assertEquals("profile disabled", ended().reason());
    clock.advance(Duration.ofSeconds(5)); // the auto-answer timer is gone
    assertEquals(List.of(180, 480), in.statuses());
  }

  @Test
  void aProfileDeletedWhileItsCallRingsThereCancelsIt() throws Exception {
    calls.dial("alice", "sip:bob@sipalr.test");
    ScriptedCallPeer.Sent invite = peer.last(Request.INVITE);
    peer.answer(invite, 180, "bobtag", null, null);
    registry(RegistryEvent.Type.DESTROYED, "alice", ProfileStatus.UNREGISTERED, null);
    ScriptedCallPeer.Sent cancel = peer.last(Request.CANCEL);
    assertEquals(invite.request().getRequestURI(), cancel.request().getRequestURI());
    peer.answer(cancel, 200, null, null, null);
    peer.answer(invite, 487, "bobtag", null, null);
    assertEquals("profile deleted", ended().reason());
    assertEquals(0, peer.legsHeld());
  }

  @Test
  void aBreakBeforeMakeMoveDeregistersButKeepsTheCalls() throws Exception {
    established("c1");
    registry(RegistryEvent.Type.DEREGISTERED, "alice", ProfileStatus.UNREGISTRATION_IN_PROGRESS,
        null); // still wanted: the old binding goes first, then the new one comes
    assertEquals(State.ESTABLISHED, calls.list().get(0).state());
    assertEquals(0, peer.sent.size());
  }

  @Test
  void wrongCredentialsForGoodEndTheCallsAndABackOffDoesNot() throws Exception {
    established("c1");
    registry(RegistryEvent.Type.REGISTRATION_FAILED, "alice",
        ProfileStatus.REGISTRATION_IN_PROGRESS, new RegistrationError(
            RegistrationError.Kind.TIMEOUT, 0, "no answer", Duration.ofSeconds(30)));
    registry(RegistryEvent.Type.DEREGISTERED, "alice", ProfileStatus.REGISTRATION_IN_PROGRESS,
        null);
    registry(RegistryEvent.Type.DESTROYED, "bob", ProfileStatus.UNREGISTERED, null);
    assertEquals(State.ESTABLISHED, calls.list().get(0).state()); // a back-off keeps calls

    // A refresh answered 403: REGISTERED -> AUTH_FAILED, then the failure (Registration's order).
    registry(RegistryEvent.Type.DEREGISTERED, "alice", ProfileStatus.UNREGISTERED, null);
    assertEquals(State.ESTABLISHED, calls.list().get(0).state());
    registry(RegistryEvent.Type.REGISTRATION_FAILED, "alice", ProfileStatus.UNREGISTERED,
        new RegistrationError(RegistrationError.Kind.AUTHENTICATION, 403, "Forbidden", null));
    peer.answer(peer.last(Request.BYE), 200, null, null, null);
    assertEquals("profile's registration failed for good: AUTHENTICATION 403 Forbidden",
        ended().reason());
  }

  @Test
  void anOperatorDisableEndsTheCalls() throws Exception {
    established("c1");
    registry(RegistryEvent.Type.FORCIBLY_DISABLED, "alice", ProfileStatus.UNREGISTERED, null);
    peer.answer(peer.last(Request.BYE), 200, null, null, null);
    assertEquals("profile disabled by the operator", ended().reason());
  }
}
