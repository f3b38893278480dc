package io.sipalr.calls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.calls.CallInfo.State;
import java.time.Duration;
import java.util.List;
import javax.sip.header.ContactHeader;
import javax.sip.header.RetryAfterHeader;
import javax.sip.message.Request;
import org.junit.jupiter.api.Test;

/**
 * Offers and answers beyond an INVITE with SDP (docs/calls.md, "Offers and answers"): an
 * offerless INVITE or re-INVITE gets our offer in the 200 and its answer in the ACK; an UPDATE
 * (RFC 3311) is answered at once, 491 on glare; a move goes by UPDATE when the peer allows it.
 */
class CallOffersTest extends CallsTestBase {
  static final String ANSWER = OFFER.replace("8 0 101", "0").replace("a=rtpmap:8 PCMA/8000\r\n",
      "");

  private static String sdp(javax.sip.message.Message m) {
    return m.getRawContent() == null ? null : new String(m.getRawContent());
  }

  @Test
  void anOfferlessInviteGetsOurOfferInThe200AndTheAckCarriesTheAnswer() throws Exception {
    ScriptedCallPeer.Incoming in = ringAndAnswerWith(invite("c1", null));
    assertEquals(List.of(180, 200), in.statuses());
    String offer = sdp(in.last());
    assertTrue(offer.contains("c=IN IP4 198.18.0.2"), offer);
    assertTrue(offer.contains("m=audio 40000 RTP/AVP 0 8 101"), offer);
    assertTrue(media.get(0).log.isEmpty()); // nowhere to send yet
    assertEquals(State.ANSWERED, calls.list().get(0).state());

    peer.deliver(inDialog("ACK", "c1", toTag(in.last()), 1,
        ANSWER.replace("198.18.0.9", "198.18.0.19")));
    assertEquals(List.of("start 198.18.0.19:6000"), media.get(0).log);
    assertEquals("PCMU", media.get(0).agreed.codec().name());
    assertEquals(State.ESTABLISHED, calls.list().get(0).state());
    clock.advance(Duration.ofSeconds(40));
    assertEquals(0, in.resent);
  }

  @Test
  void anOfferlessInviteWhoseAckHasNoAnswerIsEndedWithBye() throws Exception {
    ScriptedCallPeer.Incoming in = ringAndAnswerWith(invite("c1", null));
    peer.deliver(inDialog("ACK", "c1", toTag(in.last()), 1, null));
    peer.answer(peer.last(Request.BYE), 200, null, null, null);
    assertEquals(List.of(CallEvent.Type.CALL_INCOMING, CallEvent.Type.CALL_ESTABLISHED,
        CallEvent.Type.CALL_ENDED), types());
    assertEquals("the ACK carried no SDP answer to our offer", events.get(2).reason());
    assertEquals(0, peer.legsHeld());
  }

  @Test
  void anOfferlessReInviteGetsANewOfferAndTheAckAnswerRedirectsTheMedia() throws Exception {
    String tag = establishIncoming("c1");
    ScriptedCallPeer.Incoming re = peer.deliver(inDialog("INVITE", "c1", tag, 2, null));
    assertEquals(List.of(200), re.statuses());
    String offer = sdp(re.last());
    assertTrue(offer.contains(" 1 IN IP4 198.18.0.2"), offer); // session version one up
    assertTrue(offer.contains("m=audio 40000 "), offer);
    peer.deliver(inDialog("ACK", "c1", tag, 2, ANSWER.replace("198.18.0.9", "198.18.0.29")));
    assertEquals("start 198.18.0.29:6000", lastMedia());
    assertEquals(State.ESTABLISHED, calls.list().get(0).state());
  }

  @Test
  void anUpdateWithAnOfferIsAnsweredAtOnceWithSdpAndRedirectsTheMedia() throws Exception {
    String tag = establishIncoming("c1");
    ScriptedCallPeer.Incoming up = peer.deliver(inDialog("UPDATE", "c1", tag, 2,
        OFFER.replace("198.18.0.9", "198.18.0.19")).replace("<sip:bob@198.18.0.9:5070>",
        "<sip:bob@198.18.0.19:5070>"));
    assertEquals(List.of(200), up.statuses());
    String answer = sdp(up.last());
    assertTrue(answer.contains("c=IN IP4 198.18.0.2") && answer.contains(" 1 IN IP4 "), answer);
    assertEquals("sip:alice@198.18.0.2:5060", ((ContactHeader) up.last()
        .getHeader(ContactHeader.NAME)).getAddress().getURI().toString());
    assertNotNull(up.last().getHeader("Allow"));
    assertEquals("start 198.18.0.19:6000", lastMedia());
    clock.advance(Duration.ofSeconds(40));
    assertEquals(0, up.resent); // no 2xx retransmission, no ACK for an UPDATE
    assertEquals(State.ESTABLISHED, calls.list().get(0).state());

    calls.hangUp(calls.list().get(0).id()); // the UPDATE refreshed the target
    assertEquals("sip:bob@198.18.0.19:5070",
        peer.last(Request.BYE).request().getRequestURI().toString());
  }

