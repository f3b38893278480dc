package io.sipalr.sip;

import io.sipalr.dns.SipTarget;
import java.util.List;
import java.util.Map;
import javax.sip.SipException;
import javax.sip.header.CSeqHeader;
import javax.sip.header.CallIdHeader;
import javax.sip.header.ViaHeader;
import javax.sip.message.Request;
import javax.sip.message.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An initial INVITE (no To tag) tried on each target its next hop resolved to, in order
 * (RFC 3263 §4.3; docs/calls.md, "Next hops"): a timeout, a transport error or a 503 moves it
 * to the next target in a new transaction (a new Via branch) without the caller hearing of
 * it; the caller hears the answer of the target that gave one, or the last failure. Only the
 * initial INVITE: once a server took the call, the dialog's requests follow its route set. A
 * CANCEL of the INVITE goes to the target and branch the INVITE is on now ({@link #cancel}).
 */
final class InviteFailover {
  private static final Logger log = LoggerFactory.getLogger(InviteFailover.class);

  /** What sends one try to one target. */
  @FunctionalInterface
  interface Wire {
    void send(Request request, SipTarget target, SipWire.Handler handler) throws SipException;
  }

  private final Request first;
  private final List<SipTarget> targets;
  private final CallSignalling.Responses responses;
  private final Wire wire;
  /** INVITEs on their way, by {@link #key}: where a CANCEL must go. */
  private final Map<String, InviteFailover> underway;
  private final String key;
  private int index;
  private SipTarget current;
  private String branch;
  private boolean cancelled;

  InviteFailover(Request invite, List<SipTarget> targets, CallSignalling.Responses responses,
      Wire wire, Map<String, InviteFailover> underway) {
    this.first = invite;
    this.targets = List.copyOf(targets);
    this.responses = responses;
    this.wire = wire;
    this.underway = underway;
    this.key = key(invite);
  }

  /** Call-ID and CSeq number: the INVITE's, and its CANCEL's. */
  static String key(Request r) {
    return ((CallIdHeader) r.getHeader(CallIdHeader.NAME)).getCallId() + " "
        + ((CSeqHeader) r.getHeader(CSeqHeader.NAME)).getSeqNumber();
  }

  /** The first try; its failure to send goes on to the next target, the last one's thrown. */
  void start() throws SipException {
    underway.put(key, this);
    SipException last = null;
    synchronized (this) {
      for (; index < targets.size(); index++) {
        try {
          sendCurrent();
          return;
        } catch (SipException e) {
          last = e;
          log.info("{}: INVITE not sent to {}: {}; next target", key, targets.get(index),
              e.getMessage());
        }
      }
    }
    underway.remove(key, this);
    throw last;
  }

  private void sendCurrent() throws SipException {
    Request r = first;
    if (index > 0) { // a new transaction: the same request with a branch of its own
      r = (Request) first.clone();
      try {
        ((ViaHeader) r.getHeader(ViaHeader.NAME)).setBranch(
            "z9hG4bK" + Long.toHexString(java.util.concurrent.ThreadLocalRandom.current()
                .nextLong() & Long.MAX_VALUE));
      } catch (java.text.ParseException e) {
        throw new SipException("no new branch: " + e.getMessage(), e);
      }
    }
    current = targets.get(index);
    branch = ((ViaHeader) r.getHeader(ViaHeader.NAME)).getBranch();
    wire.send(r, current, new SipWire.Handler() {
      @Override
      public void onResponse(SipWire.Exchange exchange, Response response) {
        answered(response);
      }

      @Override
      public void onTimeout(SipWire.Exchange exchange) {
        failed("no answer (timeout or transport error)");
      }
    });
  }

  private void answered(Response response) {
    int status = response.getStatusCode();
    if (status == Response.SERVICE_UNAVAILABLE && next("503 " + response.getReasonPhrase())) {
      return;
    }
    if (status >= 200) {
      underway.remove(key, this);
    }
    responses.onResponse(response);
  }

  private void failed(String why) {
    if (next(why)) {
      return;
    }
    underway.remove(key, this);
    responses.onTimeout();
  }

  /** Tries the next target; false when there is none (or the INVITE was cancelled). */
  private synchronized boolean next(String why) {
    while (!cancelled && index + 1 < targets.size()) {
      SipTarget failed = targets.get(index);
      index++;
      log.info("{}: INVITE to {} failed ({}); trying {}", key, failed, why, targets.get(index));
      try {
        sendCurrent();
        return true;
      } catch (SipException e) {
        why = e.getMessage();
      }
    }
    return false;
  }

  /**
   * The CANCEL of this INVITE: with the branch of the try under way, to its target; no more
   * targets are tried after it.
   */
  synchronized SipTarget cancel(Request cancel) throws SipException {
    cancelled = true;
    try {
      ((ViaHeader) cancel.getHeader(ViaHeader.NAME)).setBranch(branch);
    } catch (java.text.ParseException e) {
      throw new SipException("CANCEL without the INVITE's branch: " + e.getMessage(), e);
    }
    return current;
  }
}
