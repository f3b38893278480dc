package io.sipalr.it;

import static io.sipalr.it.AlrHarness.CELL;
import static io.sipalr.it.AlrHarness.CELL_ADDRESS;
import static io.sipalr.it.AlrHarness.LAN;
import static io.sipalr.it.AlrHarness.LAN_ADDRESS;
import static io.sipalr.it.AlrHarness.SNAP_ALL;
import static io.sipalr.it.AlrHarness.SNAP_LAN;
import static io.sipalr.it.AlrHarness.SNAP_WLAN_CELL;
import static io.sipalr.it.AlrHarness.WLAN;
import static io.sipalr.it.AlrHarness.WLAN_ADDRESS;
import static io.sipalr.it.AlrHarness.profile;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.alr.AlrController;
import io.sipalr.alr.AlrError;
import io.sipalr.alr.AlrEvent;
import io.sipalr.alr.AlrObserver;
import io.sipalr.it.KamailioRegistrar.Binding;
import io.sipalr.profile.BearerFilter;
import io.sipalr.profile.Transport;
import io.sipalr.sip.MigrationOrder;
import io.sipalr.sip.ProfileStatus;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The SIP ALR flow end to end with the scripted provider on loopback IAPs and a real Kamailio:
 * each test asserts the sequence of events the observers received and what Kamailio's location
 * table holds afterwards (exactly one binding per profile, received from the expected IAP).
 */
class AlrIT {

  /** The one binding of {@code user}, which must have come from {@code address}. */
  static Binding assertOneBindingFrom(KamailioRegistrar kamailio, String user, String address) {
    List<Binding> bindings = kamailio.lookup(user);
    assertEquals(1, bindings.size(), () -> user + ": " + bindings);
    assertTrue(bindings.get(0).received().startsWith("sip:" + address + ":"),
        () -> user + " received from " + bindings.get(0).received() + ", expected " + address);
    return bindings.get(0);
  }

  /** A controller that answers every IAP_AVAILABLE with {@code allow}. */
  static AlrController voting(AlrHarness agent, boolean allow) {
    AtomicReference<AlrController> self = new AtomicReference<>();
    self.set(agent.alr.newController(new AlrObserver() {
      @Override
      public void alrEvent(AlrEvent event, String profileId, int snapId, int iapId) {
        if (event == AlrEvent.IAP_AVAILABLE) {
          if (allow) {
            self.get().allowMigration(profileId, iapId);
          } else {
            self.get().disallowMigration(profileId, iapId);
          }
        }
      }

      @Override
      public void alrError(AlrError error, String profileId, int snapId, int iapId) {}
    }));
    return self.get();
  }

