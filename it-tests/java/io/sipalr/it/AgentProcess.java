package io.sipalr.it;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The agent's executable ({@code io.sipalr.agent.Main}) in a child JVM: this JVM's java and
 * class path, the project's conf/logback.xml, stdout and stderr together in a file. A test can
 * kill it (SIGKILL) or stop it (SIGTERM) and read its exit status and output.
 */
final class AgentProcess implements AutoCloseable {
  private static final Duration CLOSE_BOUND = Duration.ofSeconds(15);

  private final Process process;
  private final Path output;

  private AgentProcess(Process process, Path output) {
    this.process = process;
    this.output = output;
  }

  /** Starts {@code Main args...}; what it prints goes to {@code output}. */
  static AgentProcess start(Path output, String... args) throws IOException {
    return start(output, Map.of(), args);
  }

  /** The same, with these environment variables changed. */
  static AgentProcess start(Path output, Map<String, String> env, String... args)
      throws IOException {
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Dlogback.configurationFile=" + Path.of("conf/logback.xml").toAbsolutePath(),
        "-cp", System.getProperty("java.class.path"),
        "io.sipalr.agent.Main"));
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command);
    builder.environment().putAll(env);
    Process process = builder
        .redirectErrorStream(true)
        .redirectOutput(output.toFile())
        .start();
    process.getOutputStream().close();
    return new AgentProcess(process, output);
  }

  boolean isAlive() {
    return process.isAlive();
  }

  /** What it printed so far. */
  String output() {
    try {
      return Files.readString(output);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** SIGKILL: no shutdown hook, no deregistration. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    awaitExit(CLOSE_BOUND);
  }

  /** SIGTERM ({@link Process#destroy()} sends it on Unix); returns the exit status. */
  int terminate(Duration bound) throws InterruptedException {
    process.destroy();
    return awaitExit(bound);
  }

  /** The exit status; fails the test (and kills the process) when it runs longer than bound. */
  int awaitExit(Duration bound) throws InterruptedException {
    if (!process.waitFor(bound.toMillis(), TimeUnit.MILLISECONDS)) {
      close();
      fail("the agent process did not exit within " + bound.toSeconds() + " s; its output:\n"
          + output());
    }
    return process.exitValue();
  }

  /** Stops it if it still runs: SIGTERM first (so that it cleans up), then SIGKILL. */
  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      process.destroy();
      if (!process.waitFor(CLOSE_BOUND.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly().waitFor(CLOSE_BOUND.toMillis(), TimeUnit.MILLISECONDS);
      }
    }
  }
}
