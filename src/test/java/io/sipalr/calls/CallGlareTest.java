package io.sipalr.calls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.calls.CallInfo.State;
import java.time.Duration;
import java.util.List;
import javax.sip.header.CSeqHeader;
import javax.sip.message.Request;
import org.junit.jupiter.api.Test;

/**
 * Glare (RFC 3261 §14.1): a move's re-INVITE answered 491 goes again after 2.1-4 s when we
 * chose the Call-ID, 0-2 s otherwise, a bounded number of times, then the call ends saying
 * so; the peer's re-INVITE while ours is out gets 491, and one in our wait is answered.
 */
class CallGlareTest extends CallsTestBase {
  private long waitMs() {
    return clock.nextDue() - clock.now();
  }

  private static long cseq(Request r) {
    return ((CSeqHeader) r.getHeader(CSeqHeader.NAME)).getSeqNumber();
  }

  private long invites() {
    return peer.sent.stream().filter(s -> s.request().getMethod().equals("INVITE")).count();
  }

  @Test
  void ourCallWaits2100To4000MsAfterA491ThenReInvitesAgainAndMoves() throws Exception {
    CallInfo c = establishOutgoing();
    moveTo("198.18.0.3");
    ScriptedCallPeer.Sent first = peer.last(Request.INVITE);
    peer.answer(first, 491, "bobtag", null, null);
    assertEquals(State.ESTABLISHED, calls.get(c.id()).orElseThrow().state());
    assertTrue(media.get(0).log.contains("abort 198.18.0.3"));
    assertEquals(0, peer.legs.get("198.18.0.3")); // the prepared move given up meanwhile
    long wait = waitMs();
    assertTrue(wait >= 2100 && wait <= 4000, "waits " + wait + " ms");
    assertEquals(2, invites());

    clock.advance(Duration.ofMillis(wait - 1));
    assertEquals(2, invites());
    clock.advance(Duration.ofMillis(1));
    ScriptedCallPeer.Sent again = peer.last(Request.INVITE);
    assertEquals(3, invites());
    assertEquals("198.18.0.3", again.from().address());
    assertTrue(cseq(again.request()) > cseq(first.request()));
    peer.answer(again, 200, "bobtag", "Contact: <sip:bob@198.18.0.9:5070>", OFFER);
    assertEquals(CallEvent.Type.CALL_MOVED, events.get(events.size() - 1).type());
    assertEquals("198.18.0.3", calls.get(c.id()).orElseThrow().localAddress());
  }

  @Test
  void theirCallWaitsAtMost2sAndTheirReInviteInOurWaitIsAnswered() throws Exception {
    String tag = establishIncoming("c1");
    moveTo("198.18.0.3");
    peer.answer(peer.last(Request.INVITE), 491, null, null, null);
    long wait = waitMs();
    assertTrue(wait >= 0 && wait <= 2000, "waits " + wait + " ms");

    // the peer, whose wait is shorter, goes first: answered from where the call is
    ScriptedCallPeer.Incoming theirs = peer.deliver(inDialog("INVITE", "c1", tag, 2, OFFER));
    assertEquals(List.of(200), theirs.statuses());
    assertTrue(new String(theirs.last().getRawContent()).contains("c=IN IP4 198.18.0.2"));
    peer.deliver(inDialog("ACK", "c1", tag, 2, null));

    clock.advance(Duration.ofMillis(wait));
    assertEquals("198.18.0.3", peer.last(Request.INVITE).from().address());
    assertEquals(2, peer.sent.stream().filter(s -> s.request().getMethod().equals("INVITE"))
        .count());
  }

  @Test
  void thePeersReInviteWhileOursIsOutIs491() throws Exception {
    String tag = establishIncoming("c1");
    moveTo("198.18.0.3");
    assertEquals(List.of(491), peer.deliver(inDialog("INVITE", "c1", tag, 2, OFFER))
        .statuses());
  }

  @Test
  void after491OnEveryTryTheCallEndsSayingGlare() throws Exception {
    establishOutgoing();
    moveTo("198.18.0.3");
    for (int i = 0; i < CallSettings.DEFAULTS.glareRetries(); i++) {
      peer.answer(peer.last(Request.INVITE), 491, "bobtag", null, null);
      clock.advance(Duration.ofMillis(waitMs()));
    }
    assertEquals(1 + 1 + CallSettings.DEFAULTS.glareRetries(), invites());
    peer.answer(peer.last(Request.INVITE), 491, "bobtag", null, null);
    peer.answer(peer.last(Request.BYE), 200, null, null, null);
    assertEquals("the move from 198.18.0.2 to 198.18.0.3 failed: re-INVITE answered 491"
        + " Request Pending 4 times (glare), gave up", events.get(events.size() - 1).reason());
    assertEquals(0, peer.legsHeld());
    assertEquals(-1, clock.nextDue()); // nothing left to run
  }

  @Test
  void aMoveInTheWaitGoesToTheNewestAddressAfterIt() throws Exception {
    establishOutgoing();
    moveTo("198.18.0.3");
    peer.answer(peer.last(Request.INVITE), 491, "bobtag", null, null);
    moveTo("198.18.0.4");
    assertEquals(2, invites()); // not before the wait is over
    clock.advance(Duration.ofMillis(waitMs()));
    assertEquals("198.18.0.4", peer.last(Request.INVITE).from().address());
  }
}
