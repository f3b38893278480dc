package io.sipalr.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code sip-alr-agent demo} as a user runs it: a child JVM, Docker, every step held. */
class DemoIT {
  /** Exit status of the demo without Docker (Main.EXIT_NO_DOCKER). */
  private static final int NO_DOCKER = 3;
  /** Generous: the first run on a machine may build the registrar image. */
  private static final Duration DEMO_BOUND = Duration.ofMinutes(10);

  @TempDir Path dir;

  @Test
  void theDemoWalksThroughEveryStepAndPasses() throws Exception {
    try (AgentProcess demo = AgentProcess.start(dir.resolve("demo.log"), "demo")) {
      int exit = demo.awaitExit(DEMO_BOUND);
      String output = demo.output();
      if (exit == NO_DOCKER) {
        if ("true".equals(System.getenv("CI"))) {
          throw new AssertionError("CI=true but the demo found no Docker:\n" + output);
        }
        Assumptions.abort("no Docker engine, so the demo cannot run:\n" + output);
      }
      assertEquals(0, exit, output);
      for (String step : new String[] {"== 1. register", "== 2. upgrade", "== 3. refusal",
          "== 4. downgrade", "== 5. call", "== 6. shutdown"}) {
        assertTrue(output.contains(step), () -> step + " in\n" + output);
      }
      // The timeline: a header, requests and answers between the agent and the registrar.
      for (String seen : new String[] {"ms  agent", "|<-", "-->|", "MIGRATION_COMPLETED",
          "ACCESS_DENIED", "registrar bindings of demo:", "received sip:127.0.0.2:",
          "received sip:127.0.0.3:", "CALL_ESTABLISHED on 127.0.0.2",
          "CALL_MOVED to 127.0.0.3", "CALL_ENDED"}) {
        assertTrue(output.contains(seen), () -> seen + " in\n" + output);
      }
      assertFalse(output.contains("FAILED"), output);
      assertTrue(output.strip().endsWith("DEMO PASSED: every step held."), output);
    }
  }

  @Test
  void withoutDockerTheDemoSaysSoAndExitsThree() throws Exception {
    Path noDocker = Files.createDirectories(dir.resolve("empty-path"));
    try (AgentProcess demo = AgentProcess.start(dir.resolve("no-docker.log"),
        Map.of("PATH", noDocker.toString()), "demo")) {
      assertEquals(NO_DOCKER, demo.awaitExit(Duration.ofMinutes(1)), demo.output());
      assertTrue(demo.output().contains("the demo runs its registrar (Kamailio) in Docker, but "
          + "the docker command cannot be run"), demo.output());
    }
  }
}
