package io.sipalr.it;

import static org.awaitility.Awaitility.await;

import io.sipalr.SipAlrAgent;
import io.sipalr.alr.AlrConfig;
import io.sipalr.alr.AlrError;
import io.sipalr.alr.AlrEvent;
import io.sipalr.alr.AlrObserver;
import io.sipalr.alr.AlrPolicy;
import io.sipalr.alr.PolicyController;
import io.sipalr.alr.SipAlr;
import io.sipalr.control.ControlConfig;
import io.sipalr.control.ControlServer;
import io.sipalr.mobility.Bearer;
import io.sipalr.mobility.Iap;
import io.sipalr.mobility.MobilityConfig;
import io.sipalr.mobility.MobilityManager;
import io.sipalr.mobility.ScriptedIapProvider;
import io.sipalr.mobility.Snap;
import io.sipalr.profile.BearerFilter;
import io.sipalr.profile.ProfileStore;
import io.sipalr.profile.SipProfile;
import io.sipalr.profile.SipProfileBuilder;
import io.sipalr.profile.Transport;
import io.sipalr.sip.MigrationOrder;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.RegistryEvent;
import io.sipalr.sip.SipConfig;
import io.sipalr.sip.SipProfileRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * An agent with the whole ALR stack on loopback, wired through the façade {@link SipAlrAgent}: the scripted provider plays three IAPs on
 * their own loopback addresses (wlan 127.0.0.2, cellular 127.0.0.3, ethernet 127.0.0.4), SNAP 1
 * ranks wlan over cellular, SNAP 2 ranks all three, SNAP 3 is ethernet alone. The agent's anchor listens on 127.0.0.1,
 * which no profile with a SNAP ever registers from. Every registry and ALR event is recorded,
 * in the order observed, as one list.
 */
final class AlrHarness implements AutoCloseable {
  static final int WLAN = 1;
  static final int CELL = 2;
  static final int LAN = 3;
  static final String WLAN_ADDRESS = "127.0.0.2";
  static final String CELL_ADDRESS = "127.0.0.3";
  static final String LAN_ADDRESS = "127.0.0.4";
  static final int SNAP_WLAN_CELL = 1;
  static final int SNAP_ALL = 2;
  static final int SNAP_LAN = 3;

  /** One recorded event: a registry event type or an ALR event or error kind. */
  record Seen(String what, String profileId, int iapId, boolean alr) {
    @Override
    public String toString() {
      return what + (alr ? "@" + iapId : "");
    }
  }

  final Path dataDir;
  final ProfileStore store;
  final SipProfileRegistry registry;
  final ScriptedIapProvider iaps;
  final MobilityManager mobility;
  final SipAlr alr;
  final SipAlrAgent agent;
  final List<Seen> seen = new CopyOnWriteArrayList<>();
  /** The options' timer thread (the policy controller's). */
  private final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor();
  /** What the options below added, closed first, newest first. */
  private final Deque<AutoCloseable> extras = new ArrayDeque<>();

  AlrHarness(MigrationOrder order) throws Exception {
    this(order, Duration.ofSeconds(1), 2000);
  }

  AlrHarness(MigrationOrder order, Duration registerTimeout, int registerRate) throws Exception {
    this(order, new SipConfig("127.0.0.1", 0, "sip-alr-agent-it", registerTimeout,
        new SipConfig.Backoff(Duration.ofMillis(300), Duration.ofMillis(300),
            Duration.ofSeconds(2)), Duration.ofSeconds(30), 4, 2, Duration.ofSeconds(60),
        // Hundreds of moves a minute per profile here (HandoverBench) and registrars granting
        // 1-2 s (refreshes as events): the bounds at their loosest, so that the ALR flow is
        // what is measured and tested, not the bounds (RegistrarFaultIT tests those).
        new SipConfig.RegisterLimits(Duration.ofMinutes(5), Duration.ofSeconds(1), 1000)),
        registerRate);
  }

