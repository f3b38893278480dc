package io.sipalr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.util.ContextInitializer;
import ch.qos.logback.core.status.Status;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sipalr.examples.EmbeddedGatewayExample;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The agent's logging configuration, {@code conf/logback.xml}, with {@code
 * SIPALR_LOG_FORMAT=json}: every line on stderr is one JSON object with the fields log shippers
 * read, and the profile's password is in none of them, even with every io.sipalr logger at
 * DEBUG and SIP message tracing on.
 */
class JsonLogTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void jsonLinesParseAndCarryNoPassword(@TempDir Path dataDir) throws Exception {
    String out = logsOf("json", () -> {
      try (EmbeddedGatewayExample.LoopbackRegistrar registrar =
          EmbeddedGatewayExample.LoopbackRegistrar.start()) {
        EmbeddedGatewayExample.run(dataDir, registrar.uri());
      }
    });
    List<JsonNode> lines = new ArrayList<>();
    for (String line : out.split("\n")) {
      if (!line.isBlank()) {
        lines.add(JSON.readTree(line)); // throws when a line is not JSON
      }
    }
    assertTrue(lines.size() > 10, "the gateway logged: " + out);
    for (JsonNode line : lines) {
      assertTrue(line.isObject(), line.toString());
      for (String field : List.of("timestamp", "level", "threadName", "loggerName",
          "formattedMessage")) {
        assertTrue(line.hasNonNull(field), field + " in " + line);
      }
      assertFalse(line.has("arguments"), "raw arguments are left out: " + line);
    }
    assertTrue(lines.stream().anyMatch(l -> l.get("loggerName").asText()
        .equals("io.sipalr.sip.trace")), "SIP messages were traced");
    assertTrue(lines.stream().anyMatch(l -> l.get("formattedMessage").asText()
        .contains("MIGRATION_COMPLETED")), "the move was logged");
    assertFalse(out.contains(EmbeddedGatewayExample.PASSWORD), "the password is in a log line");
  }

  @Test
  void textIsTheDefault(@TempDir Path dataDir) throws Exception {
    String out = logsOf(null, () -> LoggerFactory.getLogger("io.sipalr.agent.Agent")
        .info("hello {}", "world"));
    assertEquals(1, out.lines().count(), out);
    assertTrue(out.matches("(?s)\\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO  .* - hello world\\s*"), out);
  }

  interface Body {
    void run() throws Exception;
  }

  /**
   * What {@code body} logs to stderr under conf/logback.xml with SIPALR_LOG_FORMAT = {@code
   * format} (unset when null), every io.sipalr logger at DEBUG; the test configuration is back
   * afterwards.
   */
  private static String logsOf(String format, Body body) throws Exception {
    LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    PrintStream err = System.err;
    ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    try {
      System.setErr(new PrintStream(buffer, true, StandardCharsets.UTF_8));
      context.reset();
      if (format != null) {
        context.putProperty("SIPALR_LOG_FORMAT", format);
      }
      JoranConfigurator configurator = new JoranConfigurator();
      configurator.setContext(context);
      configurator.doConfigure(Path.of("conf/logback.xml").toFile());
      List<Status> problems = context.getStatusManager().getCopyOfStatusList().stream()
          .filter(s -> s.getLevel() >= Status.WARN).toList();
      assertTrue(problems.isEmpty(), "logback: " + problems);
      if (format != null) {
        context.getLogger("io.sipalr").setLevel(Level.DEBUG);
        context.getLogger("io.sipalr.sip.trace").setLevel(Level.DEBUG);
      }
      body.run();
    } finally {
      System.setErr(err);
      context.reset();
      new ContextInitializer(context).autoConfig();
    }
    return buffer.toString(StandardCharsets.UTF_8);
  }
}
