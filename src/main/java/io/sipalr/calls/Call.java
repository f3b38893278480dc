package io.sipalr.calls;

import io.sipalr.calls.CallInfo.Direction;
import io.sipalr.calls.CallInfo.State;
import io.sipalr.media.MediaChannel;
import io.sipalr.media.SdpNegotiator;
import io.sipalr.sip.CallRequest;
import io.sipalr.sip.CallSignalling;
import java.io.IOException;
import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ScheduledFuture;
import javax.sip.SipException;
import javax.sip.address.Address;
import javax.sip.header.CSeqHeader;
import javax.sip.header.ContentTypeHeader;
import javax.sip.header.ToHeader;
import javax.sip.message.Request;
import javax.sip.message.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One call's state machine (docs/calls.md, "States"): {@link State} moves only here, under this
 * object's lock; SIP events, timers and API commands all come in through its methods. Timers
 * (answer delay, decision timeout, 2xx retransmission, end guard) run on the shared scheduler.
 */
final class Call {
  private static final Logger log = LoggerFactory.getLogger(Call.class);
  /** RFC 3261 T1 and T2: the 2xx retransmission interval starts at T1, doubles up to T2. */
  static final Duration T1 = Duration.ofMillis(500);
  static final Duration T2 = Duration.ofSeconds(4);
  /** 64*T1: no ACK (or no final answer to a BYE/CANCEL) by then ends the call anyway. */
  static final Duration GIVE_UP = T1.multipliedBy(64);

  final String id;
  final String profileId;
  final Direction direction;
  private final Calls calls;
  final Dialog dialog;
  private final Instant started;
  private State state;
  private Instant established;
  private CallSignalling.Leg leg;
  private MediaChannel media;
  /** Incoming: the initial INVITE as received, answered through it. */
  private CallRequest inviteRequest;
  /** Outgoing: our INVITE (for CANCEL and ACK). */
  private Request invite;
  private Request lastAck;
  /** A 2xx retransmitted until its ACK comes, and through which request. */
  private Response pendingOk;
  private CallRequest pendingOkRequest;
  private Duration okInterval;
  private ScheduledFuture<?> timer;
  private ScheduledFuture<?> okTimer;
  private final long sdpSession = Math.abs(Calls.RANDOM.nextLong() % 1_000_000_000L);
  private long sdpVersion;
  private SdpNegotiator.Agreed agreed;
  private boolean cancelled;
  /** Why a CANCEL of ours ends the call once the INVITE gets its 487. */
  private String cancelReason = "cancelled here";
  /** During a move: the new endpoint and the address after the current move, if any. */
  private CallSignalling.Leg movingLeg;
  private String nextMove;

  Call(Calls calls, String id, String profileId, Direction direction, Dialog dialog,
      State state) {
    this.calls = calls;
    this.id = id;
    this.profileId = profileId;
    this.direction = direction;
    this.dialog = dialog;
    this.state = state;
    this.started = calls.now();
  }

  synchronized CallInfo info() {
    return new CallInfo(id, profileId, direction, dialog.remote.getURI().toString(), state,
        leg != null ? leg.address() : null, started, established,
        media != null ? media.stats() : null);
  }

  synchronized State state() {
    return state;
  }

  synchronized String localAddress() {
    return leg != null ? leg.address() : null;
  }

  private CallSignalling sip() {
    return calls.sip;
  }

  // ------------------------------------------------------------------ incoming

  /** A new INVITE: ringing, then what the policy says. */
  synchronized void ring(CallRequest request, CallPolicy policy) {
    inviteRequest = request;
    if (policy.kind() != CallPolicy.Kind.REJECT) {
      respond(request, Response.RINGING, null);
    }
    calls.emit(this, CallEvent.Type.CALL_INCOMING, null);
    switch (policy.kind()) {
      case AUTO_ANSWER -> timer = calls.schedule(this::answer, policy.answerDelay());
      case APPLICATION -> timer = calls.schedule(() -> decideByDefault(policy),
          policy.decisionTimeout());
      case REJECT -> reject(policy.rejectStatus(), "rejected by the profile's call policy ("
          + policy.rejectStatus() + ")");
    }
  }

