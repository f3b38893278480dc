package io.sipalr.calls;

import io.sipalr.calls.CallInfo.State;
import io.sipalr.media.SdpNegotiator;
import io.sipalr.sip.CallSignalling;
import java.text.ParseException;
import java.time.Duration;
import java.util.ListIterator;
import java.util.Locale;
import java.util.concurrent.ScheduledFuture;
import javax.sip.InvalidArgumentException;
import javax.sip.SipException;
import javax.sip.header.Header;
import javax.sip.header.HeaderFactory;
import javax.sip.message.Message;
import javax.sip.message.Request;
import javax.sip.message.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A call's session timer (RFC 4028; docs/calls.md, "Session timers"), used when the peer asks
 * for one: the interval and refresher agreed by the last INVITE, re-INVITE or UPDATE and its
 * 2xx; as refresher, a re-INVITE or UPDATE at half the interval; either way a BYE when the
 * session expires without a refresh (at the interval less min(32 s, a third)). Runs under the
 * call's lock.
 */
final class SessionTimer {
  private static final Logger log = LoggerFactory.getLogger(SessionTimer.class);
  static final String SESSION_EXPIRES = "Session-Expires";
  static final String MIN_SE = "Min-SE";
  /** 422s in a row to one request of ours (each raises the interval) before we give up. */
  static final int MAX_TOO_SMALL = 2;

  /** A Session-Expires: the interval and who refreshes, {@code uac} or {@code uas} or null. */
  record Asked(long seconds, String refresher) {}

  private final Call call;
  /** The agreed interval; null: no session timer. */
  private Duration interval;
  private boolean weRefresh;
  /** What our next request asks for after a 422 (its Min-SE); 0: nothing more than before. */
  private long askFor;
  private int tooSmall;
  private ScheduledFuture<?> refreshAt;
  private ScheduledFuture<?> expireAt;
  /** A refresh of ours is out; by re-INVITE (an offer of ours) or UPDATE (none). */
  private String refreshing;

  SessionTimer(Call call) {
    this.call = call;
  }

  Duration interval() {
    return interval;
  }

  boolean weRefresh() {
    return weRefresh;
  }

  /** Whether our refresh is out (a move then waits for it). */
  boolean refreshing() {
    return refreshing != null;
  }

  /** Whether our refresh re-INVITE is out: its offer waits for an answer. */
  boolean refreshOffers() {
    return Request.INVITE.equals(refreshing);
  }

  // ------------------------------------------------------------------ the peer's requests

  /** RFC 4028 §8.1: the peer's request asks for less than our Min-SE (then 422). */
  static boolean tooSmall(Request request, Duration minSe) {
    Asked a = asked(request);
    return a != null && a.seconds() < minSe.toSeconds();
  }

  /** Makes {@code r} the 422 to a request asking for too short an interval, with our Min-SE. */
  static void addMinSe(HeaderFactory headers, Response r, Duration minSe)
      throws ParseException {
    r.setReasonPhrase("Session Interval Too Small"); // the stack knows no phrase for 422
    r.addHeader(headers.createHeader(MIN_SE, Long.toString(minSe.toSeconds())));
  }

  /**
   * Our 2xx to the peer's INVITE, re-INVITE or UPDATE (§9): the interval it asked for, the
   * refresher it named, else the peer when it supports timers (it asked, so it refreshes),
   * else us; no Session-Expires in its request: no session timer.
   */
  void answering(Request request, Response ok) throws ParseException {
    HeaderFactory h = call.calls.sip.headers();
    ok.addHeader(h.createHeader("Supported", "timer"));
    Asked a = asked(request);
    if (a == null) {
      off();
      return;
    }
    boolean peerSupports = lists(request, "Supported", "timer");
    String refresher = a.refresher() != null ? a.refresher() : peerSupports ? "uac" : "uas";
    ok.addHeader(h.createHeader(SESSION_EXPIRES, a.seconds() + ";refresher=" + refresher));
    if (peerSupports) {
      ok.addHeader(h.createHeader("Require", "timer"));
    }
    arm(Duration.ofSeconds(a.seconds()), refresher.equals("uas"));
  }

