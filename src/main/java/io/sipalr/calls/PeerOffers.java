package io.sipalr.calls;

import io.sipalr.calls.CallInfo.State;
import io.sipalr.media.SdpNegotiator;
import io.sipalr.sip.CallRequest;
import java.text.ParseException;
import javax.sip.SipException;
import javax.sip.header.CSeqHeader;
import javax.sip.header.ContactHeader;
import javax.sip.message.Request;
import javax.sip.message.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the peer asks of an established call (docs/calls.md, "States"): a re-INVITE is a target
 * refresh and a new offer, answered from where the call is now. Runs under the call's lock.
 */
final class PeerOffers {
  private static final Logger log = LoggerFactory.getLogger(PeerOffers.class);

  private final Call call;

  PeerOffers(Call call) {
    this.call = call;
  }

  /** A re-INVITE from the peer: a new offer (it moved, or holds); answered from where we are. */
  void onReInvite(CallRequest request) {
    Request req = request.request();
    long seq = ((CSeqHeader) req.getHeader(CSeqHeader.NAME)).getSeqNumber();
    Dialog dialog = call.dialog;
    if (seq <= dialog.remoteCseq) {
      call.messages.respond(request, Response.SERVER_INTERNAL_ERROR, null); // §12.2.2
      return;
    }
    dialog.remoteCseq = seq;
    if (call.state == State.MOVING || call.ok.pending()) {
      call.messages.respond(request, Response.REQUEST_PENDING, null); // 491: glare (§14.2)
      return;
    }
    if (call.state != State.ESTABLISHED) {
      call.messages.respond(request, Response.CALL_OR_TRANSACTION_DOES_NOT_EXIST, null);
      return;
    }
    if (req.getHeader(ContactHeader.NAME) instanceof ContactHeader c) {
      dialog.remoteTarget = c.getAddress().getURI(); // §12.2.2: a target refresh
    }
    String offer = CallMessages.body(req);
    try {
      String sdp = null;
      if (offer != null) {
        SdpNegotiator.Answer answer = call.answerTo(offer);
        call.agreed = answer.agreed();
        call.media.start(call.agreed);
        sdp = answer.sdp();
      }
      Response ok = call.messages.ok(req, sdp, call.leg);
      request.respond(ok);
      call.ok.start(request, ok);
    } catch (SdpNegotiator.SdpNegotiationException e) {
      call.messages.respond(request, Response.NOT_ACCEPTABLE_HERE, null);
    } catch (SipException | ParseException e) {
      log.warn("call {} ({}): re-INVITE not answered: {}", call.id, call.profileId,
          e.getMessage());
    }
  }
}
