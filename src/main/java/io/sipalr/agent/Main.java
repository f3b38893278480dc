package io.sipalr.agent;

import com.typesafe.config.ConfigException;
import io.sipalr.profile.ProfileStoreException;
import io.sipalr.profile.ProfileValidationException;
import java.io.PrintWriter;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The executable: {@code sip-alr-agent run | demo | status} (see {@code --help}). The work is
 * done by {@link Agent} and the subcommands; this class only parses the command line and turns
 * failures into a message and an exit code.
 */
@Command(name = "sip-alr-agent", mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "A SIP user agent that keeps its SIP profiles registered while the device "
        + "roams between networks.",
    subcommands = {RunCommand.class, Demo.class, StatusCommand.class,
        CommandLine.HelpCommand.class},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
        "0:success; for run, also a stop by SIGTERM or Ctrl-C",
        "1:failure at run time (a demo step did not hold, the control API did not answer)",
        "2:bad usage or configuration",
        "3:demo only: no Docker engine"})
public final class Main {
  static final int EXIT_OK = 0;
  static final int EXIT_FAILED = 1;
  static final int EXIT_USAGE = CommandLine.ExitCode.USAGE;
  static final int EXIT_NO_DOCKER = 3;

  private Main() {}

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /** The command line, with failures of a subcommand turned into one line on stderr. */
  static CommandLine commandLine() {
    CommandLine cli = new CommandLine(new Main());
    // picocli leaves the usage out when it has a suggestion ("Did you mean"); always show both.
    cli.setParameterExceptionHandler((e, args) -> {
      CommandLine command = e.getCommandLine();
      PrintWriter err = command.getErr();
      err.println(command.getColorScheme().errorText(e.getMessage()));
      CommandLine.UnmatchedArgumentException.printSuggestions(e, err);
      command.usage(err, command.getColorScheme());
      return command.getCommandSpec().exitCodeOnInvalidInput();
    });
    cli.setExecutionExceptionHandler((e, command, parsed) -> {
      boolean badInput = e instanceof ConfigException || e instanceof ProfileValidationException
          || e instanceof ProfileStoreException || e instanceof IllegalArgumentException;
      // The stack trace helps only with a bug; it goes to the log at debug level.
      LoggerFactory.getLogger(Main.class).debug("{} failed", command.getCommandName(), e);
      command.getErr().println("sip-alr-agent " + command.getCommandName() + ": "
          + (e.getMessage() == null ? e.toString() : e.getMessage()));
      return badInput ? EXIT_USAGE : EXIT_FAILED;
    });
    return cli;
  }

  /** The version from the jar's manifest (Implementation-Version). */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String version = Main.class.getPackage().getImplementationVersion();
      return new String[] {"sip-alr-agent " + (version == null ? "(development build)" : version)};
    }
  }
}
