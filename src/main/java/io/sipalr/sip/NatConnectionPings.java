package io.sipalr.sip;

import static io.sipalr.sip.KeepAliveTimers.cancel;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
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
 * NAT pings on the TCP and TLS connections of registrations without outbound: a double CRLF on
 * the registration's connection every {@code sip.nat.connection-keepalive-interval}, jittered
 * 80-100 %, one per connection whatever the number of profiles on it, so that the NAT keeps the
 * mapping the registrar routes requests over. Without outbound the registrar owes no pong (RFC
 * 5626 §4.4.1 obliges it only once outbound was negotiated), so a pong missing proves nothing
 * until one has come on the connection (Kamailio answers every ping); from then on a missing
 * pong is a lost connection, as a ping that finds the connection gone is: it is closed, and
 * every profile on it re-registers at once over a new one ({@link FlowKeepAlive.Member}). The
 * UDP pings are {@link NatPings}'; {@link FlowKeepAlive} owns both and hands this the pongs
 * that answer no outbound ping.
 */
final class NatConnectionPings {
  private static final Logger log = LoggerFactory.getLogger(NatConnectionPings.class);

  private final SipWire engine;
  private final ScheduledExecutorService timers;
  private final Duration pongTimeout;
  private final Clock clock;
  private final SipStats stats;
  private final Map<FlowKeepAlive.Flow, Ping> pings = new HashMap<>();

  private static final class Ping {
    final Set<FlowKeepAlive.Member> members = new HashSet<>();
    Duration interval;
    ScheduledFuture<?> next;
    /** The pong's deadline while one is awaited. */
    ScheduledFuture<?> deadline;
    /** Whether the registrar ever answered a ping on this connection. */
    boolean ponged;
    Instant lastAnswered;
  }

  /**
   * @param pongTimeout how long a pong may take ({@code sip.outbound.pong-timeout}; at most
   *     half the interval here)
   * @param stats counts the connections found dead
   */
  NatConnectionPings(SipWire engine, ScheduledExecutorService timers, Duration pongTimeout,
      Clock clock, SipStats stats) {
    this.engine = engine;
    this.timers = timers;
    this.pongTimeout = pongTimeout;
    this.clock = clock;
    this.stats = stats;
  }

  /**
   * Adds {@code member} to the pings of {@code flow}'s connection (TCP and TLS only; nothing
   * under {@code OFF}). A flow whose far end is a name is left alone: the connection is found
   * by address, and resolving would block a timer thread.
   */
  synchronized void join(FlowKeepAlive.Flow flow, FlowKeepAlive.Member member,
      SipConfig.Nat nat) {
    if (ListeningPoint.UDP.equalsIgnoreCase(flow.transport())
        || nat.keepAlive() == SipConfig.NatKeepAlive.OFF) {
      return;
    }
    if (!FlowKeepAlive.isIpLiteral(flow.host())) {
      log.debug("no NAT ping on {}: its far end is no address", flow);
      return;
    }
    Ping p = pings.computeIfAbsent(flow, f -> {
      Ping n = new Ping();
      n.interval = nat.connectionKeepAliveInterval();
      return n;
    });
    if (p.members.add(member) && p.next == null) {
      schedule(flow, p);
    }
  }

  synchronized void leave(FlowKeepAlive.Flow flow, FlowKeepAlive.Member member) {
    Ping p = pings.get(flow);
    if (p != null && p.members.remove(member) && p.members.isEmpty()) {
      stop(p);
      pings.remove(flow);
    }
  }

  synchronized int count() {
    return pings.size();
  }

  /** {@code CRLF} when {@code flow}'s connection is pinged, else {@code null}. */
  synchronized KeepAliveKind kind(FlowKeepAlive.Flow flow) {
    return pings.containsKey(flow) ? KeepAliveKind.CRLF : null;
  }

  /** The ping {@code member}'s connection gets (for the profile view), or {@code null}. */
  synchronized FlowKeepAlive.View view(FlowKeepAlive.Member member) {
    for (Ping p : pings.values()) {
      if (p.members.contains(member)) {
        return new FlowKeepAlive.View(KeepAliveKind.CRLF, p.lastAnswered);
      }
    }
    return null;
  }

