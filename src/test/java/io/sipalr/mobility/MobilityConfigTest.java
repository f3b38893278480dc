package io.sipalr.mobility;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import io.sipalr.config.AgentConfFile;
import io.sipalr.profile.BearerFilter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MobilityConfigTest {
  @TempDir Path dir;

  private Config load(String text) throws Exception {
    return AgentConfFile.load(dir, text);
  }

  /** Reads {@code text} expecting an error; checks it names the file, the line and the key. */
  private String error(String text, String keyPath) throws Exception {
    return AgentConfFile.error(dir, text, keyPath, ConfigException.class, MobilityConfig::from);
  }

  @Test
  void defaultsComeFromReferenceConf() throws Exception {
    MobilityConfig c = MobilityConfig.from(load(""));
    assertEquals(MobilityConfig.Provider.SCRIPTED, c.provider());
    assertEquals(Duration.ofSeconds(5), c.rescanInterval());
    assertEquals(List.of(), c.iaps());
    assertEquals(List.of(), c.snaps());
  }

  @Test
  void readsIapsAndSnaps() throws Exception {
    MobilityConfig c = MobilityConfig.from(load("""
        mobility {
          provider = linux
          rescan-interval = 2s
          iaps = [
            { id = 1, name = wlan, interface = wlan0, address = "127.0.0.2", bearer = wlan,
              cost = 1 }
            { id = 2, name = lte, interface = cell0, bearer = cellular }
            { id = 7, name = lab, address = "::1", bearer = other, cost = 9 }
          ]
          snaps = [ { id = 1, name = internet, iaps = [2, 1] } ]
        }
        """));
    assertEquals(MobilityConfig.Provider.LINUX, c.provider());
    assertEquals(Duration.ofSeconds(2), c.rescanInterval());
    assertEquals(List.of(
        new Iap(1, "wlan", "wlan0", "127.0.0.2", Bearer.WLAN, 1),
        new Iap(2, "lte", "cell0", null, Bearer.CELLULAR, 0),
        new Iap(7, "lab", null, "::1", Bearer.OTHER, 9)), c.iaps());
    assertEquals(List.of(new Snap(1, "internet", List.of(2, 1))), c.snaps());
    assertEquals(0, c.snap(1).orElseThrow().rank(2));
  }

  @Test
  void duplicateIapIdNamesFileAndKey() throws Exception {
    String message = error("""
        mobility.iaps = [
          { id = 1, name = a, interface = a0, bearer = wlan }
          { id = 1, name = b, interface = b0, bearer = wlan }
        ]
        """, "mobility.iaps[1].id");
    assertTrue(message.contains("duplicate IAP id 1"), message);
  }

  @Test
  void duplicateSnapIdNamesFileAndKey() throws Exception {
    error("""
        mobility.iaps = [ { id = 1, name = a, interface = a0, bearer = wlan } ]
        mobility.snaps = [ { id = 4, name = x, iaps = [1] }, { id = 4, name = y, iaps = [1] } ]
        """, "mobility.snaps[1].id");
  }

  @Test
  void snapNamingAnUnknownIapNamesFileAndKey() throws Exception {
    String message = error("""
        mobility.iaps = [ { id = 1, name = a, interface = a0, bearer = wlan } ]
        mobility.snaps = [ { id = 1, name = internet, iaps = [1, 3] } ]
        """, "mobility.snaps[0].iaps[1]");
    assertTrue(message.contains("no IAP has id 3"), message);
  }

  @Test
  void emptySnapNamesFileAndKey() throws Exception {
    error("""
        mobility.snaps = [ { id = 1, name = internet, iaps = [] } ]
        """, "mobility.snaps[0].iaps");
  }

  @Test
  void iapWithNeitherInterfaceNorAddressNamesFileAndKey() throws Exception {
    String message = error("""
        mobility.iaps = [ { id = 1, name = a, bearer = wlan } ]
        """, "mobility.iaps[0]");
    assertTrue(message.contains("needs an interface"), message);
  }

  @Test
  void badBearerNamesFileAndKey() throws Exception {
    String message = error("""
        mobility.iaps = [
          { id = 1, name = a, interface = a0, bearer = wlan }
          { id = 2, name = b, interface = b0, bearer = wifi }
        ]
        """, "mobility.iaps[1].bearer");
    assertTrue(message.contains("wlan, cellular, ethernet, other"), message);
  }

  @Test
  void negativeCostNamesFileAndKey() throws Exception {
    error("""
        mobility.iaps = [ { id = 1, name = a, interface = a0, bearer = wlan, cost = -1 } ]
        """, "mobility.iaps[0].cost");
  }

  @Test
  void addressMustBeAnIpLiteral() throws Exception {
    error("""
        mobility.iaps = [ { id = 1, name = a, address = "wlan.example", bearer = wlan } ]
        """, "mobility.iaps[0].address");
  }

  @Test
  void unknownKeysAreErrors() throws Exception {
    error("""
        mobility.iaps = [ { id = 1, name = a, interface = a0, bearer = wlan, prio = 2 } ]
        """, "mobility.iaps[0].prio");
    error("""
        mobility.rescan-intervall = 2s
        """, "mobility.rescan-intervall");
    error("""
        mobility.snaps = [ { id = 1, name = x, iap = [1] } ]
        """, "mobility.snaps[0].iap");
  }

  @Test
  void badProviderAndIntervalNameFileAndKey() throws Exception {
    error("mobility.provider = netlink", "mobility.provider");
    error("mobility.rescan-interval = often", "mobility.rescan-interval");
    error("mobility.rescan-interval = 1ms", "mobility.rescan-interval");
  }

  @Test
  void idsAreWholePositiveNumbers() throws Exception {
    error("""
        mobility.iaps = [ { id = 1.5, name = a, interface = a0, bearer = wlan } ]
        """, "mobility.iaps[0].id");
    error("""
        mobility.iaps = [ { id = 0, name = a, interface = a0, bearer = wlan } ]
        """, "mobility.iaps[0].id");
  }

  @Test
  void bearerFilterAllowsItsBearersOnly() {
    for (Bearer bearer : Bearer.values()) {
      assertTrue(Bearer.allows(BearerFilter.ANY, bearer));
      assertEquals(bearer == Bearer.WLAN, Bearer.allows(BearerFilter.WLAN_ONLY, bearer));
      assertEquals(bearer == Bearer.CELLULAR, Bearer.allows(BearerFilter.CELLULAR_ONLY, bearer));
    }
    assertFalse(Bearer.allows(BearerFilter.WLAN_ONLY, Bearer.ETHERNET));
  }
}