  private synchronized void decideByDefault(CallPolicy policy) {
    if (state != State.RINGING) {
      return;
    }
    if (policy.answerByDefault()) {
      answer();
    } else {
      reject(policy.rejectStatus(), "no decision within " + policy.decisionTimeout()
          + ": rejected (" + policy.rejectStatus() + ")");
    }
  }

  /** Answers a ringing incoming call: 200 with the SDP answer, media on the arrival address. */
  synchronized boolean answer() {
    if (state != State.RINGING || direction != Direction.INCOMING) {
      return false;
    }
    cancelTimer();
    Request req = inviteRequest.request();
    String offer = body(req);
    if (offer == null) {
      reject(Response.NOT_ACCEPTABLE_HERE, "INVITE without an SDP offer (not supported)");
      return false;
    }
    try {
      leg = sip().acquire(inviteRequest.localAddress());
      media = calls.media.open(leg.address(), id);
      SdpNegotiator.Answer answer = calls.sdp.answer(offer, sdpSession, sdpVersion,
          leg.address(), media.localPort());
      agreed = answer.agreed();
      Response ok = response(req, Response.OK, answer.sdp());
      ok.addHeader(sip().headers().createContactHeader(contact(leg)));
      inviteRequest.respond(ok);
      media.start(agreed);
      state = State.ANSWERED;
      retransmitOk(inviteRequest, ok);
      log.info("call {} ({}): answered on {}, RTP {}:{} -> {}:{} {}", id, profileId,
          leg.address(), leg.address(), media.localPort(), agreed.remoteAddress(),
          agreed.remotePort(), agreed.codec());
      return true;
    } catch (SdpNegotiator.SdpNegotiationException e) {
      reject(Response.NOT_ACCEPTABLE_HERE, "SDP offer not acceptable: " + e.getMessage());
    } catch (IOException | SipException | ParseException e) {
      reject(Response.SERVER_INTERNAL_ERROR, "could not answer: " + e.getMessage());
    }
    return false;
  }

  /** Rejects a ringing incoming call with {@code status}. */
  synchronized boolean reject(int status, String reason) {
    if (state != State.RINGING || direction != Direction.INCOMING) {
      return false;
    }
    respond(inviteRequest, status, null);
    end(reason);
    return true;
  }

  synchronized void onAck(Request ack) {
    if (pendingOk != null && ack.getHeader(CSeqHeader.NAME) instanceof CSeqHeader c
        && c.getSeqNumber() == ((CSeqHeader) pendingOk.getHeader(CSeqHeader.NAME))
            .getSeqNumber()) {
      stopOk();
    }
    if (state == State.ANSWERED) {
      establish();
    }
  }

  synchronized void onCancel(CallRequest cancel) {
    respond(cancel, Response.OK, null);
    if (state == State.RINGING) {
      cancelTimer();
      respond(inviteRequest, Response.REQUEST_TERMINATED, null);
      end("cancelled by the caller (CANCEL)");
    }
  }

  synchronized void onBye(CallRequest bye) {
    respond(bye, Response.OK, null);
    end("the peer hung up (BYE)");
  }

