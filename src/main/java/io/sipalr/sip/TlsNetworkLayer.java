package io.sipalr.sip;

import gov.nist.core.net.NetworkLayer;
import gov.nist.javax.sip.SipStackImpl;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * JAIN-SIP's sockets, made here (the stack property {@code gov.nist.javax.sip.NETWORK_LAYER}):
 * plain ones as the stack's default layer makes them, TLS ones from the agent's
 * {@link SipTrust} instead of the javax.net.ssl system properties. In JAIN-SIP 1.3.0-91 the
 * blocking TLS transport (the one this agent uses; the NIO one loses responses) takes its
 * sockets from the network layer only: {@code SECURITY_MANAGER_PROVIDER} is read by the NIO
 * processors alone.
 *
 * <p>Client connections, TCP and TLS, are set up ahead ({@link #connectAhead}, on the
 * {@link FlowConnector} pool): the stack connects inside the send, on the sending SIP worker,
 * and is handed the ready connection instead. A TLS one is made for the SIP domain the request
 * is for: that name is the peer host the trust manager checks (RFC 5922), the SNI name (a host
 * name, never an IP literal: RFC 6066 §3) and the key of JSSE's session cache, so that a
 * connection from a new uplink resumes the session of the old one. Every TCP and TLS
 * connection made here is read through {@link CrlfConnections}' keep-alive filter: the
 * stack never sees an RFC 5626 ping or pong.
 *
 * <p>The stack creates this class itself (no-argument constructor); {@link #forStack} hands it
 * the trust of the engine being built, on the building thread.
 */
public final class TlsNetworkLayer implements NetworkLayer {
  private static final Logger log = LoggerFactory.getLogger(TlsNetworkLayer.class);
  private static final ThreadLocal<Setup> PENDING = new ThreadLocal<>();

  /** What the engine under construction gives the layer the stack is about to create. */
  record Setup(SipTrust trust, TlsSettings settings) {}

  private final SipTrust trust;
  private final TlsSettings settings;
  /** Resolved registrar address and port → the SIP domain its certificate must name. */
  private final Map<InetSocketAddress, String> domains = new ConcurrentHashMap<>();
  /** Resolved registrar address and port → the local address the agent now sends from. */
  private final Map<InetSocketAddress, InetAddress> senders = new ConcurrentHashMap<>();
  /**
   * Client connections open now, by remote, each with the client certificate it shows
   * ({@link ClientCertificateClaims#DEFAULT}: sip.tls.key-store's or none; always that for
   * TCP): those of a left uplink are closed on a move.
   */
  private final Map<InetSocketAddress, Map<Socket, String>> open = new ConcurrentHashMap<>();
  private final AtomicLong connections = new AtomicLong();
  /** Every TCP and TLS connection reads through the CRLF keep-alive filter. */
  private final CrlfConnections crlf = new CrlfConnections();
  private final AtomicLong resumed = new AtomicLong();

  /** Connections set up ahead ({@link #connectAhead}) that the stack has not taken yet. */
  private final Map<Link, Ready> ready = new ConcurrentHashMap<>();

  /**
   * How long a connection set up ahead waits for the stack. The send it was made for follows
   * within milliseconds; one left over (its REGISTER abandoned) is not trusted later: a peer
   * may have closed it meanwhile, which a socket does not show until it is written to.
   */
  private static final long READY_FOR_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(30);

  private record Ready(Socket socket, long at, String certificate) {
    boolean usable() {
      return !socket.isClosed() && System.nanoTime() - at < READY_FOR_NANOS;
    }
  }

  /** A connection's remote address and port and the local address it is made from. */
  private record Link(InetSocketAddress remote, InetAddress local) {}

  /** Every handshake a full one ({@code sip.tls.session-resumption = false}). */
  private void forgetSessions() {
    for (javax.net.ssl.SSLContext context : trust.contexts()) {
      javax.net.ssl.SSLSessionContext sessions = context.getClientSessionContext();
      for (java.util.Enumeration<byte[]> ids = sessions.getIds(); ids.hasMoreElements(); ) {
        javax.net.ssl.SSLSession session = sessions.getSession(ids.nextElement());
        if (session != null) {
          session.invalidate();
        }
      }
    }
  }

  public TlsNetworkLayer() {
    Setup setup = PENDING.get();
    if (setup == null) {
      throw new IllegalStateException("TlsNetworkLayer is created by SipEngine only");
    }
    this.trust = setup.trust();
    this.settings = setup.settings();
  }

  /** Runs {@code create} (the stack's construction) with {@code setup} for the layer. */
  static <T, E extends Exception> T forStack(Setup setup, ThrowingSupplier<T, E> create)
      throws E {
    PENDING.set(setup);
    try {
      return create.get();
    } finally {
      PENDING.remove();
    }
  }

  interface ThrowingSupplier<T, E extends Exception> {
    T get() throws E;
  }

  /** The domain expected of {@code address:port} (a REGISTER set it), or {@code null}. */
  String expectedDomain(InetAddress address, int port) {
    return domains.get(new InetSocketAddress(address, port));
  }

  /**
   * A TLS connection to {@code address:port} must prove it speaks for {@code domain}, and only
   * {@code from} (the uplink now in use) may open one.
   */
  void expect(InetAddress address, int port, String domain, InetAddress from) {
    InetSocketAddress remote = new InetSocketAddress(address, port);
    domains.put(remote, domain);
    InetAddress previous = senders.put(remote, from);
    if (previous != null && !previous.equals(from)) {
      closeOthers(remote, from);
    }
  }

  /**
   * Closes the connections to {@code remote} not from {@code from}. The stack caches one
   * connection per remote whatever the local address, and a closed one is dropped from that
   * cache at its next write, so the next send opens a new one from {@code from}.
   */
  private void closeOthers(InetSocketAddress remote, InetAddress from) {
    closeWhere(remote, (socket, certificate) -> !from.equals(socket.getLocalAddress()));
  }

  /** Closes (and forgets) the connections to {@code remote} that {@code which} selects. */
  private void closeWhere(InetSocketAddress remote,
      java.util.function.BiPredicate<Socket, String> which) {
    Map<Socket, String> sockets = open.get(remote);
    if (sockets == null) {
      return;
    }
    sockets.forEach((socket, certificate) -> {
      if (socket.isClosed() || which.test(socket, certificate)) {
        sockets.remove(socket);
        try {
          socket.close();
        } catch (IOException e) {
          // closed either way
        }
      }
    });
  }

  /** The RFC 5626 keep-alives of the connections this layer made. */
  CrlfConnections crlf() {
    return crlf;
  }

  /** TLS connections set up so far (each a TCP connect and a handshake). */
  long connections() {
    return connections.get();
  }

  /** Of those, handshakes that resumed an earlier session (no certificate exchanged). */
  long resumedSessions() {
    return resumed.get();
  }

  @Override
  public void setSipStack(SipStackImpl sipStack) {
    // Nothing to take from the stack: the trust came with the constructor.
  }

  @Override
  public ServerSocket createServerSocket(int port, int backlog, InetAddress bindAddress)
      throws IOException {
    return new ServerSocket(port, backlog, bindAddress);
  }

  @Override
  public SSLServerSocket createSSLServerSocket(int port, int backlog, InetAddress bindAddress)
      throws IOException {
    // Requests come over the flows the agent opened; this socket only has to exist (JAIN-SIP
    // needs one per TLS listening point). Without a key store it cannot complete a handshake.
    SSLServerSocket socket = (SSLServerSocket) trust.context().getServerSocketFactory()
        .createServerSocket(port, backlog, bindAddress);
    socket.setEnabledProtocols(TlsSettings.PROTOCOLS);
    return socket;
  }

  @Override
  public Socket createSocket(InetAddress address, int port) throws IOException {
    return connect(crlf.tcp(), new InetSocketAddress(address, port), null);
  }

  /**
   * The stack's TCP connection from {@code myAddress}: the one {@link #connectAhead} set up.
   * The stack asks on the sending thread, a SIP worker, which must not wait for a connect.
   */
  @Override
  public Socket createSocket(InetAddress address, int port, InetAddress myAddress)
      throws IOException {
    return take(new InetSocketAddress(address, port), myAddress);
  }

  @Override
  public Socket createSocket(InetAddress address, int port, InetAddress myAddress, int myPort)
      throws IOException {
    return connect(crlf.tcp(), new InetSocketAddress(address, port), myAddress, myPort);
  }

  @Override
  public SSLSocket createSSLSocket(InetAddress address, int port) throws IOException {
    return createSSLSocket(address, port, null);
  }

  /**
   * The stack's TLS connection from {@code myAddress}: the one {@link #connectAhead} set up,
   * its handshake done. The stack asks on the sending thread, a SIP worker, which must not
   * wait for a connect or a handshake.
   */
  @Override
  public SSLSocket createSSLSocket(InetAddress address, int port, InetAddress myAddress)
      throws IOException {
    InetSocketAddress remote = new InetSocketAddress(address, port);
    InetAddress sender = senders.get(remote);
    if (sender != null && myAddress != null && !sender.equals(myAddress)) {
      // The stack's channel of a left uplink answering a stray double CRLF after its close
      // would otherwise connect again and put its socket in the stack's cache, keyed by the
      // remote only: the next REGISTER from the new uplink would go out over it.
      throw new IOException("TLS to " + remote + " is sent from " + sender.getHostAddress()
          + " now, not from " + myAddress.getHostAddress());
    }
    if (!(take(remote, myAddress) instanceof SSLSocket socket)) {
      throw new IOException("the connection to " + remote + " set up ahead is not TLS");
    }
    return socket;
  }

  /**
   * Whether a send from {@code from} to {@code address:port} finds its connection: one set up
   * ahead, or one the stack holds open.
   */
  boolean connected(InetAddress address, int port, InetAddress from) {
    return connected(address, port, from, ClientCertificateClaims.DEFAULT);
  }

  /** The same, showing client certificate {@code certificate} (TLS). */
  boolean connected(InetAddress address, int port, InetAddress from, String certificate) {
    InetSocketAddress remote = new InetSocketAddress(address, port);
    Ready waiting = ready.get(new Link(remote, from));
    if (waiting != null && waiting.usable() && waiting.certificate().equals(certificate)) {
      return true;
    }
    return openFrom(remote, from, certificate) != null;
  }

  /**
   * Connects from {@code from} to {@code address:port}, for TLS with the handshake for
   * {@code domain} (the name checked, RFC 5922, and the SNI name), and keeps the connection
   * for the stack's next send from {@code from}. Blocks, each step bounded
   * ({@code sip.tls.connect-timeout}, {@code handshake-timeout}): called on the connector pool
   * only ({@link FlowConnector}).
   */
  void connectAhead(InetAddress address, int port, InetAddress from, boolean tls, String domain)
      throws IOException {
    connectAhead(address, port, from, tls, domain, ClientCertificateClaims.DEFAULT);
  }

  /**
   * The same, a TLS connection showing client certificate {@code certificate} (a name of
   * sip.tls.client-certificates, or {@link ClientCertificateClaims#DEFAULT}). One open from
   * {@code from} showing another (its profiles changed certificate) is closed, so that the
   * stack, which holds one per remote, takes this one at its next send.
   */
  void connectAhead(InetAddress address, int port, InetAddress from, boolean tls, String domain,
      String certificate) throws IOException {
    InetSocketAddress remote = new InetSocketAddress(address, port);
    Socket socket = tls ? handshake(remote, from, domain, certificate)
        : connect(crlf.tcp(), remote, from);
    Ready previous = ready.put(new Link(remote, from),
        new Ready(socket, System.nanoTime(), certificate));
    if (previous != null) {
      previous.socket().close(); // set up again (the first left over, or stale): the newer
    }
    if (tls) {
      closeWhere(remote, (other, shown) -> from.equals(other.getLocalAddress())
          && !shown.equals(certificate));
    }
  }

  /**
   * The connection set up ahead to {@code remote} from {@code from}, now the stack's; else the
   * stack's own connection from there, still open, which it lost track of: JAIN-SIP 1.3.0-91
   * keeps one socket table for the whole stack keyed by the remote only, and a channel that
   * closes removes its key whatever socket is there by then. After a move, the old uplink's
   * channel, closed by the move, can so drop the new uplink's entry, and the stack's next send
   * on the new connection (the answer to a request that came over it) asks for a new one.
   */
  private Socket take(InetSocketAddress remote, InetAddress from) throws IOException {
    Ready taken = from == null ? null : ready.remove(new Link(remote, from));
    if (taken == null || !taken.usable()) {
      if (taken != null) {
        taken.socket().close();
      }
      Socket live = from == null ? null : openFrom(remote, from, null);
      if (live != null) {
        log.debug("the stack lost its connection to {} from {}; handed back", remote,
            from.getHostAddress());
        return live;
      }
      throw new IOException("no connection to " + remote + " from "
          + (from == null ? "any address" : from.getHostAddress()) + " was set up ahead");
    }
    Socket socket = taken.socket();
    Map<Socket, String> sockets = open.computeIfAbsent(remote, r -> new ConcurrentHashMap<>());
    sockets.keySet().removeIf(Socket::isClosed); // bounded by the live connections there
    sockets.put(socket, taken.certificate());
    return socket;
  }

  /**
   * The stack's connection to {@code remote} from {@code from} that is still open, showing
   * client certificate {@code certificate} (any, when null); or null.
   */
  private Socket openFrom(InetSocketAddress remote, InetAddress from, String certificate) {
    Map<Socket, String> sockets = open.get(remote);
    if (sockets == null) {
      return null;
    }
    return sockets.entrySet().stream()
        .filter(e -> !e.getKey().isClosed() && from.equals(e.getKey().getLocalAddress())
            && (certificate == null || e.getValue().equals(certificate)))
        .map(Map.Entry::getKey).findFirst().orElse(null);
  }

  private Socket connect(Socket socket, InetSocketAddress remote, InetAddress from)
      throws IOException {
    return connect(socket, remote, from, 0);
  }

  /** Binds {@code socket} to {@code from:fromPort} (unless null) and connects it, bounded. */
  private Socket connect(Socket socket, InetSocketAddress remote, InetAddress from, int fromPort)
      throws IOException {
    try {
      // A REGISTER is one small write after the handshake's: Nagle would hold it for the
      // handshake's delayed ACK (40 ms on Linux).
      socket.setTcpNoDelay(true);
      if (from != null) {
        socket.bind(new InetSocketAddress(from, fromPort));
      }
      socket.connect(remote, (int) settings.connectTimeout().toMillis());
      return socket;
    } catch (IOException | RuntimeException e) {
      socket.close();
      throw e;
    }
  }

  private SSLSocket handshake(InetSocketAddress remote, InetAddress from, String domain,
      String certificate) throws IOException {
    if (!settings.sessionResumption()) {
      forgetSessions();
    }
    long started = System.currentTimeMillis();
    // Plain beneath: the keep-alive filter reads the decrypted stream (crlf.tls below).
    Socket plain = connect(new Socket(), remote, from);
    SSLSocket socket = null;
    SipTrust.ClientAuth auth = SipTrust.watch();
    try {
      socket = (SSLSocket) trust.context(certificate.isEmpty() ? null : certificate)
          .getSocketFactory().createSocket(plain, domain, remote.getPort(), true);
      SSLParameters params = socket.getSSLParameters();
      params.setProtocols(TlsSettings.PROTOCOLS);
      if (!Rfc5922Names.isIpLiteral(domain)) {
        params.setServerNames(List.of(new SNIHostName(domain)));
      }
      // The name check is RFC 5922's (SipTrust), not HTTPS's.
      params.setEndpointIdentificationAlgorithm(null);
      socket.setSSLParameters(params);
      connections.incrementAndGet();
      socket.setSoTimeout((int) settings.handshakeTimeout().toMillis());
      try {
        socket.startHandshake();
      } catch (IOException e) {
        throw ClientAuthVerdict.refusedOrAsIs(e, auth, domain, certificate);
      }
      int first = ClientAuthVerdict.await(socket, auth, domain, certificate,
          System.currentTimeMillis() - started, settings.handshakeTimeout());
      socket.setSoTimeout(0);
      if (socket.getSession().getCreationTime() < started) {
        resumed.incrementAndGet();
      }
      return crlf.tls(new HandshakenSocket(socket, first), plain);
    } catch (IOException | RuntimeException e) {
      (socket != null ? socket : plain).close();
      throw e;
    } finally {
      SipTrust.unwatch();
    }
  }

  @Override
  public DatagramSocket createDatagramSocket() throws SocketException {
    return new DatagramSocket();
  }

  @Override
  public DatagramSocket createDatagramSocket(int port, InetAddress laddr)
      throws SocketException {
    return new DatagramSocket(port, laddr);
  }
}
