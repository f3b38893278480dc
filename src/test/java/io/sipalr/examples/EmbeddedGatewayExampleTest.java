package io.sipalr.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs {@link EmbeddedGatewayExample} as it is, so that the README's library example keeps
 * compiling and working: the façade alone registers a profile, follows the better uplink with
 * the gateway's controller allowing the move, and deregisters at close.
 */
class EmbeddedGatewayExampleTest {

  @Test
  void theExampleRegistersMovesToWlanAndDeregisters(@TempDir Path dataDir) throws Exception {
    List<String> heard;
    List<String> registers;
    try (EmbeddedGatewayExample.LoopbackRegistrar registrar =
        EmbeddedGatewayExample.LoopbackRegistrar.start()) {
      heard = EmbeddedGatewayExample.run(dataDir, registrar.uri());
      registers = List.copyOf(registrar.requests());
    }
    assertInOrder(heard, "registry: CREATED", "registry: REGISTERED",
        "registered through cellular", "alr: IAP_AVAILABLE iap 1", "alr: MIGRATION_STARTED iap 1",
        "alr: MIGRATION_COMPLETED iap 1", "registered through wlan", "registry: DEREGISTERED",
        "shut down");
    // The registrar saw alice from cellular first, then from wlan, and the last REGISTER
    // removed the binding (expires 0): the close deregistered.
    assertTrue(registers.get(0).contains("127.0.0.3"), registers.get(0));
    assertTrue(registers.stream().anyMatch(r -> r.contains("@127.0.0.2")), "a REGISTER from wlan");
    String last = registers.get(registers.size() - 1).toLowerCase();
    assertTrue(last.contains("expires: 0") || last.contains("expires=0"), last);
  }

  /** Each of {@code expected} starts a line of {@code heard}, in this order. */
  private static void assertInOrder(List<String> heard, String... expected) {
    int at = 0;
    for (String want : expected) {
      while (at < heard.size() && !heard.get(at).startsWith(want)) {
        at++;
      }
      assertTrue(at < heard.size(), "\"" + want + "\" in order in " + heard);
      at++;
    }
    assertEquals(heard.get(heard.size() - 1), "shut down");
  }
}
