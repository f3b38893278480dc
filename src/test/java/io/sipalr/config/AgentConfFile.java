package io.sipalr.config;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/** For the configuration readers' tests: an agent.conf as the agent loads it, and its errors. */
public final class AgentConfFile {
  private AgentConfFile() {}

  /**
   * Writes {@code text} as {@code dir/agent.conf} and loads it over reference.conf: a real file,
   * so that errors can name it and the line.
   */
  public static Config load(Path dir, String text) throws IOException {
    Path file = dir.resolve("agent.conf");
    Files.writeString(file, text);
    return ConfigFactory.parseFile(file.toFile()).withFallback(ConfigFactory.defaultReference())
        .resolve();
  }

  /**
   * Loads {@code text} and expects {@code reader} to refuse it with a {@code type}, whose message
   * names the file, a line and {@code keyPath}; returns the message.
   */
  public static String error(Path dir, String text, String keyPath,
      Class<? extends ConfigException> type, Consumer<Config> reader) throws IOException {
    Config config = load(dir, text);
    ConfigException e = assertThrows(type, () -> reader.accept(config));
    String message = e.getMessage();
    assertTrue(message.matches("(?s).*agent\\.conf: \\d+.*"), "names file and line: " + message);
    assertTrue(message.contains("'" + keyPath + "'"), "names " + keyPath + ": " + message);
    return message;
  }
}
