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

/**
 * JAIN-SIP's sockets, made here (the stack property {@code gov.nist.javax.sip.NETWORK_LAYER}):
 * plain ones as the stack's default layer makes them, TLS ones from the agent's
 * {@link SipTrust} instead of the javax.net.ssl system properties. In JAIN-SIP 1.3.0-91 the
 * blocking TLS transport (the one this agent uses; the NIO one loses responses) takes its
 * sockets from the network layer only: {@code SECURITY_MANAGER_PROVIDER} is read by the NIO
 * processors alone. A client socket is created for the SIP domain the engine said it is for
 * ({@link #expect}): that name is the peer host the trust manager checks (RFC 5922), the SNI
 * name (a host name, never an IP literal: RFC 6066 §3) and the key of JSSE's session cache,
 * so that a connection from a new uplink resumes the session of the old one. Every TCP and
 * TLS connection made here is read through {@link CrlfConnections}' keep-alive filter: the
 * stack never sees an RFC 5626 ping or pong.
 *
 * <p>The stack creates this class itself (no-argument constructor); {@link #forStack} hands it
 * the trust of the engine being built, on the building thread.
 */
public final class TlsNetworkLayer implements NetworkLayer {
  private static final ThreadLocal<Setup> PENDING = new ThreadLocal<>();

  /** What the engine under construction gives the layer the stack is about to create. */
  record Setup(SipTrust trust, TlsSettings settings) {}

  private final SipTrust trust;
  private final TlsSettings settings;
  /** Resolved registrar address and port → the SIP domain its certificate must name. */
  private final Map<InetSocketAddress, String> domains = new ConcurrentHashMap<>();
  /** Resolved registrar address and port → the local address the agent now sends from. */
  private final Map<InetSocketAddress, InetAddress> senders = new ConcurrentHashMap<>();
  /** Client connections open now, by remote: those of a left uplink are closed on a move. */
  private final Map<InetSocketAddress, java.util.Set<SSLSocket>> open = new ConcurrentHashMap<>();
  private final AtomicLong connections = new AtomicLong();
  /** Every TCP and TLS connection reads through the CRLF keep-alive filter. */
  private final CrlfConnections crlf = new CrlfConnections();
  private final AtomicLong resumed = new AtomicLong();

  /**
   * Benchmarks only (TlsHandoverBench): every handshake a full one, to measure what session
   * resumption saves. Never set in production.
   */
  private static final String NO_RESUMPTION = "sipalr.bench.tls-no-resumption";

  private void forgetSessions() {
    javax.net.ssl.SSLSessionContext sessions = trust.context().getClientSessionContext();
    for (java.util.Enumeration<byte[]> ids = sessions.getIds(); ids.hasMoreElements(); ) {
      javax.net.ssl.SSLSession session = sessions.getSession(ids.nextElement());
      if (session != null) {
        session.invalidate();
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

  /**
   * A TLS connection to {@code address:port} must prove it speaks for {@code domain}, and only
   * {@code from} (the uplink now in use) may open one.
   */
  /** The domain expected of {@code address:port} (a REGISTER set it), or {@code null}. */
  String expectedDomain(InetAddress address, int port) {
    return domains.get(new InetSocketAddress(address, port));
  }

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
    java.util.Set<SSLSocket> sockets = open.get(remote);
    if (sockets == null) {
      return;
    }
    for (SSLSocket socket : sockets) {
      if (socket.isClosed() || !from.equals(socket.getLocalAddress())) {
        sockets.remove(socket);
        try {
          socket.close();
        } catch (IOException e) {
          // closed either way
        }
      }
    }
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
    return connect(crlf.tcp(), address, port, null, 0);
  }

  @Override
  public Socket createSocket(InetAddress address, int port, InetAddress myAddress)
      throws IOException {
    Socket socket = crlf.tcp();
    // A REGISTER is one small write after the handshake's: Nagle would hold it for the
    // handshake's delayed ACK (40 ms on Linux).
    socket.setTcpNoDelay(true);
    return connect(socket, address, port, myAddress, 0);
  }

  @Override
  public Socket createSocket(InetAddress address, int port, InetAddress myAddress, int myPort)
      throws IOException {
    return connect(crlf.tcp(), address, port, myAddress, myPort);
  }

  /** Binds {@code socket} to {@code myAddress} (unless null) and connects it, bounded. */
  private Socket connect(Socket socket, InetAddress address, int port, InetAddress myAddress,
      int myPort) throws IOException {
    try {
      if (myAddress != null) {
        socket.bind(new InetSocketAddress(myAddress, myPort));
      }
      socket.connect(new InetSocketAddress(address, port),
          (int) settings.connectTimeout().toMillis());
      return socket;
    } catch (IOException | RuntimeException e) {
      socket.close();
      throw e;
    }
  }

  @Override
  public SSLSocket createSSLSocket(InetAddress address, int port) throws IOException {
    return createSSLSocket(address, port, null);
  }

  /**
   * Connects from {@code myAddress} (the uplink's) and layers TLS over it for the expected
   * domain. The handshake itself is started by the stack (IOHandler), bounded by
   * {@code SSL_HANDSHAKE_TIMEOUT} (its watchdog closes the socket).
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
    String domain = domains.getOrDefault(remote, address.getHostAddress());
    if (Boolean.getBoolean(NO_RESUMPTION)) {
      forgetSessions();
    }
    long created = System.currentTimeMillis();
    // Plain beneath: the keep-alive filter reads the decrypted stream (crlf.tls below).
    Socket plain = new Socket();
    plain.setTcpNoDelay(true); // as createSocket's
    connect(plain, address, port, myAddress, 0);
    SSLSocket socket;
    try {
      socket = (SSLSocket) trust.context().getSocketFactory()
          .createSocket(plain, domain, port, true);
    } catch (IOException | RuntimeException e) {
      plain.close();
      throw e;
    }
    SSLParameters params = socket.getSSLParameters();
    params.setProtocols(TlsSettings.PROTOCOLS);
    if (!Rfc5922Names.isIpLiteral(domain)) {
      params.setServerNames(List.of(new SNIHostName(domain)));
    }
    // The name check is RFC 5922's (SipTrust), not HTTPS's.
    params.setEndpointIdentificationAlgorithm(null);
    socket.setSSLParameters(params);
    connections.incrementAndGet();
    socket.addHandshakeCompletedListener(done -> {
      if (done.getSession().getCreationTime() < created) {
        resumed.incrementAndGet();
      }
    });
    SSLSocket framed = crlf.tls(socket, plain);
    java.util.Set<SSLSocket> sockets = open.computeIfAbsent(remote,
        r -> ConcurrentHashMap.newKeySet());
    sockets.removeIf(SSLSocket::isClosed); // bounded by the live connections to this remote
    sockets.add(framed);
    return framed;
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
