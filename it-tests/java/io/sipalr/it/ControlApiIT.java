package io.sipalr.it;

import static io.sipalr.it.AlrHarness.CELL;
import static io.sipalr.it.AlrHarness.CELL_ADDRESS;
import static io.sipalr.it.AlrHarness.LAN;
import static io.sipalr.it.AlrHarness.LAN_ADDRESS;
import static io.sipalr.it.AlrHarness.SNAP_ALL;
import static io.sipalr.it.AlrHarness.SNAP_WLAN_CELL;
import static io.sipalr.it.AlrHarness.WLAN;
import static io.sipalr.it.AlrHarness.WLAN_ADDRESS;
import static io.sipalr.it.AlrIT.assertOneBindingFrom;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sipalr.alr.AlrPolicy;
import io.sipalr.alr.PolicyController;
import io.sipalr.control.ControlServer;
import io.sipalr.profile.SipProfileBuilder;
import io.sipalr.sip.MigrationOrder;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The control API over real HTTP (java.net.http) against a server wired as the agent wires it
 * (AlrHarness: registry, scripted mobility on loopback IAPs, SipAlr, a policy controller) and a
 * real Kamailio: what the API says is checked against what the registrar holds.
 */
class ControlApiIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration BOUND = Duration.ofSeconds(30);
  private static final String PASSWORD = AgentHarness.REALM_PASSWORD;

  private static KamailioRegistrar kamailio;

  /** Every response body seen in a test: none may ever contain the password. */
  private final List<String> bodies = new CopyOnWriteArrayList<>();
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeAll
  static void startRegistrar() {
    kamailio = KamailioRegistrar.builder().start();
  }

  @AfterAll
  static void stopRegistrar() {
    if (kamailio != null) {
      kamailio.close();
    }
  }

  @AfterEach
  void passwordNeverInAnyResponse() {
    for (String body : bodies) {
      assertFalse(body.contains(PASSWORD), "a response shows the password: " + body);
    }
  }

  // ------------------------------------------------------------ HTTP helpers

  record Answer(int status, JsonNode json, HttpResponse<String> raw) {
    String error() {
      return json.path("error").asText();
    }

    String message() {
      return json.path("message").asText();
    }
  }

  /** The API of one server, with its token. */
  final class Api {
    final String base;
    final String token;

    Api(ControlServer server) {
      this.base = "http://127.0.0.1:" + server.port();
      this.token = server.token();
    }

    Answer call(String method, String path, String body) {
      return call(method, path, body, "Bearer " + token);
    }

    Answer call(String method, String path, String body, String authorization) {
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
          .timeout(Duration.ofSeconds(20))
          .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
              : HttpRequest.BodyPublishers.ofString(body));
      if (authorization != null) {
        b.header("Authorization", authorization);
      }
      if (body != null) {
        b.header("Content-Type", "application/json");
      }
      try {
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        bodies.add(r.body());
        JsonNode json = r.body().isEmpty() ? JSON.nullNode() : JSON.readTree(r.body());
        return new Answer(r.statusCode(), json, r);
      } catch (IOException e) {
        throw new UncheckedIOException(method + " " + path, e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }

    Answer get(String path) {
      return call("GET", path, null);
    }

    Answer post(String path, String body) {
      return call("POST", path, body);
    }

    Answer put(String path, String body) {
      return call("PUT", path, body);
    }

    Answer delete(String path) {
      return call("DELETE", path, null);
    }

    JsonNode profile(String id) {
      Answer a = get("/v1/profiles/" + id);
      assertEquals(200, a.status(), a.json()::toString);
      return a.json();
    }

    void awaitProfile(String id, String status, Integer iap) {
      await(id + " " + status + " on IAP " + iap).atMost(BOUND)
          .pollInterval(Duration.ofMillis(50)).until(() -> {
            JsonNode p = profile(id);
            return p.path("status").asText().equals(status)
                && (iap == null ? p.path("iap").isNull() : p.path("iap").asInt() == iap);
          });
    }

    List<JsonNode> pending() {
      List<JsonNode> list = new ArrayList<>();
      get("/v1/alr/pending").json().forEach(list::add);
      return list;
    }
  }

  /** A profile's JSON for POST /v1/profiles. */
  private static String profileJson(String id, Integer snap, boolean autoRegister) {
    return "{\"id\": \"" + id + "\", \"aor\": \"sip:" + id + "@" + kamailio.realm() + "\","
        + " \"registrar\": \"" + kamailio.sipUri() + "\", \"password\": \"" + PASSWORD + "\","
        + " \"expires\": 600, \"autoRegister\": " + autoRegister
        + (snap == null ? "" : ", \"snap\": " + snap) + "}";
  }

  /** Reads an event stream on a background thread into a list of its events. */
  final class EventReader implements AutoCloseable {
    final List<JsonNode> events = new CopyOnWriteArrayList<>();
    private final Stream<String> lines;
    private final Thread thread;

    EventReader(Api api) throws Exception {
      HttpResponse<Stream<String>> r = http.send(HttpRequest.newBuilder(
              URI.create(api.base + "/v1/events"))
          .header("Authorization", "Bearer " + api.token).GET().build(),
          HttpResponse.BodyHandlers.ofLines());
      assertEquals(200, r.statusCode());
      assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith(
          "text/event-stream"), r.headers().toString());
      lines = r.body();
      thread = new Thread(() -> {
        try {
          lines.filter(l -> l.startsWith("data: ")).forEach(l -> {
            try {
              events.add(JSON.readTree(l.substring(6)));
            } catch (IOException e) {
              throw new UncheckedIOException(e);
            }
          });
        } catch (RuntimeException closed) {
          // the stream was closed by the test or the server
        }
      }, "sse-reader");
      thread.setDaemon(true);
      thread.start();
    }

    /** "TYPE@iap" of the ALR events and errors of one profile, in order. */
    List<String> alrOf(String profileId) {
      return events.stream().filter(e -> "alr".equals(e.path("source").asText())
              && profileId.equals(e.path("profile").asText()))
          .map(e -> ("ALR_ERROR".equals(e.path("type").asText())
              ? e.path("error").asText() : e.path("type").asText()) + "@" + e.path("iap").asInt())
          .toList();
    }

    @Override
    public void close() {
      lines.close();
    }
  }

  // ------------------------------------------------------------ tests

  @Test
  void authenticationAndErrors() throws Exception {
    try (AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      PolicyController policy = agent.policyController(
          new AlrPolicy.Manual(Duration.ofMinutes(5), false));
      Api api = new Api(agent.controlServer(policy, true, 64));

      // 401 without a token, with a wrong one, with another scheme.
      for (String auth : new String[] {null, "Bearer wrong-token-wrong-token-wrong",
          "Basic " + api.token}) {
        Answer a = api.call("GET", "/v1/health", null, auth);
        assertEquals(401, a.status(), String.valueOf(auth));
        assertEquals("unauthorized", a.error());
        assertTrue(a.raw().headers().firstValue("WWW-Authenticate").orElse("")
            .startsWith("Bearer"));
        assertFalse(a.raw().body().contains(api.token), "the token is never shown");
      }
      assertEquals(401, api.call("GET", "/v1/nowhere", null, null).status(),
          "authentication comes before routing");

      Answer health = api.get("/v1/health");
      assertEquals(200, health.status());
      assertEquals("ok", health.json().path("status").asText());
      assertEquals("manual", health.json().path("policy").asText());

      // 404: unknown paths and ids.
      assertEquals("not_found", api.get("/v1/nowhere").error());
      assertEquals(404, api.get("/v2/profiles").status());
      Answer ghost = api.get("/v1/profiles/ghost");
      assertEquals(404, ghost.status());
      assertTrue(ghost.message().contains("ghost"), ghost.message());
      assertEquals(404, api.put("/v1/profiles/ghost", "{}").status());
      assertEquals(404, api.delete("/v1/profiles/ghost").status());
      assertEquals(404, api.post("/v1/profiles/ghost/enable", null).status());
      assertEquals(404, api.post("/v1/profiles/ghost/alr/allow", "{\"iap\": 1}").status());
      assertEquals(404, api.post("/v1/iaps/9/up", null).status());
      assertEquals(404, api.post("/v1/iaps/wlan/up", null).status());

      // 405 with Allow.
      Answer notAllowed = api.delete("/v1/health");
      assertEquals(405, notAllowed.status());
      assertEquals("GET", notAllowed.raw().headers().firstValue("Allow").orElse(""));

      // 400: bad JSON, invalid fields (the message names the field), unknown keys.
      Answer badJson = api.post("/v1/profiles", "{\"id\": \"x\", \"password\": " + PASSWORD);
      assertEquals(400, badJson.status());
      assertEquals("bad_json", badJson.error());
      Answer badAor = api.post("/v1/profiles", profileJson("erin", null, false)
          .replace("\"sip:erin@" + kamailio.realm() + "\"", "\"erin\""));
      assertEquals(400, badAor.status());
      assertEquals("aor", badAor.json().path("field").asText());
      assertTrue(badAor.message().contains("\"erin\"") && badAor.message().contains("aor"),
          badAor.message());
      Answer badExpires = api.post("/v1/profiles", profileJson("erin", null, false)
          .replace("\"expires\": 600", "\"expires\": 0"));
      assertEquals(400, badExpires.status());
      assertTrue(badExpires.message().contains("expires"), badExpires.message());
      Answer badSnap = api.post("/v1/profiles", profileJson("erin", 42, false));
      assertEquals("snap", badSnap.json().path("field").asText(), badSnap.message());
      Answer unknownKey = api.post("/v1/profiles", profileJson("erin", null, false)
          .replace("}", ", \"colour\": \"red\"}"));
      assertEquals(400, unknownKey.status());
      assertTrue(unknownKey.message().contains("colour"), unknownKey.message());
      Answer tooLarge = api.post("/v1/profiles", "{\"id\": \"" + "x".repeat(70_000) + "\"}");
      assertEquals(413, tooLarge.status());

      // 409: a duplicate id; allow with nothing pending.
      assertEquals(201, api.post("/v1/profiles", profileJson("erin", SNAP_WLAN_CELL, false))
          .status());
      Answer duplicate = api.post("/v1/profiles", profileJson("erin", SNAP_WLAN_CELL, false));
      assertEquals(409, duplicate.status());
      assertTrue(duplicate.message().contains("erin"), duplicate.message());
      Answer nothing = api.post("/v1/profiles/erin/alr/allow", "{\"iap\": 1}");
      assertEquals(409, nothing.status());
      assertEquals("nothing_pending", nothing.error());
      assertTrue(nothing.message().contains("erin") && nothing.message().contains("IAP 1"),
          nothing.message());
      assertEquals(409, api.post("/v1/profiles/erin/alr/disallow", "{\"iap\": 1}").status());
      assertEquals(400, api.post("/v1/profiles/erin/alr/allow", "{\"iap\": \"wlan\"}")
          .status());
      assertEquals(202, api.post("/v1/profiles/erin/alr/refresh", null).status());
      assertEquals(List.of(), api.pending());

      // IAPs and SNAPs.
      JsonNode iaps = api.get("/v1/iaps").json();
      assertEquals(3, iaps.size());
      assertEquals("wlan", iaps.get(0).path("bearer").asText());
      assertFalse(iaps.get(0).path("available").asBoolean());
      Answer up = api.post("/v1/iaps/1/up", null);
      assertEquals(200, up.status());
      assertEquals(WLAN_ADDRESS, up.json().path("address").asText());
      Answer moved = api.post("/v1/iaps/1/up", "{\"address\": \"127.0.0.5\"}");
      assertEquals("127.0.0.5", moved.json().path("address").asText());
      assertEquals("address", api.post("/v1/iaps/1/up", "{\"address\": \"wlan0\"}").json()
          .path("field").asText());
      Answer down = api.post("/v1/iaps/1/down", null);
      assertFalse(down.json().path("available").asBoolean());
      JsonNode snaps = api.get("/v1/snaps").json();
      assertEquals(List.of(WLAN, CELL), List.of(snaps.get(0).path("iaps").get(0).asInt(),
          snaps.get(0).path("iaps").get(1).asInt()));

      // 409: IAP up/down on an agent whose IAPs come from the host.
      Api hostIaps = new Api(agent.controlServer(policy, false, 64));
      Answer refused = hostIaps.post("/v1/iaps/1/up", null);
      assertEquals(409, refused.status());
      assertEquals("not_scripted", refused.error());
      assertEquals(409, hostIaps.post("/v1/iaps/1/down", null).status());

      // SIP tracing at run time.
      Answer traceOn = api.put("/v1/logging/sip-trace", "{\"enabled\": true}");
      assertEquals(200, traceOn.status());
      assertTrue(traceOn.json().path("enabled").asBoolean());
      assertTrue(LoggerFactory.getLogger("io.sipalr.sip.trace").isDebugEnabled());
      assertTrue(api.get("/v1/logging/sip-trace").json().path("enabled").asBoolean());
      assertFalse(api.put("/v1/logging/sip-trace", "{\"enabled\": false}").json()
          .path("enabled").asBoolean());
      assertFalse(LoggerFactory.getLogger("io.sipalr.sip.trace").isDebugEnabled());
      assertEquals(400, api.put("/v1/logging/sip-trace", "{\"enabled\": \"yes\"}").status());
    }
  }

  @Test
  void aProfileCreatedThroughTheApiRegistersOnce() throws Exception {
    kamailio.addUser("cara", PASSWORD);
    try (AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      Api api = new Api(agent.controlServer(agent.policyController(new AlrPolicy.Auto()), true,
          64));
      assertEquals(200, api.post("/v1/iaps/" + CELL + "/up", null).status());
      assertEquals(200, api.post("/v1/iaps/" + WLAN + "/up", null).status());

      Answer created = api.post("/v1/profiles", profileJson("cara", SNAP_WLAN_CELL, true));
      assertEquals(201, created.status(), created.json()::toString);
      assertEquals("/v1/profiles/cara", created.raw().headers().firstValue("Location")
          .orElse(""));
      assertFalse(created.json().has("password"));
      assertEquals(SNAP_WLAN_CELL, created.json().path("snap").asInt());
      api.awaitProfile("cara", "REGISTERED", WLAN);
      JsonNode cara = api.profile("cara");
      assertEquals(WLAN_ADDRESS, cara.path("localAddress").asText());
      assertTrue(cara.path("contact").asText().contains(WLAN_ADDRESS), cara.toString());
      assertFalse(cara.path("expiresAt").isNull());
      assertOneBindingFrom(kamailio, "cara", WLAN_ADDRESS);
      assertEquals(1, api.get("/v1/profiles").json().size());

      // PUT without a password keeps the stored one: the re-registration still succeeds.
      Answer updated = api.put("/v1/profiles/cara", "{\"expires\": 300}");
      assertEquals(200, updated.status(), updated.json()::toString);
      assertEquals(300, updated.json().path("expires").asInt());
      assertEquals(PASSWORD, agent.registry.profile("cara").orElseThrow().password());
      await().atMost(BOUND).until(() -> kamailio.lookup("cara").size() == 1
          && kamailio.lookup("cara").get(0).expires() <= 300
          && "REGISTERED".equals(api.profile("cara").path("status").asText()));
      Answer renamed = api.put("/v1/profiles/cara", "{\"id\": \"carla\"}");
      assertEquals(400, renamed.status());
      assertEquals("id", renamed.json().path("field").asText());

      Answer disabled = api.post("/v1/profiles/cara/disable", null);
      assertEquals(200, disabled.status(), "the deregistration ended within the bound");
      assertEquals("UNREGISTERED", disabled.json().path("status").asText());
      assertEquals(List.of(), kamailio.lookup("cara"));

      assertEquals(202, api.post("/v1/profiles/cara/enable", null).status());
      api.awaitProfile("cara", "REGISTERED", WLAN);
      assertOneBindingFrom(kamailio, "cara", WLAN_ADDRESS);

      Answer deleted = api.delete("/v1/profiles/cara");
      assertEquals(204, deleted.status());
      assertEquals(List.of(), kamailio.lookup("cara"), "deregistered before it was destroyed");
      assertEquals(404, api.get("/v1/profiles/cara").status());
      assertEquals(0, api.get("/v1/profiles").json().size());
    }
  }

  @Test
  void anArrayOfProfilesIsCreatedWholeOrNotAtAll() throws Exception {
    kamailio.addUser("ari", PASSWORD);
    try (AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      Api api = new Api(agent.controlServer(agent.policyController(new AlrPolicy.Auto()), true,
          64));
      assertEquals(200, api.post("/v1/iaps/" + CELL + "/up", null).status());

      Answer created = api.post("/v1/profiles", "[" + profileJson("ari", SNAP_WLAN_CELL, true)
          + ", " + profileJson("bea", null, false) + ", " + profileJson("cal", null, false) + "]");
      assertEquals(201, created.status(), created.json()::toString);
      assertTrue(created.json().isArray(), created.json()::toString);
      List<String> ids = new ArrayList<>();
      created.json().forEach(p -> {
        ids.add(p.path("id").asText());
        assertFalse(p.has("password"), p::toString);
        assertTrue(p.path("instanceId").asText().startsWith("urn:uuid:"), p::toString);
      });
      assertEquals(List.of("ari", "bea", "cal"), ids, "in the order given");
      assertEquals(3, api.get("/v1/profiles").json().size());
      // As for a single create, an auto-register profile registers at once; the others wait.
      api.awaitProfile("ari", "REGISTERED", CELL);
      assertOneBindingFrom(kamailio, "ari", CELL_ADDRESS);
      assertEquals("UNREGISTERED", api.profile("bea").path("status").asText());

      // A bad element: 400 naming its index and field; the valid ones are not created either.
      Answer bad = api.post("/v1/profiles", "[" + profileJson("kit", null, false) + ", "
          + profileJson("lou", null, false).replace("\"sip:lou@" + kamailio.realm() + "\"",
              "\"lou\"") + ", " + profileJson("max", null, false) + "]");
      assertEquals(400, bad.status(), bad.json()::toString);
      assertEquals(1, bad.json().path("index").asInt(), bad.json()::toString);
      assertEquals("aor", bad.json().path("field").asText());
      assertTrue(bad.message().startsWith("element 1 of the array: profile \"lou\": aor: "),
          bad.message());
      Answer wrongType = api.post("/v1/profiles", "[" + profileJson("kit", null, false)
          + ", " + profileJson("max", null, false).replace("\"expires\": 600",
              "\"expires\": \"long\"") + "]");
      assertEquals(400, wrongType.status(), wrongType.json()::toString);
      assertEquals(1, wrongType.json().path("index").asInt());
      assertEquals("expires", wrongType.json().path("field").asText());
      assertEquals(400, api.post("/v1/profiles", "[" + profileJson("kit", null, false)
          + ", 7]").status());

      // A conflict with a stored id, or an id twice: 409 naming the id.
      Answer stored = api.post("/v1/profiles", "[" + profileJson("kit", null, false) + ", "
          + profileJson("bea", null, false) + "]");
      assertEquals(409, stored.status(), stored.json()::toString);
      assertEquals(1, stored.json().path("index").asInt());
      assertTrue(stored.message().contains("\"bea\""), stored.message());
      Answer twice = api.post("/v1/profiles", "[" + profileJson("kit", null, false) + ", "
          + profileJson("kit", null, false) + "]");
      assertEquals(409, twice.status(), twice.json()::toString);
      assertEquals(1, twice.json().path("index").asInt());
      assertTrue(twice.message().contains("\"kit\""), twice.message());

      assertEquals(3, api.get("/v1/profiles").json().size(), "nothing was created");
      for (String id : List.of("kit", "lou", "max")) {
        assertEquals(404, api.get("/v1/profiles/" + id).status(), id);
      }
    }
  }

  @Test
  void manualDecisionsThroughTheApiAndTheEventStream() throws Exception {
    kamailio.addUser("dora", PASSWORD);
    try (AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      PolicyController policy = agent.policyController(
          new AlrPolicy.Manual(Duration.ofMinutes(5), false));
      Api api = new Api(agent.controlServer(policy, true, 256));
      try (EventReader stream = new EventReader(api)) {
        api.post("/v1/iaps/" + CELL + "/up", null);
        assertEquals(201, api.post("/v1/profiles", profileJson("dora", SNAP_WLAN_CELL, true))
            .status());
        agent.awaitRegisteredFrom("dora", CELL_ADDRESS);
        assertEquals(List.of(), api.pending(), "rule 1: the first IAP is taken without asking");

        // An upgrade waits for the API's decision; allowed, it moves the binding.
        api.post("/v1/iaps/" + WLAN + "/up", null);
        await("offer listed").atMost(BOUND).until(() -> api.pending().size() == 1);
        JsonNode offer = api.pending().get(0);
        assertEquals("dora", offer.path("profile").asText());
        assertEquals(WLAN, offer.path("iap").asInt());
        assertEquals(SNAP_WLAN_CELL, offer.path("snap").asInt());
        assertFalse(offer.path("decidedByDefaultAt").isNull());
        assertOneBindingFrom(kamailio, "dora", CELL_ADDRESS);
        Answer allowed = api.post("/v1/profiles/dora/alr/allow", "{\"iap\": " + WLAN + "}");
        assertEquals(202, allowed.status(), allowed.json()::toString);
        agent.awaitRegisteredFrom("dora", WLAN_ADDRESS);
        await("migration streamed").atMost(BOUND).until(
            () -> stream.alrOf("dora").contains("MIGRATION_COMPLETED@" + WLAN));
        assertEquals(List.of("IAP_AVAILABLE@1", "MIGRATION_STARTED@1", "MIGRATION_COMPLETED@1"),
            stream.alrOf("dora"));
        assertOneBindingFrom(kamailio, "dora", WLAN_ADDRESS);
        assertEquals(List.of(), api.pending());
        assertTrue(stream.events.stream().anyMatch(e -> "REGISTERED".equals(
            e.path("type").asText()) && "dora".equals(e.path("profile").asText())),
            "registry events are streamed too");

        // Losing WLAN is a downgrade: no vote. Back up, the offer is refused through the API.
        api.post("/v1/iaps/" + WLAN + "/down", null);
        agent.awaitRegisteredFrom("dora", CELL_ADDRESS);
        api.post("/v1/iaps/" + WLAN + "/up", null);
        await("offer listed again").atMost(BOUND).until(() -> api.pending().size() == 1);
        assertEquals(202, api.post("/v1/profiles/dora/alr/disallow", "{\"iap\": 1}").status());
        await("refusal streamed").atMost(BOUND).until(
            () -> stream.alrOf("dora").contains("ACCESS_DENIED@" + WLAN));
        assertEquals(List.of(), api.pending());
        assertEquals(409, api.post("/v1/profiles/dora/alr/allow", "{\"iap\": 1}").status());
        assertOneBindingFrom(kamailio, "dora", CELL_ADDRESS);
        assertEquals("REGISTERED", api.profile("dora").path("status").asText());
        assertEquals(CELL, api.profile("dora").path("iap").asInt());

        // A refresh offers the refused IAP again.
        assertEquals(202, api.post("/v1/profiles/dora/alr/refresh", null).status());
        await("offered after refresh").atMost(BOUND).until(() -> api.pending().size() == 1);
        api.post("/v1/profiles/dora/alr/allow", "{\"iap\": 1}");
        agent.awaitRegisteredFrom("dora", WLAN_ADDRESS);
        await().atMost(BOUND).until(() -> stream.alrOf("dora").size() == 8);
        assertEquals(List.of("IAP_AVAILABLE@1", "MIGRATION_STARTED@1", "MIGRATION_COMPLETED@1",
            "IAP_AVAILABLE@1", "ACCESS_DENIED@1", "IAP_AVAILABLE@1", "MIGRATION_STARTED@1",
            "MIGRATION_COMPLETED@1"), stream.alrOf("dora"));
        assertOneBindingFrom(kamailio, "dora", WLAN_ADDRESS);
      }
    }
  }

  @Test
  void manualDefaultAppliesWhenNobodyDecides() throws Exception {
    kamailio.addUser("gus", PASSWORD);
    try (AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      PolicyController policy = agent.policyController(
          new AlrPolicy.Manual(Duration.ofMillis(500), true));
      Api api = new Api(agent.controlServer(policy, true, 64));
      api.post("/v1/iaps/" + CELL + "/up", null);
      api.post("/v1/profiles", profileJson("gus", SNAP_WLAN_CELL, true));
      agent.awaitRegisteredFrom("gus", CELL_ADDRESS);
      api.post("/v1/iaps/" + WLAN + "/up", null);
      agent.awaitSeen("gus", "MIGRATION_COMPLETED@" + WLAN);
      assertEquals(List.of("IAP_AVAILABLE@1", "MIGRATION_STARTED@1", "MIGRATION_COMPLETED@1"),
          agent.alrOf("gus"), "allowed by default after the timeout");
      assertEquals(List.of(), api.pending());
      assertOneBindingFrom(kamailio, "gus", WLAN_ADDRESS);
    }
  }

  @Test
  void rulesVoteByBearerAndTimeOfDay() throws Exception {
    kamailio.addUser("hal", PASSWORD);
    try (AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      // Cellular refused all day long; WLAN preferred.
      PolicyController policy = agent.policyController(new AlrPolicy.Rules(true, true,
          LocalTime.MIN, LocalTime.MAX));
      Api api = new Api(agent.controlServer(policy, true, 64));
      api.post("/v1/iaps/" + LAN + "/up", null);
      api.post("/v1/profiles", profileJson("hal", SNAP_ALL, true));
      agent.awaitRegisteredFrom("hal", LAN_ADDRESS);
      api.post("/v1/iaps/" + CELL + "/up", null); // an upgrade, but cellular
      agent.awaitSeen("hal", "ACCESS_DENIED@" + CELL);
      api.post("/v1/iaps/" + WLAN + "/up", null);
      agent.awaitSeen("hal", "MIGRATION_COMPLETED@" + WLAN);
      assertEquals(List.of("IAP_AVAILABLE@2", "ACCESS_DENIED@2", "IAP_AVAILABLE@1",
          "MIGRATION_STARTED@1", "MIGRATION_COMPLETED@1"), agent.alrOf("hal"));
      assertOneBindingFrom(kamailio, "hal", WLAN_ADDRESS);
      assertEquals(WLAN, api.profile("hal").path("iap").asInt());
    }
  }

  @Test
  void aSlowReaderIsToldWhatItMissed() throws Exception {
    try (AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      Api api = new Api(agent.controlServer(null, true, 4));
      assertEquals(201, api.post("/v1/profiles", profileJson("fay", null, false)).status());
      try (Socket socket = new Socket()) {
        socket.setReceiveBufferSize(4096); // before connecting: the window stays small
        socket.setSoTimeout((int) BOUND.toMillis()); // bounds every read below
        socket.connect(new InetSocketAddress("127.0.0.1",
            Integer.parseInt(api.base.substring(api.base.lastIndexOf(':') + 1))));
        OutputStream out = socket.getOutputStream();
        out.write(("GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
            + api.token + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        await("stream open").atMost(BOUND).until(
            () -> api.get("/v1/health").json().path("eventStreams").asInt() == 1);

        // The reader reads nothing while events come, until some are dropped for it.
        int[] expires = {100};
        await("events dropped").atMost(Duration.ofSeconds(60)).until(() -> {
          for (int i = 0; i < 50; i++) {
            agent.registry.save(SipProfileBuilder.copyOf(agent.registry.profile("fay")
                .orElseThrow()).expires(++expires[0]).build());
          }
          return api.get("/v1/health").json().path("eventsDropped").asLong() > 0;
        });

        // Reading now, it gets what was kept, and notices of what was dropped where the gaps
        // are, until every update is accounted for (each read is bounded by the timeout).
        BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(),
            StandardCharsets.UTF_8));
        assertTrue(in.readLine().startsWith("HTTP/1.1 200"));
        int total = expires[0] - 100;
        long received = 0;
        long dropped = 0;
        List<String> order = new ArrayList<>();
        while (received + dropped < total) {
          String line = in.readLine();
          assertTrue(line != null, "the stream ended early");
          if (line.startsWith("data: ")) {
            JsonNode event = JSON.readTree(line.substring(6));
            if ("DROPPED".equals(event.path("type").asText())) {
              dropped += event.path("count").asLong();
              order.add("DROPPED");
            } else if ("UPDATED".equals(event.path("type").asText())) {
              received++;
              order.add("UPDATED");
            }
          }
        }
        assertEquals(total, received + dropped, "every update was sent or counted");
        assertTrue(dropped > 0 && received > 0, order::toString);
        assertEquals("UPDATED", order.get(0), "the events kept come first");
        assertEquals(api.get("/v1/health").json().path("eventsDropped").asLong(), dropped);
      }
    }
  }
}
