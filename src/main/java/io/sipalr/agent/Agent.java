package io.sipalr.agent;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import io.sipalr.concurrent.OneShutdown;
import io.sipalr.SipAlrAgent;
import io.sipalr.alr.PolicyController;
import io.sipalr.alr.SipAlr;
import io.sipalr.control.ControlConfig;
import io.sipalr.control.ControlServer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.sipalr.metrics.AgentMetrics;
import io.sipalr.mobility.MobilityManager;
import io.sipalr.mobility.ScriptedIapProvider;
import io.sipalr.profile.ProfileValidationException;
import io.sipalr.sip.SipProfileRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The whole product, wired from one configuration: the library's façade {@link SipAlrAgent}
 * (the profile store in {@code agent.data-dir} with the configuration's seed profiles imported,
 * the profile registry, the mobility layer with the configured IAP provider, SIP ALR and the
 * agent's own ALR controller, {@code alr.policy}), and over it the control API ({@code
 * control}, unless {@code control.enabled = false}).
 *
 * <pre>{@code
 * Agent agent = Agent.create(Agent.loadConfig(Path.of("conf/agent.conf")));
 * agent.start();                          // registers every auto-register profile
 * ...
 * agent.shutdown(Duration.ofSeconds(10)); // deregisters every profile, paced and bounded
 * }</pre>
 *
 * <p>The agent votes on migrations through one controller of its own, by {@code alr.policy}
 * (auto by default: every migration allowed, as with no controller at all); the control API's
 * decisions go through that same controller.
 */
public final class Agent implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Agent.class);
  /** {@link #close()}'s bound for deregistering every profile ({@code agent.shutdown-timeout}). */
  private final Duration shutdownBound;
  private final Path dataDir;
  private final SipAlrAgent core;
  private final AgentMetrics metrics;
  private final ControlServer control;
  private final OneShutdown shutdown = new OneShutdown();

  /**
   * The configuration as typesafe-config users expect it: system properties ({@code
   * -Dsip.port=5080}) over {@code file} over the defaults (reference.conf, whose {@code ${?VAR}}
   * substitutions read the environment), resolved, after the checks of {@link
   * io.sipalr.config.ConfigLoader}.
   *
   * @throws ConfigException naming the file when it is missing or invalid
   */
  public static Config loadConfig(Path file) {
    return SipAlrAgent.loadConfig(file);
  }

  /**
   * {@link #loadConfig(Path)} with {@code env} for the environment variables: strict (see
   * {@link io.sipalr.config.ConfigLoader}: an unknown key or block, a byte that is not UTF-8 or
   * a missing required include is an error naming file, line and key), and a value taken from a
   * variable names that variable in errors.
   */
  public static Config loadConfig(Path file, Map<String, String> env) {
    return SipAlrAgent.loadConfig(file, env);
  }

  /**
   * Wires everything; nothing registers and nothing listens until {@link #start()}.
   *
   * @throws ConfigException when a setting is invalid (the message names file and key)
   * @throws ProfileValidationException when a seed profile is invalid or names a SNAP or IAP
   *     that the configuration lacks
   * @throws io.sipalr.profile.ProfileStoreException when the store cannot be opened
   * @throws IllegalStateException when the SIP stack cannot start (e.g. the port is taken)
   */
  public static Agent create(Config config) {
    return new Agent(config);
  }

  private Agent(Config config) {
    shutdownBound = config.getDuration("agent.shutdown-timeout");
    dataDir = Path.of(config.getString("agent.data-dir"));
    boolean controlEnabled = config.getBoolean("control.enabled");
    // Checked before anything is opened: a configuration refused at start opens nothing.
    ControlConfig controlConfig = controlEnabled ? ControlConfig.from(config, dataDir) : null;
    // The meters on a Prometheus registry, which the control API serves at GET /metrics.
    core = SipAlrAgent.builder().config(config).policyFromConfig()
        .meterRegistry(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT)).build();
    metrics = core.metrics().orElseThrow();
    try {
      log.info("profile store {}: {} profiles", dataDir, core.store().list().size());
      core.addListener(event -> {
        if (event.error() != null) {
          log.warn("profile {}: {} {}", event.profileId(), event.type(), event.error());
        } else {
          log.info("profile {}: {} (status {})", event.profileId(), event.type(), event.status());
        }
      });
      if (controlEnabled) {
        control = new ControlServer(controlConfig, core.registry(), core.mobility(),
            core.scriptedIaps().orElse(null), core.alr(), core.policy().orElseThrow(),
            metrics.meterRegistry());
        control.calls(core.calls());
      } else {
        control = null;
        log.info("control API disabled (control.enabled = false)");
      }
    } catch (RuntimeException | Error e) {
      try {
        core.shutdown(Duration.ZERO);
      } catch (RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  /**
   * Opens the control API, then starts the façade: it follows the registry and the mobility
   * layer and registers every auto-register profile (profiles with a SNAP or IAP as soon as
   * their network is up).
   *
   * @throws IllegalStateException when the control API cannot listen
   */
  public void start() {
    if (control != null) {
      try {
        control.start();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while the control API started", e);
      }
    }
    core.start();
    log.info("agent started: SIP on {}:{}, {} profiles", core.registry().localAddress(),
        core.registry().port(), core.registry().profiles().size());
  }

  /**
   * Closes the control API, so that no command starts while the agent leaves, then shuts the
   * façade down ({@link SipAlrAgent#shutdown}: every profile deregistered, paced as ALR moves
   * are, within {@code bound}; whatever has not deregistered by then expires at the
   * registrar). Called again (another thread, a shutdown hook), it waits for the first call to
   * finish, within its own bound.
   */
  public void shutdown(Duration bound) {
    shutdown.run(bound, () -> {
      long deadline = System.nanoTime() + bound.toNanos();
      if (control != null) {
        try {
          control.close();
        } catch (RuntimeException e) {
          log.warn("stopping: closing the control API failed", e);
        }
      }
      core.shutdown(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
      log.info("agent stopped");
    });
  }

  /** {@link #shutdown(Duration)} within {@code agent.shutdown-timeout}. */
  @Override
  public void close() {
    shutdown(shutdownBound);
  }

  public SipProfileRegistry registry() {
    return core.registry();
  }

  public MobilityManager mobility() {
    return core.mobility();
  }

  public SipAlr alr() {
    return core.alr();
  }

  /** The provider to script IAPs with, when {@code mobility.provider = scripted}. */
  /** The agent's calls (docs/calls.md). */
  public io.sipalr.calls.Calls calls() {
    return core.calls();
  }

  public Optional<ScriptedIapProvider> scriptedIaps() {
    return core.scriptedIaps();
  }

  /** The agent's own controller (see the class comment). */
  public PolicyController policy() {
    return core.policy().orElseThrow();
  }

  /** The agent's meters (README "Metrics"), served as GET /metrics by the control API. */
  public AgentMetrics metrics() {
    return metrics;
  }

  /** The control API, unless {@code control.enabled = false}. */
  public Optional<ControlServer> control() {
    return Optional.ofNullable(control);
  }

  public Path dataDir() {
    return dataDir;
  }
}