  /** A re-INVITE from the peer: a new offer (it moved, or holds); answered from where we are. */
  synchronized void onReInvite(CallRequest request) {
    Request req = request.request();
    long seq = ((CSeqHeader) req.getHeader(CSeqHeader.NAME)).getSeqNumber();
    if (seq <= dialog.remoteCseq) {
      respond(request, Response.SERVER_INTERNAL_ERROR, null); // §12.2.2: lower CSeq
      return;
    }
    dialog.remoteCseq = seq;
    if (state == State.MOVING || pendingOk != null) {
      respond(request, Response.REQUEST_PENDING, null); // 491: glare (RFC 3261 §14.2)
      return;
    }
    if (state != State.ESTABLISHED) {
      respond(request, Response.CALL_OR_TRANSACTION_DOES_NOT_EXIST, null);
      return;
    }
    if (req.getHeader("Contact") instanceof javax.sip.header.ContactHeader c) {
      dialog.remoteTarget = c.getAddress().getURI(); // §12.2.2: a target refresh
    }
    String offer = body(req);
    try {
      String sdp = null;
      if (offer != null) {
        SdpNegotiator.Answer answer = calls.sdp.answer(offer, sdpSession, ++sdpVersion,
            leg.address(), media.localPort());
        agreed = answer.agreed();
        media.start(agreed);
        sdp = answer.sdp();
      }
      Response ok = response(req, Response.OK, sdp);
      ok.addHeader(sip().headers().createContactHeader(contact(leg)));
      request.respond(ok);
      retransmitOk(request, ok);
    } catch (SdpNegotiator.SdpNegotiationException e) {
      respond(request, Response.NOT_ACCEPTABLE_HERE, null);
    } catch (SipException | ParseException e) {
      log.warn("call {} ({}): re-INVITE not answered: {}", id, profileId, e.getMessage());
    }
  }

  private void retransmitOk(CallRequest request, Response ok) {
    pendingOk = ok;
    pendingOkRequest = request;
    okInterval = T1;
    Instant giveUp = calls.now().plus(GIVE_UP);
    okTimer = calls.schedule(() -> resendOk(giveUp), okInterval);
  }

  private synchronized void resendOk(Instant giveUp) {
    if (pendingOk == null) {
      return;
    }
    if (!calls.now().isBefore(giveUp)) {
      stopOk();
      if (state == State.ANSWERED) {
        establish(); // the dialog exists; §13.3.1.4 says end it with a BYE
      }
      hangUp("no ACK for the 200 within " + GIVE_UP.toSeconds() + " s");
      return;
    }
    try {
      pendingOkRequest.resend(pendingOk);
    } catch (SipException e) {
      log.debug("call {}: 200 not sent again: {}", id, e.getMessage());
    }
    okInterval = okInterval.multipliedBy(2).compareTo(T2) > 0 ? T2 : okInterval.multipliedBy(2);
    okTimer = calls.schedule(() -> resendOk(giveUp), okInterval);
  }

  private void stopOk() {
    pendingOk = null;
    pendingOkRequest = null;
    if (okTimer != null) {
      okTimer.cancel(false);
      okTimer = null;
    }
  }

  private void establish() {
    state = State.ESTABLISHED;
    established = calls.now();
    calls.emit(this, CallEvent.Type.CALL_ESTABLISHED, null);
    if (nextMove != null) {
      String to = nextMove;
      nextMove = null;
      move(to);
    }
  }

  // ------------------------------------------------------------------ outgoing

  /** Sends the INVITE from {@code from} (the profile's current address) through {@code hop}. */
  synchronized void dial(CallSignalling.Leg from, String hop) throws IOException, SipException,
      ParseException, javax.sip.InvalidArgumentException {
    leg = from;
    media = calls.media.open(leg.address(), id);
    Request r = dialog.request(sip(), Request.INVITE, leg, contact(leg), sip().userAgent());
    javax.sip.address.SipURI route = (javax.sip.address.SipURI) sip().addresses().createURI(hop);
    route.setLrParam();
    r.addFirst(sip().headers().createRouteHeader(sip().addresses().createAddress(route)));
    setBody(r, calls.sdp.offer(sdpSession, sdpVersion, leg.address(), media.localPort()));
    invite = r;
    sip().send(leg, r, responses(this::onInviteResponse, () -> onInviteTimeout(),
        why -> endIfCalling("the INVITE could not be sent: " + why)));
  }

