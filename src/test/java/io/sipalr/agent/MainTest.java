package io.sipalr.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The command line: what a user who mistypes sees, and the exit codes scripts rely on. */
class MainTest {
  @TempDir Path dir;

  /** One run of the command line, with what it printed. */
  record Outcome(int exit, String out, String err) {}

  static Outcome execute(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = Main.commandLine();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    int exit = cli.execute(args);
    return new Outcome(exit, out.toString(), err.toString());
  }

  @Test
  void anUnknownOptionOfASubcommandIsNamedWithThatSubcommandsUsage() {
    Outcome o = execute("run", "--bogus");
    assertEquals(2, o.exit());
    assertTrue(o.err().contains("Unknown option: '--bogus'"), o.err());
    assertTrue(o.err().contains("Usage: sip-alr-agent run"), o.err());
    assertTrue(o.err().contains("--config=FILE"), o.err());
    assertEquals("", o.out());
  }

  @Test
  void anUnknownTopLevelOptionShowsTheCommands() {
    Outcome o = execute("--verbose-please");
    assertEquals(2, o.exit());
    assertTrue(o.err().contains("Unknown option: '--verbose-please'"), o.err());
    assertTrue(o.err().contains("Usage: sip-alr-agent"), o.err());
    assertTrue(o.err().contains("demo"), o.err());
  }

  @Test
  void anUnknownSubcommandIsAnError() {
    Outcome o = execute("runn");
    assertEquals(2, o.exit());
    assertTrue(o.err().contains("Unmatched argument at index 0: 'runn'"), o.err());
    assertTrue(o.err().contains("Did you mean: sip-alr-agent run?"), o.err());
    assertTrue(o.err().contains("Usage: sip-alr-agent"), o.err());
  }

  @Test
  void noSubcommandIsAnErrorWithTheUsage() {
    Outcome o = execute();
    assertEquals(2, o.exit());
    assertTrue(o.err().contains("Missing required subcommand"), o.err());
    assertTrue(o.err().contains("Usage: sip-alr-agent"), o.err());
  }

  @Test
  void anOptionWithoutItsValueIsAnError() {
    Outcome o = execute("status", "--url");
    assertEquals(2, o.exit());
    assertTrue(o.err().contains("Missing required parameter for option '--url'"), o.err());
    assertTrue(o.err().contains("Usage: sip-alr-agent status"), o.err());
  }

  @Test
  void helpListsTheSubcommandsAndExitCodes() {
    Outcome o = execute("--help");
    assertEquals(0, o.exit());
    for (String expected : new String[] {"run", "demo", "status", "Exit codes:",
        "2   bad usage or configuration"}) {
      assertTrue(o.out().contains(expected), () -> expected + " in\n" + o.out());
    }
  }

  @Test
  void aMissingConfigurationFileIsNamedInOneLine() {
    Path missing = dir.resolve("nope.conf");
    Outcome o = execute("run", "--config", missing.toString());
    assertEquals(2, o.exit());
    assertEquals("sip-alr-agent run: " + missing + ": no such configuration file",
        o.err().strip());
  }

  private Path conf(String text) throws Exception {
    Path file = dir.resolve("agent.conf");
    Files.writeString(file, "agent.data-dir = \"" + dir.resolve("data") + "\"\n"
        + "control.enabled = false\nsip.port = 0\n" + text);
    return file;
  }

  @Test
  void anUnknownKeyExits2NamingFileLineAndKey() throws Exception {
    Path file = conf("sip.prot = 5080\n");
    Outcome o = execute("status", "--config", file.toString());
    assertEquals(2, o.exit(), o.err());
    assertTrue(o.err().startsWith("sip-alr-agent status: " + file + ": 4: Invalid value at "
        + "'sip.prot': unknown key (did you mean 'sip.port'?)"), o.err());
  }

  @Test
  void aLocalAddressThatIsNoIpLiteralExits2WithoutADnsLookup() throws Exception {
    // Before: looked up in DNS when the SIP stack started, and exit 1.
    Path file = conf("sip.local-address = \"not-an-ip\"\n");
    Outcome o = execute("run", "--config", file.toString());
    assertEquals(2, o.exit(), o.err());
    assertTrue(o.err().contains(file + ": 4: Invalid value at 'sip.local-address': must be an IP "
        + "address"), o.err());
  }

  @Test
  void aMissingRequiredIncludeExits2NamingTheLine() throws Exception {
    Path file = conf("include required(\"site.conf\")\n");
    Outcome o = execute("run", "--config", file.toString());
    assertEquals(2, o.exit(), o.err());
    assertTrue(o.err().contains(file + ": 4: include required(\"site.conf\"): required include "
        + "not found (" + dir.resolve("site.conf") + ")"), o.err());
  }

  @Test
  void aBadSipPortVariableExits2NamingTheVariable() throws Exception {
    // A real process: the variable must come from the environment, as in production.
    Path file = conf("");
    Files.writeString(file, Files.readString(file).replace("sip.port = 0\n", ""));
    ProcessBuilder agent = new ProcessBuilder(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
        "-cp", System.getProperty("java.class.path"),
        Main.class.getName(), "run", "--config", file.toString())
        .redirectErrorStream(true);
    agent.environment().put("SIPALR_SIP_PORT", "fifty");
    Process process = agent.start();
    try {
      assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the agent did not exit");
      String output = new String(process.getInputStream().readAllBytes(), UTF_8);
      assertEquals(2, process.exitValue(), output);
      assertTrue(output.contains("environment variable SIPALR_SIP_PORT: sip.port has type STRING "
          + "rather than NUMBER"), output);
    } finally {
      process.destroyForcibly();
    }
  }
}
