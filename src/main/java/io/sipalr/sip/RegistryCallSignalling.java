package io.sipalr.sip;

import io.sipalr.profile.SipProfile;
import java.util.Optional;
import java.util.function.Function;
import javax.sip.SipException;
import javax.sip.address.AddressFactory;
import javax.sip.header.HeaderFactory;
import javax.sip.message.MessageFactory;
import javax.sip.message.Request;
import javax.sip.message.Response;

/** {@link CallSignalling} over the registry's transport (the agent's {@link SipEngine}). */
final class RegistryCallSignalling implements CallSignalling {
  private final SipWire wire;
  private final Function<String, Optional<String>> localAddress;
  private final Function<String, Optional<SipProfile>> profiles;
  private final java.util.function.Predicate<String> deleting;
  private final java.util.function.Predicate<String> stopped;
  private final CallHops hops;
  /** Initial INVITEs on their way (at most one per call): where their CANCEL goes. */
  private final java.util.Map<String, InviteFailover> invites =
      new java.util.concurrent.ConcurrentHashMap<>();

  RegistryCallSignalling(SipWire wire, Function<String, Optional<String>> localAddress,
      Function<String, Optional<SipProfile>> profiles,
      java.util.function.Predicate<String> deleting, java.util.function.Predicate<String> stopped,
      CallHops hops) {
    this.wire = wire;
    this.localAddress = localAddress;
    this.profiles = profiles;
    this.deleting = deleting;
    this.stopped = stopped;
    this.hops = hops;
  }

  private record EngineLeg(SipWire wire, SipEngine.Endpoint endpoint) implements Leg {
    @Override
    public String address() {
      return endpoint.address;
    }

    @Override
    public int port() {
      return endpoint.port;
    }

    @Override
    public int port(String transport) {
      javax.sip.ListeningPoint lp = endpoint.listeningPoint(transport);
      return lp != null ? lp.getPort() : endpoint.port;
    }

    @Override
    public void release() {
      wire.release(endpoint);
    }
  }

  @Override
  public AddressFactory addresses() {
    return wire.addresses();
  }

  @Override
  public HeaderFactory headers() {
    return wire.headers();
  }

  @Override
  public MessageFactory messages() {
    return wire.messages();
  }

  @Override
  public String newCallId() {
    return wire.newCallId();
  }

  @Override
  public String userAgent() {
    return wire.userAgent();
  }

  @Override
  public Optional<String> localAddressOf(String profileId) {
    return localAddress.apply(profileId);
  }

  @Override
  public Optional<String> firstHopOf(String profileId) {
    return profiles.apply(profileId).map(p -> p.outboundProxy() != null
        && !p.outboundProxy().isBlank() ? p.outboundProxy() : p.registrar());
  }

  @Override
  public String transportOf(String profileId) {
    return profiles.apply(profileId).map(p -> p.transport().name().toLowerCase(
        java.util.Locale.ROOT)).orElse("udp");
  }

  @Override
  public Optional<String> aorOf(String profileId) {
    return profiles.apply(profileId).map(SipProfile::aor);
  }

  @Override
  public boolean isBeingDeleted(String profileId) {
    return deleting.test(profileId);
  }

  @Override
  public boolean isStopped(String profileId) {
    return stopped.test(profileId);
  }

  @Override
  public Leg acquire(String address) throws SipException {
    return new EngineLeg(wire, wire.acquire(address));
  }

  /**
   * The next hop of a call's request (RFC 3261 §8.1.2, loose routing): its first Route, else its
   * Request-URI; {@link CallHops} resolves it (RFC 3263) before anything is sent.
   */
  static javax.sip.address.SipURI nextHop(Request request) throws SipException {
    javax.sip.header.RouteHeader route =
        (javax.sip.header.RouteHeader) request.getHeader(javax.sip.header.RouteHeader.NAME);
    javax.sip.address.URI target = route != null ? route.getAddress().getURI()
        : request.getRequestURI();
    if (!(target instanceof javax.sip.address.SipURI uri)) {
      throw new SipException("no SIP URI to send " + request.getMethod() + " to: " + target);
    }
    return uri;
  }

  @Override
  public void send(Leg from, Request request, Responses responses) throws SipException {
    SipEngine.Endpoint endpoint = ((EngineLeg) from).endpoint();
    SipWire.Handler handler = new SipWire.Handler() {
      @Override
      public void onResponse(SipWire.Exchange exchange, Response response) {
        responses.onResponse(response);
      }

      @Override
      public void onTimeout(SipWire.Exchange exchange) {
        responses.onTimeout();
      }
    };
    if (isInitialInvite(request)) { // tried on each target in turn (RFC 3263 §4.3)
      hops.sendAll(nextHop(request), endpoint.address, viaTransport(request),
          describe(request), targets -> new InviteFailover(request, targets, responses,
              (r, t, h) -> wire.send(endpoint, r, h, t.transport(), t.host(), t.port()),
              invites).start(), responses::onUnsent);
      return;
    }
    if (Request.CANCEL.equals(request.getMethod())) {
      InviteFailover invite = invites.get(InviteFailover.key(request));
      if (invite != null) { // where the INVITE is now, with its branch there
        io.sipalr.dns.SipTarget t = invite.cancel(request);
        wire.send(endpoint, request, handler, t.transport(), t.host(), t.port());
        return;
      }
    }
    hops.send(nextHop(request), endpoint.address, viaTransport(request), describe(request),
        t -> wire.send(endpoint, request, handler, t.transport(), t.host(), t.port()),
        responses::onUnsent);
  }

  @Override
  public void sendAck(Leg from, Request ack) throws SipException {
    SipEngine.Endpoint endpoint = ((EngineLeg) from).endpoint();
    hops.send(nextHop(ack), endpoint.address, viaTransport(ack), describe(ack),
        t -> wire.sendStateless(endpoint, ack, t.transport(), t.host(), t.port()),
        why -> { }); // a lost ACK: the peer's 2xx comes again and gets it again
  }

  private static boolean isInitialInvite(Request request) {
    return Request.INVITE.equals(request.getMethod())
        && ((javax.sip.header.ToHeader) request.getHeader(javax.sip.header.ToHeader.NAME))
            .getTag() == null;
  }

  /** The call's transport, as its own Via says: for a next hop whose URI names none. */
  private static String viaTransport(Request request) {
    javax.sip.header.ViaHeader via =
        (javax.sip.header.ViaHeader) request.getHeader(javax.sip.header.ViaHeader.NAME);
    return via != null && via.getTransport() != null
        ? via.getTransport().toLowerCase(java.util.Locale.ROOT) : "udp";
  }

  private static String describe(Request request) {
    javax.sip.header.CallIdHeader id =
        (javax.sip.header.CallIdHeader) request.getHeader(javax.sip.header.CallIdHeader.NAME);
    return request.getMethod() + " of call " + (id != null ? id.getCallId() : "?");
  }

  @Override
  public void inboundCalls(InboundCalls handler) {
    wire.inboundCalls(handler);
  }
}