  // ------------------------------------------------------------------ our requests

  /**
   * What our INVITE, re-INVITE or UPDATE carries: Supported: timer always; the interval and
   * refresher while a session timer runs, or what a 422 asked for.
   */
  void offering(Request request) throws ParseException {
    HeaderFactory h = call.calls.sip.headers();
    request.addHeader(h.createHeader("Supported", "timer"));
    long seconds = Math.max(askFor, interval != null ? interval.toSeconds() : 0);
    if (seconds > 0) {
      request.addHeader(h.createHeader(SESSION_EXPIRES, seconds + ";refresher="
          + (interval == null || weRefresh ? "uac" : "uas")));
      request.addHeader(h.createHeader(MIN_SE, Long.toString(Math.max(seconds,
          call.calls.settings.minSe().toSeconds()))));
    }
  }

  /**
   * A 2xx to our INVITE, re-INVITE or UPDATE (§7.2): its Session-Expires sets the interval and
   * who refreshes (refresher=uac, or none: we); none: no session timer.
   */
  void answered(Response ok) {
    tooSmall = 0;
    askFor = 0;
    Asked a = asked(ok);
    if (a == null) {
      off();
      return;
    }
    arm(Duration.ofSeconds(a.seconds()), !"uas".equals(a.refresher()));
  }

  /**
   * A 422 to our request (§7.4): true when it may go again asking for the 422's Min-SE; false
   * when it has no usable Min-SE or we gave up.
   */
  boolean retryAfterTooSmall(Response r) {
    long min = minSe(r);
    if (min <= 0 || ++tooSmall > MAX_TOO_SMALL) {
      return false;
    }
    askFor = Math.max(min, askFor);
    return true;
  }

  // ------------------------------------------------------------------ timers

  private void arm(Duration d, boolean us) {
    cancelTimers();
    interval = d;
    weRefresh = us;
    if (us) {
      refreshAt = call.calls.schedule(this::refresh, d.dividedBy(2));
    }
    Duration margin = d.dividedBy(3).compareTo(Duration.ofSeconds(32)) < 0 ? d.dividedBy(3)
        : Duration.ofSeconds(32);
    expireAt = call.calls.schedule(this::expire, d.minus(margin));
    log.debug("call {} ({}): session interval {} s, refreshed by {}", call.id, call.profileId,
        d.toSeconds(), us ? "us" : "the peer");
  }

  /** No session timer (the peer stopped asking, or the call ends). */
  void off() {
    cancelTimers();
    interval = null;
    refreshing = null;
  }

  private void cancelTimers() {
    if (refreshAt != null) {
      refreshAt.cancel(false);
      refreshAt = null;
    }
    if (expireAt != null) {
      expireAt.cancel(false);
      expireAt = null;
    }
  }

  private void expire() {
    synchronized (call) {
      if (interval != null && call.state != State.ENDING && call.state != State.ENDED) {
        call.hangUp("the session expired: no refresh within " + interval.toSeconds()
            + " s (RFC 4028 session timer)");
      }
    }
  }

  /**
   * Our refresh at half the interval: an UPDATE without a body when the peer allows UPDATE
   * (and {@code move-request} is auto), else a re-INVITE with our offer from where the call
   * is. A move under way refreshes the session itself.
   */
  private void refresh() {
    synchronized (call) {
      refreshAt = null;
      if (interval == null || refreshing != null || call.state == State.ENDING
          || call.state == State.ENDED) {
        return;
      }
      if (call.state != State.ESTABLISHED) { // a move's request is out (or the ACK is not in):
        refreshAt = call.calls.schedule(this::refresh, Call.T2); // look again in 4 s
        return;
      }
      CallSignalling sip = call.calls.sip;
      String method = call.calls.settings.moveRequest() == CallSettings.MoveRequest.AUTO
          && call.dialog.peerAllowsUpdate ? Request.UPDATE : Request.INVITE;
      try {
        Request r = call.dialog.request(sip, method, call.leg, call.messages.contact(call.leg),
            sip.userAgent());
        offering(r);
        if (method.equals(Request.INVITE)) {
          call.messages.setBody(r, call.offer(call.leg.address(), call.media.localPort()));
        }
        refreshing = method;
        String what = "the session refresh (" + (method.equals(Request.INVITE) ? "re-INVITE"
            : "UPDATE") + ")";
        sip.send(call.leg, r, CallMessages.responses(resp -> onResponse(resp, method, what),
            () -> failed(what + " got no answer"),
            why -> failed(what + " could not be sent: " + why)));
      } catch (SipException | ParseException | InvalidArgumentException e) {
        refreshing = null;
        failed("the session refresh could not be sent: " + e.getMessage());
      }
    }
  }

