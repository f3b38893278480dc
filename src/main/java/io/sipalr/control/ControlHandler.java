package io.sipalr.control;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.IdleStateEvent;
import io.sipalr.profile.ProfileConflictException;
import io.sipalr.profile.ProfileValidationException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection of the control API: checks the bearer token, hands each request to its
 * endpoint and writes the answer as JSON, or turns the connection into an event stream. Bodies
 * and the token are never logged.
 */
final class ControlHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
  private static final Logger log = LoggerFactory.getLogger(ControlHandler.class);

  /**
   * An event stream's share of the connection's buffer before its backlog takes over: small,
   * so that a stalled reader costs little and is noticed soon.
   */
  static final WriteBufferWaterMark STREAM_WATER_MARK =
      new WriteBufferWaterMark(8 * 1024, 32 * 1024);

  private final ControlApi api;
  private final EventStreams events;
  private final byte[] tokenDigest;
  /** Written by GET /metrics, or null (404). */
  private final io.micrometer.prometheusmetrics.PrometheusMeterRegistry scrape;
  private final boolean metricsWithoutToken;
  private EventStreams.Subscriber stream;
  /** Requests read and not answered yet (event loop only): a connection waiting is not idle. */
  private int unanswered;

  /**
   * Requests pipelined behind one still being answered (event loop only), at most {@link
   * #MAX_HELD}: HTTP/1.1 answers them in order.
   */
  private final java.util.ArrayDeque<FullHttpRequest> held = new java.util.ArrayDeque<>();
  static final int MAX_HELD = 16;
  private boolean draining;

  /** The name of the idle-timeout handler before this one, which an event stream removes. */
  static final String IDLE = "idle";

  /**
   * @param tokenDigest SHA-256 of the token: compared in constant time, whatever the length
   * @param scrape the registry GET /metrics writes, or null: then it answers 404
   * @param metricsWithoutToken whether GET /metrics answers without the token
   */
  ControlHandler(ControlApi api, EventStreams events, byte[] tokenDigest,
      io.micrometer.prometheusmetrics.PrometheusMeterRegistry scrape,
      boolean metricsWithoutToken) {
    this.scrape = scrape;
    this.metricsWithoutToken = metricsWithoutToken;
    this.api = api;
    this.events = events;
    this.tokenDigest = tokenDigest;
  }

  static byte[] digest(String token) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java has SHA-256", e);
    }
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
    if (stream != null) {
      return; // an event stream's connection carries nothing else
    }
    if (unanswered > 0) {
      // Pipelined behind a request still being answered: answers go out in request order.
      if (held.size() >= MAX_HELD) {
        log.debug("control API connection {}: over {} requests pipelined; closed",
            ctx.channel().remoteAddress(), MAX_HELD);
        ctx.close();
        return;
      }
      held.add(request.retain());
      return;
    }
    handle(ctx, request);
  }

  /** Answers one request (now or later); the next held one follows its answer. */
  private void handle(ChannelHandlerContext ctx, FullHttpRequest request) {
    HttpVersion version = request.protocolVersion();
    HttpMethod method = request.method();
    if (request.decoderResult().isFailure()) {
      write(ctx, version, method, "?", error(new ApiException(HttpResponseStatus.BAD_REQUEST,
          "bad_request", "malformed HTTP request")), true);
      return;
    }
    QueryStringDecoder uri = new QueryStringDecoder(request.uri());
    String path = uri.rawPath();
    boolean metrics = path.equals(METRICS_PATH) || path.equals(METRICS_PATH + "/");
    if (!(metrics && metricsWithoutToken) && !authorized(request)) {
      write(ctx, version, method, path, error(new ApiException(HttpResponseStatus.UNAUTHORIZED,
          "unauthorized", "a valid token is needed: Authorization: Bearer <token> (the token is"
              + " control.token, or the content of the control.token file in the data"
              + " directory)", null, Map.of("WWW-Authenticate", "Bearer realm=\"sip-alr-agent\""))),
          false);
      return;
    }
    if (metrics) {
      metrics(ctx, version, method, path);
      answerNextHeld(ctx);
      return;
    }
    CompletableFuture<ApiResponse> answer;
    try {
      ControlApi.Resolved resolved = api.resolve(method, path, segments(path));
      if (resolved.endpoint() == ControlApi.EVENT_STREAM) {
        startStream(ctx, version);
        return;
      }
      byte[] content = ByteBufUtil.getBytes(request.content());
      answer = resolved.endpoint().handle(new ControlApi.Call(resolved.params(), content));
    } catch (RuntimeException e) {
      answer = CompletableFuture.failedFuture(e);
    }
    // Endpoints that wait (disable, delete) or write the store answer later, on another thread:
    // the answer is written on the connection's own event loop.
    unanswered++;
    if (!answer.isDone()) {
      ctx.channel().config().setAutoRead(false); // read on once answered: TCP holds the rest
    }
    answer.whenComplete((response, failure) -> {
      ApiResponse out = response != null ? response : error(failure);
      Runnable reply = () -> {
        unanswered--;
        write(ctx, version, method, path, out, false);
        answerNextHeld(ctx);
      };
      if (ctx.executor().inEventLoop()) {
        reply.run();
      } else {
        ctx.executor().execute(reply);
      }
    });
  }

  /** GET /metrics: the meters in the Prometheus text format (outside /v1: scrapers expect it). */
  static final String METRICS_PATH = "/metrics";
  static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

  private void metrics(ChannelHandlerContext ctx, HttpVersion version, HttpMethod method,
      String path) {
    if (!HttpMethod.GET.equals(method)) {
      write(ctx, version, method, path, error(new ApiException(
          HttpResponseStatus.METHOD_NOT_ALLOWED, "method_not_allowed", method.name()
              + " is not allowed on " + path + "; allowed: GET", null, Map.of("Allow", "GET"))),
          false);
      return;
    }
    if (scrape == null) {
      write(ctx, version, method, path, error(ApiException.notFound("this agent serves no"
          + " metrics (its control server was built without a Prometheus meter registry)")),
          false);
      return;
    }
    byte[] text = scrape.scrape().getBytes(StandardCharsets.UTF_8);
    FullHttpResponse http = new DefaultFullHttpResponse(version, HttpResponseStatus.OK,
        Unpooled.wrappedBuffer(text));
    http.headers().set(HttpHeaderNames.CONTENT_TYPE, PROMETHEUS_TEXT);
    http.headers().set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE);
    HttpUtil.setContentLength(http, text.length);
    log.debug("control API: {} {} -> 200", method, path);
    ctx.writeAndFlush(http);
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
    if (stream != null && ctx.channel().isWritable()) {
      stream.drain();
    }
    super.channelWritabilityChanged(ctx);
  }

  /** After an answer: the held requests in order, until one is answered later; then reads. */
  private void answerNextHeld(ChannelHandlerContext ctx) {
    if (draining) {
      return; // an answer given at once, inside the loop below, which goes on
    }
    draining = true;
    try {
      while (unanswered == 0 && stream == null) {
        FullHttpRequest next = held.poll();
        if (next == null) {
          break;
        }
        try {
          handle(ctx, next);
        } finally {
          next.release();
        }
      }
    } finally {
      draining = false;
    }
    if (unanswered == 0 && stream == null && ctx.channel().isActive()) {
      ctx.channel().config().setAutoRead(true);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    held.forEach(FullHttpRequest::release);
    held.clear();
    super.channelInactive(ctx);
  }

  /** {@code control.idle-timeout} over: an HTTP connection with nothing under way is closed. */
  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
    if (event instanceof IdleStateEvent) {
      if (stream == null && unanswered == 0) {
        log.debug("control API connection {} idle: closed", ctx.channel().remoteAddress());
        ctx.close();
      }
      return;
    }
    super.userEventTriggered(ctx, event);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("control API connection {}: {}", ctx.channel().remoteAddress(), cause.toString());
    ctx.close();
  }

  private boolean authorized(FullHttpRequest request) {
    String header = request.headers().get(HttpHeaderNames.AUTHORIZATION);
    if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return false;
    }
    return MessageDigest.isEqual(digest(header.substring(7).trim()), tokenDigest);
  }

  /**
   * The decoded segments of a raw path; a trailing slash is ignored.
   *
   * @throws ApiException 400 when a {@code %} escape does not decode
   */
  static List<String> segments(String rawPath) {
    List<String> segments = new ArrayList<>();
    String[] parts = rawPath.split("/", -1);
    for (int i = 1; i < parts.length; i++) {
      if (i == parts.length - 1 && parts[i].isEmpty() && i > 1) {
        break;
      }
      try {
        segments.add(QueryStringDecoder.decodeComponent(parts[i]));
      } catch (IllegalArgumentException e) {
        throw ApiException.badRequest("bad_path", "the path segment "
            + ApiException.quote(parts[i]) + " has a % escape that does not decode ("
            + e.getMessage() + "): write % as %25, and other bytes as %XX with two hex digits"
            + " of UTF-8");
      }
    }
    return segments;
  }

  private void startStream(ChannelHandlerContext ctx, HttpVersion version) {
    ctx.channel().config().setWriteBufferWaterMark(STREAM_WATER_MARK);
    ctx.channel().config().setAutoRead(true); // to see the reader hang up
    if (ctx.pipeline().get(IDLE) != null) {
      ctx.pipeline().remove(IDLE); // a stream is quiet between events, and lives on
    }
    stream = events.subscribe(ctx.channel());
    HttpResponse head = new DefaultHttpResponse(version, HttpResponseStatus.OK);
    head.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8")
        .set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE)
        .set("X-Accel-Buffering", "no"); // a proxy in front must not hold events back
    HttpUtil.setTransferEncodingChunked(head, true);
    ctx.write(head);
    // A comment line: the reader sees the stream open before the first event.
    ctx.writeAndFlush(new DefaultHttpContent(Unpooled.copiedBuffer(
        ": sip-alr-agent events\n\n", StandardCharsets.UTF_8)));
    log.debug("control API: event stream to {} opened", ctx.channel().remoteAddress());
  }

  /** The answer to a failed request; unexpected failures are logged, never detailed. */
  private static ApiResponse error(Throwable failure) {
    Throwable t = failure instanceof CompletionException && failure.getCause() != null
        ? failure.getCause() : failure;
    ApiException e;
    if (t instanceof ApiException api) {
      e = api;
    } else if (t instanceof ProfileValidationException invalid) {
      e = ProfileJson.invalid(invalid);
    } else if (t instanceof ProfileConflictException conflict) {
      e = ControlApi.conflict(conflict);
    } else if (t instanceof NoSuchElementException missing) {
      e = ApiException.notFound(missing.getMessage());
    } else {
      log.error("control API: request failed", t);
      e = new ApiException(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal",
          "the agent failed to answer (" + t.getClass().getSimpleName() + "); see its log");
    }
    ObjectNode body = ControlApi.JSON.createObjectNode();
    body.put("error", e.code);
    body.put("message", e.getMessage());
    if (e.field != null) {
      body.put("field", e.field);
    }
    if (e.index != null) {
      body.put("index", e.index);
    }
    return new ApiResponse(e.status, body, e.headers);
  }

  private static void write(ChannelHandlerContext ctx, HttpVersion version, HttpMethod method,
      String path, ApiResponse response, boolean close) {
    FullHttpResponse http;
    if (response.body() == null) {
      http = new DefaultFullHttpResponse(version, response.status());
    } else {
      byte[] json;
      try {
        json = ControlApi.JSON.writeValueAsBytes(response.body());
      } catch (JsonProcessingException e) {
        throw new IllegalStateException("cannot write JSON", e);
      }
      http = new DefaultFullHttpResponse(version, response.status(),
          Unpooled.wrappedBuffer(json, new byte[] {'\n'}));
      http.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json; charset=utf-8");
    }
    if (response.status().code() != 204) { // a 204 has no Content-Length (RFC 9110 8.6)
      HttpUtil.setContentLength(http, http.content().readableBytes());
    }
    http.headers().set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE);
    response.headers().forEach((name, value) -> http.headers().set(name, value));
    if (close) {
      HttpUtil.setKeepAlive(http, false);
    }
    log.debug("control API: {} {} -> {}", method, path, response.status().code());
    if (close) {
      ctx.writeAndFlush(http).addListener(ChannelFutureListener.CLOSE);
    } else {
      ctx.writeAndFlush(http);
    }
  }
}