  /** With these SIP settings; the anchor is {@code sip.localAddress()} (127.0.0.1 above). */
  AlrHarness(MigrationOrder order, SipConfig sip, int registerRate) throws Exception {
    dataDir = Files.createTempDirectory("sipalr-alr-it");
    List<Iap> all = List.of(
        new Iap(WLAN, "wlan", null, WLAN_ADDRESS, Bearer.WLAN, 1),
        new Iap(CELL, "cellular", null, CELL_ADDRESS, Bearer.CELLULAR, 10),
        new Iap(LAN, "ethernet", null, LAN_ADDRESS, Bearer.ETHERNET, 5));
    MobilityConfig config = new MobilityConfig(MobilityConfig.Provider.SCRIPTED,
        Duration.ofSeconds(5), all, List.of(
            new Snap(SNAP_WLAN_CELL, "wlan-cell", List.of(WLAN, CELL)),
            new Snap(SNAP_ALL, "all", List.of(WLAN, CELL, LAN)),
            new Snap(SNAP_LAN, "lan", List.of(LAN))));
    iaps = new ScriptedIapProvider(all);
    // Wired as an embedder wires it: through the library's façade.
    agent = SipAlrAgent.builder().sip(sip).mobility(config).iapProvider(iaps)
        .alr(new AlrConfig(order, registerRate, 50, AlrConfig.DEFAULT_REGISTER_WINDOW,
            Duration.ofSeconds(2)))
        .dataDir(dataDir).build();
    store = agent.store();
    registry = agent.registry();
    mobility = agent.mobility();
    alr = agent.alr();
    agent.addListener((RegistryEvent e) ->
        seen.add(new Seen(e.type().name(), e.profileId(), 0, false)));
    agent.addListener(new AlrObserver() {
      @Override
      public void alrEvent(AlrEvent event, String profileId, int snapId, int iapId) {
        seen.add(new Seen(event.name(), profileId, iapId, true));
      }

      @Override
      public void alrError(AlrError error, String profileId, int snapId, int iapId) {
        seen.add(new Seen(error.kind().name(), profileId, iapId, true));
      }
    });
    agent.start();
  }

  static SipProfile profile(String id, KamailioRegistrar registrar, int snapId,
      BearerFilter filter, Transport transport) {
    return SipProfileBuilder.forId(id).aor("sip:" + id + "@" + registrar.realm())
        .registrar(registrar.sipUri()).authUser(id).password(AgentHarness.REALM_PASSWORD)
        .transport(transport).expires(600).snapId(snapId).bearerFilter(filter)
        .autoRegister(true).build();
  }

  /**
   * Option: the agent's own controller voting by {@code policy}, as the agent wires it (the
   * harness's timer thread, the system clock); closed with the harness.
   */
  PolicyController policyController(AlrPolicy policy) {
    PolicyController controller = new PolicyController(alr, policy, mobility, timers,
        Clock.systemUTC());
    extras.push(controller);
    return controller;
  }

  /**
   * Option: the control API on 127.0.0.1 and a free port, as the agent wires it; {@code
   * withScriptedIaps} false plays an agent whose IAPs come from the host (IAP up/down refused).
   * The token file goes to the data directory. Closed with the harness.
   */
  ControlServer controlServer(PolicyController policy, boolean withScriptedIaps,
      int eventBuffer) throws InterruptedException {
    ControlServer server = new ControlServer(new ControlConfig("127.0.0.1", 0, null,
        dataDir.resolve(ControlConfig.TOKEN_FILE), eventBuffer), registry, mobility,
        withScriptedIaps ? iaps : null, alr, policy);
    extras.push(server);
    server.start();
    return server;
  }

  /** Everything recorded for one profile, in order. */
  List<String> of(String profileId) {
    return seen.stream().filter(s -> s.profileId().equals(profileId)).map(Seen::toString)
        .toList();
  }

  /** ALR events and errors only (no registry events), for one profile. */
  List<String> alrOf(String profileId) {
    return seen.stream().filter(s -> s.profileId().equals(profileId) && s.alr())
        .map(Seen::toString).toList();
  }

  void awaitRegisteredFrom(String profileId, String address) {
    await(profileId + " registered from " + address).atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(20))
        .until(() -> registry.status(profileId) == ProfileStatus.REGISTERED
            && address.equals(registry.localAddressOf(profileId).orElse(null)));
  }

  void awaitSeen(String profileId, String entry) {
    await(profileId + " sees " + entry).atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(20)).until(() -> of(profileId).contains(entry));
  }

  @Override
  public void close() throws IOException {
    Exception failed = null;
    while (!extras.isEmpty()) {
      try {
        extras.pop().close();
      } catch (Exception e) {
        failed = e;
      }
    }
    agent.shutdown(Duration.ZERO); // no deregistration: the registrar goes with the test
    timers.shutdownNow();
    AgentHarness.deleteTree(dataDir);
    if (failed != null) {
      throw new IOException("an option failed to close: " + failed, failed);
    }
  }
}
