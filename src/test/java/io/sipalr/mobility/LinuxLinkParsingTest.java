package io.sipalr.mobility;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** How {@code ip -j addr show} output becomes links, without touching real interfaces. */
class LinuxLinkParsingTest {

  private static Map<String, LinuxIapProvider.Link> parse(String json) throws Exception {
    return LinuxIapProvider.parseLinks(new ObjectMapper().readTree(json));
  }

  @Test
  void upWithCarrierIsUsableAndUnknownOperstateCountsForLoopbackAndDummy() throws Exception {
    Map<String, LinuxIapProvider.Link> links = parse("""
        [{"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"operstate":"UNKNOWN",
          "addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host"},
                       {"family":"inet6","local":"::1","prefixlen":128,"scope":"host"}]},
         {"ifname":"wlan0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"operstate":"UP",
          "addr_info":[{"family":"inet","local":"198.19.1.2","prefixlen":24}]},
         {"ifname":"cell0","flags":["NO-CARRIER","BROADCAST","UP"],"operstate":"LOWERLAYERDOWN",
          "addr_info":[{"family":"inet","local":"198.19.2.2","prefixlen":24}]},
         {"ifname":"eth1","flags":["BROADCAST","MULTICAST"],"operstate":"DOWN","addr_info":[]},
         {"ifname":"odd0","flags":["UP"],"operstate":"UNKNOWN","addr_info":[]}]
        """);
    assertTrue(links.get("lo").usable());
    assertTrue(links.get("wlan0").usable());
    assertFalse(links.get("cell0").usable());
    assertFalse(links.get("eth1").usable());
    assertFalse(links.get("odd0").usable(), "UNKNOWN without LOWER_UP has no carrier");
    assertEquals(List.of(IpLiterals.parse("127.0.0.1"), IpLiterals.parse("::1")),
        links.get("lo").addresses());
  }

  @Test
  void linkLocalAndTentativeAddressesAreNotUsable() throws Exception {
    Map<String, LinuxIapProvider.Link> links = parse("""
        [{"ifname":"wlan0","flags":["UP","LOWER_UP"],"operstate":"UP",
          "addr_info":[{"family":"inet","local":"169.254.7.7","prefixlen":16,"scope":"link"},
                       {"family":"inet","local":"198.19.1.2","prefixlen":24},
                       {"family":"inet","local":"198.19.1.3","prefixlen":24,"secondary":true},
                       {"family":"inet6","local":"fe80::1","prefixlen":64,"scope":"link"},
                       {"family":"inet6","local":"2001:db8::1","prefixlen":64,"tentative":true}]}]
        """);
    assertEquals(List.of(IpLiterals.parse("198.19.1.2"), IpLiterals.parse("198.19.1.3")),
        links.get("wlan0").addresses());
  }

  @Test
  void ruleSourcePrefixCoversAddresses() {
    assertTrue(LinuxIapProvider.covers("198.19.0.1", 32, IpLiterals.parse("198.19.0.1")));
    assertFalse(LinuxIapProvider.covers("198.19.0.1", 32, IpLiterals.parse("198.19.0.2")));
    assertTrue(LinuxIapProvider.covers("198.19.0.0", 16, IpLiterals.parse("198.19.200.9")));
    assertFalse(LinuxIapProvider.covers("198.19.0.0", 16, IpLiterals.parse("198.18.0.9")));
    assertTrue(LinuxIapProvider.covers("198.19.0.0", 23, IpLiterals.parse("198.19.1.255")));
    assertFalse(LinuxIapProvider.covers("198.19.0.0", 23, IpLiterals.parse("198.19.2.0")));
    assertFalse(LinuxIapProvider.covers("::", 0, IpLiterals.parse("198.19.0.1")), "family");
    assertFalse(LinuxIapProvider.covers("all", 0, IpLiterals.parse("198.19.0.1")));
  }

  @Test
  void ipLiteralsNeverNeedDns() {
    assertEquals("127.0.0.2", IpLiterals.parse("127.0.0.2").getHostAddress());
    for (String bad : List.of("localhost", "1.2.3", "256.1.1.1", "zz:1", "wlan.example", "")) {
      try {
        IpLiterals.parse(bad);
        throw new AssertionError(bad + " parsed");
      } catch (IllegalArgumentException expected) {
        assertTrue(expected.getMessage().contains(bad), expected.getMessage());
      }
    }
  }
}
