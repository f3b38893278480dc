package io.sipalr.it;

import com.typesafe.config.ConfigFactory;
import io.sipalr.alr.AlrConfig;
import io.sipalr.alr.SipAlr;
import io.sipalr.mobility.Bearer;
import io.sipalr.mobility.Iap;
import io.sipalr.mobility.MobilityConfig;
import io.sipalr.mobility.MobilityManager;
import io.sipalr.mobility.ScriptedIapProvider;
import io.sipalr.mobility.Snap;
import io.sipalr.profile.ProfileStore;
import io.sipalr.sip.MigrationOrder;
import io.sipalr.sip.SipConfig;
import io.sipalr.sip.SipProfileRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * The ALR stack wired as {@link AlrHarness} wires it (scripted provider, wlan 127.0.0.2 and
 * cellular 127.0.0.3, one SNAP ranking wlan over cellular, the anchor on 127.0.0.1), but for
 * thousands of profiles: the SIP settings are the product's defaults (reference.conf: register
 * timeout 5 s, RFC 5626 backoff 30 s / 90 s / 1800 s, 4 stack threads, 2 workers), the pacing
 * is chosen by the caller, and nothing is recorded (AlrHarness keeps every event in a
 * CopyOnWriteArrayList, whose O(n) add would dominate a mass run). The benchmark adds its own
 * listeners. The data directory belongs to the caller: a second agent on the same directory is
 * the same agent restarted (same profiles, same {@code +sip.instance}).
 */
final class MassAgent implements AutoCloseable {
  static final int WLAN = AlrHarness.WLAN;
  static final int CELL = AlrHarness.CELL;
  static final String WLAN_ADDRESS = AlrHarness.WLAN_ADDRESS;
  static final String CELL_ADDRESS = AlrHarness.CELL_ADDRESS;
  static final int SNAP = AlrHarness.SNAP_WLAN_CELL;

  final Path dataDir;
  final ProfileStore store;
  final SipProfileRegistry registry;
  final ScriptedIapProvider iaps;
  final MobilityManager mobility;
  final SipAlr alr;
  // As Agent wires them: a pool of 2 and one timer thread for mobility and ALR.
  private final ExecutorService pool = Executors.newFixedThreadPool(2);
  private final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor();

  MassAgent(Path dataDir, int registerRate, int registerBurst, int registerWindow)
      throws Exception {
    this.dataDir = dataDir;
    store = ProfileStore.open(dataDir);
    registry = new SipProfileRegistry(store, productSipConfig());
    List<Iap> all = List.of(
        new Iap(WLAN, "wlan", null, WLAN_ADDRESS, Bearer.WLAN, 1),
        new Iap(CELL, "cellular", null, CELL_ADDRESS, Bearer.CELLULAR, 10));
    MobilityConfig config = new MobilityConfig(MobilityConfig.Provider.SCRIPTED,
        Duration.ofSeconds(5), all, List.of(new Snap(SNAP, "wlan-cell", List.of(WLAN, CELL))));
    iaps = new ScriptedIapProvider(all);
    mobility = new MobilityManager(config, iaps, pool);
    alr = new SipAlr(registry, mobility,
        new AlrConfig(MigrationOrder.MAKE_BEFORE_BREAK, registerRate, registerBurst,
            registerWindow, AlrConfig.DEFAULT_RETRY_REJECTED_AFTER), pool, timers);
    alr.start();
    registry.start();
  }

  /** reference.conf's {@code sip} block, on 127.0.0.1 and a free port. */
  static SipConfig productSipConfig() {
    return SipConfig.from(ConfigFactory.load(ConfigFactory.parseMap(
        Map.of("sip.local-address", "127.0.0.1", "sip.port", 0))));
  }

  /** Stops without deregistering (the bindings stay until they expire, as after a crash). */
  @Override
  public void close() {
    alr.close();
    mobility.close();
    registry.close();
    store.close();
    pool.shutdownNow();
    timers.shutdownNow();
  }
}
