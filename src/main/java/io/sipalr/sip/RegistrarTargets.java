package io.sipalr.sip;

import io.sipalr.dns.AddressFamily;
import io.sipalr.dns.DnsConfig;
import io.sipalr.dns.DnsException;
import io.sipalr.dns.SipTarget;
import io.sipalr.dns.TargetQuery;
import io.sipalr.dns.TargetResolver;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import javax.sip.address.SipURI;

/**
 * Which server one registration's REGISTERs go to (RFC 3263 §4, §4.3; RFC 5626 §4.5): the next
 * hop's targets in the resolver's order, the one in use, and the move to the next one when a
 * target times out, answers 503 or fails in transport. Sticky: a registration stays with the
 * server that took it (refreshes, moves between uplinks) for as long as that server is among
 * the answers, and starts again from the first target only after all of them failed in one
 * round. Not thread-safe: used on its registration's executor; only the resolver's completion
 * comes from elsewhere, and it is handed over through a volatile field.
 */
final class RegistrarTargets {
  /** Resolves nothing: IP literals only (the scripted tests' registrars). */
  static final TargetResolver LITERALS_ONLY = q -> {
    InetAddress a = DnsConfig.literal(q.host());
    String t = q.transport() != null ? q.transport() : q.secure() ? "tls" : "udp";
    return a == null ? java.util.concurrent.CompletableFuture.failedFuture(new DnsException(
        DnsException.Kind.NO_ANSWER, q.host(), q.host() + ": no resolver", null))
        : java.util.concurrent.CompletableFuture.completedFuture(new TargetResolver.Resolved(
            List.of(new SipTarget(q.host(), a, q.port() > 0 ? q.port() : 5060, t)),
            Instant.MAX));
  };

  private final TargetResolver resolver;
  private final boolean resolveAfterMove;
  private final Clock clock;

  private TargetQuery query;
  private List<SipTarget> targets;
  private Instant expires;
  private int index;
  /** Where the last REGISTER went; {@code null} before the first. */
  private SipTarget sentTo;

  /** A resolution that completed on the resolver's thread, taken over on the executor. */
  private record Delivered(TargetQuery query, TargetResolver.Resolved resolved, Throwable failed) {}

  private volatile Delivered delivered;

  RegistrarTargets(TargetResolver resolver, boolean resolveAfterMove, Clock clock) {
    this.resolver = resolver;
    this.resolveAfterMove = resolveAfterMove;
    this.clock = clock;
  }

  /**
   * The target a REGISTER from {@code from} goes to now; {@code null} while its name is being
   * resolved, and {@code resolved} runs (on a DNS thread) once that is over: ask again then.
   *
   * @throws DnsException when the last resolution failed (no such name, no records, no answer)
   */
  SipTarget target(SipURI nextHop, String transport, SipEngine.Endpoint from, Runnable resolved)
      throws DnsException {
    TargetQuery q = query(nextHop, transport, from);
    Delivered d = delivered;
    if (d != null && d.query().equals(q)) {
      delivered = null;
      if (d.failed() != null) {
        throw asDnsException(q, d.failed());
      }
      adopt(q, d.resolved());
    }
    if (targets != null && q.equals(query) && clock.instant().isBefore(expires)) {
      return use();
    }
    java.util.concurrent.CompletableFuture<TargetResolver.Resolved> f = resolver.resolve(q);
    if (f.isDone()) { // a literal, a cached answer: no wait, no hop to another thread
      try {
        adopt(q, f.join());
      } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException e) {
        throw asDnsException(q, e);
      }
      return use();
    }
    f.whenComplete((r, e) -> {
      delivered = new Delivered(q, r, e);
      resolved.run();
    });
    return null;
  }

  private SipTarget use() {
    sentTo = targets.get(index);
    return sentTo;
  }

  /**
   * Takes a new answer, keeping the server in use when it is still among the targets: after a
   * failover that is the one failed over to, not {@link #sentTo} (the one that just failed),
   * when the answer ran out while its REGISTER waited for the timeout.
   */
  private void adopt(TargetQuery q, TargetResolver.Resolved resolved) {
    List<SipTarget> fresh = resolved.targets();
    SipTarget inUse = sentTo == null || targets == null ? sentTo : targets.get(index);
    int keep = inUse == null ? -1 : fresh.indexOf(inUse);
    query = q;
    targets = fresh;
    expires = resolved.expires();
    index = Math.max(keep, 0);
  }

  /**
   * The current target failed (timeout, 503, transport): move to the next one. False when
   * there is none left in this round: the registration backs off, and its next attempt resolves
   * again and starts from the first target.
   */
  boolean failOver() {
    if (targets != null && index + 1 < targets.size()) {
      index++;
      return true;
    }
    index = 0;
    sentTo = null;
    expires = clock.instant(); // the next round asks the resolver (its cache, or DNS) again
    return false;
  }

  /** The target the next REGISTER goes to after {@link #failOver()}, for messages. */
  SipTarget next() {
    return targets == null ? null : targets.get(index);
  }

  /** The server the last REGISTER went to (the one registered with, once the 200 came). */
  SipTarget sentTo() {
    return sentTo;
  }

  private TargetQuery query(SipURI nextHop, String transport, SipEngine.Endpoint from) {
    InetAddress local = DnsConfig.literal(from.address);
    AddressFamily family = local == null ? AddressFamily.IPV4 : AddressFamily.of(local);
    InetAddress via = resolveAfterMove && local != null && !local.isAnyLocalAddress()
        && !local.isLoopbackAddress() ? local : null;
    String t = nextHop.getTransportParam() != null ? nextHop.getTransportParam() : transport;
    return new TargetQuery(nextHop.getHost(), nextHop.getPort(),
        t == null ? null : t.toLowerCase(Locale.ROOT), nextHop.isSecure(), family, via);
  }

  private static DnsException asDnsException(TargetQuery q, Throwable failure) {
    Throwable cause = failure instanceof java.util.concurrent.CompletionException
        && failure.getCause() != null ? failure.getCause() : failure;
    return cause instanceof DnsException d ? d : new DnsException(DnsException.Kind.NO_ANSWER,
        q.host(), q.host() + ": " + cause, cause);
  }
}
