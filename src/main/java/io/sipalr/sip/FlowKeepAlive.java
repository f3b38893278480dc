package io.sipalr.sip;

import static io.sipalr.sip.KeepAliveTimers.cancel;

import java.text.ParseException;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import javax.sip.ListeningPoint;
import javax.sip.SipException;
import javax.sip.address.Address;
import javax.sip.address.SipURI;
import javax.sip.header.ViaHeader;
import javax.sip.message.Request;
import javax.sip.message.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps outbound flows alive (RFC 5626 §4.4) and notices when one dies. A flow is this agent's
 * listening point of one transport towards one registrar (or outbound proxy) address; every
 * profile registered over it with outbound shares it, so there is one keep-alive per flow, not
 * per profile. The keep-alive is RFC 5626 §4.4's: a STUN Binding request on a UDP flow (a
 * changed mapped address, or no answer, fails the flow), a double-CRLF ping on a TCP or TLS
 * flow (no pong within the pong timeout fails it; {@link CrlfConnections} reads the pongs); or,
 * configured or fallen back to when the registrar answers neither ({@link StunFallback}), an
 * OPTIONS to the flow's far end, any response proving the flow. A failed flow makes every
 * profile on it re-register at once.
 */
final class FlowKeepAlive implements SipWire.KeepAliveAnswers {
  private static final Logger log = LoggerFactory.getLogger(FlowKeepAlive.class);

  /** One flow: the local endpoint, the transport and the address of its far end. */
  record Flow(SipEngine.Endpoint endpoint, String transport, String host, int port) {
    @Override
    public String toString() {
      return transport + " " + endpoint + " -> " + host + ":" + port;
    }
  }

  /** What a registration hears when its flow failed. */
  interface Member {
    /** The flow failed; {@code why} says how (no answer, or the answer that told). */
    void flowFailed(Flow flow, String why);

    /**
     * A NAT ping without outbound (STUN) showed {@code flow} at another public address than
     * the REGISTER's 200 did: re-register at once with a Contact at {@code mapped}.
     */
    default void natRebound(Flow flow, String mapped, String why) {
      flowFailed(flow, why);
    }
  }

  private final SipWire engine;
  private final ScheduledExecutorService timers;
  private final Duration defaultInterval;
  private final Duration probeTimeout;
  private final SipConfig.Outbound outbound;
  private final java.time.Clock clock;
  private final Map<Flow, FlowState> flows = new HashMap<>();
  /** The flow each member is kept alive on (for the profile view). */
  private final Map<Member, Flow> memberFlows = new HashMap<>();
  /** STUN requests awaiting their answer, one per flow at most (removed with the probe). */
  private final Map<java.nio.ByteBuffer, Flow> stunWaiting = new HashMap<>();
  private final StunFallback fallback = new StunFallback();
  private final java.security.SecureRandom random = new java.security.SecureRandom();
  /** UDP flows pinged only to keep a NAT's mapping open (no outbound). */
  private final NatPings pings;
  /** TCP and TLS connections pinged for the same reason. */
  private final NatConnectionPings connectionPings;
  private final SipStats stats;

  private final class FlowState {
    final Set<Member> members = new HashSet<>();
    Duration interval;
    ScheduledFuture<?> next;
    Probe probe;
    /** Where the far end saw the first answered keep-alive come from (Via received/rport). */
    String seenAt;
    KeepAliveKind kind;
    /** AUTO: STUN requests (or CRLF pings) unanswered on this flow while none ever was. */
    int rfcUnanswered;
    boolean rfcAnswered;
    java.time.Instant lastAnswered;
  }

  static boolean isIpLiteral(String host) {
    try {
      io.sipalr.mobility.IpLiterals.parse(host.startsWith("[") && host.endsWith("]")
          ? host.substring(1, host.length() - 1) : host);
      return true;
    } catch (IllegalArgumentException name) {
      return false;
    }
  }

