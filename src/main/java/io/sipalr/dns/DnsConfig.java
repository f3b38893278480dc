package io.sipalr.dns;

import com.typesafe.config.Config;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;

/**
 * How registrars given by name are resolved (the {@code sip.dns} block; docs/registration.md,
 * "DNS and failover").
 *
 * @param nameserver the nameserver to ask, or {@code null} for the system's (/etc/resolv.conf)
 * @param timeout how long one query may wait for an answer before it counts as failed
 * @param resolveAfterMove after a move to another uplink, resolve again through it (a network
 *     whose DNS answers differently, such as an operator's split horizon), rather than keep
 *     using the answer got through the old one until its TTL runs out
 * @param cacheSize how many answers (name, port, transport, family) are cached at most
 */
public record DnsConfig(InetSocketAddress nameserver, Duration timeout, boolean resolveAfterMove,
    int cacheSize) {

  public static final DnsConfig DEFAULTS = new DnsConfig(null, Duration.ofSeconds(3), false,
      4096);

  public DnsConfig {
    if (timeout.toMillis() < 100) {
      throw new IllegalArgumentException("sip.dns.timeout: must be at least 100 ms");
    }
    if (cacheSize < 1) {
      throw new IllegalArgumentException("sip.dns.cache-size: must be at least 1");
    }
  }

  /** Reads {@code sip.dns}; every key has a default in reference.conf. */
  public static DnsConfig from(Config root) {
    Config c = root.getConfig("sip.dns");
    return new DnsConfig(nameserver(c.getString("nameserver")), c.getDuration("timeout"),
        c.getBoolean("resolve-after-move"), c.getInt("cache-size"));
  }

  /** "" for the system's; else an IP literal, optionally with a port (198.18.0.53:5353). */
  static InetSocketAddress nameserver(String text) {
    String t = text.trim();
    if (t.isEmpty()) {
      return null;
    }
    String host = t;
    int port = 53;
    if (t.startsWith("[")) {
      int end = t.indexOf(']');
      host = end < 0 ? t : t.substring(1, end);
      if (end >= 0 && end + 1 < t.length() && t.charAt(end + 1) == ':') {
        port = port(t.substring(end + 2), text);
      }
    } else if (t.indexOf(':') == t.lastIndexOf(':') && t.indexOf(':') >= 0) {
      host = t.substring(0, t.indexOf(':'));
      port = port(t.substring(t.indexOf(':') + 1), text);
    }
    InetAddress address = literal(host);
    if (address == null) {
      throw new IllegalArgumentException("sip.dns.nameserver: must be an IP address, optionally "
          + "with a port (198.18.0.53 or [2001:2::53]:53), or \"\" for the system's; was \""
          + text + "\"");
    }
    return new InetSocketAddress(address, port);
  }

  private static int port(String text, String whole) {
    try {
      int p = Integer.parseInt(text);
      if (p > 0 && p < 65536) {
        return p;
      }
    } catch (NumberFormatException e) {
      // below
    }
    throw new IllegalArgumentException("sip.dns.nameserver: bad port in \"" + whole + "\"");
  }

  /** An IPv4 or IPv6 literal, parsed without asking DNS; {@code null} for anything else. */
  public static InetAddress literal(String host) {
    String h = host.startsWith("[") && host.endsWith("]")
        ? host.substring(1, host.length() - 1) : host;
    byte[] bytes = org.xbill.DNS.Address.toByteArray(h, org.xbill.DNS.Address.IPv4);
    if (bytes == null) {
      bytes = org.xbill.DNS.Address.toByteArray(h, org.xbill.DNS.Address.IPv6);
    }
    try {
      return bytes == null ? null : InetAddress.getByAddress(h, bytes);
    } catch (UnknownHostException e) {
      return null;
    }
  }
}
