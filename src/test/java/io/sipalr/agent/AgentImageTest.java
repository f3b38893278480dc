package io.sipalr.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The agent image's health check asks what an orchestrator should (readiness, with the token,
 * on the control API's default port): the image is not built in CI, so the file is checked.
 */
class AgentImageTest {
  private static final Path DOCKERFILE = Path.of("docker", "agent", "Dockerfile");

  @Test
  void theHealthCheckAsksForReadinessWithTheTokenOnTheDefaultPort() throws Exception {
    String file = Files.readString(DOCKERFILE).replace("\\\n", " ");
    String check = file.lines().filter(l -> l.startsWith("HEALTHCHECK")).findFirst()
        .orElseThrow(() -> new AssertionError("no HEALTHCHECK in " + DOCKERFILE));
    assertTrue(check.contains("/v1/health/ready"), check);
    assertTrue(check.contains("curl -fsS"), "fails on 503: " + check);
    assertTrue(check.contains("Authorization: Bearer"), check);
    assertTrue(check.contains("$SIPALR_DATA_DIR/control.token"), check);
    int port = ConfigFactory.defaultReference().getInt("control.port");
    assertTrue(check.contains("${SIPALR_CONTROL_PORT:-" + port + "}"), check);
    assertTrue(file.contains(" curl"), "the image installs curl");
    assertEquals("control.token", io.sipalr.control.ControlConfig.TOKEN_FILE);
  }
}
