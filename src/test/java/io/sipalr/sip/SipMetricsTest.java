package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.sipalr.metrics.AgentMetrics;
import io.sipalr.profile.SipProfileBuilder;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The registry's meters ({@link AgentMetrics} without ALR) on the scripted registrar and
 * virtual time: each meter moves when the real registry does what it counts.
 */
class SipMetricsTest {
  private final ScriptedSip sip;
  private final MeterRegistry meters = new SimpleMeterRegistry();
  private AgentMetrics metrics;

  SipMetricsTest() throws Exception {
    sip = new ScriptedSip("alice", "bob");
  }

  @AfterEach
  void close() throws Exception {
    if (metrics != null) {
      metrics.close();
    }
    sip.close();
  }

  private void bind(boolean perProfile) {
    metrics = AgentMetrics.bind(meters, sip.store, sip.registry, null, perProfile);
  }

  private void create(String user, String password, boolean autoRegister) {
    sip.registry.create(SipProfileBuilder.forId(user).aor("sip:" + user + "@"
            + ScriptedRegistrar.REALM).registrar("sip:198.18.0.1").authUser(user)
        .password(password).expires(600).autoRegister(autoRegister).build());
  }

  private double counter(String name, String... tags) {
    var c = meters.find(name).tags(tags).counter();
    if (c != null) {
      return c.count();
    }
    var f = meters.find(name).tags(tags).functionCounter();
    return f == null ? Double.NaN : f.count();
  }

  private double gauge(String name, String... tags) {
    var g = meters.find(name).tags(tags).gauge();
    return g == null ? Double.NaN : g.value();
  }

  @Test
  void registrationsRegistersSentAndProfilesByStatusFollowTheRegistry() {
    bind(false);
    create("alice", ScriptedSip.password(), true);
    create("bob", ScriptedSip.password(), false);
    assertEquals(0, counter("sipalr.registrations"));
    sip.settle(Duration.ofSeconds(10));

    assertEquals(1, counter("sipalr.registrations"), "alice became registered once");
    assertEquals(sip.registersSent(), counter("sipalr.registers.sent"),
        "every REGISTER the registrar saw (the challenge's answer included) is counted");
    assertTrue(counter("sipalr.registers.sent") >= 2, "a challenge, then its answer");
    assertEquals(1, gauge("sipalr.profiles", "status", "registered"));
    assertEquals(1, gauge("sipalr.profiles", "status", "unregistered"), "bob is not enabled");
    assertEquals(0, gauge("sipalr.profiles", "status", "registration_in_progress"));
    assertEquals(1, gauge("sipalr.profiles.enabled"));

    // A refresh sends REGISTERs but is no new registration.
    sip.settle(Duration.ofSeconds(700));
    assertEquals(1, counter("sipalr.registrations"));
    assertEquals(sip.registersSent(), counter("sipalr.registers.sent"));
  }

  @Test
  void failuresAreCountedByKind() {
    bind(false);
    create("alice", "wrong password", true);
    sip.settle(Duration.ofSeconds(10));
    assertEquals(1, counter("sipalr.registration.failures", "kind", "authentication"));
    for (String kind : new String[] {"timeout", "transport", "service_unavailable", "rejected"}) {
      assertEquals(0, counter("sipalr.registration.failures", "kind", kind), kind);
    }
    assertEquals(0, counter("sipalr.registrations"));
    assertEquals(1, gauge("sipalr.profiles.enabled"), "still enabled: it retries later");
  }

  @Test
  void keepAliveFlowsAndTheirFailuresAreCounted() {
    bind(false);
    sip.registrar.outbound = true;
    create("alice", ScriptedSip.password(), true);
    sip.settle(Duration.ofSeconds(10));
    assertEquals(1, gauge("sipalr.flows"), "one outbound flow");
    assertEquals(0, counter("sipalr.keepalive.failures"));

    // The next probe goes unanswered: the flow is dead.
    ScriptedRegistrar.Sent probe = null;
    for (int i = 0; i < 100 && probe == null; i++) {
      ScriptedRegistrar.Sent s = sip.registrar.nextPending();
      if (s != null && s.method().equals("OPTIONS")) {
        probe = s;
      } else {
        sip.clock.advance(Duration.ofMillis(sip.clock.nextDue() - sip.clock.now()));
      }
    }
    assertTrue(probe != null, "a keep-alive was sent");
    assertEquals(1, counter("sipalr.keepalives.sent"));
    sip.registrar.answer(probe, ScriptedRegistrar.Answer.DROP);
    sip.clock.advance(RegistrationRig.CONFIG.registerTimeout());
    assertEquals(1, counter("sipalr.keepalive.failures"));
    assertEquals(1, counter("sipalr.registration.failures", "kind", "transport"),
        "the profile on it heard so");
  }

  @Test
  void storeWritesAreTimed() {
    bind(false);
    var timer = meters.find("sipalr.store.write").timer();
    assertEquals(0, timer.count());
    create("alice", ScriptedSip.password(), false);
    create("bob", ScriptedSip.password(), false);
    assertEquals(2, timer.count());
    assertTrue(timer.totalTime(java.util.concurrent.TimeUnit.NANOSECONDS) > 0);
  }

  @Test
  void perProfileLabelsWhenAskedForAndTheirSeriesGoWithTheProfile() {
    create("alice", ScriptedSip.password(), true);
    bind(true);
    create("bob", "wrong password", true);
    sip.settle(Duration.ofSeconds(10));

    assertEquals(1, counter("sipalr.registrations", "profile", "alice"));
    assertEquals(1, gauge("sipalr.profile.registered", "profile", "alice"));
    assertEquals(0, gauge("sipalr.profile.registered", "profile", "bob"));
    assertEquals(1, counter("sipalr.registration.failures", "profile", "bob", "kind",
        "authentication"));
    assertNull(meters.find("sipalr.registrations").tags("profile", "bob").counter());

    sip.registry.destroy("alice");
    sip.settle(Duration.ofSeconds(10));
    assertTrue(meters.find("sipalr.registrations").tags("profile", "alice").meters().isEmpty());
    assertTrue(meters.find("sipalr.profile.registered").tags("profile", "alice").meters()
        .isEmpty(), "a destroyed profile's series are removed");
  }

  @Test
  void withoutPerProfileLabelsNoMeterCarriesAProfile() {
    bind(false);
    create("alice", ScriptedSip.password(), true);
    create("bob", "wrong password", true);
    sip.settle(Duration.ofSeconds(10));
    assertTrue(meters.getMeters().stream().noneMatch(m -> m.getId().getTag("profile") != null));
  }

  @Test
  void closeRemovesEveryMeterAndStopsCounting() {
    bind(false);
    assertTrue(meters.getMeters().size() > 10);
    metrics.close();
    metrics = null;
    assertEquals(0, meters.getMeters().size());
    create("alice", ScriptedSip.password(), true);
    sip.settle(Duration.ofSeconds(10));
    assertEquals(0, meters.getMeters().size(), "no listener left behind re-creates one");
  }
}
