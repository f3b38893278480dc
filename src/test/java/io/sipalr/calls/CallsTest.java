package io.sipalr.calls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.calls.CallInfo.State;
import java.time.Duration;
import java.util.List;
import javax.sip.header.CSeqHeader;
import javax.sip.header.ContactHeader;
import javax.sip.header.RouteHeader;
import javax.sip.header.ViaHeader;
import javax.sip.message.Request;
import javax.sip.message.Response;
import org.junit.jupiter.api.Test;

/**
 * The call state machine against a scripted peer behind a proxy (Record-Route), on virtual
 * time: no sockets, no sleeps. The peer is bob at 198.18.0.9; alice registers from
 * 198.18.0.2 (then 198.18.0.3 after a move).
 */
class CallsTest extends CallsTestBase {
  @Test
  void rejectPolicyAnswersTheConfiguredStatusWithATag() throws Exception {
    policy = CallPolicy.reject(486);
    ScriptedCallPeer.Incoming in = peer.deliver(invite("c1", OFFER));
    assertEquals(List.of(486), in.statuses());
    assertNotNull(toTag(in.last()));
    assertEquals(List.of(CallEvent.Type.CALL_INCOMING, CallEvent.Type.CALL_ENDED), types());
    assertTrue(events.get(1).reason().contains("486"), events.get(1).reason());
    assertEquals(0, calls.activeCount());
    assertEquals(0, peer.legsHeld());
  }

  @Test
  void autoAnswerRingsThenAnswersWithSdpOnTheArrivalAddressAndEstablishesOnAck()
      throws Exception {
    ScriptedCallPeer.Incoming in = peer.deliver(invite("c1", OFFER));
    assertEquals(List.of(180), in.statuses());
    assertEquals(State.RINGING, calls.list().get(0).state());
    clock.advance(Duration.ofMillis(999));
    assertEquals(List.of(180), in.statuses());
    clock.advance(Duration.ofMillis(1));
    assertEquals(List.of(180, 200), in.statuses());
    Response ok = in.last();
    String sdp = new String(ok.getRawContent());
    assertTrue(sdp.contains("c=IN IP4 198.18.0.2"), sdp);
    assertTrue(sdp.contains("m=audio 40000 RTP/AVP 8 101"), sdp); // the offerer's first codec
    assertEquals(toTag(in.responses.get(0)), toTag(ok));
    assertEquals("sip:alice@198.18.0.2:5060",
        ((ContactHeader) ok.getHeader(ContactHeader.NAME)).getAddress().getURI().toString());
    assertEquals("start 198.18.0.9:6000", media.get(0).log.get(0));
    assertEquals("PCMA", media.get(0).agreed.codec().name());
    assertEquals(101, media.get(0).agreed.telephoneEvent());
    assertEquals(State.ANSWERED, calls.list().get(0).state());

    assertNotNull(peer.deliver(inDialog("ACK", "c1", toTag(ok), 1, null)));
    assertEquals(State.ESTABLISHED, calls.list().get(0).state());
    assertEquals(List.of(CallEvent.Type.CALL_INCOMING, CallEvent.Type.CALL_ESTABLISHED),
        types());
    clock.advance(Duration.ofSeconds(60));
    assertEquals(0, in.resent); // the ACK stopped the 200's retransmissions

    ScriptedCallPeer.Incoming bye = peer.deliver(inDialog("BYE", "c1", toTag(ok), 2, null));
    assertEquals(List.of(200), bye.statuses());
    assertEquals(CallEvent.Type.CALL_ENDED, events.get(2).type());
    assertEquals("the peer hung up (BYE)", events.get(2).reason());
    assertTrue(media.get(0).closed);
    assertEquals(0, peer.legsHeld());
    assertEquals(State.ENDED, calls.get(events.get(2).callId()).orElseThrow().state());
  }

