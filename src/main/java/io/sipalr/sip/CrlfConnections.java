package io.sipalr.sip;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * RFC 5626 §4.4.1 keep-alives on the stack's TCP and TLS connections, which {@link
 * TlsNetworkLayer} makes: each reads through a {@link CrlfKeepAliveStream}, so that pings and
 * pongs never reach JAIN-SIP's reader (1.3.0-91 misreads two pongs as a ping). A pong is told
 * to the {@link SipWire.KeepAliveAnswers}; a ping from the far end is answered with a pong. The
 * agent's pings and those pongs are written by one daemon thread with a bounded queue: a write
 * can block (a full send buffer, a TLS handshake), which no timer or reader thread may wait for.
 */
final class CrlfConnections {
  private static final Logger log = LoggerFactory.getLogger(CrlfConnections.class);
  private static final byte[] PING = "\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] PONG = "\r\n".getBytes(StandardCharsets.US_ASCII);
  private static final int WRITES_QUEUED = 1024;

  /** Connections open now, by their far end. */
  private final Map<InetSocketAddress, Set<Connection>> open = new ConcurrentHashMap<>();
  private final ThreadPoolExecutor writer = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS,
      new ArrayBlockingQueue<>(WRITES_QUEUED),
      io.sipalr.concurrent.DaemonThreads.named("sip-keepalive"));
  private volatile SipWire.KeepAliveAnswers answers;

  void answers(SipWire.KeepAliveAnswers answers) {
    this.answers = answers;
  }

  /** One connection: its socket (plain or TLS), its filtered input and its output. */
  final class Connection implements CrlfKeepAliveStream.Listener {
    private final Socket socket;
    /** The TCP socket itself, under TLS too: closing it never waits (no close_notify). */
    private final Socket tcp;
    private final String transport;
    private volatile CrlfKeepAliveStream in;
    private OutputStream out;

    private Connection(Socket socket, Socket tcp, String transport) {
      this.socket = socket;
      this.tcp = tcp;
      this.transport = transport;
    }

    /** The stream the stack reads: created once, on the stack's first ask. */
    synchronized InputStream input(InputStream raw) {
      if (in == null) {
        in = new CrlfKeepAliveStream(raw, this);
      }
      return in;
    }

    /**
     * The stack's output stream, always the same object: the stack writes a message under
     * its lock (IOHandler.writeChunks), and so do the pings and pongs here.
     */
    synchronized OutputStream output(OutputStream raw) {
      if (out == null) {
        out = raw;
      }
      return out;
    }

    private InetSocketAddress remote() {
      return new InetSocketAddress(socket.getInetAddress(), socket.getPort());
    }

    @Override
    public void pong() {
      SipWire.KeepAliveAnswers a = answers;
      if (a != null) {
        a.pong(socket.getLocalAddress().getHostAddress(), transport,
            socket.getInetAddress().getHostAddress(), socket.getPort());
      }
    }

    @Override
    public void ping() {
      log.debug("CRLF ping from {} over {}: answered with a pong", remote(), transport);
      write(PONG, null);
    }

    /** Writes {@code bytes} on the writer thread; {@code failed} runs if that fails. */
    private void write(byte[] bytes, Runnable failed) {
      try {
        writer.execute(() -> {
          try {
            OutputStream o = output(socket.getOutputStream());
            synchronized (o) {
              o.write(bytes);
            }
            o.flush();
          } catch (IOException | RuntimeException e) {
            log.debug("keep-alive over {} to {} not written: {}", transport, remote(),
                e.toString());
            if (failed != null) {
              failed.run();
            }
          }
        });
      } catch (RejectedExecutionException e) {
        if (failed != null) {
          failed.run();
        }
      }
    }

    void closed() {
      Set<Connection> set = open.get(remote());
      if (set != null) {
        set.remove(this);
      }
    }
  }

  /** Registers {@code socket} (connected, over {@code tcp}) as one of {@code transport}. */
  Connection add(Socket socket, Socket tcp, String transport) {
    Connection c = new Connection(socket, tcp, transport);
    Set<Connection> set = open.computeIfAbsent(
        new InetSocketAddress(socket.getInetAddress(), socket.getPort()),
        r -> ConcurrentHashMap.newKeySet());
    set.removeIf(other -> other.socket.isClosed()); // bounded by the live connections
    set.add(c);
    return c;
  }

  /** A plain TCP socket whose input the stack reads through the keep-alive filter. */
  Socket tcp() {
    return new FramedSocket(this);
  }

  /** {@code tls} (over {@code tcp}, its handshake still to come) read through the filter. */
  SSLSocket tls(SSLSocket tls, Socket tcp) {
    FramedSslSocket framed = new FramedSslSocket(tls);
    framed.connection = add(tls, tcp, "TLS");
    return framed;
  }

  /**
   * Sends a double CRLF over the open connection of {@code transport} from {@code local} to
   * {@code host:port}, its pong awaited from now on. No such connection (the flow the
   * registrar knows is gone), or a write that fails, is a pong missing, told at once. Never
   * blocks.
   */
  void ping(String local, int localPort, String transport, String host, int port) {
    Runnable missing = () -> {
      SipWire.KeepAliveAnswers a = answers;
      if (a != null) {
        a.pongMissing(local, localPort, transport, host, port);
      }
    };
    Connection c = find(local, transport, host, port);
    if (c == null) {
      missing.run();
      return;
    }
    c.in.expectPong();
    c.write(PING, missing);
  }

  /**
   * Closes the connection of {@code transport} from {@code local} to {@code host:port}: its
   * flow failed (RFC 5626 §4.5: the next REGISTER forms a new flow). The stack drops a closed
   * connection from its cache at its next write and connects anew. Never blocks: the TCP
   * socket is closed, under TLS too (a close_notify could wait on a dead path).
   */
  void close(String local, String transport, String host, int port) {
    Connection c = find(local, transport, host, port);
    if (c != null) {
      log.debug("closing the {} connection {} -> {}: its flow failed", transport,
          c.socket.getLocalSocketAddress(), c.remote());
      try {
        c.tcp.close();
      } catch (IOException e) {
        // closed either way
      }
      c.closed();
    }
  }

  /** The open connection the stack reads of {@code transport} from {@code local} to there. */
  private Connection find(String local, String transport, String host, int port) {
    InetSocketAddress remote;
    InetAddress from;
    try {
      remote = new InetSocketAddress(io.sipalr.mobility.IpLiterals.parse(strip(host)), port);
      from = io.sipalr.mobility.IpLiterals.parse(strip(local));
    } catch (IllegalArgumentException name) {
      return null; // only IP literals here: looking a name up would block
    }
    Set<Connection> set = open.get(remote);
    if (set == null) {
      return null;
    }
    for (Connection c : set) {
      if (!c.socket.isClosed() && c.transport.equalsIgnoreCase(transport)
          && from.equals(c.socket.getLocalAddress()) && c.in != null) {
        return c;
      }
    }
    return null;
  }

  private static String strip(String host) {
    return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1)
        : host;
  }

  void close() {
    writer.shutdownNow();
  }

  /** A TCP socket the stack reads through the filter and writes as usual. */
  private static final class FramedSocket extends Socket {
    private final CrlfConnections connections;
    private volatile Connection connection;

    FramedSocket(CrlfConnections connections) {
      this.connections = connections;
    }

    @Override
    public void connect(java.net.SocketAddress endpoint, int timeout) throws IOException {
      super.connect(endpoint, timeout);
      connection = connections.add(this, this, "TCP");
    }

    @Override
    public InputStream getInputStream() throws IOException {
      Connection c = connection;
      return c == null ? super.getInputStream() : c.input(super.getInputStream());
    }

    @Override
    public OutputStream getOutputStream() throws IOException {
      Connection c = connection;
      return c == null ? super.getOutputStream() : c.output(super.getOutputStream());
    }

    @Override
    public void close() throws IOException {
      try {
        super.close();
      } finally {
        Connection c = connection;
        if (c != null) {
          c.closed();
        }
      }
    }
  }
}
