package io.sipalr.mobility;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.profile.BearerFilter;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The connection's decisions, driven through the scripted provider. Notices are checked in
 * order; "nothing else happened" is proven by a later change whose notice must come next.
 */
class SnapConnectionTest {
  private static final Iap WLAN = new Iap(1, "wlan", null, "127.0.0.11", Bearer.WLAN, 1);
  private static final Iap LTE = new Iap(2, "lte", null, "127.0.0.12", Bearer.CELLULAR, 5);
  private static final Iap WLAN2 = new Iap(3, "wlan2", null, "127.0.0.13", Bearer.WLAN, 2);
  private static final Snap INTERNET = new Snap(1, "internet", List.of(1, 2, 3));

  private ExecutorService pool;
  private ScriptedIapProvider iaps;
  private MobilityManager mobility;

  @BeforeEach
  void start() {
    pool = Executors.newFixedThreadPool(2);
    MobilityConfig config = new MobilityConfig(MobilityConfig.Provider.SCRIPTED,
        Duration.ofSeconds(5), List.of(WLAN, LTE, WLAN2), List.of(INTERNET));
    iaps = new ScriptedIapProvider(config.iaps());
    mobility = new MobilityManager(config, iaps, pool);
  }

  @AfterEach
  void stop() throws Exception {
    mobility.close();
    pool.shutdownNow();
    assertTrue(pool.awaitTermination(5, TimeUnit.SECONDS));
  }

  /** Records every notice as one line, e.g. "offer 1->2 downgrade", "active 2 127.0.0.12". */
  static final class Recorder implements MobilityListener {
    final BlockingQueue<String> notices = new LinkedBlockingQueue<>();

    @Override
    public void preferredCarrierAvailable(Iap oldIap, Iap newIap, boolean isUpgrade,
        boolean isSeamless) {
      assertEquals(false, isSeamless);
      notices.add("offer " + (oldIap == null ? "-" : oldIap.id()) + "->" + newIap.id() + " "
          + (isUpgrade ? "upgrade" : "downgrade"));
    }

    @Override
    public void newCarrierActive(Iap newIap, InetAddress address, boolean isSeamless) {
      assertEquals(false, isSeamless);
      notices.add("active " + newIap.id() + " " + address.getHostAddress());
    }

    @Override
    public void carrierAddressChanged(Iap iap, InetAddress newAddress) {
      notices.add("address " + iap.id() + " " + newAddress.getHostAddress());
    }

    @Override
    public void carrierLost(Iap iap) {
      notices.add("lost " + iap.id());
    }

    @Override
    public void error(MobilityError code) {
      notices.add("error " + code);
    }

    /** The next notices are exactly these, in order (bounded wait for each). */
    void expect(String... expected) throws InterruptedException {
      for (String notice : expected) {
        String actual = notices.poll(5, TimeUnit.SECONDS);
        assertEquals(notice, actual, "after the notices before it; pending: " + notices);
      }
    }
  }

  private SnapConnection open(BearerFilter filter, Recorder recorder) {
    return mobility.open(INTERNET.id(), filter, recorder);
  }

  private static void awaitCarrier(SnapConnection connection, Iap iap) {
    await().atMost(Duration.ofSeconds(5))
        .until(connection::carrier, Optional.ofNullable(iap)::equals);
  }

  /** Opens on {@code iap} and accepts it. */
  private SnapConnection settledOn(Iap iap, BearerFilter filter, Recorder recorder)
      throws InterruptedException {
    SnapConnection connection = open(filter, recorder);
    recorder.expect("active " + iap.id() + " " + iap.address());
    connection.newCarrierAccepted();
    awaitCarrier(connection, iap);
    return connection;
  }

  @Test
  void initialCarrierIsTakenWithoutAnOffer() throws Exception {
    iaps.up(LTE.id());
    iaps.up(WLAN2.id());
    Recorder recorder = new Recorder();
    SnapConnection connection = open(BearerFilter.ANY, recorder);
    recorder.expect("active 2 127.0.0.12");
    assertEquals(Optional.of(LTE), connection.carrier()); // in use before any answer
    connection.newCarrierAccepted();
    iaps.up(WLAN.id()); // the first notice after accept is the upgrade: nothing came between
    recorder.expect("offer 2->1 upgrade");
  }

  @Test
  void upgradeIsOfferedThenMigratedThenAccepted() throws Exception {
    Recorder recorder = new Recorder();
    SnapConnection connection = migratingFromLteToWlan(recorder);
    assertEquals(Optional.of(LTE), connection.carrier()); // the old one until accepted
    connection.newCarrierAccepted();
    awaitCarrier(connection, WLAN);
    iaps.down(WLAN.id()); // the old carrier is no longer what the connection falls back to
    recorder.expect("lost 1", "offer 1->2 downgrade");
  }

