package io.sipalr.mobility;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.regex.Pattern;

/** IP address literals, parsed without ever asking DNS (a typo must not become a lookup). */
public final class IpLiterals {
  private static final String OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
  private static final Pattern IPV4 = Pattern.compile(OCTET + "(\\." + OCTET + "){3}");
  private static final Pattern IPV6 = Pattern.compile("[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*");

  private IpLiterals() {}

  /** The address {@code text} spells; IllegalArgumentException when it is not an IP literal. */
  public static InetAddress parse(String text) {
    // InetAddress.getByName parses text of these two shapes itself and never asks DNS.
    if (!IPV4.matcher(text).matches() && !IPV6.matcher(text).matches()) {
      throw new IllegalArgumentException("not an IP address: \"" + text + "\"");
    }
    try {
      return InetAddress.getByName(text);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("not an IP address: \"" + text + "\"");
    }
  }
}
