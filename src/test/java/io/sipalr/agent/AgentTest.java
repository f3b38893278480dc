package io.sipalr.agent;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigException;
import io.sipalr.profile.ProfileStore;
import io.sipalr.profile.ProfileStoreException;
import io.sipalr.profile.ProfileValidationException;
import io.sipalr.sip.ProfileStatus;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's wiring without a registrar (the integration tests have one): configuration
 * layers, seeds, the scripted provider, failure clean-up, and the deregistration pace. The
 * control API is off here; it has tests of its own.
 */
class AgentTest {
  @TempDir Path dir;

  private Path write(String text) throws Exception {
    Path file = dir.resolve("agent.conf");
    Files.writeString(file, text);
    return file;
  }

  private String base() {
    return """
        agent.data-dir = "%s"
        sip { local-address = "127.0.0.1", port = 0 }
        control.enabled = false
        mobility {
          provider = scripted
          iaps = [ { id = 1, name = wlan, address = "127.0.0.2", bearer = wlan, cost = 1 } ]
          snaps = [ { id = 1, name = internet, iaps = [1] } ]
        }
        """.formatted(dir.resolve("data"));
  }

  @Test
  void systemPropertiesOverrideTheFileWhichOverridesTheDefaults() throws Exception {
    Path file = write("sip.port = 5999\nsip.user-agent = from-file\n");
    System.setProperty("sip.user-agent", "from-property");
    ConfigFactory.invalidateCaches(); // system properties are cached
    try {
      Config c = Agent.loadConfig(file);
      assertEquals("from-property", c.getString("sip.user-agent"));
      assertEquals(5999, c.getInt("sip.port"));
      assertEquals(Duration.ofSeconds(5), c.getDuration("sip.register-timeout"));
      assertTrue(c.getBoolean("control.enabled"), "the control API is on by default");
      assertEquals(Duration.ofSeconds(10), c.getDuration("agent.shutdown-timeout"));
    } finally {
      System.clearProperty("sip.user-agent");
      ConfigFactory.invalidateCaches();
    }
  }

  @Test
  void seedsAreImportedAndAProfileWaitsForItsNetwork() throws Exception {
    Config c = Agent.loadConfig(write(base() + """
        profiles = [ { id = ann, aor = "sip:ann@sipalr.test", registrar = "sip:127.0.0.1:9",
                       password = pw, snap = 1 } ]
        """));
    try (Agent agent = Agent.create(c)) {
      assertTrue(agent.scriptedIaps().isPresent());
      assertTrue(agent.control().isEmpty());
      assertTrue(agent.policy().policy() instanceof io.sipalr.alr.AlrPolicy.Auto,
          "auto by default: every migration allowed");
      agent.start();
      await("ann waits for a network").atMost(Duration.ofSeconds(10))
          .until(() -> agent.registry().status("ann") == ProfileStatus.REGISTRATION_IN_PROGRESS);
      assertTrue(agent.registry().localAddressOf("ann").isEmpty(), "no IAP is up");
    }
    // Shut down: the store is released and kept the seed.
    try (ProfileStore store = ProfileStore.open(dir.resolve("data"))) {
      assertTrue(store.get("ann").isPresent());
    }
  }