  @Test
  void ignoredIapIsBlacklistedAndTheNextOneOffered() throws Exception {
    iaps.up(WLAN2.id());
    Recorder recorder = new Recorder();
    SnapConnection connection = settledOn(WLAN2, BearerFilter.ANY, recorder);
    iaps.up(WLAN.id());
    recorder.expect("offer 3->1 upgrade");
    iaps.up(LTE.id()); // waits for the outstanding offer to be answered
    connection.ignorePreferredCarrier();
    recorder.expect("offer 3->2 upgrade");
    connection.ignorePreferredCarrier();
    iaps.down(WLAN.id());
    iaps.up(WLAN.id()); // it went away and came back: a new attachment, offered again
    recorder.expect("offer 3->1 upgrade");
    connection.ignorePreferredCarrier();
    iaps.down(WLAN2.id());
    recorder.expect("lost 3", "error NOT_FOUND"); // every other IAP is blacklisted
    assertEquals(Optional.empty(), connection.carrier());
  }

  @Test
  void rejectedIapIsBlacklistedAndTheCarrierKept() throws Exception {
    Recorder recorder = new Recorder();
    SnapConnection connection = migratingFromLteToWlan(recorder);
    connection.newCarrierRejected();
    awaitCarrier(connection, LTE);
    iaps.up(LTE.id(), InetAddress.getByName("127.0.1.12")); // blacklisted WLAN: no offer
    recorder.expect("address 2 127.0.1.12");
    iaps.down(WLAN.id());
    iaps.up(WLAN.id()); // it went away and came back: a new attachment, offered again
    recorder.expect("offer 2->1 upgrade");
  }

  @Test
  void rejectionOffersTheNextBetterIap() throws Exception {
    iaps.up(WLAN2.id());
    Recorder recorder = new Recorder();
    SnapConnection connection = settledOn(WLAN2, BearerFilter.ANY, recorder);
    iaps.up(WLAN.id());
    iaps.up(LTE.id());
    recorder.expect("offer 3->1 upgrade");
    connection.migrateToPreferredCarrier();
    recorder.expect("active 1 127.0.0.11");
    connection.newCarrierRejected();
    recorder.expect("offer 3->2 upgrade");
  }

  @Test
  void refreshClearsTheBlacklistAndOffersAgain() throws Exception {
    iaps.up(LTE.id());
    Recorder recorder = new Recorder();
    SnapConnection connection = settledOn(LTE, BearerFilter.ANY, recorder);
    iaps.up(WLAN.id());
    recorder.expect("offer 2->1 upgrade");
    connection.ignorePreferredCarrier();
    connection.refresh();
    recorder.expect("offer 2->1 upgrade");
    connection.migrateToPreferredCarrier();
    recorder.expect("active 1 127.0.0.11");
    connection.newCarrierRejected();
    connection.refresh();
    recorder.expect("offer 2->1 upgrade");
  }

  @Test
  void lostCarrierIsFollowedByADowngradeOffer() throws Exception {
    iaps.up(WLAN.id());
    iaps.up(LTE.id());
    Recorder recorder = new Recorder();
    SnapConnection connection = settledOn(WLAN, BearerFilter.ANY, recorder);
    iaps.down(WLAN.id());
    recorder.expect("lost 1", "offer 1->2 downgrade");
    assertEquals(Optional.empty(), connection.carrier());
    connection.migrateToPreferredCarrier();
    recorder.expect("active 2 127.0.0.12");
    assertEquals(Optional.of(LTE), connection.carrier()); // nothing else to use meanwhile
    connection.newCarrierAccepted();
    iaps.up(WLAN.id());
    recorder.expect("offer 2->1 upgrade");
  }

  @Test
  void ignoredDowngradeOffersTheNextOrNotFound() throws Exception {
    iaps.up(WLAN.id());
    iaps.up(LTE.id());
    iaps.up(WLAN2.id());
    Recorder recorder = new Recorder();
    SnapConnection connection = settledOn(WLAN, BearerFilter.ANY, recorder);
    iaps.down(WLAN.id());
    recorder.expect("lost 1", "offer 1->2 downgrade");
    connection.ignorePreferredCarrier();
    recorder.expect("offer 1->3 downgrade");
    connection.ignorePreferredCarrier();
    recorder.expect("error NOT_FOUND");
  }

  @Test
  void notFoundWhenNothingIsLeftThenRecoveryWithoutAnOffer() throws Exception {
    Recorder recorder = new Recorder();
    SnapConnection connection = open(BearerFilter.ANY, recorder);
    recorder.expect("error NOT_FOUND"); // nothing up at open
    iaps.up(WLAN2.id());
    recorder.expect("active 3 127.0.0.13");
    connection.newCarrierAccepted();
    awaitCarrier(connection, WLAN2);
    iaps.down(WLAN2.id());
    recorder.expect("lost 3", "error NOT_FOUND");
    iaps.up(LTE.id());
    recorder.expect("active 2 127.0.0.12");
    connection.newCarrierAccepted();
    awaitCarrier(connection, LTE);
  }