  synchronized void close() {
    pings.values().forEach(NatConnectionPings::stop);
    pings.clear();
  }

  private static void stop(Ping p) {
    cancel(p.next);
    cancel(p.deadline);
  }

  private void schedule(FlowKeepAlive.Flow flow, Ping p) {
    p.next = timers.schedule(() -> ping(flow, p), KeepAliveTimers.jitteredMillis(p.interval),
        TimeUnit.MILLISECONDS);
  }

  private void ping(FlowKeepAlive.Flow flow, Ping p) {
    synchronized (this) {
      if (pings.get(flow) != p) {
        return; // left, or failed, meanwhile
      }
      schedule(flow, p);
      cancel(p.deadline);
      long wait = Math.min(pongTimeout.toMillis(), p.interval.toMillis() / 2);
      p.deadline = timers.schedule(() -> noPong(flow, p, wait), wait, TimeUnit.MILLISECONDS);
    }
    // Outside the lock: the pong, or the connection's absence, may be told at once.
    engine.crlfPing(flow.endpoint(), flow.transport(), flow.host(), flow.port());
  }

  private void noPong(FlowKeepAlive.Flow flow, Ping p, long waited) {
    synchronized (this) {
      if (pings.get(flow) != p || p.deadline == null) {
        return;
      }
      p.deadline = null;
      if (!p.ponged) {
        log.debug("NAT ping on {} unanswered; the registrar never answered one on this "
            + "connection (it owes none without outbound): nothing proven", flow);
        return;
      }
    }
    fail(flow, p, "no pong to the CRLF NAT ping within " + waited + " ms");
  }

  /**
   * A pong that answered no outbound ping: the NAT ping's of that connection, if one is.
   *
   * @return whether it was
   */
  synchronized boolean pong(String localAddress, String transport, String host, int port) {
    for (Map.Entry<FlowKeepAlive.Flow, Ping> e : pings.entrySet()) {
      FlowKeepAlive.Flow f = e.getKey();
      if (matches(f, localAddress, transport, host, port)) {
        Ping p = e.getValue();
        cancel(p.deadline);
        p.deadline = null;
        p.ponged = true;
        p.lastAnswered = clock.instant();
        return true;
      }
    }
    return false;
  }

  /**
   * A ping that found no connection, or could not be written: the connection the registrar
   * routes over is gone, whatever pongs came.
   *
   * @return whether the ping was one of these
   */
  boolean pongMissing(String localAddress, int localPort, String transport, String host,
      int port) {
    FlowKeepAlive.Flow flow = null;
    Ping ping = null;
    synchronized (this) {
      for (Map.Entry<FlowKeepAlive.Flow, Ping> e : pings.entrySet()) {
        FlowKeepAlive.Flow f = e.getKey();
        if (f.endpoint().port == localPort && matches(f, localAddress, transport, host, port)) {
          flow = f;
          ping = e.getValue();
          break;
        }
      }
    }
    if (flow == null) {
      return false;
    }
    fail(flow, ping, "the CRLF NAT ping found the connection gone");
    return true;
  }

  private static boolean matches(FlowKeepAlive.Flow f, String localAddress, String transport,
      String host, int port) {
    return f.transport().equalsIgnoreCase(transport) && f.port() == port
        && RegisterRequests.sameHost(f.endpoint().address, localAddress)
        && RegisterRequests.sameHost(f.host(), host);
  }

  /** The connection is lost: closed, and its profiles re-register over a new one. */
  private void fail(FlowKeepAlive.Flow flow, Ping p, String why) {
    List<FlowKeepAlive.Member> members;
    synchronized (this) {
      if (pings.get(flow) != p) {
        return; // failed already
      }
      stop(p);
      pings.remove(flow);
      members = List.copyOf(p.members);
    }
    log.info("connection {} lost ({}): {} profiles re-register", flow, why, members.size());
    stats.keepAliveFailed();
    // A connection whose pongs are lost may still carry requests one way: the REGISTERs below
    // must form a new one, which the registrar then routes over.
    engine.closeConnection(flow.endpoint(), flow.transport(), flow.host(), flow.port());
    members.forEach(m -> m.flowFailed(flow, why));
  }
}