  /** What the profile view shows of a member's flow. */
  record View(KeepAliveKind kind, java.time.Instant lastAnswered) {}

  FlowKeepAlive(SipWire engine, ScheduledExecutorService timers, Duration defaultInterval,
      Duration probeTimeout) {
    this(engine, timers, defaultInterval, probeTimeout, new SipStats(),
        SipConfig.Outbound.DEFAULTS, java.time.Clock.systemUTC());
  }

  /**
   * @param stats counts the flows found dead
   * @param outbound which keep-alives, the pong timeout and the TCP default interval
   * @param clock when a keep-alive was answered, for the profile view
   */
  FlowKeepAlive(SipWire engine, ScheduledExecutorService timers, Duration defaultInterval,
      Duration probeTimeout, SipStats stats, SipConfig.Outbound outbound,
      java.time.Clock clock) {
    this.stats = stats;
    this.engine = engine;
    this.timers = timers;
    this.defaultInterval = defaultInterval;
    this.probeTimeout = probeTimeout;
    this.outbound = outbound;
    this.clock = clock;
    this.pings = new NatPings(engine, timers, probeTimeout, clock);
    this.connectionPings = new NatConnectionPings(engine, timers, outbound.pongTimeout(), clock,
        stats);
    engine.keepAliveAnswers(this);
  }

  /**
   * The keep-alive of {@code member}'s outbound flow, else its NAT ping (no outbound), or
   * {@code null} when it has neither.
   */
  View view(Member member) {
    synchronized (this) {
      Flow flow = memberFlows.get(member);
      FlowState state = flow == null ? null : flows.get(flow);
      if (state != null) {
        return new View(state.kind, state.lastAnswered);
      }
    }
    View udp = pings.view(member);
    return udp != null ? udp : connectionPings.view(member);
  }

  /** The keep-alive a new flow starts with (the registrar's record decides under AUTO). */
  private KeepAliveKind kindFor(Flow flow) {
    if (outbound.keepAlive() == SipConfig.OutboundKeepAlive.OPTIONS
        || !isIpLiteral(flow.host())) {
      // STUN and the connection lookup of a CRLF ping need the far end's address; resolving
      // a name here would block a timer thread (an OPTIONS goes through the stack's own).
      return KeepAliveKind.OPTIONS;
    }
    if (outbound.keepAlive() == SipConfig.OutboundKeepAlive.AUTO
        && fallback.answersNoStun(flow)) {
      return KeepAliveKind.OPTIONS;
    }
    return ListeningPoint.UDP.equalsIgnoreCase(flow.transport()) ? KeepAliveKind.STUN
        : KeepAliveKind.CRLF;
  }

  /**
   * Adds {@code member} to {@code flow}, starting its keep-alive if it is new.
   *
   * @param flowTimer the registrar's Flow-Timer in seconds, or 0 when it sent none
   */
  synchronized void join(Flow flow, Member member, int flowTimer) {
    join(flow, member, flowTimer, null);
  }

  /**
   * As {@link #join(Flow, Member, int)}, with where the registrar saw the REGISTER that bound
   * the member come from (its 200's Via): the mapping later keep-alive answers are compared
   * with, so that a rebinding before the first keep-alive is noticed too.
   */
  synchronized void join(Flow flow, Member member, int flowTimer, String seenAt) {
    FlowState state = flows.computeIfAbsent(flow, f -> new FlowState());
    if (state.kind == null) {
      state.kind = kindFor(flow);
    }
    state.members.add(member);
    memberFlows.put(member, flow);
    if (seenAt != null) {
      state.seenAt = seenAt; // the latest REGISTER knows the current mapping
    }
    // RFC 5626 §4.4.1: send keep-alives at 80-100 % of the Flow-Timer the registrar asked for;
    // without one, the configured interval (UDP), or RFC 5626's 120 s recommendation (TCP).
    Duration interval = flowTimer > 0 ? Duration.ofSeconds(flowTimer)
        : state.kind == KeepAliveKind.CRLF ? outbound.connectionInterval() : defaultInterval;
    if (state.interval == null || interval.compareTo(state.interval) < 0) {
      state.interval = interval;
      cancel(state.next);
      scheduleProbe(flow, state);
    }
  }