  private synchronized void onInviteResponse(Response response) {
    int status = response.getStatusCode();
    if (status < 200) {
      return;
    }
    if (status < 300) {
      if (state != State.CALLING && state != State.ENDING) {
        resendAck(response);
        return;
      }
      dialog.confirmedBy(response);
      sendAck();
      if (state == State.ENDING) { // a 200 crossed our CANCEL: the call exists, end it
        state = State.ESTABLISHED;
        hangUp("hung up here before the answer (200 crossed the CANCEL)");
        return;
      }
      try {
        agreed = calls.sdp.agreedBy(body(response));
        media.start(agreed);
        establish();
      } catch (SdpNegotiator.SdpNegotiationException | RuntimeException e) {
        state = State.ESTABLISHED;
        hangUp("the answer's SDP is unusable: " + e.getMessage());
      }
      return;
    }
    if (state == State.CALLING || state == State.ENDING) {
      end(cancelled && status == Response.REQUEST_TERMINATED ? cancelReason
          : "the call was refused: " + status + " " + response.getReasonPhrase());
    }
  }

  private synchronized void onInviteTimeout() {
    endIfCalling("no answer to the INVITE (transaction timeout)");
  }

  private synchronized void endIfCalling(String reason) {
    if (state == State.CALLING || state == State.ENDING) {
      end(reason);
    }
  }

  private void sendAck() {
    try {
      lastAck = dialog.request(sip(), Request.ACK, leg, null, sip().userAgent());
      sip().sendAck(leg, lastAck);
    } catch (SipException | ParseException | javax.sip.InvalidArgumentException e) {
      log.warn("call {} ({}): ACK not sent: {}", id, profileId, e.getMessage());
    }
  }

  /** A 2xx to our INVITE again (its ACK was lost): the same ACK again (§13.2.2.4). */
  synchronized void resendAck(Response response) {
    if (lastAck == null || response.getStatusCode() / 100 != 2) {
      return;
    }
    long seq = ((CSeqHeader) response.getHeader(CSeqHeader.NAME)).getSeqNumber();
    if (((CSeqHeader) lastAck.getHeader(CSeqHeader.NAME)).getSeqNumber() != seq) {
      return;
    }
    try {
      sip().sendAck(leg, lastAck);
    } catch (SipException e) {
      log.debug("call {}: ACK not sent again: {}", id, e.getMessage());
    }
  }

  // ------------------------------------------------------------------ ending

  /**
   * Ends the call from here: CANCEL before the answer, BYE after, a rejection (603) while it
   * rings here.
   */
  synchronized boolean hangUp(String reason) {
    switch (state) {
      case RINGING -> {
        return reject(Response.DECLINE, reason);
      }
      case CALLING -> {
        cancelled = true;
        state = State.ENDING;
        try {
          Request cancel = sip().messages().createRequest(invite.getRequestURI(),
              Request.CANCEL, (javax.sip.header.CallIdHeader) invite.getHeader("Call-ID"),
              sip().headers().createCSeqHeader(dialog.localCseq, Request.CANCEL),
              (javax.sip.header.FromHeader) invite.getHeader("From"),
              (javax.sip.header.ToHeader) invite.getHeader("To"),
              java.util.List.of((javax.sip.header.ViaHeader) invite.getHeader("Via")),
              sip().headers().createMaxForwardsHeader(70));
          var routes = invite.getHeaders("Route");
          while (routes.hasNext()) {
            cancel.addHeader((javax.sip.header.Header) ((javax.sip.header.Header) routes.next())
                .clone());
          }
          sip().send(leg, cancel, responses(r -> { }, () -> { }));
        } catch (SipException | ParseException | javax.sip.InvalidArgumentException e) {
          end(reason + " (CANCEL not sent: " + e.getMessage() + ")");
          return true;
        }
        timer = calls.schedule(() -> endIfStill(State.ENDING, reason
            + " (no final answer to the INVITE after CANCEL)"), GIVE_UP);
        return true;
      }
      case ANSWERED, ESTABLISHED, MOVING -> {
        stopOk();
        abortMove();
        state = State.ENDING;
        closeMedia();
        try {
          Request bye = dialog.request(sip(), Request.BYE, leg, null, sip().userAgent());
          sip().send(leg, bye, responses(r -> {
            if (r.getStatusCode() >= 200) {
              endIfStill(State.ENDING, reason);
            }
          }, () -> endIfStill(State.ENDING, reason + " (BYE unanswered)"),
              why -> endIfStill(State.ENDING, reason + " (BYE not sent: " + why + ")")));
        } catch (SipException | ParseException | javax.sip.InvalidArgumentException e) {
          end(reason + " (BYE not sent: " + e.getMessage() + ")");
        }
        return true;
      }
      default -> {
        return false;
      }
    }
  }