  @Test
  void initialRegistrationOnTheBestIapWithoutAlrEvents() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      kamailio.addUser("ann", AgentHarness.REALM_PASSWORD);
      agent.iaps.up(CELL);
      agent.iaps.up(WLAN);
      agent.registry.create(profile("ann", kamailio, SNAP_WLAN_CELL, BearerFilter.ANY,
          Transport.UDP));
      agent.awaitRegisteredFrom("ann", WLAN_ADDRESS);
      assertOneBindingFrom(kamailio, "ann", WLAN_ADDRESS);
      assertEquals(List.of("CREATED", "REGISTERED"), agent.of("ann"), "rule 1: no ALR event");
    }
  }

  @ParameterizedTest(name = "{0} over {1}")
  @CsvSource({"MAKE_BEFORE_BREAK, UDP", "MAKE_BEFORE_BREAK, TCP", "BREAK_BEFORE_MAKE, UDP",
      "BREAK_BEFORE_MAKE, TCP"})
  void upgradeAllowedMovesTheBinding(MigrationOrder order, Transport transport) throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AlrHarness agent = new AlrHarness(order)) {
      kamailio.addUser("bob", AgentHarness.REALM_PASSWORD);
      voting(agent, true);
      agent.iaps.up(CELL);
      agent.registry.create(profile("bob", kamailio, SNAP_WLAN_CELL, BearerFilter.ANY,
          transport));
      agent.awaitRegisteredFrom("bob", CELL_ADDRESS);
      assertOneBindingFrom(kamailio, "bob", CELL_ADDRESS);

      agent.iaps.up(WLAN);
      agent.awaitSeen("bob", "MIGRATION_COMPLETED@" + WLAN);
      Binding moved = assertOneBindingFrom(kamailio, "bob", WLAN_ADDRESS);
      if (transport == Transport.TCP) {
        assertTrue(moved.received().endsWith(";transport=tcp"), moved.received());
        // The left IAP's connection to the registrar is closed, not left to linger.
        await().atMost(Duration.ofSeconds(10)).until(
            () -> kamailio.tcpConnectionsFrom(CELL_ADDRESS) == 0);
        assertTrue(kamailio.tcpConnectionsFrom(WLAN_ADDRESS) >= 1);
      }
      List<String> expected = order == MigrationOrder.MAKE_BEFORE_BREAK
          // Rule 14: the status stays REGISTERED throughout.
          ? List.of("CREATED", "REGISTERED", "IAP_AVAILABLE@1", "MIGRATION_STARTED@1",
              "MIGRATION_COMPLETED@1")
          : List.of("CREATED", "REGISTERED", "IAP_AVAILABLE@1", "DEREGISTERED",
              "MIGRATION_STARTED@1", "REGISTERED", "MIGRATION_COMPLETED@1");
      assertEquals(expected, agent.of("bob"));
      assertEquals(ProfileStatus.REGISTERED, agent.registry.status("bob"));
    }
  }

  @Test
  void refusalIsAnsweredAtOnceAndRefreshOffersTheIapAgain() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      kamailio.addUser("cid", AgentHarness.REALM_PASSWORD);
      AtomicReference<Boolean> allow = new AtomicReference<>(false);
      AtomicReference<AlrController> controller = new AtomicReference<>();
      controller.set(agent.alr.newController(new AlrObserver() {
        @Override
        public void alrEvent(AlrEvent event, String profileId, int snapId, int iapId) {
          if (event == AlrEvent.IAP_AVAILABLE && allow.get()) {
            controller.get().allowMigration(profileId, iapId);
          } else if (event == AlrEvent.IAP_AVAILABLE) {
            controller.get().disallowMigration(profileId, iapId);
          }
        }

        @Override
        public void alrError(AlrError error, String profileId, int snapId, int iapId) {}
      }));
      agent.iaps.up(CELL);
      agent.registry.create(profile("cid", kamailio, SNAP_WLAN_CELL, BearerFilter.ANY,
          Transport.UDP));
      agent.awaitRegisteredFrom("cid", CELL_ADDRESS);

      agent.iaps.up(WLAN);
      agent.awaitSeen("cid", "ACCESS_DENIED@" + WLAN);
      assertEquals(List.of("IAP_AVAILABLE@1", "ACCESS_DENIED@1"), agent.alrOf("cid"));
      assertOneBindingFrom(kamailio, "cid", CELL_ADDRESS);
      assertEquals(ProfileStatus.REGISTERED, agent.registry.status("cid"));
      // A decision outside a pending offer is an error (illegal state).
      assertThrows(IllegalStateException.class,
          () -> controller.get().allowMigration("cid", WLAN));

      allow.set(true);
      controller.get().refreshIapAvailability("cid");
      agent.awaitSeen("cid", "MIGRATION_COMPLETED@" + WLAN);
      assertEquals(List.of("IAP_AVAILABLE@1", "ACCESS_DENIED@1", "IAP_AVAILABLE@1",
          "MIGRATION_STARTED@1", "MIGRATION_COMPLETED@1"), agent.alrOf("cid"));
      assertOneBindingFrom(kamailio, "cid", WLAN_ADDRESS);
    }
  }

  @Test
  void oneRefusingControllerOfTwoRefuses() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      kamailio.addUser("dan", AgentHarness.REALM_PASSWORD);
      voting(agent, true);
      voting(agent, false);
      agent.iaps.up(CELL);
      agent.registry.create(profile("dan", kamailio, SNAP_WLAN_CELL, BearerFilter.ANY,
          Transport.UDP));
      agent.awaitRegisteredFrom("dan", CELL_ADDRESS);
      agent.iaps.up(WLAN);
      agent.awaitSeen("dan", "ACCESS_DENIED@" + WLAN);
      assertFalse(agent.alrOf("dan").contains("MIGRATION_STARTED@1"));
      assertOneBindingFrom(kamailio, "dan", CELL_ADDRESS);
    }
  }

  @Test
  void withoutControllersEveryMigrationIsAllowed() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      kamailio.addUser("eve", AgentHarness.REALM_PASSWORD);
      agent.iaps.up(CELL);
      agent.registry.create(profile("eve", kamailio, SNAP_WLAN_CELL, BearerFilter.ANY,
          Transport.UDP));
      agent.awaitRegisteredFrom("eve", CELL_ADDRESS);
      agent.iaps.up(WLAN);
      agent.awaitSeen("eve", "MIGRATION_COMPLETED@" + WLAN);
      assertOneBindingFrom(kamailio, "eve", WLAN_ADDRESS);
    }
  }

  @Test
  void failedRegistrationThroughTheNewIapKeepsTheOldAndOffersTheNext() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      kamailio.addUser("fay", AgentHarness.REALM_PASSWORD);
      voting(agent, true);
      agent.iaps.up(LAN);
      agent.registry.create(profile("fay", kamailio, SNAP_ALL, BearerFilter.ANY, Transport.UDP));
      agent.awaitRegisteredFrom("fay", LAN_ADDRESS);
      long cseqBefore = assertOneBindingFrom(kamailio, "fay", LAN_ADDRESS).cseq();

      // WLAN cannot reach the registrar; cellular comes up while the move to WLAN is tried.
      kamailio.block(WLAN_ADDRESS);
      agent.iaps.up(WLAN);
      agent.iaps.up(CELL);
      agent.awaitSeen("fay", "REGISTRATION_FAILED@" + WLAN);
      agent.awaitSeen("fay", "MIGRATION_COMPLETED@" + CELL);
      assertEquals(List.of("IAP_AVAILABLE@1", "MIGRATION_STARTED@1", "REGISTRATION_FAILED@1",
          "IAP_AVAILABLE@2", "MIGRATION_STARTED@2", "MIGRATION_COMPLETED@2"),
          agent.alrOf("fay"));
      // The fallback refreshed the old binding before the next move, and the status never left
      // REGISTERED.
      assertEquals(List.of("CREATED", "REGISTERED"), agent.of("fay").stream()
          .filter(s -> !s.contains("@")).toList());
      Binding after = assertOneBindingFrom(kamailio, "fay", CELL_ADDRESS);
      assertTrue(after.cseq() > cseqBefore + 1, "refreshed in between: " + after.cseq());
    }
  }

  @Test
  void losingTheCarrierRegistersThroughTheNextWithoutAskingOrWaitingForTheRefresh()
      throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().minExpires(1).maxExpires(2)
            .start();
         AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK,
             Duration.ofSeconds(5), 2000)) {
      kamailio.addUser("gus", AgentHarness.REALM_PASSWORD);
      voting(agent, false); // would refuse any upgrade: a downgrade is not asked about
      agent.iaps.up(WLAN);
      agent.iaps.up(CELL);
      agent.registry.create(profile("gus", kamailio, SNAP_WLAN_CELL, BearerFilter.ANY,
          Transport.UDP));
      agent.awaitRegisteredFrom("gus", WLAN_ADDRESS);

      // WLAN goes dark at the registrar first: the next refresh (every second) hangs there.
      kamailio.block(WLAN_ADDRESS);
      long counted = kamailio.registerCount("gus");
      await().atMost(Duration.ofSeconds(10)).until(() -> kamailio.registerCount("gus") > counted);
      agent.iaps.down(WLAN);

      agent.awaitRegisteredFrom("gus", CELL_ADDRESS);
      assertOneBindingFrom(kamailio, "gus", CELL_ADDRESS);
      // Rule 7 and 13: no vote, and the hung refresh was abandoned rather than timed out.
      assertEquals(List.of("CREATED", "REGISTERED", "DEREGISTERED", "REGISTERED"),
          agent.of("gus"));
    }
  }

  @Test
  void anIapRejectedOnceIsTriedAgainWhenNothingElseIsLeft() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      kamailio.addUser("pia", AgentHarness.REALM_PASSWORD);
      agent.iaps.up(WLAN);
      agent.iaps.up(CELL);
      agent.registry.create(profile("pia", kamailio, SNAP_WLAN_CELL, BearerFilter.ANY,
          Transport.UDP));
      agent.awaitRegisteredFrom("pia", WLAN_ADDRESS);

      // Cellular cannot reach the registrar at the moment wlan is lost: it is rejected, and
      // with nothing else left the profile waits...
      kamailio.block(CELL_ADDRESS);
      agent.iaps.down(WLAN);
      agent.awaitSeen("pia", "REGISTRATION_FAILED");
      await().atMost(Duration.ofSeconds(10)).until(
          () -> agent.registry.localAddressOf("pia").isEmpty());
      // ...but not for ever: once cellular works again it is tried again (here after 2 s).
      kamailio.unblock(CELL_ADDRESS);
      agent.awaitRegisteredFrom("pia", CELL_ADDRESS);
      assertOneBindingFrom(kamailio, "pia", CELL_ADDRESS);
    }
  }

  @Test
  void aBearerFilterThatExcludesTheOnlyIapLeftMakesTheProfileWait() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      kamailio.addUser("hal", AgentHarness.REALM_PASSWORD);
      agent.iaps.up(WLAN);
      agent.iaps.up(CELL);
      agent.registry.create(profile("hal", kamailio, SNAP_WLAN_CELL, BearerFilter.WLAN_ONLY,
          Transport.UDP));
      agent.awaitRegisteredFrom("hal", WLAN_ADDRESS);

      agent.iaps.down(WLAN);
      await().atMost(Duration.ofSeconds(10)).until(
          () -> agent.registry.status("hal") == ProfileStatus.REGISTRATION_IN_PROGRESS);
      assertTrue(agent.registry.localAddressOf("hal").isEmpty(), "waits with no network");
      // Nothing goes out through cellular, however long it waits.
      await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(3)).until(
          () -> kamailio.lookup("hal").stream().noneMatch(
              b -> b.received().startsWith("sip:" + CELL_ADDRESS + ":")));

      agent.iaps.up(WLAN);
      agent.awaitRegisteredFrom("hal", WLAN_ADDRESS);
      assertOneBindingFrom(kamailio, "hal", WLAN_ADDRESS);
    }
  }

  @Test
  void everyIapLostThenOneBackRegistersAgainWithoutARetryStorm() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      kamailio.addUser("ida", AgentHarness.REALM_PASSWORD);
      agent.iaps.up(WLAN);
      agent.registry.create(profile("ida", kamailio, SNAP_WLAN_CELL, BearerFilter.ANY,
          Transport.UDP));
      agent.awaitRegisteredFrom("ida", WLAN_ADDRESS);

      agent.iaps.down(WLAN);
      await().atMost(Duration.ofSeconds(10)).until(
          () -> agent.registry.status("ida") == ProfileStatus.REGISTRATION_IN_PROGRESS);
      long counted = kamailio.registerCount("ida");
      // Rule 8: with no network nothing is sent, however long it lasts.
      await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(4))
          .until(() -> kamailio.registerCount("ida") == counted);

      agent.iaps.up(CELL);
      agent.awaitRegisteredFrom("ida", CELL_ADDRESS);
      assertOneBindingFrom(kamailio, "ida", CELL_ADDRESS);
      assertEquals(List.of("CREATED", "REGISTERED", "DEREGISTERED", "REGISTERED"),
          agent.of("ida"));
    }
  }

  @Test
  void aNewAddressOnTheCurrentIapReRegistersFromIt() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      kamailio.addUser("jon", AgentHarness.REALM_PASSWORD);
      voting(agent, false); // rule 15: no vote is asked
      agent.iaps.up(WLAN);
      agent.registry.create(profile("jon", kamailio, SNAP_WLAN_CELL, BearerFilter.ANY,
          Transport.UDP));
      agent.awaitRegisteredFrom("jon", WLAN_ADDRESS);

      agent.iaps.up(WLAN, InetAddress.getByName("127.0.0.5"));
      agent.awaitRegisteredFrom("jon", "127.0.0.5");
      await().atMost(Duration.ofSeconds(10)).until(() -> kamailio.lookup("jon").size() == 1);
      assertOneBindingFrom(kamailio, "jon", "127.0.0.5");
      assertTrue(agent.alrOf("jon").isEmpty(), "no ALR event: " + agent.alrOf("jon"));
    }
  }

  @Test
  void withoutOutboundEachMoveStillLeavesOneBinding() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().noOutbound().start();
         AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      kamailio.addUser("kim", AgentHarness.REALM_PASSWORD);
      agent.iaps.up(CELL);
      agent.registry.create(profile("kim", kamailio, SNAP_WLAN_CELL, BearerFilter.ANY,
          Transport.UDP));
      agent.awaitRegisteredFrom("kim", CELL_ADDRESS);
      assertOneBindingFrom(kamailio, "kim", CELL_ADDRESS);
      assertFalse(agent.registry.info("kim").outbound());

      agent.iaps.up(WLAN); // upgrade
      agent.awaitSeen("kim", "MIGRATION_COMPLETED@" + WLAN);
      await().atMost(Duration.ofSeconds(10)).until(() -> kamailio.lookup("kim").size() == 1);
      assertOneBindingFrom(kamailio, "kim", WLAN_ADDRESS);

      agent.iaps.down(WLAN); // downgrade
      agent.awaitRegisteredFrom("kim", CELL_ADDRESS);
      await().atMost(Duration.ofSeconds(10)).until(() -> kamailio.lookup("kim").size() == 1);
      assertOneBindingFrom(kamailio, "kim", CELL_ADDRESS);
    }
  }

  @Test
  void fiftyProfilesMigrateTogetherAndThoseFailingFollowTheAcceptedCarrier() throws Exception {
    int count = 50;
    List<String> ids = java.util.stream.IntStream.range(0, count)
        .mapToObj(i -> String.format("m%02d", i)).toList();
    List<String> failing = ids.subList(40, count);
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      voting(agent, true);
      agent.iaps.up(CELL);
      for (String id : ids) {
        kamailio.addUser(id, AgentHarness.REALM_PASSWORD);
        agent.registry.create(profile(id, kamailio, SNAP_WLAN_CELL, BearerFilter.ANY,
            Transport.UDP));
      }
      ids.forEach(id -> agent.awaitRegisteredFrom(id, CELL_ADDRESS));

      failing.forEach(kamailio::reject);
      agent.iaps.up(WLAN);
      for (String id : ids.subList(0, 40)) {
        agent.awaitSeen(id, "MIGRATION_COMPLETED@" + WLAN);
        assertEquals(List.of("IAP_AVAILABLE@1", "MIGRATION_STARTED@1", "MIGRATION_COMPLETED@1"),
            agent.alrOf(id));
        assertOneBindingFrom(kamailio, id, WLAN_ADDRESS);
      }
      // Rule 12: the carrier was accepted (40 made it); the other ten heard why, then follow
      // it, retrying with backoff.
      for (String id : failing) {
        agent.awaitSeen(id, "REGISTRATION_FAILED@" + WLAN);
        await().atMost(Duration.ofSeconds(20)).until(
            () -> agent.registry.status(id) == ProfileStatus.REGISTRATION_IN_PROGRESS
                && WLAN_ADDRESS.equals(agent.registry.localAddressOf(id).orElse(null)));
      }
      failing.forEach(kamailio::accept);
      failing.forEach(id -> agent.awaitRegisteredFrom(id, WLAN_ADDRESS));
      for (String id : ids) {
        assertOneBindingFrom(kamailio, id, WLAN_ADDRESS);
      }
    }
  }

  @Test
  void aProfileUpdateDuringAMigrationIsAppliedAfterIt() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      kamailio.addUser("lea", AgentHarness.REALM_PASSWORD);
      agent.iaps.up(CELL);
      io.sipalr.profile.SipProfile lea = agent.registry.create(profile("lea", kamailio,
          SNAP_WLAN_CELL, BearerFilter.ANY, Transport.UDP));
      agent.awaitRegisteredFrom("lea", CELL_ADDRESS);

      kamailio.block(WLAN_ADDRESS); // the move hangs for the register timeout, then falls back
      agent.iaps.up(WLAN);
      agent.awaitSeen("lea", "MIGRATION_STARTED@" + WLAN);
      agent.registry.save(io.sipalr.profile.SipProfileBuilder.copyOf(lea).expires(300).build());
      agent.awaitSeen("lea", "REGISTRATION_FAILED@" + WLAN);
      // Rule 9: applied after the move, through the IAP it ended on.
      await().atMost(Duration.ofSeconds(10)).until(() -> {
        List<Binding> b = kamailio.lookup("lea");
        return b.size() == 1 && b.get(0).expires() <= 300;
      });
      assertOneBindingFrom(kamailio, "lea", CELL_ADDRESS);
      assertEquals(ProfileStatus.REGISTERED, agent.registry.status("lea"));
    }
  }

  @Test
  void aSnapChangeDuringAMigrationDeregistersThenRegistersThroughTheNewSnap() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      kamailio.addUser("max", AgentHarness.REALM_PASSWORD);
      agent.iaps.up(CELL);
      agent.iaps.up(LAN);
      io.sipalr.profile.SipProfile max = agent.registry.create(profile("max", kamailio,
          SNAP_WLAN_CELL, BearerFilter.ANY, Transport.UDP));
      agent.awaitRegisteredFrom("max", CELL_ADDRESS);

      kamailio.block(WLAN_ADDRESS);
      agent.iaps.up(WLAN);
      agent.awaitSeen("max", "MIGRATION_STARTED@" + WLAN);
      agent.registry.save(io.sipalr.profile.SipProfileBuilder.copyOf(max).snapId(SNAP_LAN)
          .build());
      agent.awaitRegisteredFrom("max", LAN_ADDRESS);
      await().atMost(Duration.ofSeconds(10)).until(() -> kamailio.lookup("max").size() == 1);
      assertOneBindingFrom(kamailio, "max", LAN_ADDRESS);
    }
  }

  @Test
  void disablingDuringAMigrationLeavesNoBinding() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      kamailio.addUser("ned", AgentHarness.REALM_PASSWORD);
      agent.iaps.up(CELL);
      agent.registry.create(profile("ned", kamailio, SNAP_WLAN_CELL, BearerFilter.ANY,
          Transport.UDP));
      agent.awaitRegisteredFrom("ned", CELL_ADDRESS);

      kamailio.block(WLAN_ADDRESS);
      agent.iaps.up(WLAN);
      agent.awaitSeen("ned", "MIGRATION_STARTED@" + WLAN);
      agent.registry.disable("ned").get();
      assertEquals(ProfileStatus.UNREGISTERED, agent.registry.status("ned"));
      assertTrue(kamailio.lookup("ned").isEmpty(), () -> "left: " + kamailio.lookup("ned"));
    }
  }

  @Test
  void aHundredFlapsEndOnTheBestIapWithOneBindingAndNothingLeaked() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK)) {
      kamailio.addUser("ola", AgentHarness.REALM_PASSWORD);
      long threadsWithTheAnchorOnly = sipThreads();
      long descriptorsWithTheAnchorOnly = openDescriptors();
      agent.iaps.up(CELL);
      agent.registry.create(profile("ola", kamailio, SNAP_WLAN_CELL, BearerFilter.ANY,
          Transport.UDP));
      agent.awaitRegisteredFrom("ola", CELL_ADDRESS);
      long threadsBefore = sipThreads();
      long descriptorsBefore = openDescriptors();
      // What one more bound endpoint may cost: the cellular one stays bound, idle, for
      // sip.endpoint-linger after the profile leaves it.
      long threadsPerEndpoint = threadsBefore - threadsWithTheAnchorOnly;
      long descriptorsPerEndpoint = descriptorsBefore - descriptorsWithTheAnchorOnly;

      for (int i = 0; i < 100; i++) { // bounded: 100 flaps, as fast as the calls return
        agent.iaps.up(WLAN);
        agent.iaps.down(WLAN);
      }
      agent.iaps.up(WLAN);

      agent.awaitRegisteredFrom("ola", WLAN_ADDRESS);
      await().atMost(Duration.ofSeconds(20)).until(() -> kamailio.lookup("ola").size() == 1
          && agent.registry.endpointCount() == 2);
      assertOneBindingFrom(kamailio, "ola", WLAN_ADDRESS);
      // The anchor and the WLAN endpoint are all that is in use after the flapping; the
      // cellular one lingers, bound once: the flaps reused the WLAN endpoint, no new binds.
      assertEquals(2, agent.registry.endpointCount());
      assertEquals(3, agent.registry.boundEndpointCount());
      await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
        assertTrue(sipThreads() <= threadsBefore + threadsPerEndpoint, "SIP threads "
            + threadsBefore + " (+" + threadsPerEndpoint + " per endpoint) -> " + sipThreads()
            + ": " + threadNames());
        assertTrue(openDescriptors() <= descriptorsBefore + descriptorsPerEndpoint + 4,
            "descriptors " + descriptorsBefore + " (+" + descriptorsPerEndpoint
            + " per endpoint) -> " + openDescriptors());
      });
    }
  }

  /** Threads of SIP stacks (named after the stack) and of the registry's pools. */
  private static long sipThreads() {
    return Thread.getAllStackTraces().keySet().stream().map(Thread::getName)
        .filter(n -> n.startsWith("sip-") || n.contains("MessageProcessor")
            || n.contains("MessageChannel"))
        .count();
  }

  private static String threadNames() {
    return Thread.getAllStackTraces().keySet().stream().map(Thread::getName).sorted().toList()
        .toString();
  }

  private static long openDescriptors() throws java.io.IOException {
    try (java.util.stream.Stream<java.nio.file.Path> fds =
        java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/fd"))) {
      return fds.count();
    }
  }
}
