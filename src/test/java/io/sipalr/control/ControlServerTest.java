package io.sipalr.control;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.mobility.Bearer;
import io.sipalr.mobility.Iap;
import io.sipalr.mobility.MobilityConfig;
import io.sipalr.mobility.MobilityManager;
import io.sipalr.mobility.ScriptedIapProvider;
import io.sipalr.mobility.Snap;
import io.sipalr.profile.ProfileStore;
import io.sipalr.profile.SipProfileBuilder;
import io.sipalr.sip.SipConfig;
import io.sipalr.sip.SipProfileRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The control server over a real store and registry (SIP on loopback, no registrar needed: no
 * profile here registers), spoken to with plain sockets, so that each request has its own
 * connection and connections can be held open or left idle on purpose.
 */
class ControlServerTest {
  private static final String TOKEN = "control-server-test-token";
  private static final long BOUND_MS = 10_000;

  @TempDir Path tmp;

  private ProfileStore store;
  private SipProfileRegistry registry;
  private MobilityManager mobility;
  private ControlServer server;
  private final ExecutorService clients = Executors.newCachedThreadPool();
  private final List<Socket> sockets = new ArrayList<>();

  private void start(int maxConnections, Duration idleTimeout, int storeThreads,
      int storeQueue) throws Exception {
    store = ProfileStore.open(tmp.resolve("data"));
    registry = new SipProfileRegistry(store, new SipConfig("127.0.0.1", 0,
        "sip-alr-agent-test", Duration.ofSeconds(5), new SipConfig.Backoff(
        Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofSeconds(60)),
        Duration.ofSeconds(30), 2, 1, Duration.ZERO));
    Iap wlan = new Iap(1, "wlan", null, "127.0.0.11", Bearer.WLAN, 1);
    MobilityConfig config = new MobilityConfig(MobilityConfig.Provider.SCRIPTED,
        Duration.ofSeconds(5), List.of(wlan), List.of(new Snap(1, "internet", List.of(1))));
    ScriptedIapProvider scripted = new ScriptedIapProvider(config.iaps());
    mobility = new MobilityManager(config, scripted, Executors.newSingleThreadExecutor());
    server = new ControlServer(new ControlConfig("127.0.0.1", 0, TOKEN,
        tmp.resolve("control.token"), 16, maxConnections, idleTimeout, storeThreads,
        storeQueue), registry, mobility, scripted, null, null);
    server.start();
  }

  @AfterEach
  void stop() throws Exception {
    if (store != null) {
      store.beforeEachWrite(() -> { });
    }
    for (Socket s : sockets) {
      s.close();
    }
    if (server != null) {
      server.close();
    }
    if (mobility != null) {
      mobility.close();
    }
    if (registry != null) {
      registry.close();
    }
    if (store != null) {
      store.close();
    }
    clients.shutdownNow();
  }

  // ------------------------------------------------------------ store writes