  /** The profile went for good: 480 while ringing here (it is not available), else hang up. */
  synchronized void profileGone(String reason) {
    if (state == State.RINGING && direction == Direction.INCOMING) {
      cancelTimer();
      reject(Response.TEMPORARILY_UNAVAILABLE, reason);
    } else {
      cancelReason = reason;
      hangUp(reason);
    }
  }

  private synchronized void endIfStill(State expected, String reason) {
    if (state == expected) {
      end(reason);
    }
  }

  void end(String reason) {
    if (state == State.ENDED) {
      return;
    }
    state = State.ENDED;
    cancelTimer();
    stopOk();
    abortMove();
    closeMedia();
    if (leg != null) {
      leg.release();
      leg = null;
    }
    log.info("call {} ({}) ended: {}", id, profileId, reason);
    calls.ended(this, reason);
  }

  private void closeMedia() {
    if (media != null) {
      calls.lastMedia(this, media.stats());
      media.close();
      media = null;
    }
  }

  // ------------------------------------------------------------------ moves

  /**
   * The profile now registers from {@code address}: a re-INVITE from there with a Contact and
   * an SDP on there; RTP keeps going out of the old socket until the peer accepts.
   */
  synchronized void move(String address) {
    if (state == State.MOVING || state == State.ANSWERED) {
      nextMove = address; // after the current move, or once the ACK is in
      return;
    }
    if (state != State.ESTABLISHED || leg == null || address.equals(leg.address())) {
      return;
    }
    String from = leg.address();
    try {
      movingLeg = sip().acquire(address);
      int port = media.prepareMove(address);
      Request reInvite = dialog.request(sip(), Request.INVITE, movingLeg, contact(movingLeg),
          sip().userAgent());
      setBody(reInvite, calls.sdp.offer(sdpSession, ++sdpVersion, address, port));
      state = State.MOVING;
      sip().send(movingLeg, reInvite, responses(r -> onMoveResponse(r, from, address),
          () -> moveFailed(from, address, "no answer to the re-INVITE (transaction timeout)"),
          why -> moveFailed(from, address, "the re-INVITE could not be sent: " + why)));
    } catch (IOException | SipException | ParseException | javax.sip.InvalidArgumentException e) {
      state = State.ESTABLISHED;
      moveFailed(from, address, e.getMessage());
    }
  }

