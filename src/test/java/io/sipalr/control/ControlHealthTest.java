package io.sipalr.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.sipalr.metrics.AgentMetrics;
import io.sipalr.mobility.Bearer;
import io.sipalr.mobility.Iap;
import io.sipalr.mobility.MobilityConfig;
import io.sipalr.mobility.MobilityManager;
import io.sipalr.mobility.ScriptedIapProvider;
import io.sipalr.mobility.Snap;
import io.sipalr.profile.ProfileStore;
import io.sipalr.profile.SipProfileBuilder;
import io.sipalr.sip.ScriptedSip;
import io.sipalr.sip.SipConfig;
import io.sipalr.sip.SipProfileRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The health endpoints and GET /metrics of a real control server. Readiness runs over the
 * scripted registrar (profiles registered, failing or waiting at will, no socket); liveness
 * and the token rules over a registry on loopback, whose threads turn by themselves.
 */
class ControlHealthTest {
  private static final String TOKEN = "control-health-test-token";
  private static final int WLAN = 1;

  @TempDir Path tmp;

  private final HttpClient http = HttpClient.newBuilder()
      .connectTimeout(Duration.ofSeconds(10)).build();
  private final List<AutoCloseable> opened = new ArrayList<>();
  private ScriptedSip sip;
  private ScriptedIapProvider iaps;
  private ControlServer server;

  @AfterEach
  void close() throws Exception {
    for (int i = opened.size() - 1; i >= 0; i--) {
      opened.get(i).close();
    }
  }

  private static ControlConfig config(boolean metricsWithoutToken, double share, Path dir) {
    return new ControlConfig("127.0.0.1", 0, TOKEN, dir.resolve("control.token"), 16, 256,
        Duration.ofSeconds(60), 2, 64, metricsWithoutToken, share);
  }

  private MobilityManager mobility(java.util.concurrent.Executor pool) {
    Iap wlan = new Iap(WLAN, "wlan", null, "198.18.0.10", Bearer.WLAN, 1);
    MobilityConfig config = new MobilityConfig(MobilityConfig.Provider.SCRIPTED,
        Duration.ofSeconds(5), List.of(wlan), List.of(new Snap(1, "internet", List.of(WLAN))));
    iaps = new ScriptedIapProvider(config.iaps());
    MobilityManager mobility = new MobilityManager(config, iaps, pool);
    opened.add(mobility);
    return mobility;
  }

  /** A server over the scripted registrar (its threads turn only when the test says so). */
  private void scripted(double share) throws Exception {
    sip = new ScriptedSip("alice", "bob");
    opened.add(sip);
    MobilityManager mobility = mobility(sip.clock);
    PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    opened.add(AgentMetrics.bind(meters, sip.store, sip.registry, null, false));
    server = new ControlServer(config(false, share, tmp), sip.registry, mobility, iaps, null,
        null, meters);
    opened.add(server);
    server.start();
  }

  /** A server over a registry on loopback, with metrics served or not. */
  private void live(boolean metricsWithoutToken, boolean withMetrics) throws Exception {
    ProfileStore store = ProfileStore.open(tmp.resolve("data"));
    opened.add(store);
    SipProfileRegistry registry = new SipProfileRegistry(store, new SipConfig("127.0.0.1", 0,
        "sip-alr-agent-test", Duration.ofSeconds(5), new SipConfig.Backoff(
        Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofSeconds(60)),
        Duration.ofSeconds(30), 2, 1, Duration.ZERO));
    opened.add(registry);
    var pool = Executors.newSingleThreadExecutor();
    opened.add(pool::shutdownNow);
    MobilityManager mobility = mobility(pool);
    PrometheusMeterRegistry meters = null;
    if (withMetrics) {
      meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      opened.add(AgentMetrics.bind(meters, store, registry, null, false));
    }
    server = new ControlServer(config(metricsWithoutToken, 0.5, tmp), registry, mobility, iaps,
        null, null, meters);
    opened.add(server);
    server.start();
  }

