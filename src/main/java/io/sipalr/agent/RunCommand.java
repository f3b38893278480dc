package io.sipalr.agent;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code sip-alr-agent run}: the headless agent, until SIGTERM or Ctrl-C. */
@Command(name = "run", mixinStandardHelpOptions = true,
    description = {
        "Registers the profiles of the configuration and keeps them registered while the device "
            + "roams between networks.",
        "SIGTERM or Ctrl-C deregisters every profile (within agent.shutdown-timeout) and exits 0.",
        "System properties (-Dsip.port=5080) and the environment variables named in "
            + "reference.conf (SIPALR_DATA_DIR, ...) override the file."})
final class RunCommand implements Callable<Integer> {

  @Option(names = {"-c", "--config"}, paramLabel = "FILE", defaultValue = "conf/agent.conf",
      description = "The configuration (HOCON) over the built-in defaults "
          + "(default: ${DEFAULT-VALUE}).")
  Path config;

  @Override
  public Integer call() throws InterruptedException {
    Config settings = Agent.loadConfig(config);
    // Before anything registers, so that a signal during the start is not lost.
    StopSignals stop = StopSignals.install();
    Agent agent = Agent.create(settings);
    // Any other way out of the JVM (SIGHUP, System.exit elsewhere) still deregisters.
    // Each stop deregisters within agent.shutdown-timeout (Agent.close).
    Runtime.getRuntime().addShutdownHook(new Thread(agent::close, "agent-stop"));
    try {
      agent.start();
    } catch (RuntimeException e) {
      agent.close();
      throw e;
    }
    stop.await();
    agent.close();
    return Main.EXIT_OK;
  }
}
