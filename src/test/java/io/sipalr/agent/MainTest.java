package io.sipalr.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
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
}
