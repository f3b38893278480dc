package io.sipalr.alr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.sip.MigrationOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Calls in the ALR vote (docs/alr-rules.md, rule 7) through the real SipAlr, SnapSession and
 * PolicyController on the scripted registrar and virtual time: the events carry the calls a
 * move touches, the rules' defer-while-calls holds an upgrade back until the calls end, and a
 * lost carrier moves the profile with its calls anyway. The calls are a map the test sets:
 * ALR sees them only through {@link CallsOnProfiles}.
 */
class CallsInAlrVoteTest {
  final ScriptedAlr scripted = new ScriptedAlr(MigrationOrder.MAKE_BEFORE_BREAK);
  final Map<String, List<String>> calls = new ConcurrentHashMap<>();
  final List<String> seen = new ArrayList<>();

  CallsInAlrVoteTest() throws Exception {
    scripted.alr.callsOn(id -> calls.getOrDefault(id, List.of()));
    scripted.alr.addListener(new AlrObserver() {
      @Override
      public void alrEvent(AlrEvent event, String profileId, int snapId, int iapId) {
        throw new AssertionError("the flow calls the form with the calls");
      }

      @Override
      public void alrEvent(AlrEvent event, String profileId, int snapId, int iapId,
          MigrationCalls touched) {
        seen.add(event + " " + profileId + " " + touched.count() + " " + touched.callIds());
      }

      @Override
      public void alrError(AlrError error, String profileId, int snapId, int iapId) {
      }
    });
  }

  @AfterEach
  void close() throws Exception {
    scripted.close();
  }

  private PolicyController deferringRules() {
    return new PolicyController(scripted.alr, new AlrPolicy.Rules(false, false, null, null,
        true), scripted.mobility, scripted.sip.clock, scripted.sip.clock.clock());
  }

  private String addressOf(String user) {
    return scripted.sip.registry.localAddressOf(user).orElse(null);
  }

  private void settle() {
    scripted.sip.settle(Duration.ofSeconds(10));
  }

  @Test
  void theEventsOfAMoveCarryTheCallsItTouches() {
    PolicyController auto = new PolicyController(scripted.alr, new AlrPolicy.Auto(),
        scripted.mobility, scripted.sip.clock, scripted.sip.clock.clock()); // rule 2: asked
    scripted.iaps.up(ScriptedAlr.CELL);
    settle();
    calls.put("ann", List.of("c1", "c2"));
    scripted.iaps.up(ScriptedAlr.WLAN);
    settle();
    assertTrue(seen.contains("IAP_AVAILABLE ann 2 [c1, c2]"), seen.toString());
    assertTrue(seen.contains("MIGRATION_COMPLETED ann 2 [c1, c2]"), seen.toString());
    assertTrue(seen.contains("IAP_AVAILABLE bob 0 []"), seen.toString());
    auto.close();
  }

  @Test
  void deferWhileCallsHoldsTheUpgradeUntilTheLastCallEndsThenMoves() {
    PolicyController policy = deferringRules();
    scripted.iaps.up(ScriptedAlr.CELL);
    settle();
    calls.put("ann", List.of("c1"));
    scripted.iaps.up(ScriptedAlr.WLAN);
    settle();
    for (String user : ScriptedAlr.USERS) { // rule 3: one refusal holds the SNAP's move
      assertEquals(ScriptedAlr.CELL_ADDRESS, addressOf(user), user);
    }
    assertTrue(policy.deferred("ann"));
    assertFalse(policy.deferred("bob"));

    calls.remove("ann");
    policy.callsEnded("ann");
    settle();
    for (String user : ScriptedAlr.USERS) {
      assertEquals(ScriptedAlr.WLAN_ADDRESS, addressOf(user), user);
    }
    assertFalse(policy.deferred("ann"));
    policy.close();
  }

  @Test
  void aLostCarrierMovesTheCallsWithoutAVote() {
    PolicyController policy = deferringRules();
    scripted.iaps.up(ScriptedAlr.WLAN);
    scripted.iaps.up(ScriptedAlr.CELL);
    settle();
    calls.put("ann", List.of("c1"));
    scripted.iaps.down(ScriptedAlr.WLAN);
    settle();
    assertEquals(ScriptedAlr.CELL_ADDRESS, addressOf("ann"));
    assertTrue(seen.contains("MIGRATION_COMPLETED ann 1 [c1]") || seen.stream()
        .noneMatch(e -> e.startsWith("IAP_AVAILABLE")), seen.toString());
    assertFalse(policy.deferred("ann"));
    policy.close();
  }
}
