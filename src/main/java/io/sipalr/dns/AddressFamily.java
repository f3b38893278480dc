package io.sipalr.dns;

import java.net.Inet6Address;
import java.net.InetAddress;

/**
 * Which address records a lookup asks for: those the local address a request leaves from can
 * reach. A socket bound to an IPv4 address cannot send to an IPv6 one and the other way round;
 * only a wildcard address reaches both, and then IPv6 comes first (RFC 6724's default order).
 */
public enum AddressFamily {
  IPV4,
  IPV6,
  /** Both, IPv6 first. */
  BOTH;

  /** The family a socket bound to {@code local} can reach. */
  public static AddressFamily of(InetAddress local) {
    if (local.isAnyLocalAddress()) {
      return local instanceof Inet6Address ? BOTH : IPV4;
    }
    return local instanceof Inet6Address ? IPV6 : IPV4;
  }

  boolean accepts(InetAddress address) {
    return this == BOTH || (this == IPV6) == (address instanceof Inet6Address);
  }
}
