package io.sipalr.sip;

import gov.nist.javax.sip.ListeningPointImpl;
import gov.nist.javax.sip.stack.UDPMessageProcessor;
import io.sipalr.sip.SipEngine.Endpoint;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.InetAddress;
import java.time.Duration;
import java.util.OptionalInt;
import java.util.TooManyListenersException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import javax.sip.ListeningPoint;
import javax.sip.SipException;
import javax.sip.SipListener;
import javax.sip.SipProvider;
import javax.sip.SipStack;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link SipEngine}'s endpoints: one SipProvider with a UDP and a TCP listening point (and a
 * TLS one on first use) per local address in use, bound on first {@link #acquire}, reference
 * counted, and, but for the anchor, closed once idle for {@code sip.endpoint-linger}; and which
 * endpoint last sent over TCP or TLS to each remote.
 *
 * <p>One lock, this object's (the engine's before the split): it guards the endpoint table,
 * {@link #tcpSenders}, every endpoint's {@code users} and {@code closing}, and the listening
 * points added to or removed from a provider (a TLS point is not added while its endpoint
 * closes). A close runs under it, on the closer thread, never the shared timer's.
 */
final class Endpoints {
  private static final Logger log = LoggerFactory.getLogger(Endpoints.class);

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

  private final SipStack stack;
  /** Hears every endpoint's events (the engine). */
  private final SipListener listener;
  /** The engine's port: every endpoint tries it first. */
  private final int port;
  /** Lives as long as the engine (see {@link SipEngine}). */
  final Endpoint anchor;
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
  /** Runs at the start of every endpoint close: a test makes a close slow with it. */
  volatile Runnable beforeClose;

  /**
   * Binds the anchor on {@code localAddress}. The stack is started afterwards, by the engine.
   *
   * @param timers closes idle endpoints after {@code linger}; null: at once
   * @param stackThreads JAIN-SIP's UDP channel threads per endpoint ({@code sip.stack-threads})
   */
  Endpoints(SipStack stack, SipListener listener, String localAddress, int port,
      ScheduledExecutorService timers, Duration linger, int stackThreads) throws SipException {
    this.stack = stack;
    this.listener = listener;
    this.port = port;
    this.timers = timers;
    this.linger = linger;
    this.stackThreads = stackThreads;
    anchor = createEndpoint(localAddress, port);
    endpoints.put(localAddress, anchor);
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
      provider.addSipListener(listener);
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
  synchronized ListeningPoint addTlsListeningPoint(Endpoint e) {
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

  /**
   * The endpoint on {@code address}, created on first use (on the engine's port if it is free
   * there, else on a free one). Each call must be paired with one {@link #release}. Fails when
   * the address is not (yet) local: bind only once the mobility layer says the IAP is active.
   */
  synchronized Endpoint acquire(String address) throws SipException {
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
  synchronized void release(Endpoint e) {
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
      e.provider.removeSipListener(listener);
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
  synchronized void claimConnection(Endpoint endpoint, String transport, String host,
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
  synchronized int endpointCount() {
    return (int) endpoints.values().stream().filter(e -> e.users > 0 || e == anchor).count();
  }

  /** Endpoints bound now, idle ones waiting out their linger included. */
  synchronized int boundEndpointCount() {
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
   * Stops closing idle endpoints, and waits until every endpoint's UDP receiver has started:
   * the stack's stop, next, must not catch one starting (see {@link #awaitUdpReceiverStarted}).
   */
  void close() {
    closer.shutdownNow();
    synchronized (this) {
      endpoints.values().forEach(e -> awaitUdpReceiverStarted(e.listeningPoint(ListeningPoint.UDP),
          stackThreads));
    }
  }
}
