package io.sipalr.calls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.calls.CallInfo.State;
import java.time.Duration;
import java.util.List;
import javax.sip.header.CSeqHeader;
import javax.sip.message.Message;
import javax.sip.message.Request;
import org.junit.jupiter.api.Test;

/**
 * Session timers (RFC 4028) on virtual time: 422 below our Min-SE, the interval and refresher
 * in our 2xx, our refresh at half the interval (re-INVITE, or UPDATE when allowed), a BYE when
 * the session expires unrefreshed, 422 to our requests, a failed refresh.
 */
class SessionTimerTest extends CallsTestBase {
  private static String header(Message m, String name) {
    var h = m.getHeader(name);
    if (h == null) {
      return null;
    }
    String text = h.toString().trim();
    return text.substring(text.indexOf(':') + 1).trim();
  }

  private String lastReason() {
    return events.get(events.size() - 1).reason();
  }

  @Test
  void anIntervalBelowOurMinSeIs422WithOurMinSe() throws Exception {
    ScriptedCallPeer.Incoming in = peer.deliver(with(invite("c1", OFFER),
        "Session-Expires: 60", "Supported: timer"));
    assertEquals(List.of(422), in.statuses());
    assertEquals("90", header(in.last(), "Min-SE"));
    assertEquals("Session Interval Too Small", in.last().getReasonPhrase());
    assertTrue(events.isEmpty());
    assertEquals(0, calls.activeCount());
  }

  @Test
  void thePeerRefreshesAndWithoutItsRefreshTheSessionEndsWithBye() throws Exception {
    ScriptedCallPeer.Incoming in = peer.deliver(with(invite("c1", OFFER),
        "Session-Expires: 120", "Supported: timer"));
    clock.advance(Duration.ofSeconds(1));
    assertEquals("120;refresher=uac", header(in.last(), "Session-Expires"));
    assertEquals("timer", header(in.last(), "Require"));
    String tag = toTag(in.last());
    peer.deliver(inDialog("ACK", "c1", tag, 1, null));

    clock.advance(Duration.ofSeconds(60)); // the peer refreshes by UPDATE at half
    ScriptedCallPeer.Incoming up = peer.deliver(with(inDialog("UPDATE", "c1", tag, 2, null),
        "Session-Expires: 120;refresher=uac", "Supported: timer"));
    assertEquals(List.of(200), up.statuses());
    assertEquals("120;refresher=uac", header(up.last(), "Session-Expires"));
    clock.advance(Duration.ofSeconds(87)); // 120 - 32 after the refresh, less 1 s
    assertTrue(peer.sent.isEmpty(), "we never refresh nor hang up yet");
    clock.advance(Duration.ofSeconds(1));
    peer.answer(peer.last(Request.BYE), 200, null, null, null);
    assertEquals("the session expired: no refresh within 120 s (RFC 4028 session timer)",
        lastReason());
  }

  @Test
  void asRefresherWeReInviteAtHalfTheIntervalAndAckTheAnswer() throws Exception {
    String tag = establishIncoming("c1", "Session-Expires: 120;refresher=uas",
        "Supported: timer");
    clock.advance(Duration.ofSeconds(58)); // answered at 1 s: due at 61 s
    assertTrue(peer.sent.isEmpty());
    clock.advance(Duration.ofSeconds(2));
    ScriptedCallPeer.Sent re = peer.last(Request.INVITE);
    assertEquals("120;refresher=uac", header(re.request(), "Session-Expires"));
    assertTrue(header(re.request(), "Supported").contains("timer"));
    assertTrue(new String(re.request().getRawContent()).contains("c=IN IP4 198.18.0.2"));
    // the peer's re-INVITE now meets our offer: 491
    assertEquals(List.of(491), peer.deliver(inDialog("INVITE", "c1", tag, 2, OFFER))
        .statuses());
    peer.answer(re, 200, null, "Session-Expires: 120;refresher=uac\r\nRequire: timer", OFFER);
    assertEquals(1, peer.acks.size());
    clock.advance(Duration.ofSeconds(60));
    assertEquals(2, peer.sent.stream().filter(s -> s.request().getMethod().equals("INVITE"))
        .count());
    assertEquals(State.ESTABLISHED, calls.list().get(0).state());
  }

  @Test
  void ourCallOffersTimersAndRefreshesByUpdateWhenThe200AsksUsTo() throws Exception {
    CallInfo c = calls.dial("alice", "sip:bob@sipalr.test");
    ScriptedCallPeer.Sent invite = peer.last(Request.INVITE);
    assertEquals("timer", header(invite.request(), "Supported"));
    assertNull(header(invite.request(), "Session-Expires")); // only when the peer asks
    peer.answer(invite, 200, "bobtag", "Contact: <sip:bob@198.18.0.9:5070>\r\n"
        + "Allow: INVITE, ACK, BYE, UPDATE\r\nSession-Expires: 100;refresher=uac\r\n"
        + "Require: timer", OFFER);
    clock.advance(Duration.ofSeconds(50));
    ScriptedCallPeer.Sent up = peer.last(Request.UPDATE);
    assertNull(up.request().getRawContent());
    assertEquals("100;refresher=uac", header(up.request(), "Session-Expires"));
    peer.answer(up, 481, null, null, null);
    peer.answer(peer.last(Request.BYE), 200, null, null, null);
    assertEquals("the session refresh (UPDATE) answered 481 Call leg/Transaction does not"
        + " exist", lastReason());
    assertEquals(State.ENDED, calls.get(c.id()).orElseThrow().state());
  }

