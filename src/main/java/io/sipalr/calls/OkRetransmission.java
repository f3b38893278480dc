package io.sipalr.calls;

import io.sipalr.sip.CallRequest;
import java.time.Instant;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import javax.sip.SipException;
import javax.sip.header.CSeqHeader;
import javax.sip.message.Request;
import javax.sip.message.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Our 2xx to an INVITE or re-INVITE, sent again at T1 doubling to T2 until its ACK comes
 * (RFC 3261 §13.3.1.4); without an ACK by 64×T1 the call is told ({@link Call#noAck}). Runs
 * under the call's lock.
 */
final class OkRetransmission {
  private static final Logger log = LoggerFactory.getLogger(OkRetransmission.class);

  private final Call call;
  private Response pending;
  private CallRequest through;
  private Duration interval;
  private ScheduledFuture<?> timer;

  OkRetransmission(Call call) {
    this.call = call;
  }

  boolean pending() {
    return pending != null;
  }

  void start(CallRequest request, Response ok) {
    stop();
    pending = ok;
    through = request;
    interval = Call.T1;
    Instant giveUp = call.calls.now().plus(Call.GIVE_UP);
    timer = call.calls.schedule(() -> resend(giveUp), interval);
  }

  /** Whether {@code ack} acknowledges the pending 2xx; if so, it is no longer sent. */
  boolean acked(Request ack) {
    if (pending != null && ack.getHeader(CSeqHeader.NAME) instanceof CSeqHeader c
        && c.getSeqNumber() == ((CSeqHeader) pending.getHeader(CSeqHeader.NAME))
            .getSeqNumber()) {
      stop();
      return true;
    }
    return false;
  }

  private void resend(Instant giveUp) {
    synchronized (call) {
      if (pending == null) {
        return;
      }
      if (!call.calls.now().isBefore(giveUp)) {
        stop();
        call.noAck();
        return;
      }
      try {
        through.resend(pending);
      } catch (SipException e) {
        log.debug("call {}: 200 not sent again: {}", call.id, e.getMessage());
      }
      interval = interval.multipliedBy(2).compareTo(Call.T2) > 0 ? Call.T2
          : interval.multipliedBy(2);
      timer = call.calls.schedule(() -> resend(giveUp), interval);
    }
  }

  void stop() {
    pending = null;
    through = null;
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
  }
}
