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
import javax.sip.InvalidArgumentException;
import javax.sip.SipException;
import javax.sip.address.SipURI;
import javax.sip.header.CSeqHeader;
import javax.sip.message.Request;
import javax.sip.message.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One call's state machine (docs/calls.md, "States"): {@link State} moves only here and in
 * the parts it delegates to ({@link CallMove}, {@link PeerOffers}, {@link OkRetransmission}),
 * all under this object's lock; SIP events, timers and API commands all come in through its
 * methods. Timers (answer delay, decision timeout, 2xx retransmission, end guard) run on the
 * shared scheduler.
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
  final Calls calls;
  final Dialog dialog;
  final CallMessages messages = new CallMessages(this);
  final OkRetransmission ok = new OkRetransmission(this);
  private final CallMove moves = new CallMove(this);
  private final PeerOffers offers = new PeerOffers(this);
  final SessionTimer session = new SessionTimer(this);
  final Instant started;
  State state;
  private Instant established;
  CallSignalling.Leg leg;
  MediaChannel media;
  SdpNegotiator.Agreed agreed;
  /** Incoming: the initial INVITE as received, answered through it. */
  private CallRequest inviteRequest;
  /** Outgoing: our INVITE (for CANCEL and ACK), and its first hop. */
  private Request invite;
  private String hop;
  private Request lastAck;
  private ScheduledFuture<?> timer;
  private final long sdpSession = Math.abs(Calls.RANDOM.nextLong() % 1_000_000_000L);
  private long sdpVersion;
  private boolean cancelled;
  /** Why a CANCEL of ours ends the call once the INVITE gets its 487. */
  private String cancelReason = "cancelled here";

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

  /** A new SDP offer (session version one up) for media on {@code address}:{@code port}. */
  String offer(String address, int port) {
    return calls.sdp.offer(sdpSession, ++sdpVersion, address, port);
  }

  /**
   * The wait before our request goes again after a 491 (RFC 3261 §14.1): 2.1-4 s when we
   * chose the Call-ID (our call), 0-2 s otherwise, in 10 ms steps.
   */
  Duration glareWait() {
    return Duration.ofMillis(direction == Direction.OUTGOING
        ? 2100 + 10L * Calls.RANDOM.nextInt(191) : 10L * Calls.RANDOM.nextInt(201));
  }

  /** A move that waited (for a refresh, a 491's wait) goes now if the call is established. */
  void resumeMove() {
    if (state == State.ESTABLISHED) {
      moves.resume();
    }
  }

  /** The answer to a new offer in the dialog, for media where the call is now. */
  SdpNegotiator.Answer answerTo(String offer) throws SdpNegotiator.SdpNegotiationException {
    return calls.sdp.answer(offer, sdpSession, ++sdpVersion, leg.address(), media.localPort());
  }

  // ------------------------------------------------------------------ incoming

  /** A new INVITE: ringing, then what the policy says. */
  synchronized void ring(CallRequest request, CallPolicy policy) {
    inviteRequest = request;
    if (policy.kind() != CallPolicy.Kind.REJECT) {
      messages.respond(request, Response.RINGING, null);
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
    String offer = CallMessages.body(req);
    try {
      leg = sip().acquire(inviteRequest.localAddress());
      media = calls.media.open(leg.address(), id);
      Response response;
      if (offer == null) { // RFC 3264 §5: our offer in the 200, the answer in the ACK
        response = messages.ok(req, calls.sdp.offer(sdpSession, sdpVersion, leg.address(),
            media.localPort()), leg);
        offers.offeredInOk();
      } else {
        SdpNegotiator.Answer answer = calls.sdp.answer(offer, sdpSession, sdpVersion,
            leg.address(), media.localPort());
        agreed = answer.agreed();
        response = messages.ok(req, answer.sdp(), leg);
      }
      session.answering(req, response);
      inviteRequest.respond(response);
      if (agreed != null) {
        media.start(agreed);
      }
      state = State.ANSWERED;
      ok.start(inviteRequest, response);
      log.info("call {} ({}): answered on {}, RTP {}:{} -> {}", id, profileId,
          leg.address(), leg.address(), media.localPort(), agreed != null
              ? agreed.remoteAddress() + ":" + agreed.remotePort() + " " + agreed.codec()
              : "(offered in the 200, answer awaited in the ACK)");
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
    messages.respond(inviteRequest, status, null);
    end(reason);
    return true;
  }

  synchronized void onAck(Request ack) {
    boolean initial = state == State.ANSWERED;
    String unusable = ok.acked(ack) ? offers.ackArrived(ack, initial) : null;
    if (initial) {
      establish();
    }
    if (unusable != null) {
      hangUp(unusable);
    }
  }

  /** No ACK came for our 2xx: the dialog exists, so §13.3.1.4 says end it with a BYE. */
  void noAck() {
    if (state == State.ANSWERED) {
      establish();
    }
    hangUp("no ACK for the 200 within " + GIVE_UP.toSeconds() + " s");
  }

  synchronized void onCancel(CallRequest cancel) {
    messages.respond(cancel, Response.OK, null);
    if (state == State.RINGING) {
      cancelTimer();
      messages.respond(inviteRequest, Response.REQUEST_TERMINATED, null);
      end("cancelled by the caller (CANCEL)");
    }
  }

  synchronized void onBye(CallRequest bye) {
    messages.respond(bye, Response.OK, null);
    end("the peer hung up (BYE)");
  }

  /** A re-INVITE from the peer ({@link PeerOffers}). */
  synchronized void onReInvite(CallRequest request) {
    offers.onReInvite(request);
  }

  /** An UPDATE from the peer ({@link PeerOffers}). */
  synchronized void onUpdate(CallRequest request) {
    offers.onUpdate(request);
  }

  private void establish() {
    state = State.ESTABLISHED;
    established = calls.now();
    calls.emit(this, CallEvent.Type.CALL_ESTABLISHED, null);
    moves.resume();
  }

  // ------------------------------------------------------------------ outgoing

  /** Sends the INVITE from {@code from} (the profile's current address) through {@code hop}. */
  synchronized void dial(CallSignalling.Leg from, String hop) throws IOException, SipException,
      ParseException, InvalidArgumentException {
    leg = from;
    this.hop = hop;
    media = calls.media.open(leg.address(), id);
    sendInvite();
  }

  /** Our INVITE (again after a 422, with a new CSeq and what the 422 asked for). */
  private void sendInvite() throws SipException, ParseException, InvalidArgumentException {
    Request r = dialog.request(sip(), Request.INVITE, leg, messages.contact(leg),
        sip().userAgent());
    SipURI route = (SipURI) sip().addresses().createURI(hop);
    route.setLrParam();
    if (!"udp".equals(dialog.transport) && route.getTransportParam() == null
        && !(route.isSecure() && "tls".equals(dialog.transport))) {
      route.setTransportParam(dialog.transport); // the profile's transport to its first hop
    }
    r.addFirst(sip().headers().createRouteHeader(sip().addresses().createAddress(route)));
    session.offering(r);
    messages.setBody(r, calls.sdp.offer(sdpSession, sdpVersion, leg.address(),
        media.localPort()));
    invite = r;
    sip().send(leg, r, CallMessages.responses(this::onInviteResponse, this::onInviteTimeout,
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
        agreed = calls.sdp.agreedBy(CallMessages.body(response));
        media.start(agreed);
        session.answered(response);
        establish();
      } catch (SdpNegotiator.SdpNegotiationException | RuntimeException e) {
        state = State.ESTABLISHED;
        hangUp("the answer's SDP is unusable: " + e.getMessage());
      }
      return;
    }
    if (state == State.CALLING && status == 422 && session.retryAfterTooSmall(response)) {
      try { // RFC 4028 §7.4: again, asking for the 422's Min-SE
        sendInvite();
        return;
      } catch (SipException | ParseException | InvalidArgumentException e) {
        end("the INVITE could not be sent again after 422: " + e.getMessage());
        return;
      }
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

  /** The ACK of the 2xx to our last INVITE or re-INVITE, from where the call is now. */
  void sendAck() {
    try {
      lastAck = dialog.request(sip(), Request.ACK, leg, null, sip().userAgent());
      sip().sendAck(leg, lastAck);
    } catch (SipException | ParseException | InvalidArgumentException e) {
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

  // ------------------------------------------------------------------ moves

  /** The profile now registers from {@code address} ({@link CallMove}). */
  synchronized void move(String address) {
    moves.move(address);
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
          sip().send(leg, messages.cancel(invite, dialog.localCseq),
              CallMessages.responses(r -> { }, () -> { }));
        } catch (SipException | ParseException | InvalidArgumentException e) {
          end(reason + " (CANCEL not sent: " + e.getMessage() + ")");
          return true;
        }
        timer = calls.schedule(() -> endIfStill(State.ENDING, reason
            + " (no final answer to the INVITE after CANCEL)"), GIVE_UP);
        return true;
      }
      case ANSWERED, ESTABLISHED, MOVING -> {
        ok.stop();
        moves.stop();
        session.off();
        state = State.ENDING;
        closeMedia();
        try {
          Request bye = dialog.request(sip(), Request.BYE, leg, null, sip().userAgent());
          sip().send(leg, bye, CallMessages.responses(r -> {
            if (r.getStatusCode() >= 200) {
              endIfStill(State.ENDING, reason);
            }
          }, () -> endIfStill(State.ENDING, reason + " (BYE unanswered)"),
              why -> endIfStill(State.ENDING, reason + " (BYE not sent: " + why + ")")));
        } catch (SipException | ParseException | InvalidArgumentException e) {
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
    ok.stop();
    moves.stop();
    session.off();
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
}