  @Test
  void rejectedFirstCarrierIsFollowedByADowngradeOffer() throws Exception {
    iaps.up(WLAN.id());
    iaps.up(LTE.id());
    Recorder recorder = new Recorder();
    SnapConnection connection = open(BearerFilter.ANY, recorder);
    recorder.expect("active 1 127.0.0.11");
    connection.newCarrierRejected(); // e.g. the registrar cannot be reached through it
    recorder.expect("offer 1->2 downgrade");
  }

  @Test
  void bearerFilterExcludesIapsEvenOnDowngrade() throws Exception {
    iaps.up(LTE.id());
    Recorder recorder = new Recorder();
    SnapConnection connection = open(BearerFilter.WLAN_ONLY, recorder);
    recorder.expect("error NOT_FOUND"); // the cellular IAP does not count
    iaps.up(WLAN.id());
    recorder.expect("active 1 127.0.0.11");
    connection.newCarrierAccepted();
    iaps.down(WLAN.id());
    recorder.expect("lost 1", "error NOT_FOUND"); // no downgrade to cellular: it waits
    iaps.down(LTE.id());
    iaps.up(LTE.id());
    iaps.up(WLAN2.id());
    recorder.expect("active 3 127.0.0.13");
  }

  @Test
  void addressChangeOfTheCarrierIsReportedAsSuch() throws Exception {
    iaps.up(WLAN.id());
    Recorder recorder = new Recorder();
    SnapConnection connection = settledOn(WLAN, BearerFilter.ANY, recorder);
    iaps.up(WLAN.id(), InetAddress.getByName("127.0.1.11"));
    recorder.expect("address 1 127.0.1.11");
    assertEquals(Optional.of(WLAN), connection.carrier());
    iaps.up(LTE.id(), InetAddress.getByName("127.0.1.12")); // not the carrier: no notice
    iaps.up(LTE.id(), InetAddress.getByName("127.0.2.12"));
    iaps.up(WLAN.id());
    recorder.expect("address 1 127.0.0.11");
  }

  @Test
  void addressChangesDuringAMigrationNameTheirIap() throws Exception {
    Recorder recorder = new Recorder();
    SnapConnection connection = migratingFromLteToWlan(recorder);
    iaps.up(LTE.id(), InetAddress.getByName("127.0.1.12"));
    recorder.expect("address 2 127.0.1.12");
    iaps.up(WLAN.id(), InetAddress.getByName("127.0.1.11"));
    recorder.expect("address 1 127.0.1.11");
  }

  @Test
  void twoConnectionsOnOneSnapWithDifferentFiltersAreIndependent() throws Exception {
    iaps.up(WLAN.id());
    iaps.up(LTE.id());
    Recorder any = new Recorder();
    Recorder cellular = new Recorder();
    SnapConnection anyConnection = settledOn(WLAN, BearerFilter.ANY, any);
    SnapConnection cellularConnection = settledOn(LTE, BearerFilter.CELLULAR_ONLY, cellular);
    iaps.down(WLAN.id());
    any.expect("lost 1", "offer 1->2 downgrade");
    iaps.down(LTE.id());
    cellular.expect("lost 2", "error NOT_FOUND");
    any.expect("error OFFER_WITHDRAWN", "error NOT_FOUND");
    iaps.up(WLAN.id());
    any.expect("active 1 127.0.0.11");
    iaps.up(LTE.id());
    cellular.expect("active 2 127.0.0.12"); // and nothing about the WLAN before it
    assertEquals(Optional.of(WLAN), anyConnection.carrier());
    assertEquals(Optional.of(LTE), cellularConnection.carrier());
  }

  @Test
  void offerIsWithdrawnWhenTheOfferedIapGoesAway() throws Exception {
    iaps.up(LTE.id());
    Recorder recorder = new Recorder();
    SnapConnection connection = settledOn(LTE, BearerFilter.ANY, recorder);
    iaps.up(WLAN.id());
    recorder.expect("offer 2->1 upgrade");
    iaps.up(WLAN2.id()); // ranks below the carrier: never offered
    iaps.down(WLAN.id());
    recorder.expect("error OFFER_WITHDRAWN");
    connection.migrateToPreferredCarrier(); // too late: ignored
    assertEquals(Optional.of(LTE), connection.carrier());
    iaps.up(WLAN.id()); // not blacklisted
    recorder.expect("offer 2->1 upgrade");
  }

