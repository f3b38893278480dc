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
 * class path, the project's conf/logback.xml, stdout and stderr together in a file; optionally
 * in a network namespace ({@code ip netns exec} runs java in its own place, so the process is
 * the JVM itself and SIGTERM reaches the agent). A test can kill it (SIGKILL) or stop it
 * (SIGTERM) and read its exit status and output; should this JVM die first, a shutdown hook
 * kills it.
 */
final class AgentProcess implements AutoCloseable {
  private static final Duration CLOSE_BOUND = Duration.ofSeconds(15);

  private final Process process;
  private final Path output;
  private final Thread killOnExit;

  private AgentProcess(Process process, Path output) {
    this.process = process;
    this.output = output;
    this.killOnExit = new Thread(process::destroyForcibly, "kill-agent");
    Runtime.getRuntime().addShutdownHook(killOnExit);
  }

  /** Starts {@code Main args...}; what it prints goes to {@code output}. */
  static AgentProcess start(Path output, String... args) throws IOException {
    return start(output, Map.of(), args);
  }

  /** The same, with these environment variables changed. */
  static AgentProcess start(Path output, Map<String, String> env, String... args)
      throws IOException {
    return start(output, env, null, List.of(), args);
  }

  /**
   * The same in network namespace {@code namespace} (or none when {@code null}), with extra JVM
   * options after the defaults (so that, e.g., their -Dlogback.configurationFile wins).
   */
  static AgentProcess start(Path output, Map<String, String> env, String namespace,
      List<String> jvmOptions, String... args) throws IOException {
    List<String> command = new ArrayList<>();
    if (namespace != null) {
      command.addAll(List.of("ip", "netns", "exec", namespace));
    }
    command.addAll(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Dlogback.configurationFile=" + Path.of("conf/logback.xml").toAbsolutePath()));
    command.addAll(jvmOptions);
    command.addAll(List.of("-cp", System.getProperty("java.class.path"),
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

  /** The file its output goes to. */
  Path outputFile() {
    return output;
  }

  /** The last {@code lines} lines of its output, or why they cannot be read. */
  String outputTail(int lines) {
    try {
      return tail(Files.readString(output), lines);
    } catch (IOException e) {
      return "(cannot read " + output + ": " + e + ")";
    }
  }

  /** The last {@code lines} lines of {@code text}. */
  static String tail(String text, int lines) {
    List<String> all = text.lines().toList();
    return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
  }

  /** Fails at once, with {@code diagnostics}, when the agent has exited. */
  void requireAlive(java.util.function.Supplier<String> diagnostics) {
    if (!process.isAlive()) {
      throw new IllegalStateException("the agent exited with status " + process.exitValue()
          + diagnostics.get());
    }
  }

  long pid() {
    return process.pid();
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
    try {
      if (process.isAlive()) {
        process.destroy();
        if (!process.waitFor(CLOSE_BOUND.toMillis(), TimeUnit.MILLISECONDS)) {
          process.destroyForcibly().waitFor(CLOSE_BOUND.toMillis(), TimeUnit.MILLISECONDS);
        }
      }
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(killOnExit);
      } catch (IllegalStateException shuttingDown) {
        // the hook runs or ran
      }
    }
  }
}
