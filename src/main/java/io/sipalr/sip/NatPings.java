package io.sipalr.sip;

import static io.sipalr.sip.KeepAliveTimers.cancel;

import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import javax.sip.ListeningPoint;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * NAT pings of registrations without outbound: one per UDP flow whatever the number of profiles
 * on it, keeping the NAT's mapping open between refreshes. Under {@code AUTO} and {@code STUN}
 * each is a STUN Binding request on the registration's own socket, whose XOR-MAPPED-ADDRESS is
 * compared with where the REGISTER's 200 (Via received/rport) saw the flow: another address is
 * a NAT rebinding, and every profile on the flow re-registers at once with a Contact at the new
 * mapping ({@link FlowKeepAlive.Member#natRebound}). A STUN request left unanswered proves
 * nothing without outbound (the registrar may just do no STUN) and fails nothing. Under
 * {@code AUTO} a registrar that answers no STUN (two requests unanswered while none ever was,
 * or an error response) is pinged with a double CRLF from then on (RFC 5626 §3.5.1's ping,
 * unanswered), logged once per registrar ({@link StunFallback}). Split out of
 * {@link FlowKeepAlive}, which owns it and hands it the STUN answers that are not its own.
 */
final class NatPings {
  private static final Logger log = LoggerFactory.getLogger(NatPings.class);

  private final SipWire engine;
  private final ScheduledExecutorService timers;
  /** The longest wait for a STUN answer (also at most half the interval). */
  private final Duration answerTimeout;
  private final Map<FlowKeepAlive.Flow, NatPing> pings = new HashMap<>();
  private final Map<ByteBuffer, FlowKeepAlive.Flow> stunWaiting = new HashMap<>();
  private final StunFallback fallback = new StunFallback();
  private final SecureRandom random = new SecureRandom();
  private final java.time.Clock clock;

  private static final class NatPing {
    final Set<FlowKeepAlive.Member> members = new HashSet<>();
    SipConfig.NatKeepAlive mode;
    Duration interval;
    KeepAliveKind kind;
    ScheduledFuture<?> next;
    /** Where the registrar last saw the flow (the 200's Via, or the last STUN answer). */
    String mapped;
    /** STUN: the request in flight (transaction id), its retransmission and its deadline. */
    byte[] stunTx;
    ScheduledFuture<?> retransmit;
    ScheduledFuture<?> deadline;
    int unanswered;
    boolean stunAnswered;
    /** When a STUN ping was last answered (CRLF pings are never answered). */
    java.time.Instant lastAnswered;
  }

  /** @param clock when a ping was answered, for the profile view */
  NatPings(SipWire engine, ScheduledExecutorService timers, Duration answerTimeout,
      java.time.Clock clock) {
    this.engine = engine;
    this.timers = timers;
    this.answerTimeout = answerTimeout;
    this.clock = clock;
  }

  /**
   * Adds {@code member} to the NAT pings of {@code flow} (UDP only: TCP and TLS connections
   * are {@link NatConnectionPings}'): one ping every
   * {@code nat.keepAliveInterval()}, jittered 80-100 %, of the kind {@code nat.keepAlive()}
   * says. Joining again only updates {@code seenAt}.
   *
   * @param seenAt where the registrar saw the REGISTER that bound {@code member} come from
   *     (its 200's Via received/rport), or {@code null} when it did not say: the mapping STUN
   *     answers are compared with
   */
  synchronized void join(FlowKeepAlive.Flow flow, FlowKeepAlive.Member member,
      SipConfig.Nat nat, String seenAt) {
    if (!ListeningPoint.UDP.equalsIgnoreCase(flow.transport())
        || nat.keepAlive() == SipConfig.NatKeepAlive.OFF) {
      return;
    }
    NatPing p = pings.computeIfAbsent(flow, f -> {
      NatPing n = new NatPing();
      n.mode = nat.keepAlive();
      n.interval = nat.keepAliveInterval();
      n.kind = kindFor(f, n.mode);
      return n;
    });
    if (seenAt != null) {
      p.mapped = seenAt; // the latest REGISTER knows the current mapping
    }
    if (p.members.add(member) && p.next == null) {
      schedule(flow, p);
    }
  }

  private KeepAliveKind kindFor(FlowKeepAlive.Flow flow, SipConfig.NatKeepAlive mode) {
    if (mode == SipConfig.NatKeepAlive.CRLF || !FlowKeepAlive.isIpLiteral(flow.host())) {
      return KeepAliveKind.CRLF; // STUN needs the address; resolving would block a timer
    }
    return mode == SipConfig.NatKeepAlive.AUTO && fallback.answersNoStun(flow)
        ? KeepAliveKind.CRLF : KeepAliveKind.STUN;
  }

  synchronized void leave(FlowKeepAlive.Flow flow, FlowKeepAlive.Member member) {
    NatPing p = pings.get(flow);
    if (p != null && p.members.remove(member) && p.members.isEmpty()) {
      stop(p);
      pings.remove(flow);
    }
  }

  synchronized int count() {
    return pings.size();
  }

  /** The ping {@code flow} gets now (STUN or CRLF), or {@code null} when it has none. */
  synchronized KeepAliveKind kind(FlowKeepAlive.Flow flow) {
    NatPing p = pings.get(flow);
    return p == null ? null : p.kind;
  }

  /** The NAT ping {@code member} gets (for the profile view), or {@code null} when none. */
  synchronized FlowKeepAlive.View view(FlowKeepAlive.Member member) {
    for (NatPing p : pings.values()) {
      if (p.members.contains(member)) {
        return new FlowKeepAlive.View(p.kind, p.lastAnswered);
      }
    }
    return null;
  }

  synchronized void close() {
    pings.values().forEach(this::stop);
    pings.clear();
  }

  private void stop(NatPing p) {
    cancel(p.next);
    endStun(p);
  }

  private void endStun(NatPing p) {
    cancel(p.retransmit);
    cancel(p.deadline);
    if (p.stunTx != null) {
      stunWaiting.remove(ByteBuffer.wrap(p.stunTx));
      p.stunTx = null;
    }
  }

  private void schedule(FlowKeepAlive.Flow flow, NatPing p) {
    p.next = timers.schedule(() -> ping(flow, p), KeepAliveTimers.jitteredMillis(p.interval),
        TimeUnit.MILLISECONDS);
  }

  private void ping(FlowKeepAlive.Flow flow, NatPing p) {
    KeepAliveKind kind;
    StunMessage request = null;
    synchronized (this) {
      if (pings.get(flow) != p) {
        return; // left meanwhile
      }
      schedule(flow, p);
      kind = p.kind;
      if (kind == KeepAliveKind.STUN) {
        endStun(p); // never still in flight (the wait is at most half the interval)
        p.stunTx = new byte[StunCodec.TRANSACTION_ID_LENGTH];
        random.nextBytes(p.stunTx);
        stunWaiting.put(ByteBuffer.wrap(p.stunTx), flow);
        request = StunMessage.bindingRequest(p.stunTx);
        long wait = Math.min(answerTimeout.toMillis(), p.interval.toMillis() / 2);
        byte[] tx = p.stunTx;
        p.deadline = timers.schedule(() -> unanswered(flow, p, tx), wait, TimeUnit.MILLISECONDS);
        retransmit(flow, p, request, FlowKeepAlive.STUN_RTO_MILLIS, FlowKeepAlive.STUN_RTO_MILLIS,
            wait);
      }
    }
    // Sent outside the lock: the answer may come at once on another thread.
    if (kind == KeepAliveKind.STUN) {
      engine.stunRequest(flow.endpoint(), flow.host(), flow.port(), request);
    } else {
      engine.ping(flow.endpoint(), flow.host(), flow.port());
    }
  }

  /** RFC 5389 §7.2.1: again after 500 ms, each wait doubling, while within the wait. */
  private void retransmit(FlowKeepAlive.Flow flow, NatPing p, StunMessage request, long rto,
      long at, long wait) {
    if (at >= wait) {
      return;
    }
    byte[] tx = p.stunTx;
    p.retransmit = timers.schedule(() -> {
      synchronized (this) {
        if (pings.get(flow) != p || p.stunTx != tx) {
          return;
        }
        retransmit(flow, p, request, rto * 2, at + rto * 2, wait);
      }
      engine.stunRequest(flow.endpoint(), flow.host(), flow.port(), request);
    }, rto, TimeUnit.MILLISECONDS);
  }

  /**
   * A STUN answer that matched no outbound keep-alive: ours if its transaction id is.
   *
   * @return whether it was one of ours
   */
  boolean stunAnswer(StunMessage answer) {
    List<FlowKeepAlive.Member> rebound;
    FlowKeepAlive.Flow flow;
    String mapped;
    String why;
    synchronized (this) {
      flow = stunWaiting.get(ByteBuffer.wrap(answer.transactionId()));
      NatPing p = flow == null ? null : pings.get(flow);
      if (p == null || p.stunTx == null || !answer.sameTransaction(p.stunTx)) {
        return false;
      }
      endStun(p);
      p.stunAnswered = true;
      p.unanswered = 0;
      p.lastAnswered = clock.instant();
      if (answer.isError()) {
        if (p.mode == SipConfig.NatKeepAlive.AUTO) {
          fallBack(flow, p, "STUN error " + answer.errorCode());
        } else if (fallback.record(flow)) {
          log.warn("registrar {}:{} answers the STUN NAT ping with error {}; sip.nat.keepalive "
              + "= STUN keeps sending STUN (AUTO would fall back to CRLF)", flow.host(),
              flow.port(), answer.errorCode());
        }
        return true;
      }
      if (answer.mapped() == null) {
        return true;
      }
      mapped = RegisterRequests.hostPort(answer.mapped().getAddress().getHostAddress(),
          answer.mapped().getPort());
      if (p.mapped == null || RegisterRequests.sameAddress(mapped, p.mapped)) {
        p.mapped = mapped;
        return true;
      }
      // A NAT rebinding: the registrar's binding points at the old mapping, which nothing
      // reaches any more. The new one is remembered at once, so that the next ping does not
      // tell it again while the REGISTERs are on their way.
      why = "the NAT mapping changed from " + p.mapped + " to " + mapped + " (STUN NAT ping)";
      log.info("flow {}: {}: {} profiles re-register at it", flow, why, p.members.size());
      p.mapped = mapped;
      rebound = new ArrayList<>(p.members);
    }
    rebound.forEach(m -> m.natRebound(flow, mapped, why)); // outside the lock
    return true;
  }

  /** No answer within the wait: proves nothing without outbound, but may mean no STUN. */
  private void unanswered(FlowKeepAlive.Flow flow, NatPing p, byte[] tx) {
    synchronized (this) {
      if (pings.get(flow) != p || p.stunTx != tx) {
        return;
      }
      endStun(p);
      if (p.stunAnswered) {
        log.debug("NAT ping (STUN) on {} unanswered; without outbound nothing proves the flow "
            + "dead, the next refresh will tell", flow);
        return;
      }
      p.unanswered++;
      if (p.mode == SipConfig.NatKeepAlive.AUTO
          && p.unanswered >= StunFallback.UNANSWERED_BEFORE_FALLBACK) {
        fallBack(flow, p, "no answer to " + p.unanswered + " STUN requests");
      }
    }
  }

  /** AUTO: this registrar answers no STUN; double-CRLF pings from now on, on this flow too. */
  private void fallBack(FlowKeepAlive.Flow flow, NatPing p, String why) {
    p.kind = KeepAliveKind.CRLF;
    if (fallback.record(flow)) {
      log.info("registrar {}:{} ({}) answers no STUN NAT ping ({}): registrations without "
          + "outbound keep its NAT open with double-CRLF pings, which detect no rebinding",
          flow.host(), flow.port(), flow.transport(), why);
    }
  }
}
