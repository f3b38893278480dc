package io.sipalr.dns;

import java.net.InetAddress;
import java.util.Locale;
import java.util.Objects;

/**
 * One server a SIP request can go to (RFC 3263 §4): a resolved address, port and transport,
 * and the name it was found under (the SRV target, or the URI's host).
 *
 * @param name the host name the address belongs to, or the literal itself
 * @param address the resolved address
 * @param port the port (from SRV, the URI, or the transport's default)
 * @param transport "udp", "tcp" or "tls" (lower case, as in a SIP URI)
 */
public record SipTarget(String name, InetAddress address, int port, String transport) {

  public SipTarget {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(address, "address");
    transport = transport.toLowerCase(Locale.ROOT);
  }

  /** The address as an IP literal without brackets or scope, as the SIP stack's hop takes it. */
  public String host() {
    String text = address.getHostAddress();
    int scope = text.indexOf('%');
    return scope < 0 ? text : text.substring(0, scope);
  }

  /** address:port, an IPv6 address in brackets. */
  public String hostPort() {
    String host = host();
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }

  public boolean ipv6() {
    return address instanceof java.net.Inet6Address;
  }

  @Override
  public String toString() {
    return name + " (" + hostPort() + "/" + transport + ")";
  }
}
