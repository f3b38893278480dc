package io.sipalr.alr;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.mobility.Bearer;
import io.sipalr.mobility.Iap;
import io.sipalr.mobility.MobilityConfig;
import io.sipalr.mobility.MobilityManager;
import io.sipalr.mobility.ScriptedIapProvider;
import io.sipalr.mobility.Snap;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The three policies' votes, with the ALR flow played by a fake voter: IAP_AVAILABLE and the
 * events that end an offer are sent to the controller's observer by hand. The wiring with the
 * real SipAlr is covered by ControlApiIT.
 */
class PolicyControllerTest {
  static final int WLAN = 1;
  static final int CELL = 2;
  static final int LAN = 3;
  static final int SNAP = 1;
  static final Instant T0 = Instant.parse("2026-01-05T12:00:00Z");

  /** Records the votes; offers are open until told otherwise. */
  static final class FakeVoter implements MigrationVoter {
    final List<String> calls = new CopyOnWriteArrayList<>();
    final Set<String> withdrawn = ConcurrentHashMap.newKeySet();
    final Map<String, String> addresses = new ConcurrentHashMap<>();
    AlrObserver observer;

    @Override
    public void allow(String profileId, int iapId) {
      calls.add("allow " + profileId + " " + iapId);
    }

    @Override
    public void disallow(String profileId, int iapId) {
      calls.add("disallow " + profileId + " " + iapId);
    }

    @Override
    public void refresh(String profileId) {
      calls.add("refresh " + profileId);
    }

    @Override
    public boolean offerOpen(String profileId, int iapId) {
      return !withdrawn.contains(profileId + " " + iapId);
    }

    @Override
    public Optional<String> localAddressOf(String profileId) {
      return Optional.ofNullable(addresses.get(profileId));
    }

    @Override
    public void close() {
      calls.add("close");
    }
  }

  private final ExecutorService pool = Executors.newSingleThreadExecutor();
  private final ScheduledThreadPoolExecutor timers = new ScheduledThreadPoolExecutor(1);
  private final ScriptedIapProvider iaps;
  private final MobilityManager mobility;
  private final FakeVoter voter = new FakeVoter();

  PolicyControllerTest() {
    timers.setRemoveOnCancelPolicy(true);
    List<Iap> all = List.of(new Iap(WLAN, "wlan", null, "127.0.0.2", Bearer.WLAN, 1),
        new Iap(CELL, "cellular", null, "127.0.0.3", Bearer.CELLULAR, 10),
        new Iap(LAN, "ethernet", null, "127.0.0.4", Bearer.ETHERNET, 5));
    iaps = new ScriptedIapProvider(all);
    mobility = new MobilityManager(new MobilityConfig(MobilityConfig.Provider.SCRIPTED,
        Duration.ofSeconds(5), all, List.of(new Snap(SNAP, "all", List.of(WLAN, CELL, LAN)))),
        iaps, pool);
    iaps.up(WLAN);
    iaps.up(CELL);
    iaps.up(LAN);
  }

  @AfterEach
  void close() {
    mobility.close();
    pool.shutdownNow();
    timers.shutdownNow();
  }

  private PolicyController controller(AlrPolicy policy, Clock clock) {
    return new PolicyController(observer -> {
      voter.observer = observer;
      return voter;
    }, policy, mobility, timers, clock);
  }

  private PolicyController controller(AlrPolicy policy) {
    return controller(policy, Clock.fixed(T0, ZoneOffset.UTC));
  }

  private void offer(String profileId, int iapId) {
    voter.observer.alrEvent(AlrEvent.IAP_AVAILABLE, profileId, SNAP, iapId);
  }

  @Test
  void autoAllowsEveryOffer() {
    controller(new AlrPolicy.Auto());
    offer("ann", WLAN);
    offer("bob", CELL);
    assertEquals(List.of("allow ann 1", "allow bob 2"), voter.calls);
  }

  @Test
  void rulesRefuseCellularInTheWindowByTheInjectedClock() {
    AlrPolicy.Rules rules = new AlrPolicy.Rules(true, false, LocalTime.of(22, 0),
        LocalTime.of(7, 0));
    controller(rules, Clock.fixed(Instant.parse("2026-01-05T23:30:00Z"), ZoneOffset.UTC));
    offer("ann", CELL);
    offer("ann", WLAN);
    // The fake's events now reach this second controller only: 07:00 ends the window.
    controller(rules, Clock.fixed(Instant.parse("2026-01-05T07:00:00Z"), ZoneOffset.UTC));
    offer("bob", CELL);
    assertEquals(List.of("disallow ann 2", "allow ann 1", "allow bob 2"), voter.calls);
  }