  @Test
  void the200IsRetransmittedUntilTheAckAndWithoutAckTheCallIsEndedByBye() throws Exception {
    ScriptedCallPeer.Incoming in = ringAndAnswer("c1");
    clock.advance(Duration.ofMillis(500 + 1000 + 2000));
    assertEquals(3, in.resent); // T1, 2*T1, 4*T1
    clock.advance(Duration.ofSeconds(40));
    Request bye = peer.last(Request.BYE).request();
    assertEquals("sip:bob@198.18.0.9:5070", bye.getRequestURI().toString());
    assertEquals("<sip:198.18.0.1;lr>", ((RouteHeader) bye.getHeader(RouteHeader.NAME))
        .getAddress().toString());
    peer.answer(peer.last(Request.BYE), 200, null, null, null);
    assertTrue(events.get(events.size() - 1).reason().startsWith("no ACK"),
        events.get(events.size() - 1).reason());
  }

  @Test
  void cancelBeforeTheAnswerGets200AndTheInvite487() throws Exception {
    ScriptedCallPeer.Incoming in = peer.deliver(invite("c1", OFFER));
    ScriptedCallPeer.Incoming c = peer.deliver(cancel("c1"));
    assertEquals(List.of(200), c.statuses());
    assertEquals(List.of(180, 487), in.statuses());
    assertEquals("cancelled by the caller (CANCEL)", events.get(1).reason());
    clock.advance(Duration.ofSeconds(5));
    assertTrue(media.isEmpty()); // never answered
  }

  @Test
  void unknownDialogsAreLeftToTheCoreOrAnswered481() throws Exception {
    assertNull(peer.deliver(inDialog("BYE", "nope", "x", 2, null))); // the core answers 481
    assertNull(peer.deliver(cancel("nope")));
    ScriptedCallPeer.Incoming re = peer.deliver(inDialog("INVITE", "nope", "x", 2, OFFER));
    assertEquals(List.of(481), re.statuses());
  }

  @Test
  void applicationPolicyWaitsForTheListenerElseTheDefault() throws Exception {
    policy = CallPolicy.application(Duration.ofSeconds(5), false, 603);
    ScriptedCallPeer.Incoming first = peer.deliver(invite("c1", OFFER));
    assertEquals(List.of(180), first.statuses());
    clock.advance(Duration.ofSeconds(5));
    assertEquals(List.of(180, 603), first.statuses());
    assertTrue(events.get(1).reason().startsWith("no decision within"), events.get(1).reason());

    calls.addListener(e -> {
      if (e.type() == CallEvent.Type.CALL_INCOMING) {
        calls.answer(e.callId());
      }
    });
    ScriptedCallPeer.Incoming second = peer.deliver(invite("c2", OFFER));
    assertEquals(List.of(180, 200), second.statuses());
  }

  @Test
  void aThirdCallOverTheLimitIsBusy() throws Exception {
    peer.deliver(invite("c1", OFFER));
    peer.deliver(invite("c2", OFFER));
    peer.deliver(invite("c3", OFFER));
    assertEquals(List.of(486), peer.deliver(invite("c4", OFFER)).statuses());
    assertEquals(calls.list().stream().map(CallInfo::id).toList(), calls.callIdsOf("alice"));
    assertEquals(3, calls.callIdsOf("alice").size());
    assertEquals(List.of(), calls.callIdsOf("carol"));
    assertThrows(CallException.class, () -> calls.dial("alice", "sip:bob@sipalr.test"));
  }

  @Test
  void anOfferWithoutACommonCodecIs488() throws Exception {
    ScriptedCallPeer.Incoming in = ringAndAnswer("c1");
    assertEquals(List.of(180), in.statuses().subList(0, 1));
    in = peer.deliver(invite("c2", OFFER.replace("8 0 101", "9").replace("a=rtpmap:8 PCMA/8000\r\n", "")
        .replace("a=rtpmap:0 PCMU/8000\r\n", "a=rtpmap:9 G722/8000\r\n")));
    clock.advance(Duration.ofSeconds(1));
    assertEquals(List.of(180, 488), in.statuses());
    assertEquals(0, peer.legs.getOrDefault("198.18.0.2", 0) - 1); // only c1 holds one
  }