  /** The agent wires its meters to the control API: /metrics, liveness and readiness. */
  @Test
  void theAgentServesItsMetricsAndHealth() throws Exception {
    String token = "agent-test-token-0123456789";
    Config c = Agent.loadConfig(write(base().replace("control.enabled = false",
        "control { enabled = true, port = 0, token = \"" + token + "\" }") + """
        profiles = [ { id = ann, aor = "sip:ann@sipalr.test", registrar = "sip:127.0.0.1:9",
                       password = pw, snap = 1 } ]
        """));
    try (Agent agent = Agent.create(c)) {
      agent.start();
      int port = agent.control().orElseThrow().port();
      java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
      java.util.function.Function<String, java.net.http.HttpResponse<String>> get = path -> {
        try {
          return http.send(java.net.http.HttpRequest.newBuilder(
                  java.net.URI.create("http://127.0.0.1:" + port + path))
              .header("Authorization", "Bearer " + token).build(),
              java.net.http.HttpResponse.BodyHandlers.ofString());
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      };
      var metrics = get.apply("/metrics");
      assertEquals(200, metrics.statusCode());
      for (String name : java.util.List.of("sipalr_profiles{status=", "sipalr_profiles_enabled",
          "sipalr_pacer_window_size 100.0", "sipalr_pacer_queued", "sipalr_events_dropped_total",
          "sipalr_registers_sent_total", "sipalr_store_write_seconds_count",
          "sipalr_handover_seconds_bucket")) {
        assertTrue(metrics.body().contains(name), name + " in:\n" + metrics.body());
      }
      var live = get.apply("/v1/health/live");
      assertEquals(200, live.statusCode(), live.body());
      var ready = get.apply("/v1/health/ready");
      assertEquals(503, ready.statusCode(), ready.body());
      assertTrue(ready.body().contains("no IAP is up (1 configured)"), ready.body());
    }
  }

  @Test
  void aSeedOnAnUnknownSnapIsNamedAndNothingIsWritten() throws Exception {
    // Before: the seed was imported, then refused without file or key; fixing the file did not
    // help until the stored profile was deleted by hand.
    Config c = Agent.loadConfig(write(base() + """
        profiles = [
          { id = ann, aor = "sip:ann@sipalr.test", registrar = "sip:127.0.0.1:9", password = pw,
            snap = 1 }
          { id = bob, aor = "sip:bob@sipalr.test", registrar = "sip:127.0.0.1:9", password = pw,
            snap = 7 }
        ]
        """));
    ProfileValidationException e = assertThrows(ProfileValidationException.class,
        () -> Agent.create(c));
    assertTrue(e.getMessage().contains("SNAP 7"), e.getMessage());
    assertTrue(e.getMessage().contains(dir.resolve("agent.conf") + ": 13: profiles[1].snap"),
        e.getMessage());
    assertNothingStored();

    // The file fixed, the agent starts with both seeds.
    Config fixed = Agent.loadConfig(write(base() + """
        profiles = [
          { id = ann, aor = "sip:ann@sipalr.test", registrar = "sip:127.0.0.1:9", password = pw,
            snap = 1 }
          { id = bob, aor = "sip:bob@sipalr.test", registrar = "sip:127.0.0.1:9", password = pw,
            snap = 1 }
        ]
        """));
    try (Agent agent = Agent.create(fixed)) {
      assertEquals(2, agent.registry().profiles().size());
    }
  }

  @Test
  void aSeedOnAnUnknownIapIsNamedAndNothingIsWritten() throws Exception {
    Config c = Agent.loadConfig(write(base() + """
        profiles = [ { id = ann, aor = "sip:ann@sipalr.test", registrar = "sip:127.0.0.1:9",
                       password = pw, iap = 3 } ]
        """));
    ProfileValidationException e = assertThrows(ProfileValidationException.class,
        () -> Agent.create(c));
    assertTrue(e.getMessage().contains(dir.resolve("agent.conf") + ": 10: profiles[0].iap"),
        e.getMessage());
    assertTrue(e.getMessage().contains("IAP 3"), e.getMessage());
    assertNothingStored();
  }

  @Test
  void aBadSettingAfterTheSeedsLeavesNothingStored() throws Exception {
    // A control block refused at start: the seeds (valid) must not be in the store either.
    Config c = Agent.loadConfig(write(base().replace("control.enabled = false",
        "control { enabled = true, token = short }") + """
        profiles = [ { id = ann, aor = "sip:ann@sipalr.test", registrar = "sip:127.0.0.1:9",
                       password = pw, snap = 1 } ]
        """));
    assertThrows(RuntimeException.class, () -> Agent.create(c));
    assertNothingStored();
  }

  @Test
  void anUncreatableDataDirectoryNamesTheSettingThePathAndTheReason() throws Exception {
    Path blocker = Files.writeString(dir.resolve("blocker"), "a file, not a directory");
    Config c = Agent.loadConfig(write(base().replace(dir.resolve("data").toString(),
        blocker.resolve("data").toString())));
    ProfileStoreException e = assertThrows(ProfileStoreException.class, () -> Agent.create(c));
    String m = e.getMessage();
    assertTrue(m.startsWith(dir.resolve("agent.conf") + ": 1: agent.data-dir: "), m);
    assertTrue(m.contains(blocker.resolve("data") + ": cannot create the data directory"), m);
    assertTrue(m.contains("a file of that name is in the way (" + blocker + ")"), m);
  }

  @Test
  void theFileIsCheckedStrictly() throws Exception {
    ConfigException e = assertThrows(ConfigException.class,
        () -> Agent.loadConfig(write(base() + "alr.register-rat = 10\n")));
    assertTrue(e.getMessage().contains("agent.conf: 9: Invalid value at 'alr.register-rat': "
        + "unknown key (did you mean 'alr.register-rate'?)"), e.getMessage());
    e = assertThrows(ConfigException.class,
        () -> Agent.loadConfig(write(base() + "profile = []\n")));
    assertTrue(e.getMessage().contains("agent.conf: 9: Invalid value at 'profile': unknown "
        + "top-level block (did you mean 'profiles'?)"), e.getMessage());
    Path latin1 = dir.resolve("agent.conf");
    Files.write(latin1, (base() + "sip.user-agent = \"caf\u00e9\"\n")
        .getBytes(StandardCharsets.ISO_8859_1));
    e = assertThrows(ConfigException.class, () -> Agent.loadConfig(latin1));
    assertTrue(e.getMessage().contains("agent.conf: 9: Invalid value at 'sip.user-agent': not "
        + "valid UTF-8"), e.getMessage());
  }

  private void assertNothingStored() throws Exception {
    if (Files.exists(dir.resolve("data"))) {
      try (ProfileStore store = ProfileStore.open(dir.resolve("data"))) {
        assertTrue(store.list().isEmpty(), "nothing stored: " + store.list());
      }
    }
  }

  @Test
  void shutdownTwiceIsHarmless() throws Exception {
    Agent agent = Agent.create(Agent.loadConfig(write(base())));
    agent.start();
    agent.shutdown(Duration.ofSeconds(5));
    agent.shutdown(Duration.ofSeconds(5));
    agent.close();
  }
}
