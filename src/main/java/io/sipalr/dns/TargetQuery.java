package io.sipalr.dns;

import java.net.InetAddress;
import java.util.Locale;
import java.util.Objects;

/**
 * What to resolve (RFC 3263 §4): the next hop's host, and what its URI and the profile fix.
 *
 * @param host the URI's host: a name, or an IP literal (IPv6 with or without brackets)
 * @param port the URI's port, or -1 when it has none
 * @param transport the transport the profile or URI fixes ("udp", "tcp", "tls"), or
 *     {@code null} to choose it from NAPTR and SRV
 * @param secure a {@code sips:} URI: only TLS will do
 * @param family the address families the sending socket can reach
 * @param via the local address to send the queries from (an uplink's), or {@code null} for the
 *     system's routing
 */
public record TargetQuery(String host, int port, String transport, boolean secure,
    AddressFamily family, InetAddress via) {

  public TargetQuery {
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(family, "family");
    host = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1)
        : host;
    host = host.toLowerCase(Locale.ROOT);
    transport = transport == null ? null : transport.toLowerCase(Locale.ROOT);
  }
}
