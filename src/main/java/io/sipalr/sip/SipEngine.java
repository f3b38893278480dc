package io.sipalr.sip;

import java.io.IOException;
import java.net.InetAddress;
import java.util.Properties;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sip.ClientTransaction;
import javax.sip.DialogTerminatedEvent;
import javax.sip.IOExceptionEvent;
import javax.sip.ListeningPoint;
import javax.sip.RequestEvent;
import javax.sip.ResponseEvent;
import javax.sip.SipException;
import javax.sip.SipFactory;
import javax.sip.SipProvider;
import javax.sip.SipStack;
import javax.sip.TimeoutEvent;
import javax.sip.TransactionTerminatedEvent;
import javax.sip.address.AddressFactory;
import javax.sip.address.SipURI;
import javax.sip.header.HeaderFactory;
import javax.sip.message.MessageFactory;
import javax.sip.message.Request;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one JAIN-SIP stack of the agent: its factories, one {@link Endpoint} (a SipProvider with
 * a UDP and a TCP listening point) per local address in use, and the dispatch of what the stack
 * delivers. Responses and timeouts go to the {@link SipWire.Handler} attached to each client
 * transaction; requests from outside go to {@link InboundRequests} (OPTIONS 200, everything else
 * a proper final response, or the calls layer).
 *
 * <p>The anchor endpoint, on the configured local address, lives as long as the engine: deleting
 * the stack's last provider would stop the stack (docs/architecture.md, "JAIN-SIP: pitfalls the
 * code relies on"). Endpoints on other addresses (an IAP's) are reference-counted and deleted,
 * with their TCP connections, when the last registration has left them ({@link Endpoints}).
 */
