package io.sipalr;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigOrigin;
import io.micrometer.core.instrument.MeterRegistry;
import io.sipalr.alr.AlrConfig;
import io.sipalr.metrics.AgentMetrics;
import io.sipalr.alr.AlrController;
import io.sipalr.alr.AlrObserver;
import io.sipalr.alr.AlrPolicy;
import io.sipalr.alr.PolicyController;
import io.sipalr.alr.SipAlr;
import io.sipalr.concurrent.OneShutdown;
import io.sipalr.concurrent.DaemonThreads;
import io.sipalr.config.ConfigLoader;
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
import io.sipalr.sip.RegistryListener;
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
import java.util.Objects;
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
 * The library's one entry point: the profile store, the profile registry (SIP), the mobility
 * layer with its IAP provider and SIP ALR, wired together as the agent wires them, built from a
 * configuration or from the typed settings.
 *
 * <pre>{@code
 * try (SipAlrAgent agent = SipAlrAgent.builder()
 *     .config(SipAlrAgent.loadConfig(Path.of("gateway.conf")))  // sip, mobility, alr, profiles
 *     .dataDir(Path.of("/var/lib/gateway/sip"))                  // or .store(ProfileStore)
 *     .build()) {
 *   agent.addListener(event -> log.info("{}", event));           // registry events
 *   AlrController alr = agent.newController(observer);           // a vote on every migration
 *   agent.start();                                               // registers what is due
 *   agent.registry().create(profile);                            // persisted, then registered
 *   ...
 * }                                                              // deregisters, paced, bounded
 * }</pre>
 *
 * <p>Nothing registers and nothing is followed until {@link #start()}. {@link #shutdown} (and
 * {@link #close()}) deregisters every registered profile, paced as ALR moves are, within a
 * bound, then closes everything this object opened: a {@link Builder#store(ProfileStore) store
 * passed in} stays open, being the caller's; an {@link Builder#iapProvider(IapProvider) IAP
 * provider passed in} is closed with the mobility layer, which owns it.
 *
 * <p>Threads: the SIP stack's and the registry's own, a pool of two for mobility and ALR, and
 * one timer thread, whatever the profile count; the IAP provider's, if it has any.
 */
public final class SipAlrAgent implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SipAlrAgent.class);

  private final Duration shutdownBound;
  private final AlrConfig alrConfig;
  private final ProfileStore store;
  /** Whether this object opened {@link #store} (and so closes it). */
  private final boolean ownsStore;
  private final SipProfileRegistry registry;
  private final ExecutorService pool;
  private final ScheduledExecutorService timers;
  private final MobilityManager mobility;
  private final ScriptedIapProvider scriptedIaps;
  private final SipAlr alr;
  private final PolicyController policy;
  /** The meters, when the builder was given a MeterRegistry; {@code null} otherwise. */
  private final AgentMetrics metrics;
  /** Calls on the profiles (docs/calls.md); they move with the profiles. */
  private final io.sipalr.calls.CallsRuntime calls;
  private final AtomicBoolean started = new AtomicBoolean();
  private final OneShutdown shutdown = new OneShutdown();

  /** A builder; {@link Builder#build()} says what it needs. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * A configuration file as the agent reads it: system properties ({@code -Dsip.port=5080}) over
   * {@code file} over the defaults (reference.conf, whose {@code ${?VAR}} substitutions read the
   * environment), resolved and checked strictly: an unknown key or block, a byte that is not
   * UTF-8 or a missing required include is an error naming file, line and key.
   *
   * @throws ConfigException naming the file when it is missing or invalid
   */
  public static Config loadConfig(Path file) {
    return loadConfig(file, System.getenv());
  }

  /** {@link #loadConfig(Path)} with {@code env} for the environment variables. */
  public static Config loadConfig(Path file, Map<String, String> env) {
    return ConfigLoader.load(file, env);
  }

  private SipAlrAgent(Builder b) {
    Config config = b.config == null ? null
        : b.config.withFallback(ConfigFactory.defaultReference()).resolve();
    Config settings = config != null ? config : ConfigFactory.defaultReference().resolve();
    if (b.store == null && b.dataDir == null && config == null) {
      throw new IllegalStateException("SipAlrAgent.builder(): give a store, a data directory, "
          + "or a configuration (its agent.data-dir)");
    }
    // Whatever was opened is closed again, last first, if a later part fails.
    Deque<AutoCloseable> opened = new ArrayDeque<>();
    try {
      shutdownBound = b.shutdownTimeout != null ? b.shutdownTimeout
          : settings.getDuration("agent.shutdown-timeout");
      MobilityConfig mobilityConfig = b.mobilityConfig != null ? b.mobilityConfig
          : MobilityConfig.from(settings);
      alrConfig = b.alrConfig != null ? b.alrConfig : AlrConfig.from(settings);
      SipConfig sipConfig = b.sipConfig != null ? b.sipConfig : SipConfig.from(settings);
      AlrPolicy alrPolicy = b.policy != null ? b.policy
          : b.policyFromConfig ? AlrPolicy.from(settings) : null;
      // Every seed, its SNAP or IAP included, is checked before the store is even opened: a
      // configuration refused at start leaves nothing behind to delete by hand.
      List<SipProfile> seeds = config == null ? List.of()
          : ProfileSeeds.fromConfig(config, "profiles",
              id -> mobilityConfig.snap(id).isPresent(), id -> mobilityConfig.iap(id).isPresent());

      if (b.store != null) {
        store = b.store;
        ownsStore = false;
      } else if (b.dataDir != null) {
        store = ProfileStore.open(b.dataDir);
        ownsStore = true;
      } else {
        store = openStore(Path.of(config.getString("agent.data-dir")), config);
        ownsStore = true;
      }
      if (ownsStore) {
        opened.push(store);
      }
      checkNetworks(store, mobilityConfig);
      int imported = store.importSeeds(seeds);
      log.info("profile store: {} profiles ({} imported from the configuration)",
          store.list().size(), imported);

      registry = newRegistry(store, sipConfig, io.sipalr.dns.DnsConfig.from(
          settings.withFallback(ConfigFactory.defaultReference()).resolve()));
      opened.push(registry);

      // Mobility and ALR share one small pool and one timer thread, whatever the profile count.
      pool = Executors.newFixedThreadPool(2, DaemonThreads.named("alr-worker"));
      opened.push(pool::shutdownNow);
      timers = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("alr-timer"));
      opened.push(timers::shutdownNow);
      IapProvider provider = b.iapProvider != null ? b.iapProvider
          : IapProvider.create(mobilityConfig, timers);
      opened.push(provider); // until the mobility layer owns it
      scriptedIaps = provider instanceof ScriptedIapProvider s ? s : null;
      mobility = new MobilityManager(mobilityConfig, provider, pool);
      opened.pop();
      opened.push(mobility);
      alr = new SipAlr(registry, mobility, alrConfig, pool, timers);
      opened.push(alr);
      policy = alrPolicy == null ? null
          : new PolicyController(alr, alrPolicy, mobility, timers, Clock.systemUTC());
      if (policy != null) {
        opened.push(policy);
      }
      calls = new io.sipalr.calls.CallsRuntime(b.callsConfig != null ? b.callsConfig
          : io.sipalr.calls.CallsConfig.from(settings), registry, pool);
      opened.push(calls);
      // ALR events and the rules see the calls a move touches; a move the rules held back
      // for its calls (defer-while-calls) is offered again once the last of them ends.
      alr.callsOn(calls.calls()::callIdsOf);
      if (policy != null) {
        PolicyController deciding = policy;
        io.sipalr.calls.Calls all = calls.calls();
        all.addListener(e -> {
          if (e.type() == io.sipalr.calls.CallEvent.Type.CALL_ENDED
              && all.callsOf(e.profileId()) == 0 && deciding.deferred(e.profileId())) {
            pool.execute(() -> deciding.callsEnded(e.profileId())); // not on the call's lock
          }
        });
      }
      // A profile registering from a new address takes its calls along (re-INVITE).
      alr.addListener(new AlrObserver() {
        @Override
        public void alrEvent(io.sipalr.alr.AlrEvent event, String profileId, int snap, int iap) {
          if (event == io.sipalr.alr.AlrEvent.MIGRATION_COMPLETED) {
            calls.calls().profileMoved(profileId);
          }
        }

        @Override
        public void alrError(io.sipalr.alr.AlrError error, String profileId, int snap, int iap) {
        }
      });
      registry.addListener(event -> {
        if (event.type() == io.sipalr.sip.RegistryEvent.Type.REGISTERED) {
          calls.calls().profileMoved(event.profileId()); // no-op where nothing moved
        }
      });
      metrics = b.meterRegistry == null ? null : AgentMetrics.bind(b.meterRegistry, store,
          registry, alr, b.config != null && b.config.hasPath("metrics.per-profile-labels")
              && b.config.getBoolean("metrics.per-profile-labels"));
    } catch (RuntimeException | Error e) {
      closeAll(opened, e);
      throw e;
    }
  }

  /**
   * Starts following the registry and the mobility layer, then registers every auto-register
   * profile (profiles with a SNAP or IAP as soon as their network is up). Called once.
   */
  public void start() {
    if (!started.compareAndSet(false, true)) {
      throw new IllegalStateException("started already");
    }
    alr.start();
    calls.calls().start();
    registry.start();
  }

  /**
   * Deregisters every registered profile, then closes everything. ALR and the mobility layer
   * close first, so that no move starts while the profiles leave. Deregistrations go out paced
   * as ALR moves are ({@code alr.register-rate} after a burst of {@code alr.register-burst}),
   * so that thousands of profiles do not flood the registrar; whatever has not deregistered
   * after {@code bound} simply expires at the registrar; a zero bound deregisters nothing, as
   * after a crash. Nothing is persisted: the profiles register again at the next start. Called again (another thread, a shutdown hook), it waits
   * for the first call to finish, within its own bound.
   */
  public void shutdown(Duration bound) {
    shutdown.run(bound, () -> {
      long deadline = System.nanoTime() + bound.toNanos();
      closeQuietly(metrics);
      closeQuietly(calls); // BYE to every call while the profiles are still registered
      closeQuietly(policy);
      closeQuietly(alr);
      closeQuietly(mobility);
      if (bound.isZero() || bound.isNegative()) {
        log.info("stopping without deregistering: the bindings expire at the registrar");
      } else {
        deregisterAll(deadline);
      }
      closeQuietly(registry);
      if (ownsStore) {
        closeQuietly(store);
      }
      pool.shutdownNow();
      timers.shutdownNow();
    });
  }

  /**
   * {@link #shutdown(Duration)} within the configured bound ({@code agent.shutdown-timeout},
   * or {@link Builder#shutdownTimeout}).
   */
  @Override
  public void close() {
    shutdown(shutdownBound);
  }

  /** The profiles: create, change, enable, disable, destroy, and their status. */
  public SipProfileRegistry registry() {
    return registry;
  }

  /** The calls of every profile: dial, answer, hang up, list (docs/calls.md). */
  public io.sipalr.calls.Calls calls() {
    return calls.calls();
  }

  /** SIP ALR: controllers and listeners of the ALR flow. */
  public SipAlr alr() {
    return alr;
  }

  /** The IAPs and SNAPs, as the IAP provider reports them. */
  public MobilityManager mobility() {
    return mobility;
  }

  /** The store the profiles persist in. */
  public ProfileStore store() {
    return store;
  }

  /**
   * A new ALR controller: from now on every migration of a registered profile needs its vote
   * (see {@link SipAlr#newController}).
   */
  public AlrController newController(AlrObserver observer) {
    return alr.newController(observer);
  }

  /** Hears every registry event (registered, failed, migrated, ...). */
  public void addListener(RegistryListener listener) {
    registry.addListener(listener);
  }

  /** Hears the ALR flow without a vote. */
  public void addListener(AlrObserver observer) {
    alr.addListener(observer);
  }

  public void removeListener(RegistryListener listener) {
    registry.removeListener(listener);
  }

  public void removeListener(AlrObserver observer) {
    alr.removeListener(observer);
  }

  /** The provider to script IAPs with, when the IAP provider is the scripted one. */
  public Optional<ScriptedIapProvider> scriptedIaps() {
    return Optional.ofNullable(scriptedIaps);
  }

  /** The controller voting by {@link Builder#policy}, when one was asked for. */
  /**
   * The meters bound to the MeterRegistry the builder was given (README "Metrics"), if any;
   * they are removed again at shutdown.
   */
  public Optional<AgentMetrics> metrics() {
    return Optional.ofNullable(metrics);
  }

  public Optional<PolicyController> policy() {
    return Optional.ofNullable(policy);
  }

  /**
   * Builds a {@link SipAlrAgent}. Each typed setting left out is read from {@link #config}, or
   * from the defaults (reference.conf) when no configuration is given; the profile store is the
   * one {@link #store passed in}, else the one opened in {@link #dataDir}, else in the
   * configuration's {@code agent.data-dir}.
   */
  public static final class Builder {
    private Config config;
    private SipConfig sipConfig;
    private MobilityConfig mobilityConfig;
    private io.sipalr.calls.CallsConfig callsConfig;
    private AlrConfig alrConfig;
    private ProfileStore store;
    private Path dataDir;
    private IapProvider iapProvider;
    private AlrPolicy policy;
    private boolean policyFromConfig;
    private Duration shutdownTimeout;
    private MeterRegistry meterRegistry;

    private Builder() {}

    /**
     * Binds the agent's meters (README "Metrics") to {@code registry}: a Prometheus registry
     * for a scrape, or whatever the embedding gateway reports to. Optional: no meters without.
     * {@code metrics.per-profile-labels} comes from {@link #config}, off by default.
     */
    public Builder meterRegistry(MeterRegistry registry) {
      this.meterRegistry = registry;
      return this;
    }

    /**
     * The settings, as {@link SipAlrAgent#loadConfig} reads them (or any resolved configuration,
     * with reference.conf's defaults under it): {@code sip}, {@code mobility}, {@code alr},
     * {@code agent.data-dir}, {@code agent.shutdown-timeout}, and {@code profiles}, the seeds
     * imported into the store at build (a seed whose id is stored already is left alone).
     */
    public Builder config(Config config) {
      this.config = Objects.requireNonNull(config, "config");
      return this;
    }

    /** The SIP settings, over the configuration's {@code sip}. */
    public Builder sip(SipConfig sip) {
      this.sipConfig = Objects.requireNonNull(sip, "sip");
      return this;
    }

    /** The IAPs, SNAPs and provider, over the configuration's {@code mobility}. */
    /** The calls' policies and media; otherwise the configuration's {@code calls} block. */
    public Builder calls(io.sipalr.calls.CallsConfig calls) {
      this.callsConfig = Objects.requireNonNull(calls, "calls");
      return this;
    }

    public Builder mobility(MobilityConfig mobility) {
      this.mobilityConfig = Objects.requireNonNull(mobility, "mobility");
      return this;
    }

    /** The ALR settings, over the configuration's {@code alr}. */
    public Builder alr(AlrConfig alr) {
      this.alrConfig = Objects.requireNonNull(alr, "alr");
      return this;
    }

    /** The profile store, open, and the caller's: it stays open after {@link #close()}. */
    public Builder store(ProfileStore store) {
      this.store = Objects.requireNonNull(store, "store");
      return this;
    }

    /** The profile store in this directory, opened at build and closed at shutdown. */
    public Builder dataDir(Path dataDir) {
      this.dataDir = Objects.requireNonNull(dataDir, "dataDir");
      return this;
    }

    /**
     * Where IAP availability comes from, instead of the one {@code mobility.provider} names
     * (e.g. a gateway's own connection manager). The mobility layer owns it: it starts it and
     * closes it.
     */
    public Builder iapProvider(IapProvider provider) {
      this.iapProvider = Objects.requireNonNull(provider, "provider");
      return this;
    }

    /** A controller of the agent's own that votes by {@code policy} ({@link #policy()}). */
    public Builder policy(AlrPolicy policy) {
      this.policy = Objects.requireNonNull(policy, "policy");
      return this;
    }

    /** {@link #policy(AlrPolicy)} as the configuration's {@code alr.policy} says. */
    public Builder policyFromConfig() {
      this.policyFromConfig = true;
      return this;
    }

    /** {@link SipAlrAgent#close()}'s bound, over {@code agent.shutdown-timeout}. */
    public Builder shutdownTimeout(Duration bound) {
      this.shutdownTimeout = Objects.requireNonNull(bound, "bound");
      return this;
    }

    /**
     * Wires everything; nothing registers and nothing is followed until {@link
     * SipAlrAgent#start()}.
     *
     * @throws IllegalStateException when neither a store, a data directory nor a configuration
     *     was given, or when the SIP stack cannot start (e.g. the port is taken)
     * @throws ConfigException when a setting is invalid (the message names file and key)
     * @throws ProfileValidationException when a seed or stored profile names a SNAP or IAP that
     *     the mobility settings lack, or a seed is invalid
     * @throws ProfileStoreException when the store cannot be opened
     */
    public SipAlrAgent build() {
      return new SipAlrAgent(this);
    }
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

  private static SipProfileRegistry newRegistry(ProfileStore store, SipConfig sipConfig,
      io.sipalr.dns.DnsConfig dnsConfig) {
    try {
      return new SipProfileRegistry(store, sipConfig, dnsConfig);
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