  @Test
  void rulesJudgeTheRankAgainstTheCurrentIap() {
    controller(new AlrPolicy.Rules(false, true, null, null));
    voter.addresses.put("ann", "127.0.0.2"); // on WLAN, the best of the SNAP
    voter.addresses.put("bob", "127.0.0.4"); // on ethernet, the worst
    offer("ann", LAN);
    offer("bob", CELL);
    assertEquals(List.of("disallow ann 3", "allow bob 2"), voter.calls);
  }

  @Test
  void manualWaitsForTheDecision() {
    PolicyController policy = controller(new AlrPolicy.Manual(Duration.ofMinutes(5), false));
    offer("ann", WLAN);
    offer("bob", CELL);
    assertEquals(List.of(), voter.calls);
    assertEquals(List.of(
        new PendingDecision("ann", SNAP, WLAN, T0, T0.plus(Duration.ofMinutes(5))),
        new PendingDecision("bob", SNAP, CELL, T0, T0.plus(Duration.ofMinutes(5)))),
        policy.pending().stream().sorted(java.util.Comparator.comparing(
            PendingDecision::profileId)).toList());
    assertEquals(2, timers.getQueue().size(), "one timer per pending decision");

    IllegalStateException wrongIap = assertThrows(IllegalStateException.class,
        () -> policy.allow("ann", CELL));
    assertTrue(wrongIap.getMessage().contains("\"ann\"") && wrongIap.getMessage().contains("2"),
        wrongIap.getMessage());

    policy.allow("ann", WLAN);
    policy.disallow("bob", CELL);
    assertEquals(List.of("allow ann 1", "disallow bob 2"), voter.calls);
    assertEquals(List.of(), policy.pending());
    assertEquals(0, timers.getQueue().size(), "a decision cancels its timer");
    IllegalStateException twice = assertThrows(IllegalStateException.class,
        () -> policy.allow("ann", WLAN));
    assertTrue(twice.getMessage().contains("profile \"ann\" to IAP 1"), twice.getMessage());
  }

  @Test
  void manualAppliesTheDefaultAfterTheTimeout() {
    PolicyController policy = controller(new AlrPolicy.Manual(Duration.ofMillis(100), true));
    offer("ann", WLAN);
    await().atMost(Duration.ofSeconds(10)).until(() -> voter.calls.equals(List.of("allow ann 1")));
    assertEquals(List.of(), policy.pending());
    assertThrows(IllegalStateException.class, () -> policy.disallow("ann", WLAN));
  }

  @Test
  void anOfferEndsWhenTheFlowMovesOn() {
    PolicyController policy = controller(new AlrPolicy.Manual(Duration.ofMinutes(5), true));
    offer("ann", WLAN);
    voter.observer.alrError(AlrError.ACCESS_DENIED, "ann", SNAP, WLAN); // another controller
    offer("bob", WLAN);
    voter.observer.alrEvent(AlrEvent.MIGRATION_STARTED, "bob", SNAP, WLAN);
    offer("cid", LAN);
    offer("cid", WLAN); // a newer offer replaces the older one
    assertEquals(List.of(WLAN), policy.pending().stream().map(PendingDecision::iapId).toList());
    assertEquals(1, timers.getQueue().size());

    voter.withdrawn.add("cid " + WLAN); // withdrawn by the mobility layer: no event
    assertThrows(IllegalStateException.class, () -> policy.allow("cid", WLAN));
    assertEquals(List.of(), policy.pending());
    assertEquals(0, timers.getQueue().size());
    assertEquals(List.of(), voter.calls);
  }

  @Test
  void refreshAndCloseReachTheController() {
    PolicyController policy = controller(new AlrPolicy.Auto());
    policy.refresh("ann");
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> policy.allow("ann", WLAN));
    assertTrue(e.getMessage().contains("auto policy decides by itself"), e.getMessage());
    policy.close();
    assertEquals(List.of("refresh ann", "close"), voter.calls);
  }
}