  @Test
  void anUpdateWithoutSdpIs200WithoutBodyAndAnOldCseqIs500() throws Exception {
    String tag = establishIncoming("c1");
    ScriptedCallPeer.Incoming up = peer.deliver(inDialog("UPDATE", "c1", tag, 2, null));
    assertEquals(List.of(200), up.statuses());
    assertNull(sdp(up.last()));
    assertEquals(1, media.get(0).log.size()); // media untouched
    assertEquals(List.of(500), peer.deliver(inDialog("UPDATE", "c1", tag, 2, null))
        .statuses());
    assertEquals(List.of(481), peer.deliver(inDialog("UPDATE", "nope", tag, 3, null))
        .statuses());
  }

  @Test
  void anUpdateOfferWhileOurMoveIsOutIs491AndWhileRingingIs500WithRetryAfter()
      throws Exception {
    establishOutgoing();
    moveTo("198.18.0.3");
    ScriptedCallPeer.Incoming up = peer.deliver(inDialog("UPDATE", "cid-1@scripted",
        fromTagOfOurCall(), 5, OFFER));
    assertEquals(List.of(491), up.statuses());
    ScriptedCallPeer.Incoming upNoSdp = peer.deliver(inDialog("UPDATE", "cid-1@scripted",
        fromTagOfOurCall(), 6, null));
    assertEquals(List.of(200), upNoSdp.statuses()); // no offer, no glare

    policy = CallPolicy.application(Duration.ofSeconds(30), false, 603);
    ScriptedCallPeer.Incoming ringing = peer.deliver(invite("c2", OFFER));
    ScriptedCallPeer.Incoming early = peer.deliver(inDialog("UPDATE", "c2",
        toTag(ringing.last()), 2, OFFER));
    assertEquals(List.of(500), early.statuses());
    RetryAfterHeader retry = (RetryAfterHeader) early.last().getHeader(RetryAfterHeader.NAME);
    assertTrue(retry.getRetryAfter() >= 0 && retry.getRetryAfter() <= 10, retry.toString());
  }

  @Test
  void aMoveGoesByUpdateWhenThePeerAllowsItWithoutAck() throws Exception {
    CallInfo c = establishOutgoingAllowing("INVITE, ACK, BYE, CANCEL, UPDATE");
    moveTo("198.18.0.3");
    ScriptedCallPeer.Sent up = peer.last(Request.UPDATE);
    assertEquals("198.18.0.3", up.from().address());
    assertTrue(sdp(up.request()).contains("c=IN IP4 198.18.0.3"));
    assertEquals("sip:alice@198.18.0.3:5060", ((ContactHeader) up.request()
        .getHeader(ContactHeader.NAME)).getAddress().getURI().toString());
    assertEquals(State.MOVING, calls.get(c.id()).orElseThrow().state());
    peer.answer(up, 200, "bobtag", "Contact: <sip:bob@198.18.0.9:5070>", ANSWER);
    assertEquals(1, peer.acks.size()); // only the INVITE's
    assertEquals("commit 198.18.0.3", lastMedia());
    assertEquals(CallEvent.Type.CALL_MOVED, events.get(events.size() - 1).type());
    assertEquals(1, peer.sent.stream().filter(s -> s.request().getMethod().equals("INVITE"))
        .count());
  }

  @Test
  void aFailedUpdateEndsTheCallLikeAFailedReInvite() throws Exception {
    establishOutgoingAllowing("INVITE, ACK, BYE, UPDATE");
    moveTo("198.18.0.3");
    peer.answer(peer.last(Request.UPDATE), 488, "bobtag", null, null);
    peer.answer(peer.last(Request.BYE), 200, null, null, null);
    assertEquals("the move from 198.18.0.2 to 198.18.0.3 failed: UPDATE answered 488"
        + " Not Acceptable here", events.get(events.size() - 1).reason());
  }

  @Test
  void withMoveRequestReInviteAMoveIsAReInviteEvenWhenThePeerAllowsUpdate() throws Exception {
    calls = newCalls(new CallSettings(CallSettings.MoveRequest.RE_INVITE, 3,
        CallSettings.RFC_MIN_SE));
    establishOutgoingAllowing("INVITE, ACK, BYE, UPDATE");
    moveTo("198.18.0.3");
    assertEquals(2, peer.sent.stream().filter(s -> s.request().getMethod().equals("INVITE"))
        .count());
    assertTrue(peer.sent.stream().noneMatch(s -> s.request().getMethod().equals("UPDATE")));
  }

  // ------------------------------------------------------------------ helpers

  private ScriptedCallPeer.Incoming ringAndAnswerWith(String invite) throws Exception {
    ScriptedCallPeer.Incoming in = peer.deliver(invite);
    clock.advance(Duration.ofSeconds(1));
    return in;
  }

  private CallInfo establishOutgoingAllowing(String allow) throws Exception {
    CallInfo c = calls.dial("alice", "sip:bob@sipalr.test");
    peer.answer(peer.last(Request.INVITE), 200, "bobtag", "Contact: <sip:bob@198.18.0.9:5070>"
        + "\r\nRecord-Route: <sip:198.18.0.1;lr>\r\nAllow: " + allow, ANSWER);
    return c;
  }

  /** The From tag of our outgoing call: the peer's requests carry it as their To tag. */
  private String fromTagOfOurCall() {
    return ((javax.sip.header.FromHeader) peer.sent.get(0).request().getHeader("From")).getTag();
  }

  private String lastMedia() {
    List<String> log = media.get(0).log;
    return log.get(log.size() - 1);
  }

}
