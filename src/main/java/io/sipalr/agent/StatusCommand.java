package io.sipalr.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import io.sipalr.control.ControlConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.UnaryOperator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code sip-alr-agent status}: a running agent's profiles, from its control API. */
@Command(name = "status", mixinStandardHelpOptions = true,
    description = {
        "Shows every profile of a running agent as a table, from its control API "
            + "(GET /v1/profiles).",
        "The token is --token, else $" + StatusCommand.TOKEN_ENV + ", else the token file the "
            + "agent keeps in its data directory."})
final class StatusCommand implements Callable<Integer> {
  static final String TOKEN_ENV = "SIPALR_CONTROL_TOKEN";
  private static final Duration TIMEOUT = Duration.ofSeconds(5);
  private static final ObjectMapper JSON = new ObjectMapper();
  /** Shown first, in this order, when the answer has them; other fields follow as they come. */
  private static final List<String> FIRST_COLUMNS = List.of("id", "status");

  @Option(names = {"-c", "--config"}, paramLabel = "FILE", defaultValue = "conf/agent.conf",
      description = "The agent's configuration: where its control API listens, and its data "
          + "directory (default: ${DEFAULT-VALUE}).")
  Path config;

  @Option(names = "--url", paramLabel = "URL",
      description = "The control API's base URL, e.g. http://127.0.0.1:8790 (default: from the "
          + "configuration).")
  URI url;

  @Option(names = "--token", paramLabel = "TOKEN",
      description = "The bearer token. Prefer $" + TOKEN_ENV + ": a command line is visible to "
          + "every user of the machine.")
  String token;

  @Spec
  CommandSpec spec;

  /** The environment; tests put their own. */
  Map<String, String> env = System.getenv();

  @Override
  public Integer call() throws IOException, InterruptedException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    URI base = url;
    String bearer = token != null ? token : env.get(TOKEN_ENV);
    if (base == null || bearer == null) {
      Config settings = Agent.loadConfig(config);
      ControlConfig control = ControlConfig.from(settings,
          Path.of(settings.getString("agent.data-dir")));
      if (base == null) {
        base = baseUrl(control);
      }
      if (bearer == null) {
        bearer = tokenOf(control);
      }
    }
    URI profiles = URI.create(base.toString().replaceAll("/+$", "") + "/v1/profiles");
    HttpResponse<String> response;
    try {
      response = HttpClient.newBuilder().connectTimeout(TIMEOUT).build().send(
          HttpRequest.newBuilder(profiles).timeout(TIMEOUT)
              .header("Authorization", "Bearer " + bearer)
              .header("Accept", "application/json")
              .GET().build(),
          HttpResponse.BodyHandlers.ofString());
    } catch (ConnectException | HttpTimeoutException e) {
      err.println("sip-alr-agent status: no control API answers at " + base + " (is the agent "
          + "running, with control.enabled = true?)");
      return Main.EXIT_FAILED;
    }
    if (response.statusCode() == 401 || response.statusCode() == 403) {
      err.println("sip-alr-agent status: the control API at " + base + " refused the token "
          + "(HTTP " + response.statusCode() + ")");
      return Main.EXIT_FAILED;
    }
    if (response.statusCode() != 200) {
      err.println("sip-alr-agent status: GET " + profiles + " answered HTTP "
          + response.statusCode() + ": " + response.body());
      return Main.EXIT_FAILED;
    }
    out.print(table(rows(JSON.readTree(response.body()))));
    out.flush();
    return Main.EXIT_OK;
  }

  /** Where the configured API listens; a wildcard bind address is reached on loopback. */
  static URI baseUrl(ControlConfig control) {
    if (control.port() == 0) {
      throw new IllegalArgumentException("control.port is 0 (a free port picked at each start), "
          + "so the address cannot be known: give --url");
    }
    String host = control.bindAddress();
    if (host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]")) {
      host = "127.0.0.1";
    } else if (host.contains(":") && !host.startsWith("[")) {
      host = "[" + host + "]";
    }
    return URI.create("http://" + host + ":" + control.port());
  }

  private static String tokenOf(ControlConfig control) throws IOException {
    if (control.token() != null) {
      return control.token();
    }
    try {
      return Files.readString(control.tokenFile()).strip();
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException("no token: " + control.tokenFile() + " does not exist "
          + "(has the agent run with this data directory?); give --token or set $" + TOKEN_ENV);
    }
  }

  /**
   * The profiles of the answer, a JSON array or an object holding one as {@code profiles}, each
   * as column to text; nested objects become dotted columns ({@code registration.status}).
   */
  static List<Map<String, String>> rows(JsonNode answer) {
    JsonNode list = answer.isArray() ? answer : answer.path("profiles");
    List<Map<String, String>> rows = new ArrayList<>();
    for (JsonNode profile : list) {
      Map<String, String> row = new LinkedHashMap<>();
      flatten("", profile, row);
      rows.add(row);
    }
    return rows;
  }

  private static void flatten(String prefix, JsonNode node, Map<String, String> row) {
    if (node.isObject()) {
      for (Map.Entry<String, JsonNode> field : node.properties()) {
        flatten(prefix + field.getKey() + (field.getValue().isObject() ? "." : ""),
            field.getValue(), row);
      }
    } else if (node.isNull() || node.isMissingNode()) {
      row.put(prefix, "-");
    } else if (node.isValueNode()) {
      row.put(prefix, node.asText());
    } else {
      row.put(prefix, node.toString()); // an array: compact JSON
    }
  }

  /** Left-aligned columns, a header row, two spaces between columns. */
  static String table(List<Map<String, String>> rows) {
    if (rows.isEmpty()) {
      return "no profiles\n";
    }
    Set<String> columns = new LinkedHashSet<>();
    for (String first : FIRST_COLUMNS) {
      if (rows.stream().anyMatch(r -> r.containsKey(first))) {
        columns.add(first);
      }
    }
    rows.forEach(r -> columns.addAll(r.keySet()));
    Map<String, Integer> width = new LinkedHashMap<>();
    for (String c : columns) {
      int w = c.length();
      for (Map<String, String> r : rows) {
        w = Math.max(w, r.getOrDefault(c, "-").length());
      }
      width.put(c, w);
    }
    StringBuilder out = new StringBuilder();
    appendRow(out, width, c -> c.toUpperCase(Locale.ROOT));
    for (Map<String, String> r : rows) {
      appendRow(out, width, c -> r.getOrDefault(c, "-"));
    }
    return out.toString();
  }

  private static void appendRow(StringBuilder out, Map<String, Integer> width,
      UnaryOperator<String> cell) {
    StringBuilder line = new StringBuilder();
    width.forEach((c, w) -> line.append(String.format("%-" + w + "s  ", cell.apply(c))));
    out.append(line.toString().stripTrailing()).append('\n');
  }
}
