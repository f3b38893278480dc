package io.sipalr.sip;

import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import javax.sip.ListeningPoint;

/**
 * Double-CRLF pings that keep a NAT's UDP mapping open for registrations without outbound
 * (RFC 5626 §3.5.1's ping; nothing answers it, so it detects nothing): one per flow, whatever
 * the number of profiles on it. Split out of {@link FlowKeepAlive}, which owns it.
 */
final class NatPings {
  private final SipWire engine;
  private final ScheduledExecutorService timers;
  private final Map<FlowKeepAlive.Flow, NatPing> pings = new HashMap<>();

  private static final class NatPing {
    final Set<FlowKeepAlive.Member> members = new HashSet<>();
    ScheduledFuture<?> next;
  }

  NatPings(SipWire engine, ScheduledExecutorService timers) {
    this.engine = engine;
    this.timers = timers;
  }

  /**
   * Adds {@code member} to the NAT pings of {@code flow}: a double CRLF every {@code interval}
   * (jittered 80-100 %), one per flow whatever the number of profiles on it; UDP only (a TCP
   * connection is its own keep-alive here, and a ping must never block the timer thread).
   */
  synchronized void join(FlowKeepAlive.Flow flow, FlowKeepAlive.Member member,
      Duration interval) {
    if (!ListeningPoint.UDP.equalsIgnoreCase(flow.transport())) {
      return;
    }
    NatPing p = pings.computeIfAbsent(flow, f -> new NatPing());
    if (p.members.add(member) && p.next == null) {
      schedule(flow, p, interval);
    }
  }

  synchronized void leave(FlowKeepAlive.Flow flow, FlowKeepAlive.Member member) {
    NatPing p = pings.get(flow);
    if (p != null && p.members.remove(member) && p.members.isEmpty()) {
      if (p.next != null) {
        p.next.cancel(false);
      }
      pings.remove(flow);
    }
  }

  synchronized int count() {
    return pings.size();
  }

  synchronized void close() {
    pings.values().forEach(p -> {
      if (p.next != null) {
        p.next.cancel(false);
      }
    });
    pings.clear();
  }

  private void schedule(FlowKeepAlive.Flow flow, NatPing p, Duration interval) {
    long millis = interval.toMillis();
    long delay = (long) (millis * (0.8 + 0.2 * ThreadLocalRandom.current().nextDouble()));
    p.next = timers.schedule(() -> ping(flow, p, interval), delay, TimeUnit.MILLISECONDS);
  }

  private void ping(FlowKeepAlive.Flow flow, NatPing p, Duration interval) {
    synchronized (this) {
      if (pings.get(flow) != p) {
        return; // left meanwhile
      }
    }
    engine.ping(flow.endpoint(), flow.host(), flow.port()); // outside the lock
    synchronized (this) {
      if (pings.get(flow) == p) {
        schedule(flow, p, interval);
      }
    }
  }
}