  @Test
  void a422ToOurInviteSendsItAgainAskingForItsMinSe() throws Exception {
    calls.dial("alice", "sip:bob@sipalr.test");
    ScriptedCallPeer.Sent first = peer.last(Request.INVITE);
    peer.answer(first, 422, "proxytag", "Min-SE: 300", null);
    ScriptedCallPeer.Sent again = peer.last(Request.INVITE);
    assertEquals("300;refresher=uac", header(again.request(), "Session-Expires"));
    assertEquals("300", header(again.request(), "Min-SE"));
    assertEquals(2, ((CSeqHeader) again.request().getHeader(CSeqHeader.NAME)).getSeqNumber());
    peer.answer(again, 200, "bobtag", "Contact: <sip:bob@198.18.0.9:5070>\r\n"
        + "Session-Expires: 300;refresher=uas", OFFER);
    assertEquals(State.ESTABLISHED, calls.list().get(0).state());
    clock.advance(Duration.ofSeconds(267)); // 300 - 32 less 1 s: the peer refreshes, not us
    assertEquals(2, peer.sent.size());
    clock.advance(Duration.ofSeconds(1));
    assertEquals(Request.BYE, peer.sent.get(peer.sent.size() - 1).request().getMethod());
  }

  @Test
  void a422ToOurRefreshRaisesTheIntervalAndBoundedTimesEndsTheCall() throws Exception {
    establishIncoming("c1", "Session-Expires: 100;refresher=uas", "Supported: timer");
    clock.advance(Duration.ofSeconds(50));
    peer.answer(peer.last(Request.INVITE), 422, null, "Min-SE: 200", null);
    ScriptedCallPeer.Sent again = peer.last(Request.INVITE);
    assertEquals("200;refresher=uac", header(again.request(), "Session-Expires"));
    peer.answer(again, 422, null, "Min-SE: 400", null);
    peer.answer(peer.last(Request.INVITE), 422, null, "Min-SE: 800", null);
    peer.answer(peer.last(Request.BYE), 200, null, null, null);
    assertTrue(lastReason().startsWith("the session refresh (re-INVITE) answered 422 "),
        lastReason());
  }

  @Test
  void aReInviteWithoutSessionExpiresTurnsTheTimerOff() throws Exception {
    String tag = establishIncoming("c1", "Session-Expires: 120;refresher=uac",
        "Supported: timer");
    ScriptedCallPeer.Incoming re = peer.deliver(inDialog("INVITE", "c1", tag, 2, OFFER));
    assertNull(header(re.last(), "Session-Expires"));
    peer.deliver(inDialog("ACK", "c1", tag, 2, null));
    clock.advance(Duration.ofHours(1));
    assertTrue(peer.sent.isEmpty());
    assertEquals(State.ESTABLISHED, calls.list().get(0).state());
  }

  @Test
  void aMoveCarriesTheSessionIntervalAndItsAnswerReArmsIt() throws Exception {
    establishIncoming("c1", "Session-Expires: 120;refresher=uac", "Supported: timer");
    clock.advance(Duration.ofSeconds(80));
    moveTo("198.18.0.3");
    ScriptedCallPeer.Sent re = peer.last(Request.INVITE);
    assertEquals("120;refresher=uas", header(re.request(), "Session-Expires"));
    peer.answer(re, 200, null, "Session-Expires: 120;refresher=uas", OFFER);
    clock.advance(Duration.ofSeconds(87)); // the move refreshed the session at 81 s
    assertEquals(List.of("INVITE"), peer.sent.stream().map(s -> s.request().getMethod())
        .toList());
  }

  @Test
  void aRefreshDueDuringAMoveWaitsAndTheMovesAnswerReArmsTheTimer() throws Exception {
    establishIncoming("c1", "Session-Expires: 120;refresher=uas", "Supported: timer");
    clock.advance(Duration.ofSeconds(55));
    moveTo("198.18.0.3");
    ScriptedCallPeer.Sent move = peer.last(Request.INVITE);
    assertEquals("120;refresher=uac", header(move.request(), "Session-Expires"));
    clock.advance(Duration.ofSeconds(7)); // the refresh was due at 61 s: the move is out
    assertEquals(1, peer.sent.size(), "no refresh while the move's re-INVITE is out");
    peer.answer(move, 200, null, "Session-Expires: 120;refresher=uac", OFFER);
    clock.advance(Duration.ofSeconds(59)); // re-armed at 63 s: due at 123 s
    assertEquals(1, peer.sent.size());
    clock.advance(Duration.ofSeconds(2));
    assertEquals(2, peer.sent.size());
    assertEquals("198.18.0.3", peer.last(Request.INVITE).from().address());
  }
}
