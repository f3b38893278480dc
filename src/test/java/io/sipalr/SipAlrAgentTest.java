package io.sipalr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.sipalr.profile.ProfileStore;
import io.sipalr.profile.SipProfileBuilder;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The façade's own rules; EmbeddedGatewayExampleTest runs a whole gateway through it. */
class SipAlrAgentTest {
  private static final String LOOPBACK_SIP = "sip { local-address = \"127.0.0.1\", port = 0 }";

  @Test
  void aStoreADataDirOrAConfigurationIsNeeded() {
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> SipAlrAgent.builder().build());
    assertTrue(e.getMessage().contains("store"), e.getMessage());
  }

  /** Nothing but the ALR the façade wires moves the bindings: the moves are claimed once. */
  @Test
  void theRegistrysMovesBelongToItsAlr(@TempDir Path dataDir) {
    try (SipAlrAgent agent = SipAlrAgent.builder().config(ConfigFactory.parseString(LOOPBACK_SIP))
        .dataDir(dataDir).build()) {
      IllegalStateException e = assertThrows(IllegalStateException.class,
          () -> agent.registry().claimMoves());
      assertTrue(e.getMessage().contains("claimed already"), e.getMessage());
    }
  }

  /** A store passed in is the caller's: the façade leaves it open; one it opened, it closes. */
  @Test
  void aStorePassedInStaysOpen(@TempDir Path dataDir) {
    ProfileStore store = ProfileStore.open(dataDir);
    try (SipAlrAgent agent = SipAlrAgent.builder().config(ConfigFactory.parseString(LOOPBACK_SIP))
        .store(store).shutdownTimeout(Duration.ofSeconds(2)).build()) {
      agent.start();
      agent.registry().create(SipProfileBuilder.forId("bob").aor("sip:bob@example.test")
          .registrar("sip:127.0.0.1:9").password("pw").autoRegister(false).build());
      assertEquals(store, agent.store());
    }
    assertEquals(1, store.list().size(), "still open after the façade closed");
    store.close();

    SipAlrAgent owned = SipAlrAgent.builder().config(ConfigFactory.parseString(LOOPBACK_SIP))
        .dataDir(dataDir).build();
    owned.close();
    assertThrows(IllegalStateException.class, () -> owned.store().list());
  }

  @Test
  void deregistrationsGoOutInABurstThenAtTheRate() {
    assertEquals(0, SipAlrAgent.pacedDelayMicros(0, 2000, 200));
    assertEquals(0, SipAlrAgent.pacedDelayMicros(199, 2000, 200));
    assertEquals(500, SipAlrAgent.pacedDelayMicros(200, 2000, 200));
    assertEquals(1000, SipAlrAgent.pacedDelayMicros(201, 2000, 200));
    assertEquals(4_900_000, SipAlrAgent.pacedDelayMicros(9999, 2000, 200));
    assertEquals(1_000_000, SipAlrAgent.pacedDelayMicros(1, 1, 1));
  }
}
