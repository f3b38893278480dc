package io.sipalr.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * conf/sip-alr-agent.service agrees with the agent: the exit code it never restarts on is the
 * one a configuration error exits with, the stop signal is the one the agent deregisters on,
 * the stop timeout leaves the default shutdown bound room, and the command line it runs is one
 * the agent accepts.
 */
class ServiceUnitTest {
  private static final Path UNIT = Path.of("conf/sip-alr-agent.service");

  @Test
  void theUnitRestartsOnFailuresButNotOnConfigurationErrors(@TempDir Path dir) throws Exception {
    Map<String, String> service = service();
    assertEquals("on-failure", service.get("Restart"));
    assertEquals(String.valueOf(Main.EXIT_USAGE), service.get("RestartPreventExitStatus"));
    // A configuration error exits with that code indeed.
    Path bad = Files.writeString(dir.resolve("bad.conf"), "sip { port = many }\n");
    assertEquals(Main.EXIT_USAGE, MainTest.execute("run", "--config", bad.toString()).exit());
  }

  @Test
  void theUnitStopsAsTheAgentExpects() throws Exception {
    Map<String, String> service = service();
    assertEquals("SIGTERM", service.get("KillSignal"));
    Duration stop = Duration.ofSeconds(Long.parseLong(
        service.get("TimeoutStopSec").replace("s", "")));
    Duration shutdown = ConfigFactory.defaultReference().getDuration("agent.shutdown-timeout");
    assertTrue(stop.compareTo(shutdown.plusSeconds(10)) >= 0,
        "TimeoutStopSec " + stop + " leaves agent.shutdown-timeout " + shutdown + " room");
    assertEquals("/var/lib/sip-alr-agent", service.get("Environment")
        .replace("SIPALR_DATA_DIR=", ""), "the store in the StateDirectory");
    assertEquals("sip-alr-agent", service.get("StateDirectory"));
    assertEquals("", service.get("CapabilityBoundingSet"), "no capability");
    String exec = service.get("ExecStart");
    assertTrue(exec.contains("-jar /opt/sip-alr-agent/sip-alr-agent.jar run --config "), exec);
    assertTrue(exec.contains("-Dlogback.configurationFile=/opt/sip-alr-agent/conf/logback.xml"),
        exec);
  }

  /** The [Service] section, continuation lines joined; of a key set twice, the first value. */
  private static Map<String, String> service() throws Exception {
    Map<String, String> keys = new LinkedHashMap<>();
    boolean inService = false;
    String joined = "";
    for (String line : Files.readAllLines(UNIT)) {
      if (line.startsWith("[")) {
        inService = line.equals("[Service]");
        continue;
      }
      if (!inService || line.startsWith("#") || line.isBlank() && joined.isEmpty()) {
        continue;
      }
      joined += line.strip();
      if (joined.endsWith("\\")) {
        joined = joined.substring(0, joined.length() - 1) + " ";
        continue;
      }
      int eq = joined.indexOf('=');
      keys.putIfAbsent(joined.substring(0, eq), joined.substring(eq + 1));
      joined = "";
    }
    return keys;
  }
}
