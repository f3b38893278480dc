package io.sipalr.sip;

import gov.nist.javax.sip.stack.DefaultRouter;
import java.util.ListIterator;
import javax.sip.SipException;
import javax.sip.SipStack;
import javax.sip.address.Hop;
import javax.sip.address.Router;
import javax.sip.message.Request;

/**
 * The SIP stack's router (javax.sip.ROUTER_PATH): a request goes to the address, port and
 * transport the agent resolved for it (RFC 3263, {@link RegistrarTargets}), never to a host name
 * the stack would look up itself, with a blocking A query on the sending thread. Public only
 * because the stack instantiates it by reflection; not an API.
 *
 * <p>The stack asks its router once, when a client transaction is created, on the creating
 * thread: {@link SipEngine#send} sets the hop there for that one call.
 */
public final class ResolvedHopRouter implements Router {
  private static final ThreadLocal<Hop> NEXT = new ThreadLocal<>();
  private final DefaultRouter fallback;

  public ResolvedHopRouter(SipStack stack, String outboundProxy) {
    this.fallback = new DefaultRouter(stack, outboundProxy);
  }

  /** Runs {@code create} with {@code hop} as the next hop of the request it routes. */
  static <T> T via(Hop hop, SipCall<T> create) throws SipException {
    NEXT.set(hop);
    try {
      return create.call();
    } finally {
      NEXT.remove();
    }
  }

  interface SipCall<T> {
    T call() throws SipException;
  }

  @Override
  public Hop getNextHop(Request request) throws SipException {
    Hop hop = NEXT.get();
    return hop != null ? hop : fallback.getNextHop(request);
  }

  @Override
  @SuppressWarnings({"rawtypes", "deprecation"})
  public ListIterator getNextHops(Request request) {
    return fallback.getNextHops(request);
  }

  @Override
  public Hop getOutboundProxy() {
    return fallback.getOutboundProxy();
  }
}
