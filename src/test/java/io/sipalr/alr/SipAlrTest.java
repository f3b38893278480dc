package io.sipalr.alr;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.mobility.Bearer;
import io.sipalr.mobility.Iap;
import io.sipalr.mobility.MobilityConfig;
import io.sipalr.mobility.MobilityManager;
import io.sipalr.mobility.ScriptedIapProvider;
import io.sipalr.mobility.Snap;
import io.sipalr.profile.SipProfile;
import io.sipalr.profile.SipProfileBuilder;
import io.sipalr.sip.MigrationOrder;
import io.sipalr.sip.MigrationOutcome;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.RegistryEvent;
import io.sipalr.sip.RegistryListener;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * SipAlr and its SNAP sessions over a fake registry (no SIP stack) and the scripted mobility
 * provider: members that are destroyed while the session works on them.
 */
class SipAlrTest {
  private static final Duration BOUND = Duration.ofSeconds(10);
  private static final Iap WLAN = new Iap(1, "wlan", null, "127.0.0.11", Bearer.WLAN, 1);
  private static final Iap LTE = new Iap(2, "lte", null, "127.0.0.12", Bearer.CELLULAR, 5);

  private ExecutorService pool;
  private ScheduledExecutorService timers;
  private ScriptedIapProvider iaps;
  private MobilityManager mobility;
  private FakeProfiles profiles;
  private SipAlr alr;

  @BeforeEach
  void start() {
    pool = Executors.newFixedThreadPool(2);
    timers = Executors.newSingleThreadScheduledExecutor();
    MobilityConfig config = new MobilityConfig(MobilityConfig.Provider.SCRIPTED,
        Duration.ofSeconds(5), List.of(WLAN, LTE), List.of(new Snap(1, "internet",
        List.of(1, 2))));
    iaps = new ScriptedIapProvider(config.iaps());
    mobility = new MobilityManager(config, iaps, pool);
    profiles = new FakeProfiles();
    profiles.add("a");
    profiles.add("b");
    // A window of one: the second move waits in the pacer while the first is in flight.
    alr = new SipAlr(profiles, mobility, new AlrConfig(MigrationOrder.MAKE_BEFORE_BREAK,
        1_000_000, 1_000_000, 1, Duration.ofSeconds(30)), pool, timers, System::nanoTime);
    alr.start();
  }

  @AfterEach
  void stop() throws Exception {
    alr.close();
    mobility.close();
    timers.shutdownNow();
    pool.shutdownNow();
    assertTrue(pool.awaitTermination(5, TimeUnit.SECONDS));
  }

  /** Both profiles registered through LTE, the connection's accepted carrier. */
  private void bothOnLte() {
    iaps.up(LTE.id());
    await().atMost(BOUND).until(() -> LTE.address().equals(profiles.addresses.get("a"))
        && LTE.address().equals(profiles.addresses.get("b"))
        && alr.carrierOf("a").map(Iap::id).orElse(0) == LTE.id());
  }

  @Test
  void aMemberDestroyedWhileItsMoveWaitsInThePacerCountsAsDoneAndTheCarrierIsAccepted() {
    bothOnLte();
    iaps.up(WLAN.id()); // an upgrade; no controller, so every profile moves
    await().atMost(BOUND).until(() -> profiles.moves.size() == 1);
    String first = profiles.moves.keySet().iterator().next();
    String waiting = first.equals("a") ? "b" : "a";
    assertEquals(List.of(first), profiles.migrateCalls, "the window holds the second move");

    profiles.destroy(waiting); // gone from the registry; its DESTROYED not yet handled
    profiles.moves.get(first).complete(new MigrationOutcome(MigrationOutcome.Result.MOVED,
        null));

    // The waiting move starts, finds its profile gone, and counts as done: the trial ends.
    await().atMost(BOUND).until(() -> alr.carrierOf(first).map(Iap::id).orElse(0)
        == WLAN.id());
  }

