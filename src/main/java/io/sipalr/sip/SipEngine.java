package io.sipalr.sip;

import gov.nist.javax.sip.ListeningPointImpl;
import gov.nist.javax.sip.stack.UDPMessageProcessor;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.InetAddress;
import java.text.ParseException;
import java.time.Duration;
import java.util.OptionalInt;
import java.util.Properties;
import java.util.TooManyListenersException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import javax.sip.ClientTransaction;
import javax.sip.DialogTerminatedEvent;
import javax.sip.IOExceptionEvent;
import javax.sip.ListeningPoint;
import javax.sip.RequestEvent;
import javax.sip.ResponseEvent;
import javax.sip.SipException;
import javax.sip.SipFactory;
import javax.sip.SipListener;
import javax.sip.ServerTransaction;
import javax.sip.SipProvider;
import javax.sip.SipStack;
import javax.sip.TimeoutEvent;
import javax.sip.TransactionTerminatedEvent;
import javax.sip.address.AddressFactory;
import javax.sip.address.SipURI;
import javax.sip.header.CallIdHeader;
import javax.sip.header.ContentTypeHeader;
import javax.sip.header.FromHeader;
import javax.sip.header.HeaderFactory;
import javax.sip.header.ToHeader;
import javax.sip.header.ViaHeader;
import javax.sip.message.MessageFactory;
import javax.sip.message.Request;
import javax.sip.message.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one JAIN-SIP stack of the agent: its factories, one {@link Endpoint} (a SipProvider with
 * a UDP and a TCP listening point) per local address in use, and the dispatch of what the stack
 * delivers. Responses and timeouts go to the {@link SipWire.Handler} attached to each client
 * transaction; requests from outside are answered here (OPTIONS 200, everything else a proper
 * final response).
 *
 * <p>The anchor endpoint, on the configured local address, lives as long as the engine: deleting
 * the stack's last provider would stop the stack (docs/architecture.md, "JAIN-SIP: pitfalls the
 * code relies on"). Endpoints on other addresses (an IAP's) are reference-counted and deleted,
 * with their TCP connections, when the last registration has left them.
 */
