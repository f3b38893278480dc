package io.sipalr.alr;

import io.sipalr.mobility.Bearer;
import io.sipalr.mobility.Iap;
import io.sipalr.mobility.MobilityConfig;
import io.sipalr.mobility.MobilityManager;
import io.sipalr.mobility.ScriptedIapProvider;
import io.sipalr.mobility.Snap;
import io.sipalr.profile.SipProfileBuilder;
import io.sipalr.sip.MigrationOrder;
import io.sipalr.sip.ScriptedSip;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * One SNAP (wlan 198.18.0.10 preferred, cell 198.18.1.10) with three profiles on it, through
 * the real SipAlr, SnapSession, MobilityManager and registrations, on the scripted registrar
 * and virtual time ({@link ScriptedSip}).
 */
final class ScriptedAlr implements AutoCloseable {
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

  ScriptedAlr(MigrationOrder order) throws Exception {
    sip = new ScriptedSip(USERS.toArray(String[]::new));
    List<Iap> all = List.of(new Iap(WLAN, "wlan", null, WLAN_ADDRESS, Bearer.WLAN, 1),
        new Iap(CELL, "cellular", null, CELL_ADDRESS, Bearer.CELLULAR, 10));
    iaps = new ScriptedIapProvider(all);
    mobility = new MobilityManager(new MobilityConfig(MobilityConfig.Provider.SCRIPTED,
        Duration.ofSeconds(5), all, List.of(new Snap(SNAP, "wlan-cell", List.of(WLAN, CELL)))),
        iaps, sip.clock);
    alr = new SipAlr(AlrProfiles.of(sip.registry), mobility, new AlrConfig(order, 200, 50,
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

  @Override
  public void close() throws Exception {
    alr.close();
    mobility.close();
    sip.close();
  }
}
