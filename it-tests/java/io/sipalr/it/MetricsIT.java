package io.sipalr.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.sipalr.control.ControlConfig;
import io.sipalr.control.ControlServer;
import io.sipalr.metrics.AgentMetrics;
import io.sipalr.profile.BearerFilter;
import io.sipalr.profile.SipProfileBuilder;
import io.sipalr.profile.Transport;
import io.sipalr.sip.MigrationOrder;
import io.sipalr.sip.ProfileStatus;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * GET /metrics of a control server wired as the agent wires it, against a real Kamailio: the
 * counters move with a registration, a migration and a failure, and readiness follows.
 */
class MetricsIT {
  private static final Duration BOUND = Duration.ofSeconds(30);
  private static final String TOKEN = "metrics-it-token-0123456789";

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  private HttpResponse<String> get(ControlServer server, String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
        + path)).header("Authorization", "Bearer " + TOKEN).timeout(BOUND).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** The value of the series {@code series} (name and labels as written), or -1. */
  private double value(ControlServer server, String series) throws Exception {
    String text = get(server, "/metrics").body();
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(text);
    return m.find() ? Double.parseDouble(m.group(1)) : -1;
  }

  @Test
  void countersMoveWithARegistrationAMigrationAndAFailure() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
        AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      try (AgentMetrics metrics = AgentMetrics.bind(meters, agent.store, agent.registry,
              agent.alr, false);
          ControlServer server = new ControlServer(new ControlConfig("127.0.0.1", 0, TOKEN,
              agent.dataDir.resolve(ControlConfig.TOKEN_FILE), 64), agent.registry,
              agent.mobility, agent.iaps, agent.alr, null, meters)) {
        server.start();
        assertEquals(0, value(server, "sipalr_registrations_total"));

        // A registration through the cellular IAP.
        kamailio.addUser("ann", AgentHarness.REALM_PASSWORD);
        kamailio.addUser("bad", AgentHarness.REALM_PASSWORD);
        agent.iaps.up(AlrHarness.CELL);
        agent.registry.create(AlrHarness.profile("ann", kamailio, AlrHarness.SNAP_WLAN_CELL,
            BearerFilter.ANY, Transport.UDP));
        await().atMost(BOUND).until(() -> agent.registry.status("ann")
            == ProfileStatus.REGISTERED);
        await().atMost(BOUND).until(() -> value(server, "sipalr_registrations_total") == 1);
        assertTrue(value(server, "sipalr_registers_sent_total") >= 2, "challenge and answer");
        assertEquals(1, value(server, "sipalr_profiles{status=\"registered\"}"));
        assertTrue(value(server, "sipalr_store_write_seconds_count") >= 1);
        assertEquals(200, get(server, "/v1/health/ready").statusCode());

        // A migration to the better IAP (no controller: nobody is asked).
        agent.iaps.up(AlrHarness.WLAN);
        await().atMost(BOUND).until(() -> value(server,
            "sipalr_migrations_total{outcome=\"completed\"}") == 1);
        assertEquals(1, value(server, "sipalr_handover_seconds_count"));
        assertEquals(1, value(server, "sipalr_registrations_total"), "a move is no new one");

        // A failure: wrong credentials.
        agent.registry.create(SipProfileBuilder.forId("bad").aor("sip:bad@" + kamailio.realm())
            .registrar(kamailio.sipUri()).authUser("bad").password("wrong password")
            .expires(600).snapId(AlrHarness.SNAP_WLAN_CELL).autoRegister(true).build());
        await().atMost(BOUND).until(() -> value(server,
            "sipalr_registration_failures_total{kind=\"authentication\"}") >= 1);
        HttpResponse<String> ready = get(server, "/v1/health/ready");
        assertEquals(200, ready.statusCode(), ready.body());
        assertTrue(ready.body().contains("\"degraded\"")
            && ready.body().contains("1 of 2 enabled profiles are not registered"), ready.body());
      }
    }
  }
}
