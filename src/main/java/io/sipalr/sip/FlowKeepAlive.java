package io.sipalr.sip;

import java.text.ParseException;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
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
 * per profile. The keep-alive is an OPTIONS to the flow's far end: any response proves the flow;
 * none within the register timeout is a flow failure, and every profile on it re-registers.
 */
final class FlowKeepAlive {
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
  }

  private final SipWire engine;
  private final ScheduledExecutorService timers;
  private final Duration defaultInterval;
  private final Duration probeTimeout;
  private final Map<Flow, FlowState> flows = new HashMap<>();
  /** UDP flows pinged only to keep a NAT's mapping open (no outbound, nothing to detect). */
  private final Map<Flow, NatPing> pings = new HashMap<>();

  private static final class NatPing {
    final Set<Member> members = new HashSet<>();
    ScheduledFuture<?> next;
  }
  private final SipStats stats;

  private final class FlowState {
    final Set<Member> members = new HashSet<>();
    Duration interval;
    ScheduledFuture<?> next;
    Probe probe;
    /** Where the far end saw the first answered keep-alive come from (Via received/rport). */
    String seenAt;
  }

  FlowKeepAlive(SipWire engine, ScheduledExecutorService timers, Duration defaultInterval,
      Duration probeTimeout) {
    this(engine, timers, defaultInterval, probeTimeout, new SipStats());
  }

  /** @param stats counts the flows found dead */
  FlowKeepAlive(SipWire engine, ScheduledExecutorService timers, Duration defaultInterval,
      Duration probeTimeout, SipStats stats) {
    this.stats = stats;
    this.engine = engine;
    this.timers = timers;
    this.defaultInterval = defaultInterval;
    this.probeTimeout = probeTimeout;
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
    state.members.add(member);
    if (seenAt != null) {
      state.seenAt = seenAt; // the latest REGISTER knows the current mapping
    }
    // RFC 5626 §4.4.1: send keep-alives at 80-100 % of the Flow-Timer the registrar asked for.
    Duration interval = flowTimer > 0 ? Duration.ofSeconds(flowTimer) : defaultInterval;
    if (state.interval == null || interval.compareTo(state.interval) < 0) {
      state.interval = interval;
      cancel(state.next);
      scheduleProbe(flow, state);
    }
  }

  synchronized void leave(Flow flow, Member member) {
    FlowState state = flows.get(flow);
    if (state != null && state.members.remove(member) && state.members.isEmpty()) {
      stop(state);
      flows.remove(flow);
    }
  }

  /**
   * Adds {@code member} to the NAT pings of {@code flow}: a double CRLF every {@code interval}
   * (jittered 80-100 %), one per flow whatever the number of profiles on it; UDP only (a TCP
   * connection is its own keep-alive here, and a ping must never block the timer thread).
   */
  synchronized void joinNatPing(Flow flow, Member member, Duration interval) {
    if (!ListeningPoint.UDP.equalsIgnoreCase(flow.transport())) {
      return;
    }
    NatPing p = pings.computeIfAbsent(flow, f -> new NatPing());
    if (p.members.add(member) && p.next == null) {
      schedulePing(flow, p, interval);
    }
  }

  synchronized void leaveNatPing(Flow flow, Member member) {
    NatPing p = pings.get(flow);
    if (p != null && p.members.remove(member) && p.members.isEmpty()) {
      cancel(p.next);
      pings.remove(flow);
    }
  }

  synchronized int natPingCount() {
    return pings.size();
  }

  private void schedulePing(Flow flow, NatPing p, Duration interval) {
    long millis = interval.toMillis();
    long delay = (long) (millis * (0.8 + 0.2 * ThreadLocalRandom.current().nextDouble()));
    p.next = timers.schedule(() -> ping(flow, p, interval), delay, TimeUnit.MILLISECONDS);
  }

  private void ping(Flow flow, NatPing p, Duration interval) {
    synchronized (this) {
      if (pings.get(flow) != p) {
        return; // left meanwhile
      }
    }
    engine.ping(flow.endpoint(), flow.host(), flow.port()); // outside the lock
    synchronized (this) {
      if (pings.get(flow) == p) {
        schedulePing(flow, p, interval);
      }
    }
  }

  synchronized int flowCount() {
    return flows.size();
  }

  synchronized void close() {
    flows.values().forEach(this::stop);
    flows.clear();
    pings.values().forEach(p -> cancel(p.next));
    pings.clear();
  }

  private void stop(FlowState state) {
    cancel(state.next);
    if (state.probe != null) {
      cancel(state.probe.timer);
      terminate(state.probe.transaction);
      state.probe = null;
    }
  }

  private void scheduleProbe(Flow flow, FlowState state) {
    long interval = state.interval.toMillis();
    long delay = (long) (interval * (0.8 + 0.2 * ThreadLocalRandom.current().nextDouble()));
    state.next = timers.schedule(() -> probe(flow), delay, TimeUnit.MILLISECONDS);
  }

  /** One keep-alive in flight; compared by identity so that a late answer is ignored. */
  private static final class Probe {
    SipWire.Exchange transaction;
    ScheduledFuture<?> timer;
  }

  private void probe(Flow flow) {
    Probe probe = new Probe();
    synchronized (this) {
      FlowState state = flows.get(flow);
      if (state == null) {
        return;
      }
      state.probe = probe;
      probe.timer = timers.schedule(() -> probeFailed(flow, probe,
          "no answer to the keep-alive within " + probeTimeout.toMillis() + " ms"),
          probeTimeout.toMillis(),
          TimeUnit.MILLISECONDS);
    }
    // Sent outside the lock: the stack may deliver the answer on another thread at once.
    try {
      probe.transaction = engine.send(flow.endpoint(), options(flow),  new SipWire.Handler() {
        @Override
        public void onResponse(SipWire.Exchange transaction, Response response) {
          int code = response.getStatusCode();
          if (code >= 200 && revealsLostBinding(code)) {
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

  /**
   * Whether a keep-alive's answer says the registrar no longer routes to us over this flow: a
   * registrar that implements RFC 5626 strictly answers 403 (or 430 Flow Failed, 404, 481) and
   * has dropped the binding. Any other answer (200, or 405 from one that does no OPTIONS) proves
   * the flow alive.
   */
  static boolean revealsLostBinding(int code) {
    return code == 403 || code == 404 || code == 410 || code == 430 || code == 480
        || code == 481;
  }

  private synchronized void probeAnswered(Flow flow, Probe probe, String seenAt) {
    FlowState state = flows.get(flow);
    if (state != null && state.probe == probe) {
      if (seenAt != null && state.seenAt != null && !seenAt.equals(state.seenAt)) {
        // RFC 5626 §4.4.1: the NAT gave the flow a new mapping (a rebinding); the registrar's
        // binding points at the old one, which nothing reaches any more.
        stats.keepAliveFailed();
        failAll(flow, state, "the NAT mapping changed from " + state.seenAt + " to " + seenAt);
        return;
      }
      if (seenAt != null) {
        state.seenAt = seenAt;
      }
      cancel(probe.timer);
      state.probe = null;
      scheduleProbe(flow, state);
    }
  }

  private synchronized void probeFailed(Flow flow, Probe probe, String why) {
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
    // Members re-register on their own executors; they join again when that succeeds.
    List.copyOf(state.members).forEach(m -> m.flowFailed(flow, why));
  }

  private Request options(Flow flow)
      throws ParseException, javax.sip.InvalidArgumentException, SipException {
    ListeningPoint lp = flow.endpoint().listeningPoint(flow.transport());
    SipURI target = engine.addresses().createSipURI(null, flow.host());
    target.setPort(flow.port());
    if (!ListeningPoint.UDP.equalsIgnoreCase(flow.transport())) {
      target.setTransportParam(flow.transport().toLowerCase(java.util.Locale.ROOT));
    }
    Address agent = engine.addresses().createAddress(
        engine.addresses().createSipURI(null, lp.getIPAddress()));
    ViaHeader via = engine.headers().createViaHeader(lp.getIPAddress(), lp.getPort(),
        flow.transport(), null);
    via.setRPort();
    Request request = engine.messages().createRequest(target, Request.OPTIONS,
        engine.headers().createCallIdHeader(engine.newCallId()),
        engine.headers().createCSeqHeader(1L, Request.OPTIONS),
        engine.headers().createFromHeader(agent,
            Long.toHexString(ThreadLocalRandom.current().nextLong())),
        engine.headers().createToHeader(engine.addresses().createAddress(target), null),
        List.of(via), engine.headers().createMaxForwardsHeader(70));
    request.addHeader(engine.headers().createHeader("User-Agent", engine.userAgent()));
    return request;
  }

  private static void cancel(ScheduledFuture<?> timer) {
    if (timer != null) {
      timer.cancel(false);
    }
  }

  private static void terminate(SipWire.Exchange transaction) {
    if (transaction != null) {
      transaction.abandon();
    }
  }
}
