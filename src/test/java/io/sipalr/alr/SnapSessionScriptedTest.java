package io.sipalr.alr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.mobility.Bearer;
import io.sipalr.mobility.Iap;
import io.sipalr.mobility.MobilityConfig;
import io.sipalr.mobility.MobilityManager;
import io.sipalr.mobility.ScriptedIapProvider;
import io.sipalr.mobility.Snap;
import io.sipalr.profile.SipProfileBuilder;
import io.sipalr.sip.MigrationOrder;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.ScriptedSip;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The ALR flow of one SNAP end to end through the real SipAlr, SnapSession, MobilityManager and
 * registrations, on the scripted registrar and virtual time (no socket, no thread): the rules
 * of docs/alr-rules.md that need a registrar's answers.
 */
class SnapSessionScriptedTest {
  static final int WLAN = 1;
  static final int CELL = 2;
  static final int SNAP = 1;
  static final String WLAN_ADDRESS = "198.18.0.10";
  static final String CELL_ADDRESS = "198.18.1.10";
  static final List<String> USERS = List.of("ann", "bob", "cid");

  final ScriptedSip sip;
  final ScriptedIapProvider iaps;
  final MobilityManager mobility;
  final SipAlr alr;
  final List<String> events = new ArrayList<>();

  SnapSessionScriptedTest() throws Exception {
    MigrationOrder order = MigrationOrder.MAKE_BEFORE_BREAK;
    sip = new ScriptedSip(USERS.toArray(String[]::new));
    List<Iap> all = List.of(new Iap(WLAN, "wlan", null, WLAN_ADDRESS, Bearer.WLAN, 1),
        new Iap(CELL, "cellular", null, CELL_ADDRESS, Bearer.CELLULAR, 10));
    iaps = new ScriptedIapProvider(all);
    mobility = new MobilityManager(new MobilityConfig(MobilityConfig.Provider.SCRIPTED,
        Duration.ofSeconds(5), all, List.of(new Snap(SNAP, "wlan-cell", List.of(WLAN, CELL)))),
        iaps, sip.clock);
    alr = new SipAlr(sip.registry, mobility, new AlrConfig(order, 200, 50,
        AlrConfig.DEFAULT_REGISTER_WINDOW, Duration.ofSeconds(2)), sip.clock, sip.clock,
        sip.clock::nanoTime);
    alr.addListener(new AlrObserver() {
      @Override
      public void alrEvent(AlrEvent event, String profileId, int snapId, int iapId) {
        events.add(event + " " + profileId + "@" + iapId);
      }

      @Override
      public void alrError(AlrError error, String profileId, int snapId, int iapId) {
        events.add(error.kind() + " " + profileId + "@" + iapId);
      }
    });
    alr.start();
    for (String user : USERS) {
      sip.registry.create(SipProfileBuilder.forId(user).aor(aor(user))
          .registrar("sip:198.18.0.1").authUser(user).password(ScriptedSip.password())
          .expires(600).snapId(SNAP).autoRegister(true).build());
    }
    sip.registry.start();
  }

  static String aor(String user) {
    return "sip:" + user + "@sipalr.test";
  }

  @AfterEach
  void close() throws Exception {
    alr.close();
    mobility.close();
    sip.close();
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

  private final AlrController[] refuserRef = new AlrController[1];
}
