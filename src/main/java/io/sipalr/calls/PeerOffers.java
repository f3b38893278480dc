package io.sipalr.calls;

import io.sipalr.calls.CallInfo.State;
import io.sipalr.media.SdpNegotiator;
import io.sipalr.sip.CallRequest;
import java.text.ParseException;
import javax.sip.InvalidArgumentException;
import javax.sip.SipException;
import javax.sip.header.CSeqHeader;
import javax.sip.header.ContactHeader;
import javax.sip.message.Request;
import javax.sip.message.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Offers in the dialog that the peer makes or asks us for (docs/calls.md, "Offers and
 * answers"): a re-INVITE or an UPDATE (RFC 3311) is a target refresh and maybe a new offer,
 * answered from where the call is now; an INVITE or re-INVITE without an offer gets our offer
 * in the 200 and the answer comes in the ACK (RFC 3264 §5). Runs under the call's lock.
 */
final class PeerOffers {
  private static final Logger log = LoggerFactory.getLogger(PeerOffers.class);

  private final Call call;
  /** Our offer went out in a 2xx; its answer comes with the ACK. */
  private boolean answerInAck;

  PeerOffers(Call call) {
    this.call = call;
  }

  /** Whether an offer of ours in a 2xx still waits for its answer in the ACK. */
  boolean offerInOk() {
    return answerInAck;
  }

  /** The 2xx to an offerless INVITE carries our offer: its answer is awaited in the ACK. */
  void offeredInOk() {
    answerInAck = true;
  }

  /**
   * The ACK of our 2xx came: when that 2xx carried our offer, the ACK carries the answer.
   *
   * @return why the call cannot go on (no usable answer to the first offer), else null
   */
  String ackArrived(Request ack, boolean initial) {
    if (!answerInAck) {
      return null;
    }
    answerInAck = false;
    String sdp = CallMessages.body(ack);
    String why;
    if (sdp == null) {
      why = "the ACK carried no SDP answer to our offer";
    } else {
      try {
        call.agreed = call.calls.sdp.agreedBy(sdp);
        call.media.start(call.agreed);
        return null;
      } catch (SdpNegotiator.SdpNegotiationException | RuntimeException e) {
        why = "the ACK's SDP answer is unusable: " + e.getMessage();
      }
    }
    if (initial) {
      return why;
    }
    log.warn("call {} ({}): {}; the session stays as it was", call.id, call.profileId, why);
    return null;
  }

  /** A re-INVITE from the peer: a new offer (it moved, or holds), or a request for ours. */
  void onReInvite(CallRequest request) {
    Request req = request.request();
    if (!nextCseq(request)) {
      return;
    }
    if (offerOutstanding() || call.ok.pending()) {
      call.messages.respond(request, Response.REQUEST_PENDING, null); // 491: glare (§14.2)
      return;
    }
    if (call.state != State.ESTABLISHED) {
      call.messages.respond(request, Response.CALL_OR_TRANSACTION_DOES_NOT_EXIST, null);
      return;
    }
    refreshTarget(req);
    String offer = CallMessages.body(req);
    try {
      String sdp;
      if (offer != null) {
        sdp = answer(offer);
      } else {
        sdp = call.offer(call.leg.address(), call.media.localPort());
        answerInAck = true;
      }
      Response ok = call.messages.ok(req, sdp, call.leg);
      call.session.answering(req, ok);
      request.respond(ok);
      call.ok.start(request, ok);
    } catch (SdpNegotiator.SdpNegotiationException e) {
      call.messages.respond(request, Response.NOT_ACCEPTABLE_HERE, null);
    } catch (SipException | ParseException e) {
      answerInAck = false;
      log.warn("call {} ({}): re-INVITE not answered: {}", call.id, call.profileId,
          e.getMessage());
    }
  }

  /**
   * An UPDATE (RFC 3311 §5.2): 200 with our answer to its offer, or without a body; 491 when
   * an offer of ours is out; 500 with Retry-After when the peer's INVITE offer still waits
   * for our answer (the call rings here).
   */
  void onUpdate(CallRequest request) {
    Request req = request.request();
    if (!nextCseq(request)) {
      return;
    }
    String offer = CallMessages.body(req);
    if (call.state == State.ENDING || call.state == State.ENDED) {
      call.messages.respond(request, Response.CALL_OR_TRANSACTION_DOES_NOT_EXIST, null);
      return;
    }
    if (offer != null && offerOutstanding()) {
      call.messages.respond(request, Response.REQUEST_PENDING, null);
      return;
    }
    if (offer != null && call.state == State.RINGING) {
      try {
        Response busy = call.messages.response(req, Response.SERVER_INTERNAL_ERROR, null);
        busy.addHeader(call.calls.sip.headers().createRetryAfterHeader(
            Calls.RANDOM.nextInt(11)));
        request.respond(busy);
      } catch (ParseException | InvalidArgumentException | SipException e) {
        log.warn("call {} ({}): 500 to UPDATE not sent: {}", call.id, call.profileId,
            e.getMessage());
      }
      return;
    }
    refreshTarget(req);
    try {
      String sdp = offer != null ? answer(offer) : null;
      Response ok = call.messages.ok(req, sdp, call.leg != null
          ? call.messages.contact(call.leg)
          : call.messages.contactAt(request.localAddress(), request.localPort()));
      if (call.state != State.RINGING && call.state != State.CALLING) {
        call.session.answering(req, ok); // a refresh of a session that exists
      }
      request.respond(ok);
    } catch (SdpNegotiator.SdpNegotiationException e) {
      call.messages.respond(request, Response.NOT_ACCEPTABLE_HERE, null);
    } catch (SipException | ParseException e) {
      log.warn("call {} ({}): UPDATE not answered: {}", call.id, call.profileId,
          e.getMessage());
    }
  }

  /**
   * Whether an offer of ours waits for its answer: our INVITE (before its 2xx), our re-INVITE
   * or UPDATE of a move, or our offer in a 2xx. A re-INVITE also waits for our 2xx's ACK.
   */
  private boolean offerOutstanding() {
    return call.state == State.CALLING || call.state == State.MOVING || answerInAck
        || call.session.refreshOffers();
  }

  /**
   * §12.2.2: a CSeq not above the last is answered 500; RFC 4028 §8.1: a session interval
   * below our Min-SE 422. True when the request is to be answered further.
   */
  private boolean nextCseq(CallRequest request) {
    long seq = ((CSeqHeader) request.request().getHeader(CSeqHeader.NAME)).getSeqNumber();
    if (seq <= call.dialog.remoteCseq) {
      call.messages.respond(request, Response.SERVER_INTERNAL_ERROR, null);
      return false;
    }
    call.dialog.remoteCseq = seq;
    if (SessionTimer.tooSmall(request.request(), call.calls.settings.minSe())) {
      try {
        Response r = call.messages.response(request.request(), 422, null);
        SessionTimer.addMinSe(call.calls.sip.headers(), r, call.calls.settings.minSe());
        request.respond(r);
      } catch (ParseException | SipException e) {
        log.warn("call {} ({}): 422 not sent: {}", call.id, call.profileId, e.getMessage());
      }
      return false;
    }
    return true;
  }

  private void refreshTarget(Request req) {
    if (req.getHeader(ContactHeader.NAME) instanceof ContactHeader c) {
      call.dialog.remoteTarget = c.getAddress().getURI(); // §12.2.2: a target refresh
    }
    call.dialog.learnAllow(req);
  }

  /** Our answer to the peer's offer, media redirected to what it offers. */
  private String answer(String offer) throws SdpNegotiator.SdpNegotiationException {
    SdpNegotiator.Answer answer = call.answerTo(offer);
    call.agreed = answer.agreed();
    call.media.start(call.agreed);
    return answer.sdp();
  }
}