  private void onResponse(Response r, String method, String what) {
    synchronized (call) {
      int status = r.getStatusCode();
      boolean invite = method.equals(Request.INVITE);
      if (status < 200) {
        return;
      }
      if (refreshing == null) {
        if (status / 100 == 2 && invite) {
          call.resendAck(r);
        }
        return;
      }
      refreshing = null;
      if (status / 100 == 2) {
        if (invite) {
          call.sendAck();
          String sdp = CallMessages.body(r);
          try {
            if (sdp != null) {
              call.agreed = call.calls.sdp.agreedBy(sdp);
              call.media.start(call.agreed);
            }
          } catch (SdpNegotiator.SdpNegotiationException e) {
            log.warn("call {} ({}): {}'s answer unusable, media as it was: {}", call.id,
                call.profileId, what, e.getMessage());
          }
        }
        answered(r);
        call.resumeMove();
        return;
      }
      if (status == 422 && retryAfterTooSmall(r)) {
        refresh();
        return;
      }
      if (status == Response.REQUEST_PENDING) { // glare: once more after the §14.1 wait
        refreshAt = call.calls.schedule(this::refresh, call.glareWait());
        call.resumeMove();
        return;
      }
      if (status == Response.REQUEST_TIMEOUT
          || status == Response.CALL_OR_TRANSACTION_DOES_NOT_EXIST || status == 422) {
        failed(what + " answered " + status + " " + r.getReasonPhrase()); // §10
        return;
      }
      // Any other refusal: the session goes on until it expires, unless refreshed by then.
      log.warn("call {} ({}): {} answered {} {}", call.id, call.profileId, what, status,
          r.getReasonPhrase());
      call.resumeMove();
    }
  }

  private void failed(String why) {
    synchronized (call) {
      refreshing = null;
      if (call.state != State.ENDING && call.state != State.ENDED) {
        call.hangUp(why);
      }
    }
  }

  // ------------------------------------------------------------------ headers

  /** The Session-Expires of {@code m} (also its compact form {@code x}), or null. */
  static Asked asked(Message m) {
    Header h = m.getHeader(SESSION_EXPIRES);
    if (h == null) {
      h = m.getHeader("x");
    }
    if (h == null) {
      return null;
    }
    String[] parts = value(h).split(";");
    long seconds;
    try {
      seconds = Long.parseLong(parts[0].trim());
    } catch (NumberFormatException e) {
      return null;
    }
    String refresher = null;
    for (int i = 1; i < parts.length; i++) {
      String[] kv = parts[i].trim().split("=", 2);
      if (kv.length == 2 && kv[0].trim().equalsIgnoreCase("refresher")) {
        refresher = kv[1].trim().toLowerCase(Locale.ROOT);
      }
    }
    return new Asked(seconds, refresher);
  }

  /** The Min-SE of {@code m} in seconds, or -1. */
  static long minSe(Message m) {
    Header h = m.getHeader(MIN_SE);
    if (h == null) {
      return -1;
    }
    try {
      return Long.parseLong(value(h).split(";")[0].trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** Whether a header of {@code m} (Supported, Require) lists {@code option}. */
  static boolean lists(Message m, String name, String option) {
    ListIterator<?> it = m.getHeaders(name);
    while (it.hasNext()) {
      for (String token : value((Header) it.next()).split(",")) {
        if (token.trim().equalsIgnoreCase(option)) {
          return true;
        }
      }
    }
    return false;
  }

  private static String value(Header h) {
    String text = h.toString().trim();
    int colon = text.indexOf(':');
    return colon < 0 ? text : text.substring(colon + 1).trim();
  }
}
