package io.sipalr.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sipalr.sip.FreePorts;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The demo's registrar: the project's Kamailio test image ({@code docker/kamailio/}) run with
 * the docker CLI, with host networking on 127.0.0.1 and a free port (the same for UDP and TCP),
 * scripted and read over its JSON-RPC ({@code POST /RPC} on that TCP port). The image is built
 * when missing; the container is removed by {@link #close()}, and by a shutdown hook if the JVM
 * ends first (Ctrl-C).
 */
final class DemoRegistrar implements AutoCloseable {
  static final String IMAGE = "sip-alr-agent/kamailio:test";
  static final String HOST = "127.0.0.1";
  static final String REALM = "sipalr.test";
  private static final Duration DOCKER_BOUND = Duration.ofSeconds(30);
  private static final Duration BUILD_BOUND = Duration.ofMinutes(15);
  private static final Duration READY_BOUND = Duration.ofSeconds(60);
  private static final Duration RPC_BOUND = Duration.ofSeconds(10);
  private static final int START_ATTEMPTS = 3;
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One contact the registrar holds for a user, as {@code ul.lookup} shows it. */
  record Binding(String address, String received, long expires) {}

  /** An {@code error} answered over JSON-RPC; the message is Kamailio's. */
  static final class RpcException extends IOException {
    private static final long serialVersionUID = 1L;

    RpcException(String method, String message) {
      super(method + ": " + message);
    }
  }

  private final String containerId;
  private final int port;
  private final HttpClient http = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1) // Kamailio's xhttp knows nothing of h2c
      .connectTimeout(RPC_BOUND)
      .build();
  private final AtomicLong rpcIds = new AtomicLong();
  private final Thread removeOnExit;

  private DemoRegistrar(String containerId, int port) {
    this.containerId = containerId;
    this.port = port;
    this.removeOnExit = new Thread(this::remove, "demo-registrar-removal");
    Runtime.getRuntime().addShutdownHook(removeOnExit);
  }

  /** Why the demo cannot use Docker here, or empty when it can. */
  static Optional<String> dockerUnavailable() throws InterruptedException {
    Output info;
    try {
      info = docker(DOCKER_BOUND, "info", "--format", "{{.ServerVersion}}");
    } catch (IOException e) {
      return Optional.of("the docker command cannot be run (" + e.getMessage() + ")");
    }
    if (info.exit() != 0) {
      return Optional.of("the Docker engine does not answer (docker info: " + info.lastLine()
          + ")");
    }
    return Optional.empty();
  }

  /** Starts Kamailio (building its image first if missing) and waits until it is ready. */
  static DemoRegistrar start(PrintWriter progress) throws IOException, InterruptedException {
    ensureImage(progress);
    IOException last = null;
    // A free port can be taken between the probe and Kamailio's bind: then try another.
    for (int attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
      int port = freeUdpAndTcpPort();
      // ROUTING: calls to a registered user are relayed to its binding (the demo's call step)
      Output run = docker(DOCKER_BOUND, "run", "-d", "--rm", "--network", "host", IMAGE,
          "-A", "ROUTING", "-l", "udp:" + HOST + ":" + port, "-l", "tcp:" + HOST + ":" + port);
      if (run.exit() != 0) {
        throw new IOException("docker run " + IMAGE + " failed: " + run.text());
      }
      DemoRegistrar registrar = new DemoRegistrar(run.lastLine(), port);
      try {
        registrar.awaitReady();
        return registrar;
      } catch (IOException e) {
        registrar.close();
        last = e;
        if (!e.getMessage().contains("Address already in use")) {
          throw e;
        }
      }
    }
    throw last;
  }

  /** The registrar as the profiles name it, e.g. {@code sip:127.0.0.1:40123}. */
  String sipUri() {
    return "sip:" + HOST + ":" + port;
  }

  void addUser(String user, String password) throws IOException, InterruptedException {
    rpc("htable.sets", "creds", user, password);
  }

  /** From now on every request from {@code sourceIp} is dropped: that network is "down". */
  void block(String sourceIp) throws IOException, InterruptedException {
    rpc("htable.sets", "blocked", sourceIp, "1");
  }

  void unblock(String sourceIp) throws IOException, InterruptedException {
    try {
      rpc("htable.delete", "blocked", sourceIp);
    } catch (RpcException e) {
      if (!e.getMessage().endsWith("Key not found in htable.")) {
        throw e; // not blocked is fine: that is the goal
      }
    }
  }

  /** The live bindings of {@code user}; empty when the registrar holds none. */
  List<Binding> lookup(String user) throws IOException, InterruptedException {
    JsonNode result;
    try {
      result = rpc("ul.lookup", "location", user);
    } catch (RpcException e) {
      // Kamailio's two ways of saying "none"; anything else is a real error.
      if (e.getMessage().endsWith("AOR not found in location table")
          || e.getMessage().endsWith("AOR has no contacts")) {
        return List.of();
      }
      throw e;
    }
    List<Binding> bindings = new ArrayList<>();
    for (JsonNode wrapper : result.path("Contacts")) {
      JsonNode c = wrapper.path("Contact");
      // Contacts removed or expired but not yet purged carry a text instead of a number.
      if (c.path("Expires").isNumber()) {
        bindings.add(new Binding(c.path("Address").asText(), c.path("Received").asText(),
            c.path("Expires").asLong()));
      }
    }
    return List.copyOf(bindings);
  }

  /** Removes the container. */
  @Override
  public void close() {
    remove();
    try {
      Runtime.getRuntime().removeShutdownHook(removeOnExit);
    } catch (IllegalStateException shuttingDown) {
      // the hook runs (or ran) anyway; removing twice is harmless
    }
  }

  private void remove() {
    try {
      docker(DOCKER_BOUND, "rm", "-f", containerId);
    } catch (IOException e) {
      System.err.println("demo: could not remove the registrar container " + containerId
          + " (docker rm -f " + containerId + "): " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---- start-up ----------------------------------------------------------------------------

  /**
   * Ready when Kamailio's ctl module logs {@code io_listen_loop} (every process has forked); a
   * container that exits first (port taken, bad configuration) fails at once with its log.
   */
  private void awaitReady() throws IOException, InterruptedException {
    Process logs = new ProcessBuilder("docker", "logs", "-f", containerId)
        .redirectErrorStream(true).start();
    StringBuilder seen = new StringBuilder();
    CompletableFuture<Void> ready = new CompletableFuture<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader lines = new BufferedReader(
          new InputStreamReader(logs.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line = lines.readLine(); line != null; line = lines.readLine()) {
          synchronized (seen) {
            seen.append(line).append('\n');
          }
          if (line.contains("io_listen_loop")) {
            ready.complete(null);
            return;
          }
        }
        ready.completeExceptionally(new IOException("Kamailio exited before it was ready"));
      } catch (IOException e) {
        ready.completeExceptionally(e);
      }
    }, "demo-registrar-log");
    reader.setDaemon(true);
    reader.start();
    try {
      ready.get(READY_BOUND.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      String log;
      synchronized (seen) {
        log = seen.toString();
      }
      throw new IOException((e instanceof TimeoutException
          ? "Kamailio not ready after " + READY_BOUND.toSeconds() + " s"
          : e.getCause().getMessage()) + "; its log:\n" + log, e);
    } finally {
      logs.destroy();
    }
  }

  private static void ensureImage(PrintWriter progress) throws IOException, InterruptedException {
    if (docker(DOCKER_BOUND, "image", "inspect", IMAGE).exit() == 0) {
      return;
    }
    Path context = findImageContext();
    progress.println("demo: building the registrar image " + IMAGE + " from " + context
        + " (first run only; a few minutes)");
    progress.flush();
    // Host networking: where no registry is reachable, apt in the build uses the host's mirror.
    Output build = docker(BUILD_BOUND, "build", "--network", "host", "-t", IMAGE,
        context.toString());
    if (build.exit() != 0) {
      throw new IOException("docker build of " + IMAGE + " failed:\n" + build.text());
    }
  }

  /** docker/kamailio/ above the working directory or above this code's jar or classes. */
  private static Path findImageContext() throws IOException {
    List<Path> starts = new ArrayList<>(List.of(Path.of("").toAbsolutePath()));
    try {
      starts.add(Path.of(DemoRegistrar.class.getProtectionDomain().getCodeSource().getLocation()
          .toURI()));
    } catch (URISyntaxException | SecurityException | NullPointerException e) {
      // the working directory alone, then
    }
    for (Path start : starts) {
      for (Path dir = start; dir != null; dir = dir.getParent()) {
        Path candidate = dir.resolve("docker/kamailio");
        if (Files.isRegularFile(candidate.resolve("Dockerfile"))) {
          return candidate;
        }
      }
    }
    throw new IOException("the image " + IMAGE + " is missing and docker/kamailio/Dockerfile was"
        + " not found above " + starts + ": run the demo from the project directory");
  }

  /** A port free for both UDP and TCP on 127.0.0.1 at the time of asking. */
  private static int freeUdpAndTcpPort() throws IOException {
    return FreePorts.udpAndTcp(InetAddress.getByName(HOST)).orElseThrow(
        () -> new IOException("no port free for both UDP and TCP on " + HOST));
  }

  // ---- JSON-RPC and docker -----------------------------------------------------------------

  private JsonNode rpc(String method, Object... params) throws IOException, InterruptedException {
    ObjectNode request = JSON.createObjectNode()
        .put("jsonrpc", "2.0")
        .put("method", method)
        .put("id", rpcIds.incrementAndGet());
    request.set("params", JSON.valueToTree(Arrays.asList(params)));
    HttpResponse<String> response = http.send(
        HttpRequest.newBuilder(URI.create("http://" + HOST + ":" + port + "/RPC"))
            .timeout(RPC_BOUND)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(request.toString()))
            .build(),
        HttpResponse.BodyHandlers.ofString());
    JsonNode body = JSON.readTree(response.body());
    if (body.has("error")) {
      throw new RpcException(method, body.path("error").path("message").asText());
    }
    return body.path("result");
  }

  /** What a docker command printed (stdout and stderr together) and its exit status. */
  private record Output(int exit, String text) {
    String lastLine() {
      String[] lines = text.strip().split("\n");
      return lines[lines.length - 1].strip();
    }
  }

  /** Runs {@code docker args...}; it is killed, and this fails, after {@code bound}. */
  private static Output docker(Duration bound, String... args)
      throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of("docker"));
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    process.getOutputStream().close();
    // Read while it runs: a chatty command (docker build) would block on a full pipe.
    CompletableFuture<String> output = new CompletableFuture<>();
    Thread reader = new Thread(() -> output.complete(readAll(process.getInputStream())),
        "docker-output");
    reader.setDaemon(true);
    reader.start();
    if (!process.waitFor(bound.toMillis(), TimeUnit.MILLISECONDS)) {
      process.destroyForcibly();
      throw new IOException(String.join(" ", command) + " did not finish within "
          + bound.toSeconds() + " s");
    }
    try {
      return new Output(process.exitValue(), output.get(DOCKER_BOUND.toMillis(),
          TimeUnit.MILLISECONDS));
    } catch (ExecutionException | TimeoutException e) {
      throw new IOException("cannot read the output of " + String.join(" ", command), e);
    }
  }

  private static String readAll(InputStream in) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (in) {
      in.transferTo(bytes);
    } catch (IOException e) {
      // the process is gone: what was read is all there is
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }
}
