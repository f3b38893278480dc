package io.sipalr.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code status} against a stand-in for the control API (GET /v1/profiles with a bearer token):
 * the table, where the token comes from, and the failures a user can meet.
 */
class StatusCommandTest {
  private static final String TOKEN = "t0ken-for-tests";
  private static final String PROFILES = """
      [ {"id": "alice", "status": "REGISTERED", "localAddress": "127.0.0.2",
         "registration": {"contact": "sip:alice@127.0.0.2:5070", "expires": 598}},
        {"id": "bob", "status": "UNREGISTERED", "localAddress": null} ]
      """;

  @TempDir Path dataDir;
  private HttpServer server;
  private final AtomicReference<String> authorization = new AtomicReference<>();

  @BeforeEach
  void startStandIn() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/v1/profiles", exchange -> {
      String auth = exchange.getRequestHeaders().getFirst("Authorization");
      authorization.set(auth);
      byte[] body = ("Bearer " + TOKEN).equals(auth)
          ? PROFILES.getBytes(StandardCharsets.UTF_8)
          : "{\"error\":\"unauthorized\"}".getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().add("Content-Type", "application/json");
      exchange.sendResponseHeaders(("Bearer " + TOKEN).equals(auth) ? 200 : 401, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    server.start();
  }

  @AfterEach
  void stopStandIn() {
    server.stop(0);
  }

  private String url() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  private MainTest.Outcome status(Map<String, String> env, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = Main.commandLine();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    ((StatusCommand) cli.getSubcommands().get("status").getCommand()).env = env;
    String[] all = new String[args.length + 1];
    all[0] = "status";
    System.arraycopy(args, 0, all, 1, args.length);
    int exit = cli.execute(all);
    return new MainTest.Outcome(exit, out.toString(), err.toString());
  }

  @Test
  void printsOneRowPerProfileWithIdAndStatusFirst() {
    MainTest.Outcome o = status(Map.of(), "--url", url(), "--token", TOKEN);
    assertEquals(0, o.exit(), o.err());
    assertEquals("Bearer " + TOKEN, authorization.get());
    assertEquals(List.of(
        "ID     STATUS        LOCALADDRESS  REGISTRATION.CONTACT      REGISTRATION.EXPIRES",
        "alice  REGISTERED    127.0.0.2     sip:alice@127.0.0.2:5070  598",
        "bob    UNREGISTERED  -             -                         -"),
        o.out().lines().toList());
  }

  @Test
  void theTokenCanComeFromTheEnvironment() {
    MainTest.Outcome o = status(Map.of(StatusCommand.TOKEN_ENV, TOKEN), "--url", url());
    assertEquals(0, o.exit(), o.err());
    assertEquals("Bearer " + TOKEN, authorization.get());
  }

  @Test
  void aRefusedTokenIsSaidPlainly() {
    MainTest.Outcome o = status(Map.of(), "--url", url(), "--token", "wrong");
    assertEquals(1, o.exit());
    assertTrue(o.err().contains("refused the token (HTTP 401)"), o.err());
  }

  @Test
  void noAgentListeningIsSaidPlainly() throws IOException {
    int closedPort;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = probe.getLocalPort();
    }
    MainTest.Outcome o = status(Map.of(), "--url", "http://127.0.0.1:" + closedPort,
        "--token", TOKEN);
    assertEquals(1, o.exit());
    assertTrue(o.err().contains("no control API answers at http://127.0.0.1:" + closedPort),
        o.err());
  }

  @Test
  void withNoTokenAnywhereTheMissingTokenFileIsNamedAndNothingIsWritten() throws IOException {
    Path data = dataDir.resolve("data");
    Path config = dataDir.resolve("agent.conf");
    Files.writeString(config, "agent.data-dir = \"" + data + "\"\n");
    MainTest.Outcome o = status(Map.of(), "--config", config.toString(), "--url", url());
    assertEquals(Main.EXIT_USAGE, o.exit(), o.err());
    assertTrue(o.err().contains("no token: " + data.resolve("control.token") + " does not exist"),
        o.err());
    assertFalse(Files.exists(data), "status writes nothing into an agent's data directory");
    assertEquals(null, authorization.get(), "no request without a token");
  }

  @Test
  void anObjectHoldingTheListIsReadToo() throws IOException {
    var rows = StatusCommand.rows(new ObjectMapper().readTree(
        "{\"profiles\": [{\"status\": \"REGISTERED\", \"id\": \"a\", \"iaps\": [1, 2]}]}"));
    assertEquals("ID  STATUS      IAPS\na   REGISTERED  [1,2]\n", StatusCommand.table(rows));
    assertEquals("no profiles\n", StatusCommand.table(List.of()));
  }
}
