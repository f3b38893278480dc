package io.sipalr.agent;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigOrigin;
import io.sipalr.alr.AlrConfig;
import io.sipalr.alr.AlrPolicy;
import io.sipalr.alr.PolicyController;
import io.sipalr.alr.SipAlr;
import io.sipalr.concurrent.DaemonThreads;
import io.sipalr.config.ConfigLoader;
import io.sipalr.control.ControlConfig;
import io.sipalr.control.ControlServer;
import io.sipalr.metrics.AgentMetrics;
import io.sipalr.mobility.IapProvider;
import io.sipalr.mobility.MobilityConfig;
import io.sipalr.mobility.MobilityManager;
import io.sipalr.mobility.ScriptedIapProvider;
import io.sipalr.profile.ProfileSeeds;
import io.sipalr.profile.ProfileStore;
import io.sipalr.profile.ProfileStoreException;
import io.sipalr.profile.ProfileValidationException;
import io.sipalr.profile.SipProfile;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.SipConfig;
import io.sipalr.sip.SipProfileRegistry;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.sip.SipException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The whole product, wired from one configuration: the profile store ({@code agent.data-dir})
 * with the configuration's seed profiles imported, the profile registry, the mobility layer
 * with the configured IAP provider, SIP ALR, the agent's own ALR controller ({@code
 * alr.policy}) and the control API ({@code control}, unless {@code control.enabled = false}).
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
  private final AlrConfig alrConfig;
  private final ProfileStore store;
  private final SipProfileRegistry registry;
  private final ExecutorService pool;
  private final ScheduledExecutorService timers;
  private final MobilityManager mobility;
  private final ScriptedIapProvider scriptedIaps;
  private final SipAlr alr;
  private final PolicyController policy;
  private final AgentMetrics metrics;
  private final ControlServer control;
  private final AtomicBoolean stopping = new AtomicBoolean();
  private final CompletableFuture<Void> stopped = new CompletableFuture<>();

  /**
   * The configuration as typesafe-config users expect it: system properties ({@code
   * -Dsip.port=5080}) over {@code file} over the defaults (reference.conf, whose {@code ${?VAR}}
   * substitutions read the environment), resolved, after the checks of {@link ConfigLoader}.
   *
   * @throws ConfigException naming the file when it is missing or invalid
   */
  public static Config loadConfig(Path file) {
    return loadConfig(file, System.getenv());
  }

  /**
   * {@link #loadConfig(Path)} with {@code env} for the environment variables: strict (see
   * {@link ConfigLoader}: an unknown key or block, a byte that is not UTF-8 or a missing
   * required include is an error naming file, line and key), and a value taken from a variable
   * names that variable in errors.
   */
  public static Config loadConfig(Path file, Map<String, String> env) {
    return ConfigLoader.load(file, env);
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
    // Whatever was opened is closed again, last first, if a later part fails.
    Deque<AutoCloseable> opened = new ArrayDeque<>();
    try {
      shutdownBound = config.getDuration("agent.shutdown-timeout");
      MobilityConfig mobilityConfig = MobilityConfig.from(config);
      alrConfig = AlrConfig.from(config);
      SipConfig sipConfig = SipConfig.from(config);
      boolean controlEnabled = config.getBoolean("control.enabled");
      AlrPolicy alrPolicy = AlrPolicy.from(config);
      dataDir = Path.of(config.getString("agent.data-dir"));
      ControlConfig controlConfig = controlEnabled ? ControlConfig.from(config, dataDir) : null;
      // Every seed, its SNAP or IAP included, is checked before the store is even opened: a
      // configuration refused at start leaves nothing behind to delete by hand.
      List<SipProfile> seeds = ProfileSeeds.fromConfig(config, "profiles",
          id -> mobilityConfig.snap(id).isPresent(), id -> mobilityConfig.iap(id).isPresent());

      store = openStore(dataDir, config);
      opened.push(store);
      checkNetworks(store, mobilityConfig);
      int imported = store.importSeeds(seeds);
      log.info("profile store {}: {} profiles ({} imported from the configuration)", dataDir,
          store.list().size(), imported);

      registry = newRegistry(store, sipConfig);
      opened.push(registry);
      registry.addListener(event -> {
        if (event.error() != null) {
          log.warn("profile {}: {} {}", event.profileId(), event.type(), event.error());
        } else {
          log.info("profile {}: {} (status {})", event.profileId(), event.type(), event.status());
        }
      });

      // Mobility and ALR share one small pool and one timer thread, whatever the profile count.
      pool = Executors.newFixedThreadPool(2, DaemonThreads.named("alr-worker"));
      opened.push(pool::shutdownNow);
      timers = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("alr-timer"));
      opened.push(timers::shutdownNow);
      IapProvider provider = IapProvider.create(mobilityConfig, timers);
      scriptedIaps = provider instanceof ScriptedIapProvider s ? s : null;
      mobility = new MobilityManager(mobilityConfig, provider, pool);
      opened.push(mobility);
      alr = new SipAlr(registry, mobility, alrConfig, pool, timers);
      opened.push(alr);

      policy = new PolicyController(alr, alrPolicy, mobility, timers, Clock.systemUTC());
      opened.push(policy);
      metrics = AgentMetrics.prometheus(config, store, registry, alr);
      opened.push(metrics);
      if (controlEnabled) {
        control = new ControlServer(controlConfig, registry, mobility, scriptedIaps, alr, policy,
            metrics.meterRegistry());
        opened.push(control);
      } else {
        control = null;
        log.info("control API disabled (control.enabled = false)");
      }
    } catch (RuntimeException | Error e) {
      closeAll(opened, e);
      throw e;
    }
  }

  /**
   * Starts following the registry and the mobility layer, opens the control API, then registers
   * every auto-register profile (profiles with a SNAP or IAP as soon as their network is up).
   *
   * @throws IllegalStateException when the control API cannot listen
   */
  public void start() {
    alr.start();
    if (control != null) {
      try {
        control.start();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while the control API started", e);
      }
    }
    registry.start();
    log.info("agent started: SIP on {}:{}, {} profiles", registry.localAddress(),
        registry.port(), registry.profiles().size());
  }

  /**
   * Deregisters every profile, then closes everything. The control API and the mobility layer
   * close first, so that no command and no move starts while the agent leaves. Deregistrations
   * go out paced as ALR moves are ({@code alr.register-rate} after a burst of {@code
   * alr.register-burst}), so that thousands of profiles do not flood the registrar; whatever has
   * not deregistered after {@code bound} simply expires at the registrar. Called again (another
   * thread, a shutdown hook), it waits for the first call to finish, within its own bound.
   */
  public void shutdown(Duration bound) {
    if (!stopping.compareAndSet(false, true)) {
      try {
        stopped.get(bound.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (ExecutionException | TimeoutException e) {
        log.warn("shutdown: the shutdown under way did not finish within {} ms",
            bound.toMillis());
      }
      return;
    }
    long deadline = System.nanoTime() + bound.toNanos();
    try {
      closeQuietly(control);
      closeQuietly(metrics);
      closeQuietly(policy);
      closeQuietly(alr);
      closeQuietly(mobility);
      deregisterAll(deadline);
      closeQuietly(registry);
      closeQuietly(store);
      pool.shutdownNow();
      timers.shutdownNow();
      log.info("agent stopped");
    } finally {
      stopped.complete(null);
    }
  }

  /** {@link #shutdown(Duration)} within {@code agent.shutdown-timeout}. */
  @Override
  public void close() {
    shutdown(shutdownBound);
  }

  public SipProfileRegistry registry() {
    return registry;
  }

  public MobilityManager mobility() {
    return mobility;
  }

  public SipAlr alr() {
    return alr;
  }

  /** The provider to script IAPs with, when {@code mobility.provider = scripted}. */
  public Optional<ScriptedIapProvider> scriptedIaps() {
    return Optional.ofNullable(scriptedIaps);
  }

  /** The agent's own controller, when it has one (see the class comment). */
  public PolicyController policy() {
    return policy;
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

  // ---------------------------------------------------------------------------------------

  private void deregisterAll(long deadlineNanos) {
    List<String> ids = registry.profiles().stream().map(SipProfile::id)
        .filter(id -> registry.statusIfPresent(id)
            .filter(status -> status != ProfileStatus.UNREGISTERED).isPresent())
        .toList(); // a profile created or destroyed meanwhile does not stop the loop
    if (ids.isEmpty()) {
      return;
    }
    log.info("stopping: deregistering {} profile(s)", ids.size());
    List<CompletableFuture<Void>> stops = new ArrayList<>();
    for (int i = 0; i < ids.size(); i++) {
      String id = ids.get(i);
      CompletableFuture<Void> stop = new CompletableFuture<>();
      stops.add(stop);
      // registry.disable only stops the registration: nothing is persisted, the profile
      // registers again at the next start.
      timers.schedule(() -> registry.disable(id).whenComplete((done, e) -> stop.complete(null)),
          pacedDelayMicros(i, alrConfig.registerRate(), alrConfig.registerBurst()),
          TimeUnit.MICROSECONDS);
    }
    try {
      CompletableFuture.allOf(stops.toArray(CompletableFuture[]::new))
          .get(Math.max(0, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      long left = stops.stream().filter(f -> !f.isDone()).count();
      log.warn("stopping: {} of {} profiles not deregistered in time; their bindings expire at "
          + "the registrar", left, ids.size());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException e) {
      log.warn("stopping: deregistration failed", e.getCause());
    }
  }

  /**
   * When the {@code index}-th deregistration may go out: at once for the first {@code burst},
   * then {@code rate} per second (a token bucket that starts full).
   */
  static long pacedDelayMicros(int index, int rate, int burst) {
    return index < burst ? 0 : (index - burst + 1) * 1_000_000L / rate;
  }

  private static SipProfileRegistry newRegistry(ProfileStore store, SipConfig sipConfig) {
    try {
      return new SipProfileRegistry(store, sipConfig);
    } catch (SipException e) {
      throw new IllegalStateException("cannot start the SIP stack on " + sipConfig.localAddress()
          + ":" + sipConfig.port() + ": " + e.getMessage(), e);
    }
  }

  /** The store at {@code agent.data-dir}; a failure names that setting and where it is set. */
  private static ProfileStore openStore(Path dataDir, Config config) {
    try {
      return ProfileStore.open(dataDir);
    } catch (ProfileStoreException e) {
      ConfigOrigin origin = config.getValue("agent.data-dir").origin();
      // The default needs no jar path: saying that it is the default tells where to set it.
      String where = origin.resource() != null && origin.resource().endsWith("reference.conf")
          ? "the default" : origin.description();
      throw e.forSetting(where, "agent.data-dir");
    }
  }

  /**
   * A stored profile naming a SNAP or IAP that the configuration lacks could never register
   * (seeds were checked where they are written; these came from the control API).
   */
  private static void checkNetworks(ProfileStore store, MobilityConfig mobility) {
    for (SipProfile p : store.list()) {
      String where = " (profile stored in " + store.fileOf(p.id()) + ": define it in the "
          + "configuration, or change or delete the profile through the control API)";
      if (p.snapId() != null && mobility.snap(p.snapId()).isEmpty()) {
        throw new ProfileValidationException(p.id(), "snap",
            "names SNAP " + p.snapId() + ", which mobility.snaps does not define" + where);
      }
      if (p.iapId() != null && mobility.iap(p.iapId()).isEmpty()) {
        throw new ProfileValidationException(p.id(), "iap",
            "names IAP " + p.iapId() + ", which mobility.iaps does not define" + where);
      }
    }
  }

  private static void closeAll(Deque<AutoCloseable> opened, Throwable failure) {
    while (!opened.isEmpty()) {
      try {
        opened.pop().close();
      } catch (Exception e) {
        failure.addSuppressed(e);
      }
    }
  }

  private static void closeQuietly(AutoCloseable c) {
    if (c == null) {
      return;
    }
    try {
      c.close();
    } catch (Exception e) {
      log.warn("stopping: closing {} failed", c.getClass().getSimpleName(), e);
    }
  }
}
