package io.sipalr.control;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.util.concurrent.EventExecutor;
import io.sipalr.alr.PolicyController;
import io.sipalr.alr.SipAlr;
import io.sipalr.concurrent.DaemonThreads;
import io.sipalr.mobility.IpLiterals;
import io.sipalr.mobility.MobilityManager;
import io.sipalr.mobility.ScriptedIapProvider;
import io.sipalr.sip.SipProfileRegistry;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control API: HTTP/1.1 and JSON on Netty (README "Control API").
 *
 * <pre>
 * ControlServer server = new ControlServer(ControlConfig.from(config, dataDir), registry,
 *     mobility, scripted, alr, policyController);
 * server.start();   // listening; the token file's path is logged
 * ...
 * server.close();
 * </pre>
 *
 * <p>Threads: one accepting, two serving every connection (Netty event loops); none per
 * connection. Requests that write the profile store (fsync) run on {@code control.store-threads}
 * threads of their own, with at most {@code control.store-queue} waiting (then 503); answers are
 * written on the connection's event loop. Requests are bounded ({@value #MAX_BODY} bytes of
 * body), and so is what a slow event-stream reader can hold ({@link ControlConfig#eventBuffer()}),
 * the connections open at once ({@code control.max-connections}) and how long an HTTP
 * connection may stay idle ({@code control.idle-timeout}; never an event stream).
 */
public final class ControlServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ControlServer.class);

  /** The largest request body: a profile is well under 2 KiB. */
  static final int MAX_BODY = 64 * 1024;
  private static final int IO_THREADS = 2;
  /** A flood of refused connections is logged once per this period, with a count. */
  static final java.time.Duration REFUSALS_LOGGED_EVERY = java.time.Duration.ofSeconds(10);

  private final ControlConfig config;
  private final SipProfileRegistry registry;
  private final SipAlr alr;
  private final String token;
  private final byte[] tokenDigest;
  private final EventStreams events;
  private final ControlApi api;
  /** Calls served under /v1/calls and streamed as CALL_* events; null until attached. */
  private volatile io.sipalr.calls.Calls calls;
  /** Written as GET /metrics, or null: then /metrics answers 404. */
  private final PrometheusMeterRegistry scrape;
  private final MeterRegistry meters;
  private final List<Meter> ownMeters = new ArrayList<>();
  /** Runs the requests that write the profile store (fsync), off the event loops. */
  private final ThreadPoolExecutor storeWriters;
  private final ChannelGroup channels = new DefaultChannelGroup("control",
      GlobalEventExecutor.INSTANCE);
  /** Connections open now: at most {@code control.max-connections}. */
  private final AtomicInteger open = new AtomicInteger();
  private final AtomicLong refusedSinceLog = new AtomicLong();
  private final AtomicLong refusalLoggedAt =
      new AtomicLong(System.nanoTime() - REFUSALS_LOGGED_EVERY.toNanos());
  /** Volatile: the liveness probe reads them on an event loop. */
  private volatile EventLoopGroup acceptGroup;
  private volatile EventLoopGroup ioGroup;
  private Channel listening;

  /**
   * Reads the token file now when {@code config} has no token (generating it if absent).
   *
   * @param scripted the scripted provider, or {@code null} (then IAP up/down answer 409)
   * @param alr the ALR flow whose events are streamed, or {@code null}
   * @param policy the agent's own controller, or {@code null} (then nothing is pending and
   *     decisions and refreshes answer 409)
   */
  public ControlServer(ControlConfig config, SipProfileRegistry registry,
      MobilityManager mobility, ScriptedIapProvider scripted, SipAlr alr,
      PolicyController policy) {
    this(config, registry, mobility, scripted, alr, policy, null);
  }

  /**
   * As above, with meters: the event streams' drops and readers are registered on {@code
   * meters}, and {@code GET /metrics} writes {@code meters} in the Prometheus text format when
   * it is a {@link PrometheusMeterRegistry} or a composite holding one (else it answers 404).
   *
   * @param meters the meter registry to serve and to add this server's meters to, or {@code
   *     null}: no metrics
   */
  public ControlServer(ControlConfig config, SipProfileRegistry registry,
      MobilityManager mobility, ScriptedIapProvider scripted, SipAlr alr,
      PolicyController policy, MeterRegistry meters) {
    this.config = Objects.requireNonNull(config, "config");
    this.registry = Objects.requireNonNull(registry, "registry");
    Objects.requireNonNull(mobility, "mobility");
    this.alr = alr;
    this.token = config.token() != null ? config.token()
        : TokenFile.readOrCreate(config.tokenFile());
    this.tokenDigest = ControlHandler.digest(token);
    this.events = new EventStreams(ControlApi.JSON, config.eventBuffer(),
        id -> registry.profile(id).orElse(null),
        id -> ControlApi.currentIap(registry, mobility, id));
    // Threads start on first use, so an agent that never writes through the API has none.
    this.storeWriters = new ThreadPoolExecutor(config.storeThreads(), config.storeThreads(),
        0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(config.storeQueue()),
        DaemonThreads.named("control-store"), new ThreadPoolExecutor.AbortPolicy());
    Health health = new Health(registry, mobility, alr, config.readyRegisteredShare(),
        this::pingLoops);
    this.api = new ControlApi(registry, mobility, scripted, policy, events, storeWriters,
        config.storeQueue(), health);
    new CallsEndpoints(() -> calls).registerOn(api);
    this.meters = meters;
    this.scrape = prometheusOf(meters);
    if (meters != null) {
      ownMeters.add(FunctionCounter.builder("sipalr.events.dropped", events,
              EventStreams::droppedCount)
          .description("Events dropped for slow readers of GET /v1/events").register(meters));
      ownMeters.add(Gauge.builder("sipalr.event.streams", events,
              EventStreams::subscriberCount)
          .description("Readers of GET /v1/events connected").register(meters));
    }
  }

  private static PrometheusMeterRegistry prometheusOf(MeterRegistry meters) {
    if (meters instanceof PrometheusMeterRegistry p) {
      return p;
    }
    if (meters instanceof CompositeMeterRegistry composite) {
      for (MeterRegistry inner : composite.getRegistries()) {
        PrometheusMeterRegistry p = prometheusOf(inner);
        if (p != null) {
          return p;
        }
      }
    }
    return null;
  }

  /** A no-op run on each of this server's event loops (liveness). */
  private List<CompletableFuture<?>> pingLoops() {
    List<CompletableFuture<?>> pings = new ArrayList<>();
    for (EventLoopGroup group : new EventLoopGroup[] {acceptGroup, ioGroup}) {
      if (group == null) {
        continue;
      }
      for (EventExecutor loop : group) {
        CompletableFuture<Void> ran = new CompletableFuture<>();
        try {
          loop.execute(() -> ran.complete(null));
        } catch (RejectedExecutionException e) {
          ran.completeExceptionally(e);
        }
        pings.add(ran);
      }
    }
    return pings;
  }

  /** Serves {@code calls} under /v1/calls and streams their events; call before start. */
  public void calls(io.sipalr.calls.Calls calls) {
    this.calls = calls;
    calls.addListener(events);
    api.callsOf(calls::callsOf);
  }

  /** Binds and serves; returns once listening. */
  public synchronized void start() throws InterruptedException {
    if (listening != null) {
      throw new IllegalStateException("already started");
    }
    acceptGroup = new MultiThreadIoEventLoopGroup(1,
        new DefaultThreadFactory("control-accept", true), NioIoHandler.newFactory());
    ioGroup = new MultiThreadIoEventLoopGroup(IO_THREADS,
        new DefaultThreadFactory("control-io", true), NioIoHandler.newFactory());
    ServerBootstrap bootstrap = new ServerBootstrap()
        .group(acceptGroup, ioGroup)
        .channel(NioServerSocketChannel.class)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            if (open.incrementAndGet() > config.maxConnections()) {
              open.decrementAndGet();
              refuse(ch);
              return;
            }
            ch.closeFuture().addListener(closed -> open.decrementAndGet());
            channels.add(ch);
            ch.pipeline()
                .addLast(ControlHandler.IDLE, new IdleStateHandler(0, 0,
                    config.idleTimeout().toMillis(), TimeUnit.MILLISECONDS))
                .addLast(new HttpServerCodec())
                .addLast(new HttpServerKeepAliveHandler())
                .addLast(new BodyLimit(MAX_BODY))
                .addLast(new ControlHandler(api, events, tokenDigest, scrape,
                    config.metricsWithoutToken()));
          }
        });
    registry.addListener(events);
    registry.addMessageListener(events);
    if (alr != null) {
      alr.addListener(events);
    }
    try {
      InetSocketAddress address = new InetSocketAddress(
          IpLiterals.parse(config.bindAddress()), config.port());
      listening = bootstrap.bind(address).sync().channel();
    } catch (InterruptedException e) {
      close();
      throw e;
    } catch (Exception e) { // Netty rethrows the bind's IOException undeclared
      close();
      throw new IllegalStateException("control API: cannot listen on " + config.bindAddress()
          + ":" + config.port() + ": " + e.getMessage(), e);
    }
    log.info("control API listening on http://{}:{}/v1 (token: {})", config.bindAddress(),
        port(), config.token() != null ? "control.token" : config.tokenFile().toAbsolutePath());
  }

  /**
   * Closes a connection beyond {@code control.max-connections} at once, before it costs more
   * than its descriptor for a moment; says so at most every {@link #REFUSALS_LOGGED_EVERY}.
   */
  private void refuse(Channel ch) {
    refusedSinceLog.incrementAndGet();
    ch.close();
    long now = System.nanoTime();
    long last = refusalLoggedAt.get();
    if (now - last >= REFUSALS_LOGGED_EVERY.toNanos() && refusalLoggedAt.compareAndSet(last, now)) {
      log.warn("control API: {} connections open, the most control.max-connections allows:"
          + " closed {} new ones at once since the last such line (the latest from {})",
          config.maxConnections(), refusedSinceLog.getAndSet(0), ch.remoteAddress());
    }
  }

  /** Store-writing requests waiting for a writer now (for tests). */
  int storeWritesWaiting() {
    return storeWriters.getQueue().size();
  }

  /** Connections open now (for tests). */
  int openConnections() {
    return open.get();
  }

  /** The port it listens on (useful with port 0). */
  public int port() {
    Channel channel = listening;
    if (channel == null) {
      throw new IllegalStateException("not started");
    }
    return ((InetSocketAddress) channel.localAddress()).getPort();
  }

  /** The bearer token every request must carry. */
  public String token() {
    return token;
  }

  /** Stops listening and closes every connection, event streams included. */
  @Override
  public synchronized void close() {
    if (meters != null) {
      ownMeters.forEach(meters::remove);
      ownMeters.clear();
    }
    registry.removeListener(events);
    registry.removeMessageListener(events);
    if (calls != null) {
      calls.removeListener(events);
    }
    if (alr != null) {
      alr.removeListener(events);
    }
    if (listening != null) {
      listening.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
    }
    channels.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
    for (EventLoopGroup group : new EventLoopGroup[] {acceptGroup, ioGroup}) {
      if (group != null) {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5,
            TimeUnit.SECONDS);
      }
    }
    acceptGroup = null;
    ioGroup = null;
    storeWriters.shutdown(); // writes under way finish: a profile file is never left half done
  }

  /** The aggregator, answering too large a body with the API's JSON error. */
  private static final class BodyLimit extends HttpObjectAggregator {
    BodyLimit(int maxBody) {
      super(maxBody);
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized)
        throws Exception {
      if (HttpUtil.is100ContinueExpected(oversized)) {
        super.handleOversizedMessage(ctx, oversized); // 417, as the aggregator knows to
        return;
      }
      ObjectNode body = ControlApi.JSON.createObjectNode();
      body.put("error", "too_large");
      body.put("message", "the body is larger than " + MAX_BODY + " bytes");
      byte[] json = (body.toString() + "\n").getBytes(StandardCharsets.UTF_8);
      FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
          HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, Unpooled.wrappedBuffer(json));
      response.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json; charset=utf-8");
      HttpUtil.setContentLength(response, json.length);
      HttpUtil.setKeepAlive(response, false);
      // The rest of the body is still coming: the connection cannot be reused.
      ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
    }
  }
}