  private synchronized void onMoveResponse(Response r, String from, String to) {
    int status = r.getStatusCode();
    if (status < 200 || state != State.MOVING) {
      if (status / 100 == 2 && lastAck != null) {
        resendAck(r);
      }
      return;
    }
    if (status >= 300) {
      moveFailed(from, to, "re-INVITE answered " + status + " " + r.getReasonPhrase());
      return;
    }
    CallSignalling.Leg old = leg;
    leg = movingLeg;
    movingLeg = null;
    if (r.getHeader("Contact") instanceof javax.sip.header.ContactHeader c) {
      dialog.remoteTarget = c.getAddress().getURI();
    }
    sendAck();
    try {
      agreed = calls.sdp.agreedBy(body(r));
      media.commitMove(agreed);
    } catch (SdpNegotiator.SdpNegotiationException | RuntimeException e) {
      old.release();
      state = State.ESTABLISHED;
      hangUp("after the move to " + to + " the answer's SDP is unusable: " + e.getMessage());
      return;
    }
    old.release();
    state = State.ESTABLISHED;
    log.info("call {} ({}): moved {} -> {}", id, profileId, from, to);
    calls.emit(this, CallEvent.Type.CALL_MOVED, "moved from " + from + " to " + to);
    if (nextMove != null) {
      String next = nextMove;
      nextMove = null;
      move(next);
    }
  }

  /** A move that failed ends the call: never left half-moved (docs/calls.md). */
  private synchronized void moveFailed(String from, String to, String why) {
    if (state != State.MOVING && state != State.ESTABLISHED) {
      return;
    }
    abortMove();
    state = State.ESTABLISHED;
    hangUp("the move from " + from + " to " + to + " failed: " + why);
  }

  private void abortMove() {
    if (movingLeg != null) {
      if (media != null) {
        media.abortMove();
      }
      movingLeg.release();
      movingLeg = null;
    }
  }

  // ------------------------------------------------------------------ DTMF

  /**
   * Queues DTMF digits on the call's RTP (RFC 4733; {@link MediaChannel#sendDtmf} says what it
   * throws); false when the call is not established (or moving).
   */
  synchronized boolean sendDtmf(String digits) {
    if (media == null || (state != State.ESTABLISHED && state != State.MOVING)) {
      return false;
    }
    media.sendDtmf(digits);
    return true;
  }

  // ------------------------------------------------------------------ helpers

  private void cancelTimer() {
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
  }

  private Address contact(CallSignalling.Leg on) throws ParseException {
    return Dialog.contact(sip(), profileId, on);
  }

  private void respond(CallRequest request, int status, String sdp) {
    try {
      request.respond(response(request.request(), status, sdp));
    } catch (SipException | ParseException e) {
      log.warn("call {} ({}): {} not sent: {}", id, profileId, status, e.getMessage());
    }
  }

  private Response response(Request request, int status, String sdp) throws ParseException {
    Response r = sip().messages().createResponse(status, request);
    ToHeader to = (ToHeader) r.getHeader(ToHeader.NAME);
    if (to.getTag() == null && status != Response.TRYING) {
      to.setTag(dialog.localTag);
    }
    r.addHeader(sip().headers().createHeader("User-Agent", sip().userAgent()));
    if (sdp != null) {
      setBody(r, sdp);
    }
    return r;
  }

  private void setBody(javax.sip.message.Message m, String sdp) throws ParseException {
    ContentTypeHeader type = sip().headers().createContentTypeHeader("application", "sdp");
    m.setContent(sdp, type);
  }

  static String body(javax.sip.message.Message m) {
    byte[] raw = m.getRawContent();
    return raw == null || raw.length == 0 ? null
        : new String(raw, java.nio.charset.StandardCharsets.UTF_8);
  }

  private static CallSignalling.Responses responses(
      java.util.function.Consumer<Response> onResponse, Runnable onTimeout) {
    return responses(onResponse, onTimeout, why -> onTimeout.run());
  }

  private static CallSignalling.Responses responses(
      java.util.function.Consumer<Response> onResponse, Runnable onTimeout,
      java.util.function.Consumer<String> onUnsent) {
    return new CallSignalling.Responses() {
      @Override
      public void onUnsent(String why) {
        onUnsent.accept(why);
      }

      @Override
      public void onResponse(Response response) {
        onResponse.accept(response);
      }

      @Override
      public void onTimeout() {
        onTimeout.run();
      }
    };
  }
}
