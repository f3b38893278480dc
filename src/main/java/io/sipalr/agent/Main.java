package io.sipalr.agent;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import io.sipalr.alr.AlrConfig;
import io.sipalr.alr.SipAlr;
import io.sipalr.mobility.IapProvider;
import io.sipalr.mobility.MobilityConfig;
import io.sipalr.mobility.MobilityManager;
import io.sipalr.profile.ProfileSeeds;
import io.sipalr.profile.SipProfile;
import io.sipalr.profile.ProfileStore;
import io.sipalr.profile.ProfileValidationException;
import io.sipalr.sip.SipConfig;
import io.sipalr.sip.SipProfileRegistry;
import java.io.File;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The headless agent: loads {@code conf/agent.conf}, imports its seed profiles into the store,
 * registers every auto-register profile and logs each status change. SIGTERM (or Ctrl-C)
 * deregisters every profile, bounded in time, and exits 0.
 *
 * <p>Usage: {@code java -jar sip-alr-agent.jar [CONFIG_FILE]} (default {@code conf/agent.conf}).
 */
public final class Main {
  private static final Logger log = LoggerFactory.getLogger(Main.class);
  private static final Duration SHUTDOWN_BOUND = Duration.ofSeconds(10);

  private Main() {}

  public static void main(String[] args) throws Exception {
    File file = new File(args.length > 0 ? args[0] : "conf/agent.conf");
    SipProfileRegistry registry;
    try {
      registry = start(load(file));
    } catch (ConfigException | ProfileValidationException | IllegalArgumentException e) {
      System.err.println("sip-alr-agent: " + e.getMessage());
      System.exit(2);
      return;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      log.info("stopping: deregistering every profile");
      registry.shutdown(SHUTDOWN_BOUND);
      stopped.countDown();
    }, "shutdown"));
    stopped.await();
  }

  /** The configuration: system properties over the file over the built-in defaults. */
  static Config load(File file) {
    if (!file.isFile()) {
      throw new ConfigException.Generic(file + ": no such configuration file");
    }
    return ConfigFactory.systemProperties()
        .withFallback(ConfigFactory.parseFile(file))
        .withFallback(ConfigFactory.defaultReference())
        .resolve();
  }

  static SipProfileRegistry start(Config config) throws Exception {
    MobilityConfig mobilityConfig = MobilityConfig.from(config);
    AlrConfig alrConfig = AlrConfig.from(config);
    ProfileStore store = ProfileStore.open(Path.of(config.getString("agent.data-dir")));
    int imported = store.importSeeds(ProfileSeeds.fromConfig(config, "profiles"));
    log.info("profile store {}: {} profiles ({} imported from the configuration)",
        config.getString("agent.data-dir"), store.list().size(), imported);
    checkNetworks(store, mobilityConfig);
    SipProfileRegistry registry = new SipProfileRegistry(store, SipConfig.from(config));
    // Mobility and ALR share one small pool and one timer thread, whatever the profile count.
    ExecutorService pool = Executors.newFixedThreadPool(2, daemon("alr-worker"));
    ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor(
        daemon("alr-timer"));
    MobilityManager mobility = new MobilityManager(mobilityConfig,
        IapProvider.create(mobilityConfig, timers), pool);
    SipAlr alr = new SipAlr(registry, mobility, alrConfig, pool, timers);
    registry.addListener(event -> {
      if (event.error() != null) {
        log.warn("profile {}: {} {}", event.profileId(), event.type(), event.error());
      } else {
        log.info("profile {}: {} (status {})", event.profileId(), event.type(), event.status());
      }
    });
    alr.start();
    registry.start();
    return registry;
  }

  /** A profile naming a SNAP or IAP that the configuration lacks could never register. */
  private static void checkNetworks(ProfileStore store, MobilityConfig mobility) {
    for (SipProfile p : store.list()) {
      if (p.snapId() != null && mobility.snap(p.snapId()).isEmpty()) {
        throw new ProfileValidationException(p.id(), "snap",
            "names SNAP " + p.snapId() + ", which mobility.snaps does not define");
      }
      if (p.iapId() != null && mobility.iap(p.iapId()).isEmpty()) {
        throw new ProfileValidationException(p.id(), "iap",
            "names IAP " + p.iapId() + ", which mobility.iaps does not define");
      }
    }
  }

  private static ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }
}