  private HttpResponse<String> get(String path, boolean withToken) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + server.port() + path)).timeout(Duration.ofSeconds(10));
    if (withToken) {
      b.header("Authorization", "Bearer " + TOKEN);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode json(HttpResponse<String> r) throws Exception {
    return ControlApi.JSON.readTree(r.body());
  }

  private static List<String> reasons(JsonNode body) {
    List<String> list = new ArrayList<>();
    body.get("reasons").forEach(n -> list.add(n.asText()));
    return list;
  }

  private void create(String user, String password, Integer snap) {
    sip.registry.create(SipProfileBuilder.forId(user).aor("sip:" + user + "@sipalr.test")
        .registrar("sip:198.18.0.1").authUser(user).password(password).expires(600)
        .snapId(snap).autoRegister(true).build());
  }

  // ------------------------------------------------------------ readiness

  @Test
  void readyIsDownWhileNoEnabledProfileIsRegisteredThenOkOnceAllAre() throws Exception {
    scripted(0.5);
    create("alice", ScriptedSip.password(), null);
    create("bob", ScriptedSip.password(), null);
    sip.clock.runDue(); // their REGISTERs leave; nobody answers yet

    HttpResponse<String> down = get("/v1/health/ready", true);
    assertEquals(503, down.statusCode(), down.body());
    JsonNode body = json(down);
    assertEquals("down", body.get("status").asText());
    assertTrue(reasons(body).stream().anyMatch(r -> r.contains("2 of 2 enabled profiles are not"
        + " registered")), body.toString());
    assertEquals(2, body.get("enabled").asInt());
    assertEquals(0, body.get("registered").asInt());
    HttpResponse<String> health = get("/v1/health", true);
    assertEquals(200, health.statusCode(), "the old health stays 200");
    assertEquals("down", json(health).get("status").asText());
    assertEquals(reasons(body), reasons(json(health)));
    assertEquals(2, json(health).get("profiles").asInt(), "its fields stay");

    sip.settle(Duration.ofSeconds(10));
    HttpResponse<String> ok = get("/v1/health/ready", true);
    assertEquals(200, ok.statusCode(), ok.body());
    assertEquals("ok", json(ok).get("status").asText());
    assertEquals(List.of(), reasons(json(ok)));
    assertEquals("ok", json(get("/v1/health", true)).get("status").asText());
  }

  @Test
  void readyIsDegradedWhenSomeButEnoughProfilesFail() throws Exception {
    scripted(0.5);
    create("alice", ScriptedSip.password(), null);
    create("bob", "wrong password", null);
    sip.settle(Duration.ofSeconds(10));
    HttpResponse<String> degraded = get("/v1/health/ready", true);
    assertEquals(200, degraded.statusCode(), degraded.body());
    assertEquals("degraded", json(degraded).get("status").asText());
    assertEquals(List.of("1 of 2 enabled profiles are not registered"),
        reasons(json(degraded)));
  }

  @Test
  void theShareIsConfigured() throws Exception {
    scripted(1.0);
    create("alice", ScriptedSip.password(), null);
    create("bob", "wrong password", null);
    sip.settle(Duration.ofSeconds(10));
    HttpResponse<String> down = get("/v1/health/ready", true);
    assertEquals(503, down.statusCode(), down.body());
    assertTrue(reasons(json(down)).get(0).contains("control.ready-registered-share = 1.0"),
        down.body());
  }

  @Test
  void readyIsDownWithoutAnIapWhenProfilesRoamAndOkOnceOneIsUp() throws Exception {
    scripted(0.5);
    create("alice", ScriptedSip.password(), 1);
    sip.registry.enable("alice");
    sip.settle(Duration.ofSeconds(10));
    HttpResponse<String> down = get("/v1/health/ready", true);
    assertEquals(503, down.statusCode(), down.body());
    assertTrue(reasons(json(down)).stream().anyMatch(r -> r.startsWith("no IAP is up (1"
        + " configured)")), down.body());

    iaps.up(WLAN);
    sip.registry.claimMoves().rebind("alice", "198.18.0.10"); // as SIP ALR does on a carrier
    sip.settle(Duration.ofSeconds(10));
    HttpResponse<String> ok = get("/v1/health/ready", true);
    assertEquals(200, ok.statusCode(), ok.body());
    assertEquals("ok", json(ok).get("status").asText());
  }

  @Test
  void noEnabledProfileIsReady() throws Exception {
    scripted(0.5);
    HttpResponse<String> ok = get("/v1/health/ready", true);
    assertEquals(200, ok.statusCode(), ok.body());
    assertEquals("ok", json(ok).get("status").asText());
  }

  // ------------------------------------------------------------ liveness

  @Test
  void liveIs200WhileTheThreadsTurn() throws Exception {
    live(false, true);
    HttpResponse<String> live = get("/v1/health/live", true);
    assertEquals(200, live.statusCode(), live.body());
    assertEquals("ok", json(live).get("status").asText());
    assertEquals(List.of(), reasons(json(live)));
  }

  @Test
  void liveIs503NamingTheThreadsThatDoNotTurn() throws Exception {
    scripted(0.5); // the scripted registry's timer is a virtual clock nobody moves
    HttpResponse<String> live = get("/v1/health/live", true);
    assertEquals(503, live.statusCode(), live.body());
    assertEquals("down", json(live).get("status").asText());
    assertEquals(List.of("the SIP timer and worker threads did not run a task within 2000 ms"),
        reasons(json(live)));
  }

  @Test
  void healthPathsNeedTheTokenAsV1HealthAlwaysDid() throws Exception {
    live(true, true);
    for (String path : List.of("/v1/health", "/v1/health/live", "/v1/health/ready")) {
      assertEquals(401, get(path, false).statusCode(), path);
    }
  }

  // ------------------------------------------------------------ metrics

  @Test
  void metricsNeedTheTokenByDefault() throws Exception {
    live(false, true);
    assertEquals(401, get("/metrics", false).statusCode());
    HttpResponse<String> metrics = get("/metrics", true);
    assertEquals(200, metrics.statusCode(), metrics.body());
    assertTrue(metrics.headers().firstValue("Content-Type").orElse("")
        .startsWith("text/plain; version=0.0.4"), metrics.headers().toString());
    for (String name : List.of("sipalr_profiles{status=\"registered\"}",
        "sipalr_profiles_enabled", "sipalr_registrations_total",
        "sipalr_registration_failures_total{kind=\"authentication\"}",
        "sipalr_registers_sent_total", "sipalr_keepalive_failures_total", "sipalr_flows",
        "sipalr_migrations_total{outcome=\"completed\"}", "sipalr_handover_seconds_bucket",
        "sipalr_handover_seconds_count", "sipalr_store_write_seconds_count",
        "sipalr_events_dropped_total", "sipalr_event_streams")) {
      assertTrue(metrics.body().contains(name), name + " in:\n" + metrics.body());
    }
  }

  @Test
  void metricsWithoutTokenWhenConfiguredAndOnlyThere() throws Exception {
    live(true, true);
    assertEquals(200, get("/metrics", false).statusCode());
    assertEquals(401, get("/v1/health", false).statusCode());
    assertEquals(401, get("/v1/profiles", false).statusCode());
  }

  @Test
  void aServerWithoutMetersAnswers404OnMetrics() throws Exception {
    live(false, false);
    HttpResponse<String> none = get("/metrics", true);
    assertEquals(404, none.statusCode(), none.body());
  }
}