final class SipEngine implements gov.nist.javax.sip.SipListenerExt, SipWire, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SipEngine.class);
  private static final AtomicInteger stackCount = new AtomicInteger();
  /** UDPMessageProcessor.messageChannels, set by the receiver's thread when it starts. */
  private static final VarHandle UDP_CHANNELS;
  private static final Duration RECEIVER_START_LIMIT = Duration.ofSeconds(2);
  private static final long RECEIVER_START_POLL_NANOS = 50_000;
  /** Idle endpoints waiting for the closer at most; beyond, a close is tried again later. */
  private static final int CLOSER_QUEUE = 1024;
  private static final long CLOSER_BUSY_RETRY_MS = 1_000;

  static {
    try {
      UDP_CHANNELS = MethodHandles.privateLookupIn(UDPMessageProcessor.class,
          MethodHandles.lookup()).findVarHandle(UDPMessageProcessor.class, "messageChannels",
          java.util.LinkedList.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** Methods this agent answers itself; listed in Allow. */
  static final String ALLOW = "OPTIONS, MESSAGE";
  static final String SUPPORTED = "outbound, path";
  /** Largest SIP message received (bytes); see the stack properties. */
  static final int MAX_MESSAGE_SIZE = 16 * 1024;

  private final int maxMessageBody;
  /** Requests from outside for a profile; none known until the registry says (then 404). */
  private volatile Inbound inbound = new Inbound() {
    @Override
    public boolean knows(String profileId) {
      return false;
    }

    @Override
    public void message(IncomingMessage message) {
    }
  };

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
    private final SipProvider provider;
    /** Where listening points come from when there is no provider (a scripted wire). */
    private final java.util.function.Function<String, ListeningPoint> detached;
    /** Adds the TLS listening point on first use (most endpoints never need one). */
    private final SipEngine engine;
    private int users;
    /** The close of an idle endpoint, pending until its linger is over; null when in use. */
    private ScheduledFuture<?> closing;

    private Endpoint(String address, int port, SipProvider provider, SipEngine engine) {
      this.address = address;
      this.port = port;
      this.provider = provider;
      this.detached = null;
      this.engine = engine;
    }

    /** An endpoint of no stack, for a {@link SipWire} other than the engine (tests). */
    Endpoint(String address, int port,
        java.util.function.Function<String, ListeningPoint> listeningPoints) {
      this.address = address;
      this.port = port;
      this.provider = null;
      this.detached = listeningPoints;
      this.engine = null;
    }

    ListeningPoint listeningPoint(String transport) {
      if (provider == null) {
        return detached.apply(transport);
      }
      ListeningPoint lp = provider.getListeningPoint(transport);
      return lp == null && ListeningPoint.TLS.equalsIgnoreCase(transport)
          ? engine.addTlsListeningPoint(this) : lp;
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
  private final java.util.Map<String, Endpoint> endpoints = new java.util.HashMap<>();
  /** A TCP or TLS peer: the registrar or outbound proxy a connection goes to. */
  private record Remote(String transport, String host, int port) {
    @Override
    public String toString() {
      return host + ":" + port + "/" + transport;
    }
  }

  /**
   * Which endpoint last sent over TCP to each remote. JAIN-SIP caches outgoing TCP connections
   * by remote address only, so a REGISTER from a new endpoint would otherwise reuse the old
   * endpoint's connection, and its source address (docs/architecture.md, JAIN-SIP pitfalls).
   */
  private final java.util.Map<Remote, Endpoint> tcpSenders = new java.util.HashMap<>();
  private final ScheduledExecutorService timers;
  private final Duration linger;
  /** JAIN-SIP's UDP channel threads per endpoint ({@code sip.stack-threads}). */
  private final int stackThreads;
  /**
   * Closes endpoints whose linger is over: a close joins JAIN-SIP's threads and can take up to
   * {@link #RECEIVER_START_LIMIT}, which the shared timer thread (every profile's refresh and
   * retry) must never wait for. One daemon thread, started on first use, bounded queue.
   */
  private final java.util.concurrent.ThreadPoolExecutor closer =
      new java.util.concurrent.ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS,
          new java.util.concurrent.ArrayBlockingQueue<>(CLOSER_QUEUE),
          io.sipalr.concurrent.DaemonThreads.named("sip-closer"));
  /** STUN and CRLF keep-alives on the stack's sockets (RFC 5626 §4.4). */
  private final SipSocketKeepAlives sockets = new SipSocketKeepAlives();
  /** Runs at the start of every endpoint close: a test makes a close slow with it. */
  volatile Runnable beforeClose;
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
    this.timers = timers;
    this.maxMessageBody = config.maxMessageBody();
    this.linger = config.endpointLinger();
    this.stackThreads = config.stackThreads();
    SipFactory factory = SipFactory.getInstance();
    factory.setPathName("gov.nist");
    Properties p = new Properties();
    // Each engine gets its own stack: tests run two agents ("two devices") in one JVM.
    p.setProperty("javax.sip.STACK_NAME", "sip-alr-agent-" + stackCount.incrementAndGet());
    p.setProperty("javax.sip.AUTOMATIC_DIALOG_SUPPORT", "off");
    // Every request goes where the agent resolved it (RFC 3263): the stack resolves no names.
    p.setProperty("javax.sip.ROUTER_PATH", ResolvedHopRouter.class.getName());
    p.setProperty("javax.sip.USE_ROUTER_FOR_ALL_URIS", "true");
    p.setProperty("gov.nist.javax.sip.STACK_LOGGER", Slf4jStackLogger.class.getName());
    p.setProperty("gov.nist.javax.sip.SERVER_LOGGER", Slf4jServerLogger.class.getName());
    p.setProperty("gov.nist.javax.sip.TRACE_LEVEL", "DEBUG"); // filtered by the SLF4J levels
    p.setProperty("gov.nist.javax.sip.LOG_MESSAGE_CONTENT", "true");
    // Events are handed straight to per-profile serial executors, so a few threads suffice.
    p.setProperty("gov.nist.javax.sip.REENTRANT_LISTENER", "true");
    p.setProperty("gov.nist.javax.sip.THREAD_POOL_SIZE", Integer.toString(config.stackThreads()));
    // The default (blocking) TCP processor: a thread per TCP connection, and connections are
    // per registrar and local address, never per profile. The NIO processor in 1.3.0-91 races
    // when it opens a connection ("Old socket different than new socket") and loses responses.
    // Thousands of profiles may each have a REGISTER in flight.
    p.setProperty("gov.nist.javax.sip.MAX_CLIENT_TRANSACTIONS", "100000");
    p.setProperty("gov.nist.javax.sip.MAX_SERVER_TRANSACTIONS", "100000");
    // A finished transaction lets go of its request (memory during a storm of thousands), and,
    // unlike AGGRESSIVE_CLEANUP ("Normal"), keeps no copy of it encoded to bytes for reparsing:
    // we never read a transaction's request back, and that copy cost an encode per REGISTER.
    p.setProperty("gov.nist.javax.sip.RELEASE_REFERENCES_STRATEGY", "Aggressive");
    // The UDP reader allocates a buffer of this size for every datagram (64 KiB by default:
    // over a gigabyte a second, and most of the CPU, in a storm of 20,000 answers a second).
    // A registering agent's messages are far smaller; it also caps a TCP message's size.
    p.setProperty("gov.nist.javax.sip.MAX_MESSAGE_SIZE", Integer.toString(MAX_MESSAGE_SIZE));
    // The stack asks for a 64 KiB socket receive buffer, below Linux's default: a window of a
    // few hundred answers arriving together overflows it. The kernel caps this at rmem_max.
    p.setProperty("gov.nist.javax.sip.RECEIVE_UDP_BUFFER_SIZE", Integer.toString(1 << 20));
    // TLS (docs/registration.md, "TLS"): our sockets and trust, TLS 1.2+ only, bounded handshake.
    p.setProperty("gov.nist.javax.sip.NETWORK_LAYER", TlsNetworkLayer.class.getName());
    p.setProperty("gov.nist.javax.sip.TLS_CLIENT_PROTOCOLS", "TLSv1.2,TLSv1.3");
    p.setProperty("gov.nist.javax.sip.SSL_HANDSHAKE_TIMEOUT",
        Long.toString(config.tls().handshakeTimeout().toMillis()));
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
    this.localAddress = config.localAddress();
    this.port = config.port() == 0 ? freePort(config.localAddress()) : config.port();
    try {
      anchor = createEndpoint(localAddress, port);
      stack.start();
    } catch (SipException e) {
      stack.stop();
      throw e;
    }
    endpoints.put(localAddress, anchor);
    log.info("SIP listening on {}:{} (udp, tcp)", localAddress, port);
  }

  private Endpoint createEndpoint(String address, int portNumber) throws SipException {
    try {
      ListeningPoint udp = stack.createListeningPoint(address, portNumber, ListeningPoint.UDP);
      ListeningPoint tcp;
      try {
        tcp = stack.createListeningPoint(address, portNumber, ListeningPoint.TCP);
      } catch (javax.sip.InvalidArgumentException e) {
        deleteListeningPoint(udp);
        deleteFailedListeningPoint(address, portNumber, ListeningPoint.TCP);
        throw e;
      }
      SipProvider provider = stack.createSipProvider(udp);
      provider.addListeningPoint(tcp);
      provider.addSipListener(this);
      return new Endpoint(address, portNumber, provider, this);
    } catch (javax.sip.InvalidArgumentException | javax.sip.ObjectInUseException
        | TooManyListenersException e) {
      throw new SipException("cannot listen on " + address + ":" + portNumber + ": "
          + e.getMessage(), e);
    }
  }

  /**
   * The TLS listening point of {@code e}, added on its first TLS use: on the next port when
   * free (5061 beside 5060), else on a free one (TLS needs its own TCP port).
   */
  private synchronized ListeningPoint addTlsListeningPoint(Endpoint e) {
    ListeningPoint lp = e.provider.getListeningPoint(ListeningPoint.TLS);
    if (lp != null) {
      return lp;
    }
    try {
      try {
        lp = stack.createListeningPoint(e.address, e.port + 1, ListeningPoint.TLS);
      } catch (javax.sip.InvalidArgumentException taken) {
        deleteFailedListeningPoint(e.address, e.port + 1, ListeningPoint.TLS);
        lp = stack.createListeningPoint(e.address, freePort(e.address), ListeningPoint.TLS);
      }
      e.provider.addListeningPoint(lp);
      log.info("SIP listening on {}:{} (tls)", e.address, lp.getPort());
      return lp;
    } catch (SipException | javax.sip.InvalidArgumentException ex) {
      log.warn("no TLS listening point on {}: {}", e, ex.getMessage());
      return null;
    }
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
  public synchronized Endpoint acquire(String address) throws SipException {
    Endpoint e = endpoints.get(address);
    if (e != null && e.closing != null) {
      e.closing.cancel(false); // back within the linger: no bind, no new threads
      e.closing = null;
    }
    if (e == null) {
      long started = System.nanoTime();
      try {
        e = createEndpoint(address, port);
      } catch (SipException portTaken) {
        log.debug("SIP endpoint on {}:{} failed ({}); trying a free port", address, port,
            portTaken.getMessage());
        e = createEndpoint(address, freePort(address));
      }
      endpoints.put(address, e);
      log.info("SIP listening on {} (udp, tcp) after {} µs", e,
          (System.nanoTime() - started) / 1000);
    }
    e.users++;
    return e;
  }

  /** Gives an endpoint back; the last user of a non-anchor endpoint deletes it. */
  @Override
  public synchronized void release(Endpoint e) {
    if (--e.users > 0 || e == anchor) {
      return;
    }
    if (linger.isZero() || timers == null) {
      close(e);
      return;
    }
    // Idle: its TCP connections go now (the network under them may be gone), its sockets stay
    // bound for a while, so that a carrier coming back (a roaming device's daily back and
    // forth, a flapping link) needs no bind and no new stack threads before its REGISTER.
    tcpSenders.entrySet().removeIf(sender -> {
      boolean ours = sender.getValue() == e;
      if (ours) {
        closeConnection(e, sender.getKey());
      }
      return ours;
    });
    e.closing = timers.schedule(() -> handToCloser(e), linger.toMillis(), TimeUnit.MILLISECONDS);
    log.debug("SIP endpoint {} idle; closed in {} unless used again", e, linger);
  }

  /** On the timer thread: the close itself runs on the closer, never here. */
  private void handToCloser(Endpoint e) {
    try {
      closer.execute(() -> closeIfIdle(e));
    } catch (java.util.concurrent.RejectedExecutionException busy) {
      if (closer.isShutdown()) {
        return; // the engine is closing: the stack's stop takes every endpoint along
      }
      synchronized (this) {
        if (e.users == 0 && e.closing != null && endpoints.get(e.address) == e) {
          log.debug("SIP endpoint {}: {} closes waiting; trying again in {} ms", e, CLOSER_QUEUE,
              CLOSER_BUSY_RETRY_MS);
          e.closing = timers.schedule(() -> handToCloser(e), CLOSER_BUSY_RETRY_MS,
              TimeUnit.MILLISECONDS);
        }
      }
    }
  }

  private synchronized void closeIfIdle(Endpoint e) {
    if (e.users == 0 && e.closing != null && endpoints.get(e.address) == e) {
      e.closing = null;
      close(e);
    }
  }

  private void close(Endpoint e) {
    Runnable hook = beforeClose;
    if (hook != null) {
      hook.run();
    }
    endpoints.remove(e.address, e);
    tcpSenders.values().removeIf(sender -> sender == e);
    try {
      e.provider.removeSipListener(this);
      ListeningPoint[] points = e.provider.getListeningPoints();
      for (ListeningPoint lp : points) {
        e.provider.removeListeningPoint(lp);
      }
      stack.deleteSipProvider(e.provider);
      // Deleting the listening points closes their sockets and cached TCP connections.
      for (ListeningPoint lp : points) {
        deleteListeningPoint(lp);
      }
      log.info("SIP endpoint {} closed", e);
    } catch (javax.sip.ObjectInUseException ex) {
      log.warn("SIP endpoint {} not fully closed: {}", e, ex.getMessage());
    }
  }

  /** Deletes a listening point, its socket and threads, however recently it was created. */
  private void deleteListeningPoint(ListeningPoint lp) throws javax.sip.ObjectInUseException {
    awaitUdpReceiverStarted(lp, stackThreads);
    try {
      stack.deleteListeningPoint(lp);
    } catch (RuntimeException stopFailed) {
      // The processor's stop() threw after the stack had dropped it from its processors, but
      // before the listening point left the stack's table: a second delete only does the latter.
      log.debug("SIP listening point {}:{}/{} stopped with {}; deleting it again",
          lp.getIPAddress(), lp.getPort(), lp.getTransport(), stopFailed.toString());
      stack.deleteListeningPoint(lp);
    }
  }

  /**
   * JAIN-SIP registers a TCP listening point before binding its socket and keeps it when the
   * bind fails ("Address already in use": a socket closed a moment ago may still hold the port,
   * its close deferred until the accept thread wakes). Left there, the next listen on that
   * address and port would get this socket-less point back.
   */
  private void deleteFailedListeningPoint(String address, int portNumber, String transport)
      throws javax.sip.ObjectInUseException {
    java.util.Iterator<?> points = stack.getListeningPoints();
    java.util.List<ListeningPoint> failed = new java.util.ArrayList<>();
    while (points.hasNext()) {
      ListeningPoint lp = (ListeningPoint) points.next();
      if (lp.getPort() == portNumber && lp.getTransport().equalsIgnoreCase(transport)
          && lp.getIPAddress().equals(address)) {
        failed.add(lp);
      }
    }
    for (ListeningPoint lp : failed) {
      deleteListeningPoint(lp);
    }
  }

  /**
   * Waits until JAIN-SIP's UDP receiver of {@code lp} has started. The receiver creates its
   * channel list (one thread per {@code sip.stack-threads}) on its own thread, and a stop() before
   * or while it does throws half-way (NPE, ConcurrentModificationException), leaving the listening
   * point registered and channel threads blocked for ever: an endpoint released right after its
   * bind hit it. Takes microseconds after a bind; bounded, so a stuck thread cannot hang a close.
   */
  private static void awaitUdpReceiverStarted(ListeningPoint lp, int channels) {
    if (!(lp instanceof ListeningPointImpl impl)
        || !(impl.getMessageProcessor() instanceof UDPMessageProcessor udp)) {
      return;
    }
    long deadline = System.nanoTime() + RECEIVER_START_LIMIT.toNanos();
    while (!receiverStarted(udp, channels)) {
      if (System.nanoTime() > deadline) {
        log.warn("SIP UDP receiver on {}:{} has not started after {}; closing it anyway",
            lp.getIPAddress(), lp.getPort(), RECEIVER_START_LIMIT);
        return;
      }
      LockSupport.parkNanos(RECEIVER_START_POLL_NANOS);
    }
  }

  private static boolean receiverStarted(UDPMessageProcessor udp, int channels) {
    java.util.LinkedList<?> list = (java.util.LinkedList<?>) UDP_CHANNELS.getVolatile(udp);
    // Complete once it holds them all: nothing adds to it afterwards. The size is re-read after
    // each park; should a stale one slip through, deleteListeningPoint's retry still cleans up.
    return list != null && list.size() >= channels;
  }

  /**
   * Closes another endpoint's TCP or TLS connection to the remote before {@code endpoint} uses
   * it: the new flow is a new connection from the new uplink.
   */
  private synchronized void claimConnection(Endpoint endpoint, String transport, String host,
      int remotePort) {
    Remote remote = new Remote(transport, host, remotePort);
    Endpoint previous = tcpSenders.put(remote, endpoint);
    if (previous != null && previous != endpoint) {
      boolean closed = closeConnection(previous, remote);
      log.debug("{} to {} moves from {} to {} (old connection closed: {})", transport, remote,
          previous, endpoint, closed);
    }
  }

  /** Closes {@code from}'s cached connection to {@code remote}; false if there was none. */
  private boolean closeConnection(Endpoint from, Remote remote) {
    ListeningPoint lp = from.provider.getListeningPoint(remote.transport());
    if (lp != null && ListeningPoint.TLS.equals(remote.transport())) {
      return TlsConnections.close(lp, remote.host(), remote.port());
    }
    return lp != null && ((gov.nist.javax.sip.stack.SIPTransactionStack) stack)
        .closeReliableConnection(from.address, lp.getPort(), remote.transport(), remote.host(),
            remote.port());
  }

  /** Endpoints in use now, the anchor included (for leak checks); idle ones are not counted. */
  @Override
  public synchronized int endpointCount() {
    return (int) endpoints.values().stream().filter(e -> e.users > 0 || e == anchor).count();
  }

  /** Endpoints bound now, idle ones waiting out their linger included. */
  @Override
  public synchronized int boundEndpointCount() {
    return endpoints.size();
  }

  /** A port free for both UDP and TCP on {@code address}, for {@code sip.port = 0}. */
  static int freePort(String address) throws SipException {
    OptionalInt free;
    try {
      free = FreePorts.udpAndTcp(InetAddress.getByName(address));
    } catch (IOException e) {
      throw new SipException("no free port on " + address + ": " + e.getMessage(), e);
    }
    if (free.isEmpty()) {
      throw new SipException("no port free for both UDP and TCP on " + address);
    }
    return free.getAsInt();
  }

  /**
   * Sends {@code request} from {@code endpoint} in a new client transaction whose events go to
   * {@code handler}.
   */
  @Override
  public Exchange send(Endpoint endpoint, Request request, Handler handler,
      String transport, String remoteHost, int remotePort) throws SipException {
    if (ListeningPoint.TCP.equalsIgnoreCase(transport)) {
      claimConnection(endpoint, ListeningPoint.TCP, remoteHost, remotePort);
    } else if (ListeningPoint.TLS.equalsIgnoreCase(transport)) {
      // One sender at a time per TLS remote: the stack caches one connection per remote,
      // whatever the local address, so a send from another uplink in between would hand its
      // connection to this request (or take this one's).
      synchronized (tlsSendLock(remoteHost, remotePort)) {
        claimConnection(endpoint, ListeningPoint.TLS, remoteHost, remotePort);
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
    this.inbound = handler;
  }

  /** INVITE dialogs' requests go here first when set (io.sipalr.calls). */
  private volatile InboundCalls calls;
  private static final java.util.Set<String> CALL_METHODS = java.util.Set.of(Request.INVITE,
      Request.ACK, Request.BYE, Request.CANCEL, Request.UPDATE);

  @Override
  public void inboundCalls(InboundCalls handler) {
    this.calls = handler;
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

  /**
   * Requests from outside. A request for a user part that names no profile of ours is answered
   * 404; OPTIONS (a keep-alive, or a probe of a user) 200; MESSAGE 200 and delivered once (in a
   * server transaction, which absorbs retransmissions), 413 above {@code sip.max-message-body};
   * INVITE 480 (no calls yet); BYE and CANCEL 481; anything else 405. Every final response
   * carries a To tag (RFC 3261 §8.2.6.2).
   */
  @Override
  public void processRequest(RequestEvent event) {
    Request request = event.getRequest();
    String method = request.getMethod();
    String user = request.getRequestURI() instanceof SipURI uri ? uri.getUser() : null;
    boolean forUs = user == null || inbound.knows(user);
    InboundCalls callHandler = calls;
    if (callHandler != null && user != null && forUs && CALL_METHODS.contains(method)
        && callHandler.onRequest(new EngineCallRequest(event, user))) {
      return;
    }
    if (Request.ACK.equals(method)) {
      return; // never answered
    }
    int status;
    if (!forUs) {
      status = Response.NOT_FOUND;
    } else {
      status = switch (method) {
        case Request.OPTIONS -> Response.OK;
        case Request.MESSAGE -> user == null ? Response.NOT_FOUND : bodyStatus(request);
        // No calls yet: the user is not available here rather than the method unknown.
        case Request.INVITE -> Response.TEMPORARILY_UNAVAILABLE;
        case Request.BYE, Request.CANCEL -> Response.CALL_OR_TRANSACTION_DOES_NOT_EXIST;
        default -> Response.METHOD_NOT_ALLOWED;
      };
    }
    try {
      Response response = messages.createResponse(status, request);
      ToHeader to = (ToHeader) response.getHeader(ToHeader.NAME);
      if (to != null && to.getTag() == null) {
        to.setTag(toTag(request));
      }
      if (status == Response.OK || status == Response.METHOD_NOT_ALLOWED) {
        response.addHeader(headers.createAllowHeader(ALLOW));
      }
      if (status == Response.OK) {
        response.addHeader(headers.createSupportedHeader(SUPPORTED));
      }
      response.addHeader(headers.createHeader("User-Agent", userAgent));
      SipProvider provider = (SipProvider) event.getSource();
      if (Request.MESSAGE.equals(method) && status == Response.OK) {
        ServerTransaction st = event.getServerTransaction();
        if (st == null) {
          try {
            st = provider.getNewServerTransaction(request);
          } catch (javax.sip.TransactionAlreadyExistsException retransmission) {
            return; // the transaction answers it again
          }
        }
        st.sendResponse(response);
        inbound.message(new IncomingMessage(user,
            ((FromHeader) request.getHeader(FromHeader.NAME)).getAddress().getURI().toString(),
            contentType(request), body(request), java.time.Instant.now()));
        return;
      }
      // Stateless: a retransmitted request simply gets the same answer (and the same tag).
      provider.sendResponse(response);
    } catch (ParseException | SipException | javax.sip.InvalidArgumentException e) {
      log.warn("could not answer {}: {}", method, e.getMessage());
    }
  }

  private int bodyStatus(Request request) {
    byte[] raw = request.getRawContent();
    return raw != null && raw.length > maxMessageBody ? Response.REQUEST_ENTITY_TOO_LARGE
        : Response.OK;
  }

  /** The same tag for a request and its retransmissions: they share Call-ID, tag and branch. */
  private static String toTag(Request request) {
    FromHeader from = (FromHeader) request.getHeader(FromHeader.NAME);
    ViaHeader via = (ViaHeader) request.getHeader(ViaHeader.NAME);
    int h = java.util.Objects.hash(((CallIdHeader) request.getHeader(CallIdHeader.NAME))
        .getCallId(), from == null ? null : from.getTag(), via == null ? null : via.getBranch());
    return "a" + Integer.toHexString(h);
  }

  private static String contentType(Request request) {
    ContentTypeHeader type = (ContentTypeHeader) request.getHeader(ContentTypeHeader.NAME);
    return type == null ? null : type.getContentType() + "/" + type.getContentSubType();
  }

  private static String body(Request request) {
    byte[] raw = request.getRawContent();
    return raw == null ? "" : new String(raw, java.nio.charset.StandardCharsets.UTF_8);
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
    closer.shutdownNow();
    connector.close();
    tls.crlf().close();
    synchronized (this) {
      endpoints.values().forEach(e -> awaitUdpReceiverStarted(e.listeningPoint(ListeningPoint.UDP),
          stackThreads));
    }
    stack.stop();
    log.info("SIP stack on {}:{} stopped", localAddress, port);
  }
}
