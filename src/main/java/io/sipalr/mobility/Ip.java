package io.sipalr.mobility;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs iproute2's {@code ip} with JSON output ({@code -j}): no text format to guess at. */
final class Ip {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long TIMEOUT_SECONDS = 5;

  private Ip() {}

  /**
   * Runs {@code ip -j ARGS} and parses its output.
   *
   * @throws IOException when ip cannot be started, fails, hangs or prints no JSON; the message
   *     carries what it printed on stderr
   */
  static JsonNode json(String... args) throws IOException {
    String out = run(args);
    return out.isBlank() ? JSON.createArrayNode() : JSON.readTree(out);
  }

  private static String run(String... args) throws IOException {
    List<String> command = new ArrayList<>(List.of("ip", "-j"));
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).start();
    try (InputStream stdout = process.getInputStream();
        InputStream stderr = process.getErrorStream()) {
      // ip's stderr is a line or two, far below a pipe's buffer: reading stdout first is safe.
      String out = new String(stdout.readAllBytes(), StandardCharsets.UTF_8);
      String err = new String(stderr.readAllBytes(), StandardCharsets.UTF_8).trim();
      if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        throw new IOException(String.join(" ", command) + ": no exit after " + TIMEOUT_SECONDS
            + " s");
      }
      if (process.exitValue() != 0) {
        throw new IOException(String.join(" ", command) + ": exit " + process.exitValue()
            + (err.isEmpty() ? "" : ": " + err));
      }
      return out;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(String.join(" ", command) + ": interrupted", e);
    } finally {
      process.destroy();
    }
  }
}
