package io.sipalr.sip;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * One Digest challenge, as a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate) carries it
 * (RFC 3261 §22.4, RFC 7616 §3.3). Values are unquoted and unescaped.
 *
 * @param opaque the value to echo back, or {@code null} when the server sent none
 * @param algorithm as the server spelled it; "MD5" when absent. Compare it case-insensitively.
 * @param qop the offered qop values, lower-cased; empty when the server offered none (RFC 2069)
 * @param stale true when the server refused only the nonce, not the credentials
 */
public record DigestChallenge(
    String realm, String nonce, String opaque, String algorithm, List<String> qop, boolean stale) {

  private static final String DEFAULT_ALGORITHM = "MD5";

  public DigestChallenge {
    Objects.requireNonNull(realm, "realm");
    Objects.requireNonNull(nonce, "nonce");
    algorithm = algorithm == null ? DEFAULT_ALGORITHM : algorithm;
    qop = qop == null ? List.of() : List.copyOf(qop);
  }

  /** True when the server accepts qop=auth (the only qop we answer: auth-int needs the body). */
  public boolean offersQopAuth() {
    return qop.contains("auth");
  }

  /**
   * Parses the value of one WWW-Authenticate or Proxy-Authenticate header.
   *
   * <p>Empty when the scheme is not Digest, when realm or nonce is missing, or when the value is
   * malformed (unterminated quote, a control character inside a value). Parameter names are
   * case-insensitive; the first occurrence of a repeated parameter wins. In SIP each challenge
   * is its own header field, so parsing stops at anything that looks like a second challenge
   * ({@code , Basic realm=...}).
   */
  public static Optional<DigestChallenge> parse(String headerValue) {
    if (headerValue == null) {
      return Optional.empty();
    }
    Cursor in = new Cursor(headerValue);
    in.skipWhitespace();
    String scheme = in.token();
    if (!scheme.equalsIgnoreCase("Digest")) {
      return Optional.empty();
    }
    Map<String, String> params = new HashMap<>();
    while (true) {
      in.skipWhitespaceAndCommas();
      if (in.atEnd()) {
        break;
      }
      String name = in.token();
      if (name.isEmpty()) {
        return Optional.empty();
      }
      in.skipWhitespace();
      if (!in.consume('=')) {
        break; // a token without "=" starts another challenge
      }
      in.skipWhitespace();
      String value = in.peek() == '"' ? in.quotedString() : in.bareValue();
      if (value == null) {
        return Optional.empty();
      }
      in.skipWhitespace();
      if (!in.atEnd() && in.peek() != ',') {
        return Optional.empty();
      }
      params.putIfAbsent(name.toLowerCase(Locale.ROOT), value);
    }

    String realm = params.get("realm");
    String nonce = params.get("nonce");
    if (realm == null || nonce == null || nonce.isEmpty()) {
      return Optional.empty();
    }
    boolean stale = "true".equalsIgnoreCase(params.get("stale"));
    return Optional.of(new DigestChallenge(realm, nonce, params.get("opaque"),
        params.get("algorithm"), qopList(params.get("qop")), stale));
  }

  private static List<String> qopList(String qopValue) {
    List<String> values = new ArrayList<>();
    if (qopValue != null) {
      for (String part : qopValue.split(",")) {
        String value = part.trim().toLowerCase(Locale.ROOT);
        if (!value.isEmpty() && !values.contains(value)) {
          values.add(value);
        }
      }
    }
    return values;
  }

  /** A read position in a header value; just enough of RFC 7230/3261 auth-param syntax. */
  private static final class Cursor {
    private final String text;
    private int pos;

    Cursor(String text) {
      this.text = text;
    }

    boolean atEnd() {
      return pos >= text.length();
    }

    char peek() {
      return atEnd() ? '\0' : text.charAt(pos);
    }

    boolean consume(char expected) {
      if (!atEnd() && text.charAt(pos) == expected) {
        pos++;
        return true;
      }
      return false;
    }

    // CR and LF count too: a folded header may reach us unfolded or not.
    void skipWhitespace() {
      while (!atEnd() && isWhitespace(text.charAt(pos))) {
        pos++;
      }
    }

    void skipWhitespaceAndCommas() {
      while (!atEnd() && (isWhitespace(text.charAt(pos)) || text.charAt(pos) == ',')) {
        pos++;
      }
    }

    String token() {
      int start = pos;
      while (!atEnd() && isTokenChar(text.charAt(pos))) {
        pos++;
      }
      return text.substring(start, pos);
    }

    /**
     * An unquoted value, up to the next comma or whitespace. Looser than a token on purpose:
     * some servers send unquoted base64 nonces with "/" and "=" in them.
     */
    String bareValue() {
      int start = pos;
      while (!atEnd() && text.charAt(pos) != ',' && !isWhitespace(text.charAt(pos))) {
        if (isControl(text.charAt(pos)) || text.charAt(pos) == '"') {
          return null;
        }
        pos++;
      }
      return pos == start ? null : text.substring(start, pos);
    }

    /** The unescaped content of a quoted-string at the cursor; null when malformed. */
    String quotedString() {
      pos++; // the opening quote
      StringBuilder value = new StringBuilder();
      while (!atEnd()) {
        char c = text.charAt(pos++);
        if (c == '"') {
          return value.toString();
        }
        if (c == '\\') {
          if (atEnd()) {
            return null;
          }
          c = text.charAt(pos++);
        }
        if (isControl(c)) {
          return null;
        }
        value.append(c);
      }
      return null; // unterminated
    }

    private static boolean isWhitespace(char c) {
      return c == ' ' || c == '\t' || c == '\r' || c == '\n';
    }

    private static boolean isControl(char c) {
      return (c < 0x20 && c != '\t') || c == 0x7f;
    }

    // tchar of RFC 7230 §3.2.6
    private static boolean isTokenChar(char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
    }
  }
}