  @Test
  void lostCarrierReplacesAnUpgradeOfferWithADowngradeOffer() throws Exception {
    iaps.up(LTE.id());
    Recorder recorder = new Recorder();
    SnapConnection connection = settledOn(LTE, BearerFilter.ANY, recorder);
    iaps.up(WLAN.id());
    recorder.expect("offer 2->1 upgrade");
    iaps.down(LTE.id());
    recorder.expect("lost 2", "offer 2->1 downgrade");
    connection.migrateToPreferredCarrier();
    recorder.expect("active 1 127.0.0.11");
  }

  /** Settled on LTE, then WLAN offered and migrated to: newCarrierActive(WLAN) outstanding. */
  private SnapConnection migratingFromLteToWlan(Recorder recorder) throws InterruptedException {
    iaps.up(LTE.id());
    SnapConnection connection = settledOn(LTE, BearerFilter.ANY, recorder);
    iaps.up(WLAN.id());
    recorder.expect("offer 2->1 upgrade");
    connection.migrateToPreferredCarrier();
    recorder.expect("active 1 127.0.0.11");
    return connection;
  }

  @Test
  void newCarrierLostDuringTheMigrationLeavesTheOldOne() throws Exception {
    Recorder recorder = new Recorder();
    SnapConnection connection = migratingFromLteToWlan(recorder);
    iaps.down(WLAN.id());
    recorder.expect("lost 1");
    assertEquals(Optional.of(LTE), connection.carrier());
    connection.newCarrierAccepted(); // too late: ignored
    iaps.up(WLAN.id()); // lost, not rejected: offered again
    recorder.expect("offer 2->1 upgrade");
  }

  @Test
  void anAcceptOfANewCarrierLostMeanwhileIsAnsweredWithTheOldOneAsADowngrade()
      throws Exception {
    // The listener accepted IAP 1 before it heard "lost 1" (two executors race): it has no
    // carrier now and waits for a downgrade, which must come.
    Recorder recorder = new Recorder();
    SnapConnection connection = migratingFromLteToWlan(recorder);
    iaps.down(WLAN.id());
    recorder.expect("lost 1");
    connection.newCarrierAccepted(WLAN.id());
    recorder.expect("offer 1->2 downgrade");
    connection.migrateToPreferredCarrier();
    recorder.expect("active 2 127.0.0.12");
    connection.newCarrierAccepted(LTE.id());
    awaitCarrier(connection, LTE);
    iaps.up(WLAN.id());
    recorder.expect("offer 2->1 upgrade");
  }

  @Test
  void oldCarrierLostDuringTheMigrationLeavesTheNewOne() throws Exception {
    Recorder recorder = new Recorder();
    SnapConnection connection = migratingFromLteToWlan(recorder);
    iaps.down(LTE.id());
    recorder.expect("lost 2");
    assertEquals(Optional.of(WLAN), connection.carrier());
    connection.newCarrierRejected();
    recorder.expect("error NOT_FOUND"); // nothing to fall back to
  }

  @Test
  void decisionsNamingAnotherIapAreIgnored() throws Exception {
    iaps.up(LTE.id());
    Recorder recorder = new Recorder();
    SnapConnection connection = settledOn(LTE, BearerFilter.ANY, recorder);
    iaps.up(WLAN.id());
    recorder.expect("offer 2->1 upgrade");
    connection.ignorePreferredCarrier(WLAN2.id()); // about an offer that is not outstanding
    connection.newCarrierAccepted(); // no migration outstanding
    connection.migrateToPreferredCarrier(WLAN.id());
    recorder.expect("active 1 127.0.0.11");
    connection.newCarrierRejected(LTE.id());
    connection.newCarrierAccepted(WLAN.id());
    awaitCarrier(connection, WLAN);
  }

  @Test
  void closedConnectionHearsNothingMore() throws Exception {
    iaps.up(WLAN.id());
    Recorder closed = new Recorder();
    Recorder open = new Recorder();
    SnapConnection closing = settledOn(WLAN, BearerFilter.ANY, closed);
    settledOn(WLAN, BearerFilter.ANY, open);
    closing.close();
    iaps.down(WLAN.id());
    open.expect("lost 1", "error NOT_FOUND");
    assertNull(closed.notices.poll());
  }

  @Test
  void unknownIdsAreRefusedByName() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> mobility.open(9, BearerFilter.ANY, new Recorder()));
    assertTrue(e.getMessage().contains("9"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> iaps.up(42));
    assertTrue(e.getMessage().contains("42"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> iaps.down(43));
    assertTrue(e.getMessage().contains("43"), e.getMessage());
  }

  @Test
  void managerReportsTheLastStateOfEveryIap() throws Exception {
    iaps.up(LTE.id());
    assertEquals(List.of(IapState.down(WLAN),
        IapState.up(LTE, InetAddress.getByName("127.0.0.12")), IapState.down(WLAN2)),
        mobility.iaps());
    assertEquals(mobility.iaps(), iaps.snapshot());
  }
}
