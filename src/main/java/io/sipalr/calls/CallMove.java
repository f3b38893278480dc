package io.sipalr.calls;

import io.sipalr.calls.CallInfo.State;
import io.sipalr.media.SdpNegotiator;
import io.sipalr.sip.CallSignalling;
import java.io.IOException;
import java.text.ParseException;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import javax.sip.InvalidArgumentException;
import javax.sip.SipException;
import javax.sip.header.ContactHeader;
import javax.sip.message.Request;
import javax.sip.message.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A call's moves (docs/calls.md, "Moves"): a re-INVITE (or an UPDATE, when the peer allows it
 * and {@link CallSettings} does not forbid it) from the profile's new address with a
 * Contact and an SDP there, RTP kept on the old socket until the peer accepts; a failed move
 * ends the call, never left half-moved. Runs under the call's lock.
 */
final class CallMove {
  private static final Logger log = LoggerFactory.getLogger(CallMove.class);

  private final Call call;
  /** During a move: the new endpoint; the address to go to after the current move, if any. */
  private CallSignalling.Leg movingLeg;
  private String nextMove;
  /** After a 491: the wait before the move's request goes again, and how many 491s so far. */
  private ScheduledFuture<?> glareWait;
  private int glares;

  CallMove(Call call) {
    this.call = call;
  }

  /**
   * The profile now registers from {@code address}: a re-INVITE from there with a Contact and
   * an SDP on there; RTP keeps going out of the old socket until the peer accepts.
   */
  void move(String address) {
    if (call.state == State.MOVING || call.state == State.ANSWERED || glareWait != null
        || call.session.refreshing()) {
      nextMove = address; // after the current move or refresh, the ACK, or a 491's wait
      return;
    }
    if (call.state != State.ESTABLISHED || call.leg == null
        || address.equals(call.leg.address())) {
      glares = 0; // back where it is: a later move starts its own count
      return;
    }
    String from = call.leg.address();
    CallSignalling sip = call.calls.sip;
    // UPDATE: one round trip and no ACK, no 2xx to retransmit (docs/calls.md, "Moves")
    String method = call.calls.settings.moveRequest() == CallSettings.MoveRequest.AUTO
        && call.dialog.peerAllowsUpdate ? Request.UPDATE : Request.INVITE;
    String what = method.equals(Request.UPDATE) ? "UPDATE" : "re-INVITE";
    try {
      movingLeg = sip.acquire(address);
      int port = call.media.prepareMove(address);
      Request request = call.dialog.request(sip, method, movingLeg,
          call.messages.contact(movingLeg), sip.userAgent());
      call.session.offering(request); // a move refreshes the session too (RFC 4028)
      call.messages.setBody(request, call.offer(address, port));
      call.state = State.MOVING;
      sip.send(movingLeg, request, CallMessages.responses(
          r -> onResponse(r, method, from, address),
          () -> failed(from, address, "no answer to the " + what + " (transaction timeout)"),
          why -> failed(from, address, "the " + what + " could not be sent: " + why)));
    } catch (IOException | SipException | ParseException | InvalidArgumentException e) {
      call.state = State.ESTABLISHED;
      failed(from, address, e.getMessage());
    }
  }

  /** Once the call is established (or back from a move): the move that waited for it. */
  void resume() {
    if (nextMove != null) {
      String to = nextMove;
      nextMove = null;
      move(to);
    }
  }

  private void onResponse(Response r, String method, String from, String to) {
    boolean invite = method.equals(Request.INVITE);
    synchronized (call) {
      int status = r.getStatusCode();
      if (status < 200 || call.state != State.MOVING) {
        if (status / 100 == 2 && invite) {
          call.resendAck(r);
        }
        return;
      }
      String what = invite ? "re-INVITE" : "UPDATE";
      if (status == 422 && call.session.retryAfterTooSmall(r)) { // RFC 4028 §7.4
        abort();
        call.state = State.ESTABLISHED;
        nextMove = nextMove != null ? nextMove : to;
        resume();
        return;
      }
      if (status == Response.REQUEST_PENDING && glares < call.calls.settings.glareRetries()) {
        glareBackOff(to);
        return;
      }
      if (status >= 300) {
        failed(from, to, what + " answered " + status + " " + r.getReasonPhrase()
            + (status == Response.REQUEST_PENDING ? " " + (glares + 1)
                + " times (glare), gave up" : ""));
        return;
      }
      glares = 0;
      CallSignalling.Leg old = call.leg;
      call.leg = movingLeg;
      movingLeg = null;
      if (r.getHeader(ContactHeader.NAME) instanceof ContactHeader c) {
        call.dialog.remoteTarget = c.getAddress().getURI();
      }
      call.dialog.learnAllow(r);
      if (invite) {
        call.sendAck();
      }
      call.session.answered(r);
      try {
        call.agreed = call.calls.sdp.agreedBy(CallMessages.body(r));
        call.media.commitMove(call.agreed);
      } catch (SdpNegotiator.SdpNegotiationException | RuntimeException e) {
        old.release();
        call.state = State.ESTABLISHED;
        call.hangUp("after the move to " + to + " the answer's SDP is unusable: "
            + e.getMessage());
        return;
      }
      old.release();
      call.state = State.ESTABLISHED;
      log.info("call {} ({}): moved {} -> {}", call.id, call.profileId, from, to);
      call.calls.emit(call, CallEvent.Type.CALL_MOVED, "moved from " + from + " to " + to);
      resume();
    }
  }

  /**
   * Our move's request met the peer's (491, RFC 3261 §14.1): the prepared move is given up,
   * the call is ESTABLISHED where it was (the peer's own request, if it sends one in our wait,
   * is answered from there) and the move goes again after {@link Call#glareWait}.
   */
  private void glareBackOff(String to) {
    glares++;
    abort();
    call.state = State.ESTABLISHED;
    Duration wait = call.glareWait();
    nextMove = nextMove != null ? nextMove : to;
    log.info("call {} ({}): move to {} met the peer's request (491, {} of {}); again in {} ms",
        call.id, call.profileId, to, glares, call.calls.settings.glareRetries(), wait.toMillis());
    glareWait = call.calls.schedule(() -> {
      synchronized (call) {
        glareWait = null;
        if (call.state == State.ESTABLISHED) {
          resume();
        }
      }
    }, wait);
  }

  /** A move that failed ends the call: never left half-moved (docs/calls.md). */
  private void failed(String from, String to, String why) {
    synchronized (call) {
      if (call.state != State.MOVING && call.state != State.ESTABLISHED) {
        return;
      }
      abort();
      call.state = State.ESTABLISHED;
      call.hangUp("the move from " + from + " to " + to + " failed: " + why);
    }
  }

  /** The call ends: no move under way, none waiting. */
  void stop() {
    nextMove = null;
    if (glareWait != null) {
      glareWait.cancel(false);
      glareWait = null;
    }
    abort();
  }

  /** Gives up the move under way, if any: the new socket closed, the new endpoint released. */
  void abort() {
    if (movingLeg != null) {
      if (call.media != null) {
        call.media.abortMove();
      }
      movingLeg.release();
      movingLeg = null;
    }
  }
}
