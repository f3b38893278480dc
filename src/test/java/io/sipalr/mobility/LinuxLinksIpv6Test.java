package io.sipalr.mobility;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which addresses of {@code ip -j addr show} make an uplink usable (no interfaces needed). */
class LinuxLinksIpv6Test {

  @Test
  void onlyStableGlobalIpv6AddressesCount() throws Exception {
    String json = """
        [{"ifname": "wwan0", "flags": ["UP", "LOWER_UP"], "operstate": "UP", "addr_info": [
          {"family": "inet6", "local": "2001:2::aaaa", "scope": "global", "temporary": true},
          {"family": "inet6", "local": "2001:2::bbbb", "scope": "global", "deprecated": true},
          {"family": "inet6", "local": "2001:2::cccc", "scope": "global", "tentative": true},
          {"family": "inet6", "local": "2001:2::10", "scope": "global", "mngtmpaddr": true},
          {"family": "inet6", "local": "fe80::1", "scope": "link"},
          {"family": "inet6", "local": "fd00::1", "scope": "site"}
        ]}]
        """;
    LinuxIapProvider.Link link = LinuxIapProvider.parseLinks(new ObjectMapper().readTree(json))
        .get("wwan0");
    assertEquals(List.of(InetAddress.getByName("2001:2::10")), link.addresses());
  }
}