  synchronized void leave(Flow flow, Member member) {
    memberFlows.remove(member, flow);
    FlowState state = flows.get(flow);
    if (state != null && state.members.remove(member) && state.members.isEmpty()) {
      stop(state);
      flows.remove(flow);
    }
  }

  /** See {@link NatPings#join} (UDP) and {@link NatConnectionPings#join} (TCP, TLS). */
  void joinNatPing(Flow flow, Member member, SipConfig.Nat nat, String seenAt) {
    pings.join(flow, member, nat, seenAt);
    connectionPings.join(flow, member, nat);
  }

  /** The NAT ping of {@code flow} (STUN or CRLF), or {@code null} when it has none. */
  KeepAliveKind natPingKind(Flow flow) {
    KeepAliveKind udp = pings.kind(flow);
    return udp != null ? udp : connectionPings.kind(flow);
  }

  void leaveNatPing(Flow flow, Member member) {
    pings.leave(flow, member);
    connectionPings.leave(flow, member);
  }

  int natPingCount() {
    return pings.count() + connectionPings.count();
  }

  synchronized int flowCount() {
    return flows.size();
  }

  synchronized void close() {
    flows.values().forEach(this::stop);
    flows.clear();
    memberFlows.clear();
    pings.close();
    connectionPings.close();
  }

  private void stop(FlowState state) {
    cancel(state.next);
    if (state.probe != null) {
      end(state.probe);
      terminate(state.probe.transaction);
      state.probe = null;
    }
  }

  /** A probe is over: its timers stop, and a late STUN answer to it finds nothing. */
  private void end(Probe probe) {
    cancel(probe.timer);
    cancel(probe.retransmit);
    if (probe.stunTx != null) {
      stunWaiting.remove(java.nio.ByteBuffer.wrap(probe.stunTx));
    }
  }

  private void scheduleProbe(Flow flow, FlowState state) {
    state.next = timers.schedule(() -> probe(flow),
        KeepAliveTimers.jitteredMillis(state.interval), TimeUnit.MILLISECONDS);
  }

  /** One keep-alive in flight; compared by identity so that a late answer is ignored. */
  private static final class Probe {
    KeepAliveKind kind;
    SipWire.Exchange transaction;
    ScheduledFuture<?> timer;
    /** STUN: the transaction id, and the next retransmission (RFC 5389 §7.2.1). */
    byte[] stunTx;
    ScheduledFuture<?> retransmit;
  }

  private void probe(Flow flow) {
    KeepAliveKind kind;
    synchronized (this) {
      FlowState state = flows.get(flow);
      if (state == null) {
        return;
      }
      kind = state.kind;
    }
    switch (kind) {
      case STUN -> probeStun(flow);
      case CRLF -> probeCrlf(flow);
      default -> probeOptions(flow);
    }
  }

  /**
   * Makes {@code probe} the flow's one probe in flight, ending the one it supersedes (a shorter
   * interval): false when the flow is gone. Under this object's lock.
   */
  private boolean install(Flow flow, Probe probe) {
    FlowState state = flows.get(flow);
    if (state == null) {
      return false;
    }
    if (state.probe != null) {
      end(state.probe); // its STUN id matches nothing now
    }
    state.probe = probe;
    return true;
  }