  @Test
  void aStoreWriteThatBlocksHoldsUpNeitherHealthNorOtherConnectionsAndAFullQueueGets503()
      throws Exception {
    start(256, Duration.ofSeconds(60), 1, 1);
    registry.create(SipProfileBuilder.forId("p0").aor("sip:p0@sipalr.test")
        .registrar("sip:127.0.0.1:5060").password("secret").autoRegister(false).build());
    registry.create(SipProfileBuilder.forId("p1").aor("sip:p1@sipalr.test")
        .registrar("sip:127.0.0.1:5060").password("secret").autoRegister(false).build());
    CountDownLatch writing = new CountDownLatch(1);
    CountDownLatch disk = new CountDownLatch(1);
    store.beforeEachWrite(() -> {
      writing.countDown();
      try {
        disk.await(BOUND_MS, TimeUnit.MILLISECONDS); // a disk stalled in fsync
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });

    CompletableFuture<String> first;
    CompletableFuture<String> second;
    try {
      // One write stalls on the only writer, the next waits in the queue (size 1) ...
      first = inBackground("PUT", "/v1/profiles/p0",
          "{\"expires\": 300}");
      assertTrue(writing.await(BOUND_MS, TimeUnit.MILLISECONDS), "the first write began");
      second = inBackground("PUT", "/v1/profiles/p1",
          "{\"expires\": 300}");
      await().atMost(Duration.ofMillis(BOUND_MS)).until(() -> server.storeWritesWaiting() == 1);

      // ... and every event loop is free: health answers (on either of the two loops).
      for (int i = 0; i < 2; i++) {
        assertEquals(200, status(request("GET", "/v1/health", null)));
      }
      // A third write finds the queue full: 503, told when to try again.
      String busy = request("PUT", "/v1/profiles/p1", "{\"expires\": 400}");
      assertEquals(503, status(busy), busy);
      assertTrue(busy.contains("Retry-After: 1"), busy);
      assertTrue(busy.contains("\"error\":\"busy\"") && busy.contains("control.store-queue"),
          busy);
      assertTrue(!first.isDone() && !second.isDone(), "both still wait for the disk");
    } finally {
      disk.countDown();
    }
    // The disk is back: the two waiting changes are stored and answered.
    store.beforeEachWrite(() -> { });
    assertEquals(200, status(first.get(BOUND_MS, TimeUnit.MILLISECONDS)));
    assertEquals(200, status(second.get(BOUND_MS, TimeUnit.MILLISECONDS)));
    assertEquals(300, store.get("p1").orElseThrow().expires());
  }

  @Test
  void pipelinedRequestsAreAnsweredInOrderWhileAWriteWaits() throws Exception {
    start(256, Duration.ofSeconds(60), 2, 64);
    registry.create(SipProfileBuilder.forId("p0").aor("sip:p0@sipalr.test")
        .registrar("sip:127.0.0.1:5060").password("secret").autoRegister(false).build());
    CountDownLatch writing = new CountDownLatch(1);
    CountDownLatch disk = new CountDownLatch(1);
    store.beforeEachWrite(() -> {
      writing.countDown();
      try {
        disk.await(BOUND_MS, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    Socket s = open();
    String body = "{\"expires\": 300}";
    String pipelined = "PUT /v1/profiles/p0 HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer "
        + TOKEN + "\r\nContent-Length: " + body.length() + "\r\n\r\n" + body
        + "GET /v1/health HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer " + TOKEN
        + "\r\nConnection: close\r\n\r\n";
    s.getOutputStream().write(pipelined.getBytes(StandardCharsets.US_ASCII));
    s.getOutputStream().flush();
    try {
      assertTrue(writing.await(BOUND_MS, TimeUnit.MILLISECONDS), "the PUT's write began");
      // The health check behind it is not answered first (a read waiting 500 ms gets nothing).
      s.setSoTimeout(500);
      assertThrows(SocketTimeoutException.class, () -> s.getInputStream().read());
      s.setSoTimeout((int) BOUND_MS);
    } finally {
      disk.countDown();
    }
    String both = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    int put = both.indexOf("\"id\":\"p0\"");
    int health = both.indexOf("\"status\":\"ok\"");
    assertTrue(put > 0 && health > put, "the PUT's answer, then health's: " + both);
  }

  // ------------------------------------------------------------ paths

  @Test
  void aClientCertificateTheAgentDoesNotDefineIs400NamingTheField() throws Exception {
    start(256, Duration.ofSeconds(60), 2, 64);
    String profile = "{\"id\": \"tia\", \"aor\": \"sip:tia@sipalr.test\","
        + " \"registrar\": \"sip:127.0.0.1:5061\", \"transport\": \"tls\","
        + " \"password\": \"secret\", \"autoRegister\": false,"
        + " \"tlsClientCertificate\": \"tia-device\"}";
    String answer = request("POST", "/v1/profiles", profile);
    assertEquals(400, status(answer), answer);
    assertTrue(answer.contains("invalid_field"), answer);
    assertTrue(answer.contains("profile \\\"tia\\\": tlsClientCertificate: names"
        + " \\\"tia-device\\\", which the agent's sip.tls.client-certificates does not define"
        + " (it defines none)"), answer);
    assertTrue(registry.profile("tia").isEmpty());

    String created = request("POST", "/v1/profiles", profile.replace(
        ", \"tlsClientCertificate\": \"tia-device\"", ""));
    assertEquals(201, status(created), created);
    assertTrue(created.contains("\"tlsClientCertificate\":null"), created);
    String changed = request("PUT", "/v1/profiles/tia", "{\"tlsClientCertificate\": \"x\"}");
    assertEquals(400, status(changed), changed);
    assertTrue(changed.contains("tlsClientCertificate: names"), changed);
  }

  @Test
  void aPercentEscapeThatDoesNotDecodeIs400NamingIt() throws Exception {
    start(256, Duration.ofSeconds(60), 2, 64);
    String answer = request("GET", "/v1/profiles/al%zzice", null);
    assertEquals(400, status(answer), answer);
    assertTrue(answer.contains("\"error\":\"bad_path\"") && answer.contains("al%zzice"), answer);
    String truncated = request("GET", "/v1/profiles/alice%4", null);
    assertEquals(400, status(truncated), truncated);
  }

  // ------------------------------------------------------------ connections

  @Test
  void connectionsBeyondTheLimitAreClosedAtOnceAndOneFreedIsUsableAgain() throws Exception {
    start(2, Duration.ofSeconds(60), 2, 64);
    Socket a = open();
    open();
    await().atMost(Duration.ofMillis(BOUND_MS)).until(() -> server.openConnections() == 2);

    ch.qos.logback.classic.Logger serverLog =
        (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(ControlServer.class);
    ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> logged =
        new ch.qos.logback.core.read.ListAppender<>();
    logged.start();
    serverLog.addAppender(logged);
    try {
      for (int i = 0; i < 3; i++) {
        Socket beyond = open();
        assertEquals(-1, beyond.getInputStream().read(), "closed at once, without an answer");
      }
    } finally {
      serverLog.detachAppender(logged);
    }
    List<String> lines = logged.list.stream()
        .map(ch.qos.logback.classic.spi.ILoggingEvent::getFormattedMessage)
        .filter(m -> m.contains("control.max-connections")).toList();
    assertEquals(1, lines.size(), "one line for a burst of refusals: " + lines);

    a.close();
    await().atMost(Duration.ofMillis(BOUND_MS)).until(() -> server.openConnections() == 1);
    assertEquals(200, status(request("GET", "/v1/health", null)));
  }

  @Test
  void anIdleConnectionIsClosedButTheEventStreamStaysOpen() throws Exception {
    start(256, Duration.ofMillis(300), 2, 64);
    Socket events = open();
    send(events, "GET", "/v1/events", null, false);
    String head = readUntil(events, ": sip-alr-agent events\n\n\r\n"); // its chunk's end
    assertEquals(200, status(head), head);

    Socket idle = open();
    assertEquals(-1, idle.getInputStream().read(), "an idle connection is closed");

    // The stream outlived the timeout several times over (a read waiting 1 s finds nothing
    // and no end), and still carries events.
    events.setSoTimeout(1_000);
    assertThrows(SocketTimeoutException.class, () -> events.getInputStream().read());
    events.setSoTimeout((int) BOUND_MS);
    assertEquals(201, status(request("POST", "/v1/profiles", "{\"id\": \"eve\","
        + " \"aor\": \"sip:eve@sipalr.test\", \"registrar\": \"sip:127.0.0.1:5060\","
        + " \"password\": \"secret\", \"autoRegister\": false}")));
    String event = readUntil(events, "\"eve\"");
    assertTrue(event.contains("CREATED"), event);
  }

  // ------------------------------------------------------------ plumbing

  private Socket open() throws IOException {
    Socket s = new Socket();
    sockets.add(s);
    s.connect(new InetSocketAddress("127.0.0.1", server.port()), (int) BOUND_MS);
    s.setSoTimeout((int) BOUND_MS); // every read below is bounded
    return s;
  }

  private static void send(Socket s, String method, String path, String body, boolean close)
      throws IOException {
    byte[] content = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
    String head = method + " " + path + " HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer "
        + TOKEN + "\r\nContent-Type: application/json\r\nContent-Length: " + content.length
        + "\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n";
    OutputStream out = s.getOutputStream();
    out.write(head.getBytes(StandardCharsets.US_ASCII));
    out.write(content);
    out.flush();
  }

  /** One request on a connection of its own; the whole answer, head and body. */
  private String request(String method, String path, String body) throws IOException {
    try (Socket s = open()) {
      send(s, method, path, body, true);
      return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private CompletableFuture<String> inBackground(String method, String path, String body) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return request(method, path, body);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }, clients);
  }

  private static String readUntil(Socket s, String end) throws IOException {
    InputStream in = s.getInputStream();
    ByteArrayOutputStream got = new ByteArrayOutputStream();
    while (!got.toString(StandardCharsets.UTF_8).contains(end)) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("closed before \"" + end + "\"; got: " + got);
      }
      got.write(b);
    }
    return got.toString(StandardCharsets.UTF_8);
  }

  private static int status(String answer) {
    return Integer.parseInt(answer.substring(9, 12));
  }
}