  @Test
  void anOutgoingCallSendsAnOfferThroughTheFirstHopAndAcksThe200AlongTheRouteSet()
      throws Exception {
    CallInfo c = establishOutgoing();
    Request invite = peer.last(Request.INVITE).request();
    assertEquals("sip:bob@sipalr.test", invite.getRequestURI().toString());
    assertEquals("<sip:198.18.0.1:5060;lr>", ((RouteHeader) invite.getHeader(RouteHeader.NAME))
        .getAddress().toString());
    assertEquals("198.18.0.2", ((ViaHeader) invite.getHeader(ViaHeader.NAME)).getHost());
    String offer = new String(invite.getRawContent());
    assertTrue(offer.contains("c=IN IP4 198.18.0.2"), offer);
    assertTrue(offer.contains("m=audio 40000 RTP/AVP 0 8 101"), offer);

    assertEquals(1, peer.acks.size());
    Request ack = peer.acks.get(0);
    assertEquals("sip:bob@198.18.0.9:5070", ack.getRequestURI().toString());
    assertEquals(1, ((CSeqHeader) ack.getHeader(CSeqHeader.NAME)).getSeqNumber());
    assertEquals("PCMU", media.get(0).agreed.codec().name());
    assertEquals(State.ESTABLISHED, calls.get(c.id()).orElseThrow().state());

    assertTrue(calls.hangUp(c.id()));
    ScriptedCallPeer.Sent bye = peer.last(Request.BYE);
    assertEquals(2, ((CSeqHeader) bye.request().getHeader(CSeqHeader.NAME)).getSeqNumber());
    peer.answer(bye, 200, null, null, null);
    assertEquals("hung up here", events.get(events.size() - 1).reason());
    assertEquals(0, peer.legsHeld());
  }

  @Test
  void hangingUpBeforeTheAnswerCancelsTheInviteWithItsBranch() throws Exception {
    CallInfo c = calls.dial("alice", "sip:bob@sipalr.test");
    ScriptedCallPeer.Sent invite = peer.last(Request.INVITE);
    peer.answer(invite, 180, "bobtag", null, null);
    assertTrue(calls.hangUp(c.id()));
    Request cancel = peer.last(Request.CANCEL).request();
    assertEquals(((ViaHeader) invite.request().getHeader(ViaHeader.NAME)).getBranch(),
        ((ViaHeader) cancel.getHeader(ViaHeader.NAME)).getBranch());
    assertEquals(1, ((CSeqHeader) cancel.getHeader(CSeqHeader.NAME)).getSeqNumber());
    peer.answer(invite, 487, "bobtag", null, null);
    assertEquals("cancelled here", events.get(events.size() - 1).reason());
  }

  @Test
  void aRefusedOutgoingCallEndsWithTheStatus() throws Exception {
    calls.dial("alice", "sip:bob@sipalr.test");
    peer.answer(peer.last(Request.INVITE), 486, "bobtag", null, null);
    assertEquals("the call was refused: 486 Busy here", events.get(0).reason());
    assertThrows(CallException.class, () -> calls.dial("carol", "sip:bob@sipalr.test"));
    peer.localAddress = null;
    CallException e = assertThrows(CallException.class,
        () -> calls.dial("alice", "sip:bob@sipalr.test"));
    assertTrue(e.getMessage().contains("not registered"), e.getMessage());
  }