  private void probeOptions(Flow flow) {
    Probe probe = new Probe();
    probe.kind = KeepAliveKind.OPTIONS;
    synchronized (this) {
      if (!install(flow, probe)) {
        return;
      }
      probe.timer = timers.schedule(() -> probeFailed(flow, probe,
          "no answer to the keep-alive within " + probeTimeout.toMillis() + " ms"),
          probeTimeout.toMillis(),
          TimeUnit.MILLISECONDS);
    }
    // Sent outside the lock: the stack may deliver the answer on another thread at once.
    try {
      probe.transaction = engine.send(flow.endpoint(), KeepAliveOptions.build(engine, flow),  new SipWire.Handler() {
        @Override
        public void onResponse(SipWire.Exchange transaction, Response response) {
          int code = response.getStatusCode();
          if (code >= 200 && KeepAliveOptions.revealsLostBinding(code)) {
            probeFailed(flow, probe, "keep-alive answered " + code + " "
                + response.getReasonPhrase());
          } else if (code >= 200) {
            probeAnswered(flow, probe, RegisterRequests.seenAt(response));
          }
        }

        @Override
        public void onTimeout(SipWire.Exchange transaction) {
          probeFailed(flow, probe, "the keep-alive timed out");
        }
      }, flow.transport(), flow.host(), flow.port());
    } catch (SipException | ParseException | javax.sip.InvalidArgumentException e) {
      log.debug("keep-alive on {} not sent: {}", flow, e.getMessage());
      probeFailed(flow, probe, "keep-alive not sent: " + e.getMessage());
    }
  }

  // ------------------------------------------------------------- STUN (UDP) and CRLF (TCP)

  /** RFC 5389 §7.2.1: the first retransmission after 500 ms, each wait doubling. */
  static final long STUN_RTO_MILLIS = 500;

  private void probeStun(Flow flow) {
    Probe probe = new Probe();
    probe.kind = KeepAliveKind.STUN;
    probe.stunTx = new byte[StunCodec.TRANSACTION_ID_LENGTH];
    random.nextBytes(probe.stunTx);
    synchronized (this) {
      if (!install(flow, probe)) {
        return;
      }
      stunWaiting.put(java.nio.ByteBuffer.wrap(probe.stunTx), flow);
      probe.timer = timers.schedule(() -> unanswered(flow, probe, "no answer to the STUN "
          + "keep-alive within " + probeTimeout.toMillis() + " ms"), probeTimeout.toMillis(),
          TimeUnit.MILLISECONDS);
      scheduleRetransmit(flow, probe, STUN_RTO_MILLIS, STUN_RTO_MILLIS);
    }
    engine.stunRequest(flow.endpoint(), flow.host(), flow.port(),
        StunMessage.bindingRequest(probe.stunTx)); // outside the lock: the answer may be quick
  }

  /** The next retransmission {@code rto} from now, if it still falls within the timeout. */
  private void scheduleRetransmit(Flow flow, Probe probe, long rto, long at) {
    if (at >= probeTimeout.toMillis()) {
      return;
    }
    probe.retransmit = timers.schedule(() -> {
      synchronized (this) {
        FlowState state = flows.get(flow);
        if (state == null || state.probe != probe) {
          return;
        }
        scheduleRetransmit(flow, probe, rto * 2, at + rto * 2);
      }
      engine.stunRequest(flow.endpoint(), flow.host(), flow.port(),
          StunMessage.bindingRequest(probe.stunTx));
    }, rto, TimeUnit.MILLISECONDS);
  }

  @Override
  public void stunAnswer(StunMessage answer) {
    if (!outboundStunAnswer(answer) && !pings.stunAnswer(answer)) {
      log.debug("STUN answer {} matches no keep-alive in flight", answer);
    }
  }

