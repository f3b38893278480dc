package io.sipalr.sip;

import io.sipalr.dns.AddressFamily;
import io.sipalr.dns.DnsConfig;
import io.sipalr.dns.DnsException;
import io.sipalr.dns.SipTarget;
import io.sipalr.dns.TargetQuery;
import io.sipalr.dns.TargetResolver;
import java.net.InetAddress;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import javax.sip.SipException;
import javax.sip.address.SipURI;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where a call's request goes (docs/calls.md, "Next hops"): its next hop (first Route, else
 * Request-URI) resolved by RFC 3263 with the registry's own resolver, as a REGISTER's is. An
 * address, or a name whose answer is cached, is sent at once on the caller's thread; a name
 * that needs DNS is sent when the answer comes, on the SIP workers: no SIP, timer or calls
 * thread ever waits for DNS. Calls use the hop URI's transport, else the call's own (its Via's:
 * the profile's). A request goes to the first target; an initial INVITE may go on to the next
 * ({@link InviteFailover}).
 */
final class CallHops {
  private static final Logger log = LoggerFactory.getLogger(CallHops.class);

  private final TargetResolver resolver;
  private final Executor continueOn;

  CallHops(TargetResolver resolver, Executor continueOn) {
    this.resolver = resolver;
    this.continueOn = continueOn;
  }

  /** Sends to one resolved target. */
  @FunctionalInterface
  interface Sender {
    void send(SipTarget target) throws SipException;
  }

  /** Sends to the resolved targets, best first (never empty): to try one after another. */
  @FunctionalInterface
  interface Targets {
    void send(List<SipTarget> targets) throws SipException;
  }

  /**
   * Runs {@code sender} with {@code hop}'s first target from {@code from}: now when the answer
   * is at hand (its failures thrown here), else later, and then a failure goes to
   * {@code unsent} with why.
   *
   * @throws SipException when the name did not resolve, or the send failed, at once
   */
  void send(SipURI hop, String from, String what, Sender sender, Consumer<String> unsent)
      throws SipException {
    send(hop, from, "udp", what, sender, unsent);
  }

  /** As above, over {@code transport} when the hop's URI names none (the call's own). */
  void send(SipURI hop, String from, String transport, String what, Sender sender,
      Consumer<String> unsent) throws SipException {
    sendAll(hop, from, transport, what, targets -> sender.send(targets.get(0)), unsent);
  }

  /** As {@link #send}, with every target of the answer, best first (RFC 3263 §4.3 order). */
  void sendAll(SipURI hop, String from, String transport, String what, Targets sender,
      Consumer<String> unsent) throws SipException {
    TargetQuery q = query(hop, from, transport);
    CompletableFuture<TargetResolver.Resolved> f = resolver.resolve(q);
    if (f.isDone()) {
      try {
        sender.send(targets(q, f.join()));
      } catch (CompletionException | java.util.concurrent.CancellationException e) {
        throw new SipException(why(q, e));
      }
      return;
    }
    f.whenCompleteAsync((resolved, failure) -> {
      String why;
      try {
        if (failure == null) {
          sender.send(targets(q, resolved));
          return;
        }
        why = why(q, failure);
      } catch (SipException | RuntimeException e) {
        why = e.getMessage();
      }
      log.warn("{} not sent: {}", what, why);
      unsent.accept(why);
    }, continueOn);
  }

  private static List<SipTarget> targets(TargetQuery q, TargetResolver.Resolved resolved) {
    if (resolved.targets().isEmpty()) {
      throw new CompletionException(new DnsException(DnsException.Kind.NO_RECORDS, q.host(),
          q.host() + ": no SIP server for " + q.transport(), null));
    }
    return resolved.targets();
  }

  static TargetQuery query(SipURI hop, String from, String callTransport) {
    InetAddress local = DnsConfig.literal(from);
    AddressFamily family = local == null ? AddressFamily.IPV4 : AddressFamily.of(local);
    String transport = hop.getTransportParam() != null ? hop.getTransportParam()
        : callTransport;
    return new TargetQuery(hop.getHost(), hop.getPort(), transport.toLowerCase(Locale.ROOT),
        hop.isSecure(), family, null);
  }

  private static String why(TargetQuery q, Throwable failure) {
    Throwable cause = failure instanceof CompletionException && failure.getCause() != null
        ? failure.getCause() : failure;
    String text = cause.getMessage() != null ? cause.getMessage() : cause.toString();
    return "the next hop " + q.host() + " did not resolve: " + text;
  }
}
