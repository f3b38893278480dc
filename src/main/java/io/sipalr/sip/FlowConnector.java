package io.sipalr.sip;

import io.sipalr.concurrent.DaemonThreads;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Sets up TCP and TLS connections ahead of the requests that go over them, on a small bounded
 * pool: a connect and a handshake block (up to {@code sip.tls.connect-timeout} +
 * {@code handshake-timeout} for a dead registrar), which no SIP worker or timer may wait for.
 * Connections are per remote and local address, never per profile, so a few threads serve
 * any number of profiles; one connect to a remote from a local address is made once however
 * many ask for it meanwhile.
 */
final class FlowConnector {
  /** Distinct registrar × uplink pairs connecting at once; more wait in the queue. */
  static final int THREADS = 4;
  /** Connects waiting for a thread; beyond it a connect fails at once (a transport error). */
  static final int QUEUE = 256;

  /**
   * What a connect is for: the remote, the local address it is made from, TLS or not, and the
   * client certificate a TLS one shows ({@link ClientCertificateClaims#DEFAULT}: the default).
   */
  record Link(InetSocketAddress remote, InetAddress local, boolean tls, String certificate) {
    Link(InetSocketAddress remote, InetAddress local, boolean tls) {
      this(remote, local, tls, ClientCertificateClaims.DEFAULT);
    }
  }

  /** The blocking connect itself. */
  interface Connect {
    void run() throws java.io.IOException;
  }

  private final ThreadPoolExecutor pool = new ThreadPoolExecutor(THREADS, THREADS, 30,
      TimeUnit.SECONDS, new ArrayBlockingQueue<>(QUEUE), DaemonThreads.named("sip-connector"));
  /** Connects in flight, removed when done: bounded by the pool's threads and queue. */
  private final Map<Link, CompletableFuture<Void>> pending = new ConcurrentHashMap<>();

  FlowConnector() {
    pool.allowCoreThreadTimeOut(true); // no threads while nothing connects
  }

  /**
   * Runs {@code connect} for {@code link} on the pool, or joins the one in flight. Completes
   * on a connector thread (failed with the connect's exception): never wait on it on a SIP
   * thread; hand the outcome to the caller's executor.
   */
  CompletableFuture<Void> connect(Link link, Connect connect) {
    CompletableFuture<Void> created = new CompletableFuture<>();
    CompletableFuture<Void> running = pending.putIfAbsent(link, created);
    if (running != null) {
      return running;
    }
    try {
      pool.execute(() -> {
        try {
          connect.run();
          pending.remove(link, created);
          created.complete(null);
        } catch (Exception | Error e) {
          pending.remove(link, created);
          created.completeExceptionally(e);
        }
      });
    } catch (RejectedExecutionException e) {
      pending.remove(link, created);
      created.completeExceptionally(new java.io.IOException("cannot connect to "
          + link.remote() + " now: " + (pool.isShutdown() ? "the agent is stopping"
          : QUEUE + " connects already waiting"), e));
    }
    return created;
  }

  void close() {
    pool.shutdownNow();
  }
}