  /** An answer to an outbound flow's STUN keep-alive: {@code false} when it is none. */
  private boolean outboundStunAnswer(StunMessage answer) {
    synchronized (this) {
      Flow flow = stunWaiting.get(java.nio.ByteBuffer.wrap(answer.transactionId()));
      FlowState state = flow == null ? null : flows.get(flow);
      if (state == null || state.probe == null || state.probe.stunTx == null
          || !answer.sameTransaction(state.probe.stunTx)) {
        return false;
      }
      Probe probe = state.probe;
      end(probe);
      state.probe = null;
      state.lastAnswered = clock.instant();
      state.rfcAnswered = true;
      state.rfcUnanswered = 0;
      if (answer.isError()) {
        // An answer came through the flow, so it works; the registrar just does no STUN.
        if (outbound.keepAlive() == SipConfig.OutboundKeepAlive.AUTO) {
          fallBack(flow, state, "STUN error " + answer.errorCode());
        } else {
          log.warn("registrar {}:{} answers the STUN keep-alive of flow {} with error {}",
              flow.host(), flow.port(), flow, answer.errorCode());
        }
      } else if (answer.mapped() != null) {
        String mapped = RegisterRequests.hostPort(answer.mapped().getAddress().getHostAddress(),
            answer.mapped().getPort());
        if (state.seenAt != null && !RegisterRequests.sameAddress(mapped, state.seenAt)) {
          // RFC 5626 §4.4.1: a new mapping (a NAT rebinding): the registrar's binding points at
          // the old one, which nothing reaches any more.
          log.info("flow {} failed (STUN: the NAT mapping changed from {} to {}): {} profiles "
              + "re-register", flow, state.seenAt, mapped, state.members.size());
          stats.keepAliveFailed();
          failAll(flow, state, "the NAT mapping changed from " + state.seenAt + " to " + mapped
              + " (STUN)");
          return true;
        }
        state.seenAt = mapped;
      }
      scheduleProbe(flow, state);
      return true;
    }
  }

  /**
   * No answer to a STUN request (and its retransmissions) within the probe timeout, or no pong
   * to a CRLF ping within the pong timeout.
   */
  private void unanswered(Flow flow, Probe probe, String why) {
    synchronized (this) {
      FlowState state = flows.get(flow);
      if (state == null || state.probe != probe) {
        return;
      }
      if (outbound.keepAlive() != SipConfig.OutboundKeepAlive.AUTO || state.rfcAnswered) {
        probeFailed(flow, probe, why);
        return;
      }
      // AUTO, and this registrar never answered this keep-alive on the flow: an OPTIONS tells
      // a dead flow (unanswered too: failed) from a registrar that does no STUN or sends no
      // pongs (answered: fall back).
      end(probe);
      state.probe = null;
      state.rfcUnanswered++;
    }
    probeOptions(flow);
  }

  private void probeCrlf(Flow flow) {
    Probe probe = new Probe();
    probe.kind = KeepAliveKind.CRLF;
    synchronized (this) {
      if (!install(flow, probe)) {
        return;
      }
      probe.timer = timers.schedule(() -> unanswered(flow, probe, "no pong to the CRLF "
          + "keep-alive within " + outbound.pongTimeout().toMillis() + " ms"),
          outbound.pongTimeout().toMillis(), TimeUnit.MILLISECONDS);
    }
    engine.crlfPing(flow.endpoint(), flow.transport(), flow.host(), flow.port());
  }

  /** The flow of that connection with a CRLF ping in flight, or null. Under this lock. */
  private Flow pinged(String localAddress, String transport, String host, int port) {
    for (Map.Entry<Flow, FlowState> e : flows.entrySet()) {
      Flow f = e.getKey();
      Probe p = e.getValue().probe;
      if (p != null && p.kind == KeepAliveKind.CRLF && f.transport().equalsIgnoreCase(transport)
          && f.port() == port && RegisterRequests.sameHost(f.endpoint().address, localAddress)
          && RegisterRequests.sameHost(f.host(), host)) {
        return f;
      }
    }
    return null;
  }

  @Override
  public void pong(String localAddress, String transport, String host, int port) {
    synchronized (this) {
      Flow flow = pinged(localAddress, transport, host, port);
      if (flow != null) {
        FlowState state = flows.get(flow);
        state.rfcAnswered = true;
        state.rfcUnanswered = 0;
        probeAnswered(flow, state.probe, null);
        return;
      }
    }
    // Outside this lock: a NAT ping's pong (no outbound) is the connection pings' own.
    if (!connectionPings.pong(localAddress, transport, host, port)) {
      log.debug("pong over {} from {}:{} to {} matches no ping in flight", transport, host,
          port, localAddress);
    }
  }

