package io.sipalr.profile;

import java.util.Locale;

/**
 * The parts of a {@code sip:}/{@code sips:} URI the profile checks need, parsed by hand: the
 * messages can then say exactly what is wrong without echoing the URI, which may carry a
 * password in its user part.
 *
 * @param user the user part, or {@code null} when the URI has none
 * @param port the port, or {@code -1} when the URI has none
 */
record SipUri(String scheme, String user, String host, int port) {

  /** Why a string is not a SIP URI; the message never quotes the string. */
  static final class InvalidSipUri extends IllegalArgumentException {
    InvalidSipUri(String problem) {
      super(problem);
    }
  }

  static final String NOT_SIP = "must be a sip: or sips: URI";

  // RFC 3261 "unreserved" marks plus "user-unreserved"; '%' escapes are checked separately.
  private static final String USER_CHARS = "-_.!~*'()&=+$,;?/";
  // RFC 3261 "unreserved" marks plus "param-unreserved".
  private static final String PARAM_CHARS = "-_.!~*'()[]/:&+$";

  static SipUri parse(String text) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c <= ' ' || c == 0x7f) {
        throw new InvalidSipUri("must not contain spaces or control characters");
      }
    }
    int colon = text.indexOf(':');
    String scheme = colon < 0 ? "" : text.substring(0, colon).toLowerCase(Locale.ROOT);
    if (!scheme.equals("sip") && !scheme.equals("sips")) {
      throw new InvalidSipUri(NOT_SIP);
    }
    String rest = text.substring(colon + 1);
    String user = null;
    // '@' is not allowed anywhere but after the user part, so the first one ends it.
    int at = rest.indexOf('@');
    if (at >= 0) {
      String userInfo = rest.substring(0, at);
      if (userInfo.indexOf(':') >= 0) {
        // A password in a URI ends up in logs and on the wire; credentials go in their own fields.
        throw new InvalidSipUri("must not carry a password in the user part");
      }
      if (userInfo.isEmpty()) {
        throw new InvalidSipUri("has an empty user part before '@'");
      }
      checkChars(userInfo, USER_CHARS, "has a character not allowed in a SIP user part");
      user = userInfo;
      rest = rest.substring(at + 1);
    }
    if (rest.indexOf('?') >= 0) {
      throw new InvalidSipUri("must not have URI headers ('?...')");
    }
    int semicolon = rest.indexOf(';');
    String hostPort = semicolon < 0 ? rest : rest.substring(0, semicolon);
    if (semicolon >= 0) {
      checkParams(rest.substring(semicolon + 1));
    }
    String host;
    String portText = null;
    if (hostPort.startsWith("[")) {
      int close = hostPort.indexOf(']');
      if (close < 0) {
        throw new InvalidSipUri("has an IPv6 address without its closing ']'");
      }
      host = hostPort.substring(0, close + 1);
      checkIpv6(host.substring(1, close));
      String after = hostPort.substring(close + 1);
      if (!after.isEmpty()) {
        if (!after.startsWith(":")) {
          throw new InvalidSipUri("has text after the IPv6 address that is not a port");
        }
        portText = after.substring(1);
      }
    } else {
      int portColon = hostPort.indexOf(':');
      host = portColon < 0 ? hostPort : hostPort.substring(0, portColon);
      portText = portColon < 0 ? null : hostPort.substring(portColon + 1);
      checkHost(host);
    }
    return new SipUri(scheme, user, host, portText == null ? -1 : parsePort(portText));
  }

  /** The user part of {@code uri}, or {@code null} when it is not a SIP URI with one. */
  static String userPartOf(String uri) {
    if (uri == null) {
      return null;
    }
    try {
      return parse(uri).user();
    } catch (InvalidSipUri e) {
      return null;
    }
  }

  private static void checkHost(String host) {
    if (host.isEmpty()) {
      throw new InvalidSipUri("has no host");
    }
    String name = host.endsWith(".") ? host.substring(0, host.length() - 1) : host;
    String[] labels = name.split("\\.", -1);
    boolean allNumeric = true;
    for (String label : labels) {
      if (!label.matches("[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")) {
        throw new InvalidSipUri("has an invalid host (expected a host name or an IP address)");
      }
      allNumeric &= label.chars().allMatch(Character::isDigit);
    }
    if (allNumeric) {
      if (labels.length != 4 || host.endsWith(".")) {
        throw new InvalidSipUri("has an invalid IPv4 address");
      }
      for (String octet : labels) {
        if (octet.length() > 3 || Integer.parseInt(octet) > 255) {
          throw new InvalidSipUri("has an invalid IPv4 address");
        }
      }
    } else if (!Character.isLetter(labels[labels.length - 1].charAt(0))) {
      // RFC 3261 toplabel: the last label of a host name starts with a letter.
      throw new InvalidSipUri("has an invalid host (expected a host name or an IP address)");
    }
  }

  private static void checkIpv6(String address) {
    long colons = address.chars().filter(c -> c == ':').count();
    if (colons < 2 || !address.matches("[0-9A-Fa-f:.]+")) {
      throw new InvalidSipUri("has an invalid IPv6 address");
    }
  }

  private static int parsePort(String text) {
    if (!text.matches("[0-9]{1,5}")) {
      throw new InvalidSipUri("has an invalid port (expected 1..65535)");
    }
    int port = Integer.parseInt(text);
    if (port < 1 || port > 65535) {
      throw new InvalidSipUri("has port " + port + ", outside 1..65535");
    }
    return port;
  }

  private static void checkParams(String params) {
    for (String param : params.split(";", -1)) {
      int eq = param.indexOf('=');
      String name = eq < 0 ? param : param.substring(0, eq);
      if (name.isEmpty()) {
        throw new InvalidSipUri("has an empty URI parameter");
      }
      checkChars(name, PARAM_CHARS, "has a URI parameter with a character not allowed");
      if (eq >= 0) {
        String value = param.substring(eq + 1);
        if (value.isEmpty()) {
          throw new InvalidSipUri("has a URI parameter with an empty value");
        }
        checkChars(value, PARAM_CHARS, "has a URI parameter with a character not allowed");
      }
    }
  }

  private static void checkChars(String text, String allowedMarks, String problem) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '%') {
        if (i + 2 >= text.length() || !isHex(text.charAt(i + 1)) || !isHex(text.charAt(i + 2))) {
          throw new InvalidSipUri(problem + " (a '%' must start a %XX escape)");
        }
        i += 2;
      } else if (!isAsciiLetterOrDigit(c) && allowedMarks.indexOf(c) < 0) {
        throw new InvalidSipUri(problem);
      }
    }
  }

  private static boolean isAsciiLetterOrDigit(char c) {
    return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9';
  }

  private static boolean isHex(char c) {
    return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F';
  }
}
