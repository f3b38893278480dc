package io.sipalr.alr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.MockClock;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.sipalr.metrics.AgentMetrics;
import io.sipalr.sip.MigrationOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The ALR meters ({@link AgentMetrics} with SIP ALR) over the real SipAlr, sessions and
 * registrations on the scripted registrar ({@link ScriptedAlr}): migrations by outcome, the
 * handover histogram, the pacer's window and queue.
 */
class AlrMetricsTest {
  static final int WLAN = ScriptedAlr.WLAN;
  static final int CELL = ScriptedAlr.CELL;

  final ScriptedAlr scripted = new ScriptedAlr(MigrationOrder.MAKE_BEFORE_BREAK);
  final MockClock clock = new MockClock();
  final SimpleMeterRegistry meters = new SimpleMeterRegistry(SimpleConfig.DEFAULT, clock);
  final AgentMetrics metrics = AgentMetrics.bind(meters, scripted.sip.store,
      scripted.sip.registry, scripted.alr, false);

  AlrMetricsTest() throws Exception {
  }

  @AfterEach
  void close() throws Exception {
    metrics.close();
    scripted.close();
  }

  private double migrations(String outcome) {
    return meters.find("sipalr.migrations").tag("outcome", outcome).counter().count();
  }

  private double gauge(String name) {
    return meters.find(name).gauge().value();
  }

  private void registeredOnCell() {
    scripted.iaps.up(CELL);
    scripted.sip.settle(Duration.ofSeconds(10));
  }

  @Test
  void anUpgradeCountsCompletedMigrationsAndTimesEachHandover() {
    registeredOnCell();
    Timer handover = meters.find("sipalr.handover").timer();
    assertEquals(0, handover.count());
    scripted.iaps.up(WLAN);
    scripted.sip.settle(Duration.ofSeconds(10));
    assertEquals(3, migrations("completed"), scripted.events.toString());
    assertEquals(0, migrations("failed"));
    assertEquals(3, handover.count(), "MIGRATION_STARTED -> MIGRATION_COMPLETED, each profile");
  }

  @Test
  void theHandoverRunsFromTheOfferToTheCompletedMigration() {
    List<String[]> offers = new ArrayList<>();
    AlrController[] voter = new AlrController[1];
    voter[0] = scripted.alr.newController(new AlrObserver() {
      @Override
      public void alrEvent(AlrEvent event, String profileId, int snapId, int iapId) {
        if (event == AlrEvent.IAP_AVAILABLE) {
          offers.add(new String[] {profileId, Integer.toString(iapId)});
        }
      }

      @Override
      public void alrError(AlrError error, String profileId, int snapId, int iapId) {
      }
    });
    registeredOnCell();
    scripted.iaps.up(WLAN);
    scripted.sip.settle(Duration.ofSeconds(1));
    assertEquals(3, offers.size(), scripted.events.toString());
    clock.add(Duration.ofSeconds(3)); // the controller takes 3 s to decide
    offers.forEach(o -> voter[0].allowMigration(o[0], Integer.parseInt(o[1])));
    scripted.sip.settle(Duration.ofSeconds(10));

    Timer handover = meters.find("sipalr.handover").timer();
    assertEquals(3, handover.count());
    assertEquals(3.0, handover.max(TimeUnit.SECONDS), 1e-9);
    assertEquals(9.0, handover.totalTime(TimeUnit.SECONDS), 1e-9);
    assertEquals(3, migrations("completed"));
  }

  @Test
  void aDisallowedMigrationIsCountedDenied() {
    AlrController[] refuser = new AlrController[1];
    refuser[0] = scripted.alr.newController(new AlrObserver() {
      @Override
      public void alrEvent(AlrEvent event, String profileId, int snapId, int iapId) {
        if (event == AlrEvent.IAP_AVAILABLE) {
          refuser[0].disallowMigration(profileId, iapId);
        }
      }

      @Override
      public void alrError(AlrError error, String profileId, int snapId, int iapId) {
      }
    });
    registeredOnCell();
    scripted.iaps.up(WLAN);
    scripted.sip.settle(Duration.ofSeconds(10));
    assertEquals(3, migrations("denied"), scripted.events.toString());
    assertEquals(0, migrations("completed"));
    assertEquals(0, meters.find("sipalr.handover").timer().count());
  }

  @Test
  void aMigrationWhoseRegisterFailsIsCountedFailed() {
    registeredOnCell();
    scripted.sip.unreachableFrom(ScriptedAlr.WLAN_ADDRESS, true);
    scripted.iaps.up(WLAN);
    scripted.sip.settle(Duration.ofSeconds(10));
    assertEquals(3, migrations("failed"), scripted.events.toString());
    assertEquals(0, migrations("completed"));
    assertEquals(0, meters.find("sipalr.handover").timer().count());
  }

  @Test
  void thePacerWindowInUseIsSeenWhileRegistersAreUnanswered() {
    registeredOnCell();
    assertEquals(AlrConfig.DEFAULT_REGISTER_WINDOW, gauge("sipalr.pacer.window.size"));
    assertEquals(0, gauge("sipalr.pacer.window.used"));
    scripted.iaps.up(WLAN);
    scripted.sip.clock.runDue(); // the moves' REGISTERs leave; nobody answers yet
    assertEquals(3, gauge("sipalr.pacer.window.used"));
    assertEquals(0, gauge("sipalr.pacer.queued"));
    scripted.sip.settle(Duration.ofSeconds(10));
    assertEquals(0, gauge("sipalr.pacer.window.used"));
  }

  @Test
  void thePrometheusTextHasTheAlrNames() throws Exception {
    PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    try (AgentMetrics bound = AgentMetrics.bind(prometheus, scripted.sip.store,
        scripted.sip.registry, scripted.alr, false)) {
      registeredOnCell();
      scripted.iaps.up(WLAN);
      scripted.sip.settle(Duration.ofSeconds(10));
      String text = prometheus.scrape();
      for (String line : List.of("sipalr_migrations_total{outcome=\"completed\"} 3.0",
          "sipalr_handover_seconds_count 3", "sipalr_handover_seconds_bucket{le=\"0.5\"}",
          "sipalr_pacer_window_used 0.0", "sipalr_pacer_queued 0.0",
          "sipalr_pacer_window_size " + AlrConfig.DEFAULT_REGISTER_WINDOW + ".0")) {
        assertTrue(text.contains(line), line + " in:\n" + text);
      }
    }
  }
}
