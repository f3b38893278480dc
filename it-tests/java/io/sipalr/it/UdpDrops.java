package io.sipalr.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Datagrams the kernel dropped on each open UDP socket of this network namespace (the last
 * column of /proc/net/udp and /proc/net/udp6: a full receive buffer), by local "ip:port". A
 * counter lives as long as its socket. Java binds IPv4 addresses through IPv6 sockets
 * (::ffff:a.b.c.d), so both files are read. Empty where there is no /proc (not Linux).
 */
final class UdpDrops {
  private UdpDrops() {}

  static Map<String, Long> read() {
    Map<String, Long> drops = new HashMap<>();
    for (String file : List.of("/proc/net/udp", "/proc/net/udp6")) {
      List<String> lines;
      try {
        lines = Files.readAllLines(Path.of(file));
      } catch (IOException e) {
        continue;
      }
      for (String line : lines.subList(Math.min(1, lines.size()), lines.size())) {
        String[] f = line.trim().split("\\s+");
        if (f.length < 13) {
          continue;
        }
        String local = address(f[1]);
        if (local != null) {
          drops.merge(local, Long.parseLong(f[f.length - 1]), Long::sum);
        }
      }
    }
    return drops;
  }

  /** Drops on every socket bound to {@code ip} (any port). */
  static long onAddress(Map<String, Long> drops, String ip) {
    return drops.entrySet().stream().filter(e -> e.getKey().startsWith(ip + ":"))
        .mapToLong(Map.Entry::getValue).sum();
  }

  /** "0100007F:1F90" (IPv4, little-endian) or the IPv6 form of ::ffff:a.b.c.d; else null. */
  private static String address(String hex) {
    int colon = hex.indexOf(':');
    if (colon < 0) {
      return null;
    }
    String ip = hex.substring(0, colon);
    int port = Integer.parseInt(hex.substring(colon + 1), 16);
    if (ip.length() == 32) {
      if (!ip.startsWith("0000000000000000FFFF0000")) {
        return null; // a real IPv6 address: not ours
      }
      ip = ip.substring(24);
    }
    if (ip.length() != 8) {
      return null;
    }
    long v = Long.parseLong(ip, 16); // little-endian bytes
    return (v & 0xff) + "." + ((v >> 8) & 0xff) + "." + ((v >> 16) & 0xff) + "."
        + ((v >> 24) & 0xff) + ":" + port;
  }
}