final class SipEngine implements gov.nist.javax.sip.SipListenerExt, SipWire, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SipEngine.class);
  private static final AtomicInteger stackCount = new AtomicInteger();

  static final String SUPPORTED = "outbound, path";
  /** Largest SIP message received (bytes); see the stack properties. */
  static final int MAX_MESSAGE_SIZE = 16 * 1024;

  /** A request sent through a JAIN-SIP client transaction, and who hears its answers. */
  private record Sent(ClientTransaction transaction, Handler handler) implements Exchange {
    @Override
    public void abandon() {
      try {
        transaction.terminate();
      } catch (javax.sip.ObjectInUseException e) {
        log.debug("could not terminate an abandoned transaction", e);
      }
    }
  }

  /** One local address the agent listens and registers on. */
  static final class Endpoint {
    final String address;
    final int port;
    /** Null for an endpoint of no stack. */
    final SipProvider provider;
    /** Where listening points come from when there is no provider (a scripted wire). */
    private final java.util.function.Function<String, ListeningPoint> detached;
    /** Adds the TLS listening point on first use (most endpoints never need one). */
    private final Endpoints owner;
    /** How many acquired it and have not released it yet; under the owner's lock. */
    int users;
    /**
     * The close of an idle endpoint, pending until its linger is over; null when in use. Under
     * the owner's lock.
     */
    ScheduledFuture<?> closing;

    Endpoint(String address, int port, SipProvider provider, Endpoints owner) {
      this.address = address;
      this.port = port;
      this.provider = provider;
      this.detached = null;
      this.owner = owner;
    }

    /** An endpoint of no stack, for a {@link SipWire} other than the engine (tests). */
    Endpoint(String address, int port,
        java.util.function.Function<String, ListeningPoint> listeningPoints) {
      this.address = address;
      this.port = port;
      this.provider = null;
      this.detached = listeningPoints;
      this.owner = null;
    }

    ListeningPoint listeningPoint(String transport) {
      if (provider == null) {
        return detached.apply(transport);
      }
      ListeningPoint lp = provider.getListeningPoint(transport);
      return lp == null && ListeningPoint.TLS.equalsIgnoreCase(transport)
          ? owner.addTlsListeningPoint(this) : lp;
    }

    @Override
    public String toString() {
      return address + ":" + port;
    }
  }

  final SipStack stack;
  final AddressFactory addresses;
  final HeaderFactory headers;
  final MessageFactory messages;
  private final String userAgent;
  /** Lives as long as the engine (see the class comment). */
  final Endpoint anchor;
  final String localAddress;
  final int port;
  /** Binds, counts and closes the endpoints (and has its own lock). */
  final Endpoints endpoints;
  /** Answers the requests from outside, or hands them on. */
  private final InboundRequests requests;
  /** STUN and CRLF keep-alives on the stack's sockets (RFC 5626 §4.4). */
  private final SipSocketKeepAlives sockets = new SipSocketKeepAlives();
  /** Makes the stack's TLS sockets from the agent's trust (TlsNetworkLayer). */
  private final TlsNetworkLayer tls;
  /** Sets up TCP and TLS connections ahead of the sends that use them. */
  private final FlowConnector connector = new FlowConnector();
  /** Which client certificate the profiles show on each TLS connection (one per link). */
  private final ClientCertificateClaims clientCertificates;

  SipEngine(SipConfig config) throws SipException {
    this(config, null);
  }

  /** @param timers closes idle endpoints after {@code sip.endpoint-linger}; null: at once */
  SipEngine(SipConfig config, ScheduledExecutorService timers) throws SipException {
    SipFactory factory = SipFactory.getInstance();
    factory.setPathName("gov.nist");
    // Each engine gets its own stack: tests run two agents ("two devices") in one JVM.
    Properties p = SipStackProperties.of(config, "sip-alr-agent-" + stackCount.incrementAndGet());
    SipTrust trust;
    try {
      trust = new SipTrust(config.tls());
    } catch (java.security.GeneralSecurityException | IOException e) {
      throw new SipException("cannot set up TLS (" + config.tls() + "): " + e.getMessage(), e);
    }
    clientCertificates = new ClientCertificateClaims(trust.clientCertificates(),
        config.tls().keyStore() != null);
    try {
      stack = TlsNetworkLayer.forStack(new TlsNetworkLayer.Setup(trust, config.tls()),
          () -> factory.createSipStack(p));
      tls = (TlsNetworkLayer) ((gov.nist.javax.sip.SipStackImpl) stack).getNetworkLayer();
      // Before any listening point: every UDP channel takes its parser from it (STUN in).
      ((gov.nist.javax.sip.stack.SIPTransactionStack) stack).setMessageParserFactory(sockets);
      addresses = factory.createAddressFactory();
      headers = factory.createHeaderFactory();
      messages = factory.createMessageFactory();
    } catch (javax.sip.PeerUnavailableException e) {
      throw new SipException("cannot create the SIP stack: " + e.getMessage(), e);
    }
    this.userAgent = config.userAgent();
    // Before the first listening point: the stack may deliver a request from then on.
    requests = new InboundRequests(messages, headers, userAgent, config.maxMessageBody());
    this.localAddress = config.localAddress();
    this.port = config.port() == 0 ? Endpoints.freePort(config.localAddress()) : config.port();
    try {
      endpoints = new Endpoints(stack, this, localAddress, port, timers, config.endpointLinger(),
          config.stackThreads());
      stack.start();
    } catch (SipException e) {
      stack.stop();
      throw e;
    }
    anchor = endpoints.anchor;
    log.info("SIP listening on {}:{} (udp, tcp)", localAddress, port);
  }

  /** TLS connections set up so far, and how many of their handshakes resumed a session. */
  long tlsConnections() {
    return tls.connections();
  }

  long tlsResumedSessions() {
    return tls.resumedSessions();
  }
  /**
   * The endpoint on {@code address}, created on first use (on the engine's port if it is free
   * there, else on a free one). Each call must be paired with one {@link #release}. Fails when
   * the address is not (yet) local: bind only once the mobility layer says the IAP is active.
   */
  @Override
  public Endpoint acquire(String address) throws SipException {
    return endpoints.acquire(address);
  }

  /** Gives an endpoint back; the last user of a non-anchor endpoint deletes it. */
  @Override
  public void release(Endpoint e) {
    endpoints.release(e);
  }

  /** Endpoints in use now, the anchor included (for leak checks); idle ones are not counted. */
  @Override
  public int endpointCount() {
    return endpoints.endpointCount();
  }

  /** Endpoints bound now, idle ones waiting out their linger included. */
  @Override
  public int boundEndpointCount() {
    return endpoints.boundEndpointCount();
  }

  /**
   * Sends {@code request} from {@code endpoint} in a new client transaction whose events go to
   * {@code handler}.
   */
  @Override
  public Exchange send(Endpoint endpoint, Request request, Handler handler,
      String transport, String remoteHost, int remotePort) throws SipException {
    if (ListeningPoint.TCP.equalsIgnoreCase(transport)) {
      endpoints.claimConnection(endpoint, ListeningPoint.TCP, remoteHost, remotePort);
    } else if (ListeningPoint.TLS.equalsIgnoreCase(transport)) {
      // One sender at a time per TLS remote: the stack caches one connection per remote,
      // whatever the local address, so a send from another uplink in between would hand its
      // connection to this request (or take this one's).
      synchronized (tlsSendLock(remoteHost, remotePort)) {
        endpoints.claimConnection(endpoint, ListeningPoint.TLS, remoteHost, remotePort);
        expectDomain(endpoint, request, remoteHost, remotePort);
        return sendInTransaction(endpoint, request, handler, transport, remoteHost, remotePort);
      }
    }
    return sendInTransaction(endpoint, request, handler, transport, remoteHost, remotePort);
  }

  @Override
  public java.util.concurrent.CompletableFuture<Void> connect(Endpoint from, String transport,
      String host, int remotePort, String domain, String profileId, String certificate) {
    boolean overTls = ListeningPoint.TLS.equalsIgnoreCase(transport);
    if (!overTls && !ListeningPoint.TCP.equalsIgnoreCase(transport)) {
      return java.util.concurrent.CompletableFuture.completedFuture(null);
    }
    InetAddress remote;
    InetAddress local;
    try {
      remote = io.sipalr.mobility.IpLiterals.parse(host);
      local = io.sipalr.mobility.IpLiterals.parse(from.address);
    } catch (IllegalArgumentException e) {
      return java.util.concurrent.CompletableFuture.failedFuture(
          new IOException(transport + " needs a resolved address, not " + host, e));
    }
    String name = domain.startsWith("[") && domain.endsWith("]")
        ? domain.substring(1, domain.length() - 1) : domain;
    String shown = overTls && certificate != null ? certificate
        : ClientCertificateClaims.DEFAULT;
    if (overTls) {
      SipTrust.Refused refused = clientCertificates.claim(profileId, shown,
          new java.net.InetSocketAddress(remote, remotePort), local, name);
      if (refused != null) {
        return java.util.concurrent.CompletableFuture.failedFuture(
            new IOException(refused.getMessage(), refused));
      }
    }
    if (tls.connected(remote, remotePort, local, shown)) {
      return java.util.concurrent.CompletableFuture.completedFuture(null);
    }
    return connector.connect(new FlowConnector.Link(
            new java.net.InetSocketAddress(remote, remotePort), local, overTls, shown),
        () -> tls.connectAhead(remote, remotePort, local, overTls, name, shown));
  }

  @Override
  public void releaseClientCertificate(String profileId) {
    clientCertificates.release(profileId);
  }

  /** Per TLS remote; bounded by the registrars and proxies in use. */
  private final java.util.concurrent.ConcurrentHashMap<String, Object> tlsSendLocks =
      new java.util.concurrent.ConcurrentHashMap<>();

  private Object tlsSendLock(String host, int remotePort) {
    return tlsSendLocks.computeIfAbsent(host + ":" + remotePort, k -> new Object());
  }

  private Exchange sendInTransaction(Endpoint endpoint, Request request, Handler handler,
      String transport, String remoteHost, int remotePort) throws SipException {
    // remoteHost is an address (RegistrarTargets resolved it): the stack keys its TCP
    // connections by address, and so does claimConnection above.
    ClientTransaction transaction = ResolvedHopRouter.via(
        new gov.nist.javax.sip.stack.HopImpl(remoteHost, remotePort, transport),
        () -> endpoint.provider.getNewClientTransaction(request));
    // Each retransmission is told (Timeout.RETRANSMIT), so that it can be counted.
    ((gov.nist.javax.sip.ClientTransactionExt) transaction).setNotifyOnRetransmit(true);
    Sent sent = new Sent(transaction, handler);
    transaction.setApplicationData(sent); // before sending: the answer may come at once
    transaction.sendRequest();
    return sent;
  }

  /**
   * The certificate of a TLS connection to {@code address} must name the SIP domain the
   * request is for (RFC 5922 §4.1: the host of the URI the request goes to, its first Route
   * (an outbound proxy) else its Request-URI, as given before RFC 3263 resolved it to
   * {@code address}). A request addressed to the literal itself (a flow keep-alive) keeps the
   * domain the REGISTER set: it runs over the connection that REGISTER verified.
   */
  private void expectDomain(Endpoint from, Request request, String address, int remotePort)
      throws SipException {
    javax.sip.header.RouteHeader route =
        (javax.sip.header.RouteHeader) request.getHeader(javax.sip.header.RouteHeader.NAME);
    javax.sip.address.URI uri = route != null ? route.getAddress().getURI()
        : request.getRequestURI();
    String domain = uri.isSipURI() ? ((SipURI) uri).getHost() : address;
    if (domain.startsWith("[") && domain.endsWith("]")) {
      domain = domain.substring(1, domain.length() - 1);
    }
    try {
      InetAddress remote = io.sipalr.mobility.IpLiterals.parse(address);
      String registered = tls.expectedDomain(remote, remotePort);
      if (registered != null && RegisterRequests.sameHost(domain, address)) {
        domain = registered;
      }
      tls.expect(remote, remotePort, domain, io.sipalr.mobility.IpLiterals.parse(from.address));
    } catch (IllegalArgumentException e) {
      throw new SipException("TLS needs a resolved address, not " + address, e);
    }
  }

  @Override
  public Endpoint anchor() {
    return anchor;
  }

  @Override
  public String localAddress() {
    return localAddress;
  }

  @Override
  public int port() {
    return port;
  }

  @Override
  public AddressFactory addresses() {
    return addresses;
  }

  @Override
  public HeaderFactory headers() {
    return headers;
  }

  @Override
  public MessageFactory messages() {
    return messages;
  }

  @Override
  public String newCallId() {
    return anchor.provider.getNewCallId().getCallId();
  }

  @Override
  public String userAgent() {
    return userAgent;
  }

  @Override
  public void processResponse(ResponseEvent event) {
    ClientTransaction transaction = event.getClientTransaction();
    InboundCalls calls = requests.calls();
    if (transaction != null && transaction.getApplicationData() instanceof Sent sent) {
      sent.handler().onResponse(sent, event.getResponse());
    } else if (calls != null) {
      calls.onStrayResponse(event.getResponse()); // a 2xx retransmission to an INVITE
    } else {
      log.debug("response without a transaction of ours: {}", event.getResponse().getStatusCode());
    }
  }

  @Override
  public void processTimeout(TimeoutEvent event) {
    ClientTransaction transaction = event.getClientTransaction();
    if (transaction != null && transaction.getApplicationData() instanceof Sent sent) {
      if (event.getTimeout() == javax.sip.Timeout.RETRANSMIT) {
        sent.handler().onRetransmit(sent); // still waiting for an answer
      } else {
        sent.handler().onTimeout(sent);
      }
    }
  }

  @Override
  public void ping(Endpoint from, String host, int port) {
    ListeningPoint lp = from.listeningPoint(ListeningPoint.UDP);
    try {
      ((gov.nist.javax.sip.ListeningPointExt) lp).sendHeartbeat(host, port);
    } catch (java.io.IOException | RuntimeException e) {
      log.debug("keep-alive ping from {} to {}:{} not sent: {}", from, host, port,
          e.getMessage());
    }
  }

  @Override
  public void stunRequest(Endpoint from, String host, int port, StunMessage request) {
    sockets.sendStun(from.listeningPoint(ListeningPoint.UDP), host, port, request);
  }

  @Override
  public void crlfPing(Endpoint from, String transport, String host, int port) {
    tls.crlf().ping(from.address, from.port, transport, host, port);
  }

  @Override
  public void closeConnection(Endpoint from, String transport, String host, int port) {
    tls.crlf().close(from.address, transport, host, port);
  }

  @Override
  public void keepAliveAnswers(KeepAliveAnswers answers) {
    sockets.answers(answers);
    tls.crlf().answers(answers);
  }

  @Override
  public void inbound(Inbound handler) {
    requests.inbound(handler);
  }

  /** INVITE dialogs' requests go to {@code handler} first when set (io.sipalr.calls). */
  @Override
  public void inboundCalls(InboundCalls handler) {
    requests.calls(handler);
  }

  @Override
  public void sendStateless(Endpoint from, Request request) throws SipException {
    from.provider.sendRequest(request);
  }

  @Override
  public void sendStateless(Endpoint from, Request request, String transport, String host,
      int port) throws SipException {
    ResolvedHopRouter.via(new gov.nist.javax.sip.stack.HopImpl(host, port, transport), () -> {
      from.provider.sendRequest(request); // the stack asks its router here, on this thread
      return null;
    });
  }

  @Override
  public void processRequest(RequestEvent event) {
    requests.answer(event);
  }

  @Override
  public void processIOException(IOExceptionEvent event) {
    log.debug("transport error towards {}:{}/{}", event.getHost(), event.getPort(),
        event.getTransport());
  }

  @Override public void processTransactionTerminated(TransactionTerminatedEvent event) {}
  @Override public void processDialogTerminated(DialogTerminatedEvent event) {}
  @Override public void processDialogTimeout(gov.nist.javax.sip.DialogTimeoutEvent event) {}

  @Override
  public void close() {
    endpoints.close(); // first: no endpoint close, and no UDP receiver start, meets the stop
    connector.close();
    tls.crlf().close();
    stack.stop();
    log.info("SIP stack on {}:{} stopped", localAddress, port);
  }
}