  @Test
  void aMemberDestroyedButNotYetGoneDoesNotStopTheRebindOfTheOthers() {
    bothOnLte();
    profiles.destroy("a"); // first in the session's members
    iaps.down(LTE.id());
    await().atMost(BOUND).until(() -> !profiles.addresses.containsKey("b"));
    iaps.up(WLAN.id()); // the first carrier after none: every wanted member rebinds to it

    await().atMost(BOUND).until(() -> WLAN.address().equals(profiles.addresses.get("b"))
        && alr.carrierOf("b").map(Iap::id).orElse(0) == WLAN.id());
  }

  /**
   * Profiles that register as soon as they are bound (REGISTERED at once); moves wait until
   * the test completes them. A destroyed profile is gone at once: queries answer empty,
   * commands throw, as the registry does between a destroy and its DESTROYED event.
   */
  static final class FakeProfiles implements AlrProfiles {
    final Map<String, SipProfile> stored = new ConcurrentHashMap<>();
    final Map<String, ProfileStatus> statuses = new ConcurrentHashMap<>();
    final Map<String, String> addresses = new ConcurrentHashMap<>();
    final Map<String, CompletableFuture<MigrationOutcome>> moves = new ConcurrentHashMap<>();
    final List<String> migrateCalls = new CopyOnWriteArrayList<>();
    private final List<RegistryListener> listeners = new CopyOnWriteArrayList<>();

    void add(String id) {
      stored.put(id, SipProfileBuilder.forId(id).aor("sip:" + id + "@sipalr.test")
          .registrar("sip:127.0.0.1:5060").password("secret").snapId(1).build());
      statuses.put(id, ProfileStatus.REGISTRATION_IN_PROGRESS);
    }

    void destroy(String id) {
      stored.remove(id);
      statuses.remove(id);
      addresses.remove(id);
    }

    private void requirePresent(String id) {
      if (!stored.containsKey(id)) {
        throw new NoSuchElementException("no profile with id \"" + id + "\"");
      }
    }

    private void emit(RegistryEvent.Type type, String id, ProfileStatus status) {
      RegistryEvent event = new RegistryEvent(type, id, status, null, Instant.now());
      listeners.forEach(l -> l.onEvent(event));
    }

    @Override
    public void addListener(RegistryListener listener) {
      listeners.add(listener);
    }

    @Override
    public List<SipProfile> profiles() {
      List<SipProfile> all = new ArrayList<>(stored.values());
      all.sort((x, y) -> x.id().compareTo(y.id()));
      return all;
    }

    @Override
    public Optional<SipProfile> profile(String id) {
      return Optional.ofNullable(stored.get(id));
    }

    @Override
    public Optional<ProfileStatus> statusIfPresent(String id) {
      return Optional.ofNullable(statuses.get(id));
    }

    @Override
    public Optional<String> localAddressOf(String id) {
      return Optional.ofNullable(addresses.get(id));
    }

    @Override
    public CompletableFuture<Void> disable(String id) {
      requirePresent(id);
      statuses.put(id, ProfileStatus.UNREGISTERED);
      return CompletableFuture.completedFuture(null);
    }

    @Override
    public void enable(String id) {
      requirePresent(id);
      statuses.put(id, ProfileStatus.REGISTRATION_IN_PROGRESS);
    }

    @Override
    public CompletableFuture<Void> rebind(String id, String address) {
      requirePresent(id);
      if (address == null) {
        addresses.remove(id);
        if (statuses.get(id) == ProfileStatus.REGISTERED) {
          statuses.put(id, ProfileStatus.REGISTRATION_IN_PROGRESS);
          emit(RegistryEvent.Type.DEREGISTERED, id, ProfileStatus.REGISTRATION_IN_PROGRESS);
        }
      } else if (statuses.get(id) != ProfileStatus.UNREGISTERED) {
        addresses.put(id, address);
        statuses.put(id, ProfileStatus.REGISTERED);
        emit(RegistryEvent.Type.REGISTERED, id, ProfileStatus.REGISTERED);
      }
      return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<MigrationOutcome> migrate(String id, String address,
        MigrationOrder order, Runnable registerSent) {
      requirePresent(id);
      migrateCalls.add(id);
      registerSent.run();
      CompletableFuture<MigrationOutcome> outcome = new CompletableFuture<>();
      moves.put(id, outcome);
      outcome.thenAccept(o -> {
        if (o.moved()) {
          addresses.put(id, address);
        }
      });
      return outcome;
    }
  }
}