  @Test
  void aMoveReInvitesFromTheNewAddressAndMovesTheMedia() throws Exception {
    CallInfo c = establishOutgoing();
    moveTo("198.18.0.3");
    ScriptedCallPeer.Sent re = peer.last(Request.INVITE);
    assertEquals("198.18.0.3", re.from().address());
    assertEquals("sip:bob@198.18.0.9:5070", re.request().getRequestURI().toString());
    assertEquals("sip:alice@198.18.0.3:5060", ((ContactHeader) re.request()
        .getHeader(ContactHeader.NAME)).getAddress().getURI().toString());
    String offer = new String(re.request().getRawContent());
    assertTrue(offer.contains("c=IN IP4 198.18.0.3"), offer);
    assertTrue(offer.contains("m=audio 40002 "), offer);
    assertTrue(offer.contains("o=- ") && offer.contains(" 1 IN IP4 198.18.0.3"), offer);
    assertEquals(State.MOVING, calls.get(c.id()).orElseThrow().state());
    assertEquals(1, peer.legs.get("198.18.0.2")); // make-before-break: the old one still held

    peer.answer(re, 200, "bobtag", "Contact: <sip:bob@198.18.0.9:5070>",
        OFFER.replace("8 0 101", "0"));
    assertEquals(2, peer.acks.size());
    assertEquals(2, ((CSeqHeader) peer.acks.get(1).getHeader(CSeqHeader.NAME)).getSeqNumber());
    assertEquals("commit 198.18.0.3", media.get(0).log.get(media.get(0).log.size() - 1));
    assertEquals(0, peer.legs.get("198.18.0.2"));
    assertEquals(1, peer.legs.get("198.18.0.3"));
    CallEvent moved = events.get(events.size() - 1);
    assertEquals(CallEvent.Type.CALL_MOVED, moved.type());
    assertEquals("198.18.0.3", moved.localAddress());
    assertEquals(State.ESTABLISHED, calls.get(c.id()).orElseThrow().state());
  }

  @Test
  void aFailedReInviteEndsTheCallWithTheReason() throws Exception {
    CallInfo c = establishOutgoing();
    moveTo("198.18.0.3");
    peer.answer(peer.last(Request.INVITE), 488, "bobtag", null, null);
    assertTrue(media.get(0).log.contains("abort 198.18.0.3"));
    ScriptedCallPeer.Sent bye = peer.last(Request.BYE);
    peer.answer(bye, 200, null, null, null);
    CallEvent ended = events.get(events.size() - 1);
    assertEquals(CallEvent.Type.CALL_ENDED, ended.type());
    assertEquals("the move from 198.18.0.2 to 198.18.0.3 failed: re-INVITE answered 488"
        + " Not Acceptable here", ended.reason());
    assertEquals(0, peer.legsHeld());
    assertFalse(calls.get(c.id()).isEmpty());
  }

  @Test
  void aReInviteFromThePeerRedirectsTheMedia() throws Exception {
    ScriptedCallPeer.Incoming in = ringAndAnswer("c1");
    String tag = toTag(in.last());
    peer.deliver(inDialog("ACK", "c1", tag, 1, null));
    ScriptedCallPeer.Incoming re = peer.deliver(inDialog("INVITE", "c1", tag, 2,
        OFFER.replace("198.18.0.9", "198.18.0.19")));
    assertEquals(List.of(200), re.statuses());
    assertEquals("start 198.18.0.19:6000", media.get(0).log.get(media.get(0).log.size() - 1));
    assertTrue(new String(re.last().getRawContent()).contains(" 1 IN IP4 198.18.0.2"));
    ScriptedCallPeer.Incoming old = peer.deliver(inDialog("INVITE", "c1", tag, 2, OFFER));
    assertEquals(List.of(500), old.statuses()); // CSeq not above the last
  }

  @Test
  void anInviteWhoseNextHopDoesNotResolveEndsTheCallSayingWhy() throws Exception {
    calls.dial("alice", "sip:bob@sipalr.test");
    peer.last(Request.INVITE).responses().onUnsent(
        "the next hop proxy.sipalr.test did not resolve: no such name");
    CallEvent ended = events.get(events.size() - 1);
    assertEquals(CallEvent.Type.CALL_ENDED, ended.type());
    assertEquals("the INVITE could not be sent: the next hop proxy.sipalr.test did not "
        + "resolve: no such name", ended.reason());
    assertEquals(0, peer.legsHeld());
  }
}
