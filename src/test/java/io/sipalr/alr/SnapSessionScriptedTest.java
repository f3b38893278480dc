package io.sipalr.alr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.mobility.ScriptedIapProvider;
import io.sipalr.sip.MigrationOrder;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.ScriptedSip;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The ALR flow of one SNAP end to end through the real SipAlr, SnapSession, MobilityManager and
 * registrations, on the scripted registrar and virtual time (no socket, no thread): the rules
 * of docs/alr-rules.md that need a registrar's answers.
 */
class SnapSessionScriptedTest {
  static final int WLAN = ScriptedAlr.WLAN;
  static final int CELL = ScriptedAlr.CELL;
  static final String WLAN_ADDRESS = ScriptedAlr.WLAN_ADDRESS;
  static final String CELL_ADDRESS = ScriptedAlr.CELL_ADDRESS;
  static final List<String> USERS = ScriptedAlr.USERS;

  final ScriptedAlr scripted = new ScriptedAlr(MigrationOrder.MAKE_BEFORE_BREAK);
  final ScriptedSip sip = scripted.sip;
  final ScriptedIapProvider iaps = scripted.iaps;
  final SipAlr alr = scripted.alr;
  final List<String> events = scripted.events;

  SnapSessionScriptedTest() throws Exception {
  }

  static String aor(String user) {
    return ScriptedAlr.aor(user);
  }

  @AfterEach
  void close() throws Exception {
    scripted.close();
  }

  private void assertAllRegisteredThrough(String address) {
    for (String user : USERS) {
      assertEquals(ProfileStatus.REGISTERED, sip.registry.status(user), user);
      assertEquals(address, sip.registry.localAddressOf(user).orElse(null), user);
      List<String> bound = sip.bindings(aor(user));
      assertEquals(1, bound.size(), user + ": " + bound);
      assertTrue(bound.get(0).contains(address), user + ": " + bound);
    }
  }

  @Test
  void theFirstCarrierIsTakenWithoutAskingAndAnUpgradeMovesEveryone() {
    iaps.up(CELL);
    sip.settle(Duration.ofSeconds(10));
    assertAllRegisteredThrough(CELL_ADDRESS);
    assertEquals(List.of(), events, "rule 1: no IAP_AVAILABLE before the first registration");

    iaps.up(WLAN);
    sip.settle(Duration.ofSeconds(10));
    assertAllRegisteredThrough(WLAN_ADDRESS);
    for (String user : USERS) {
      assertTrue(events.contains("MIGRATION_STARTED " + user + "@" + WLAN), events.toString());
      assertTrue(events.contains("MIGRATION_COMPLETED " + user + "@" + WLAN), events.toString());
    }
  }

  @Test
  void losingTheCarrierRegistersEveryoneThroughTheNextWithoutAsking() {
    iaps.up(WLAN);
    iaps.up(CELL);
    sip.settle(Duration.ofSeconds(10));
    assertAllRegisteredThrough(WLAN_ADDRESS);
    events.clear();

    iaps.down(WLAN);
    sip.settle(Duration.ofSeconds(10));
    assertAllRegisteredThrough(CELL_ADDRESS);
    assertFalse(events.stream().anyMatch(e -> e.startsWith("IAP_AVAILABLE")), events.toString());
  }

  @Test
  void oneProfileRefusedOnTheNewCarrierDoesNotHoldTheOthersAndRecoversByItself() {
    iaps.up(CELL);
    sip.settle(Duration.ofSeconds(10));
    iaps.up(WLAN);
    // The registrar refuses bob's first REGISTER through the new carrier (403); rule 3: the
    // others accept the carrier, rule 12: bob retries through it with backoff.
    boolean refused = false;
    for (int i = 0; i < 50 && !refused; i++) {
      if ("bob".equals(sip.nextUser()) && WLAN_ADDRESS.equals(sip.nextFrom())) {
        sip.answerNext("FORBIDDEN_403");
        refused = true;
      } else if (!sip.answerNext("CORRECT")) {
        sip.clock.advance(Duration.ofMillis(10));
      }
    }
    assertTrue(refused, "bob's REGISTER through wlan was seen");
    sip.settle(Duration.ofSeconds(10));
    assertEquals(ProfileStatus.REGISTERED, sip.registry.status("ann"));
    assertEquals(WLAN_ADDRESS, sip.registry.localAddressOf("ann").orElseThrow());

    // Within the README's bound (sip.auth-retry after a 403), bob is registered through wlan.
    sip.settle(Duration.ofMinutes(6));
    assertAllRegisteredThrough(WLAN_ADDRESS);
  }

  @Test
  void aRefusedMoveKeepsEveryoneWhereTheyAre() {
    iaps.up(CELL);
    sip.settle(Duration.ofSeconds(10));
    AlrController refuser = alr.newController(new AlrObserver() {
      @Override
      public void alrEvent(AlrEvent event, String profileId, int snapId, int iapId) {
        if (event == AlrEvent.IAP_AVAILABLE) {
          refuserRef[0].disallowMigration(profileId, iapId);
        }
      }

      @Override
      public void alrError(AlrError error, String profileId, int snapId, int iapId) {
      }
    });
    refuserRef[0] = refuser;
    iaps.up(WLAN);
    sip.settle(Duration.ofSeconds(10));
    assertAllRegisteredThrough(CELL_ADDRESS);
    assertTrue(events.stream().anyMatch(e -> e.startsWith("ACCESS_DENIED")), events.toString());
  }

  /**
   * Found by AlrProperties: profiles still registering when an upgrade began follow the trial
   * (rule 11); when the one registered profile failed on it and the IAP was rejected, they
   * stayed on it, and the loss of that IAP later was nobody's business: stuck for good.
   */
  @Test
  void followersOfARejectedTrialGoBackToTheCarrierAndFollowItsLoss() {
    iaps.up(CELL);
    sip.answerNext("CORRECT"); // ann: 401, her answer queued behind the others
    sip.answerNext("CORRECT"); // bob: likewise
    sip.answerNext("CORRECT"); // cid: 401
    sip.answerNext("CORRECT"); // ann: 200
    assertEquals(ProfileStatus.REGISTERED, sip.registry.status("ann"));
    iaps.up(WLAN); // ann migrates, bob and cid follow
    while (sip.nextUser() != null && !("ann".equals(sip.nextUser())
        && WLAN_ADDRESS.equals(sip.nextFrom()))) {
      sip.answerNext("DROP");
    }
    sip.answerNext("NONCE_LESS_401"); // ann fails on wlan: wlan rejected
    sip.settle(Duration.ofMinutes(7));
    assertAllRegisteredThrough(CELL_ADDRESS);
  }

  private final AlrController[] refuserRef = new AlrController[1];
}