  @Override
  public void pongMissing(String localAddress, int localPort, String transport,
      String host, int port) {
    synchronized (this) {
      Flow flow = pinged(localAddress, transport, host, port);
      if (flow != null && flow.endpoint().port == localPort) {
        probeFailed(flow, flows.get(flow).probe, "the CRLF keep-alive found no connection");
        return;
      }
    }
    connectionPings.pongMissing(localAddress, localPort, transport, host, port);
  }

  private synchronized void probeAnswered(Flow flow, Probe probe, String seenAt) {
    FlowState state = flows.get(flow);
    if (state != null && state.probe == probe) {
      if (seenAt != null && state.seenAt != null
          && !RegisterRequests.sameAddress(seenAt, state.seenAt)) {
        // RFC 5626 §4.4.1: the NAT gave the flow a new mapping (a rebinding); the registrar's
        // binding points at the old one, which nothing reaches any more.
        stats.keepAliveFailed();
        failAll(flow, state, "the NAT mapping changed from " + state.seenAt + " to " + seenAt);
        return;
      }
      if (seenAt != null) {
        state.seenAt = seenAt;
      }
      end(probe);
      state.probe = null;
      state.lastAnswered = clock.instant();
      if (probe.kind == KeepAliveKind.OPTIONS && state.kind != KeepAliveKind.OPTIONS
          && state.rfcUnanswered > 0) {
        // An OPTIONS that checked the path after an unanswered STUN request or CRLF ping: the
        // flow works, the registrar does not answer those (or lost one); the second time, fall
        // back for good.
        if (state.rfcUnanswered >= StunFallback.UNANSWERED_BEFORE_FALLBACK) {
          fallBack(flow, state, "no answer to " + state.rfcUnanswered + " "
              + (state.kind == KeepAliveKind.STUN ? "STUN requests" : "CRLF pings")
              + " while OPTIONS are answered");
        }
      }
      scheduleProbe(flow, state);
    }
  }

  /**
   * AUTO: this flow's registrar answers no STUN (UDP) or sends no pongs (TCP, TLS); OPTIONS
   * keep the flow alive from now on.
   */
  private void fallBack(Flow flow, FlowState state, String why) {
    KeepAliveKind was = state.kind;
    state.kind = KeepAliveKind.OPTIONS;
    if (fallback.record(flow)) {
      log.info("registrar {}:{} ({}) answers no {} keep-alive ({}): its outbound flows are "
          + "kept alive with OPTIONS", flow.host(), flow.port(), flow.transport(), was, why);
    }
  }

  synchronized void probeFailed(Flow flow, Probe probe, String why) {
    FlowState state = flows.get(flow);
    if (state != null && state.probe == probe) {
      log.info("flow {} failed ({}): {} profiles re-register", flow, why,
          state.members.size());
      stats.keepAliveFailed();
      failAll(flow, state, why);
    }
  }

  private void failAll(Flow flow, FlowState state, String why) {
    stop(state);
    flows.remove(flow);
    if (!ListeningPoint.UDP.equalsIgnoreCase(flow.transport())) {
      // RFC 5626 §4.5: the REGISTERs below form a new flow, not over the connection that
      // failed (its pongs may be lost while it still carries requests).
      engine.closeConnection(flow.endpoint(), flow.transport(), flow.host(), flow.port());
    }
    state.members.forEach(m -> memberFlows.remove(m, flow));
    // Members re-register on their own executors; they join again when that succeeds.
    List.copyOf(state.members).forEach(m -> m.flowFailed(flow, why));
  }

  private static void terminate(SipWire.Exchange transaction) {
    if (transaction != null) {
      transaction.abandon();
    }
  }
}
