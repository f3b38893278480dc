package io.sipalr.sip;

import java.util.regex.Pattern;

/**
 * Takes SIP credentials out of text bound for a log: the value of every Authorization and
 * Proxy-Authorization header (folded lines included), wherever in a line it starts, and any
 * digest {@code response} or {@code cnonce} parameter left elsewhere (a parser's diagnostics, an
 * exception message). Every line the SIP stack's loggers emit goes through it, at any level.
 */
public final class LogMask {
  /** What a credential is replaced with. */
  public static final String MASK = "***";

  // The header name (kept), then the rest of its line and any folded continuation lines.
  private static final Pattern CREDENTIAL_HEADER = Pattern.compile(
      "(?i)((?:Proxy-)?Authorization[ \\t]*:)[^\\r\\n]*(?:\\r?\\n[ \\t]+[^\\r\\n]*)*");
  // Quoted as RFC 2617 writes them, or a bare hex digest: not "response = SIP/2.0 200 OK".
  private static final Pattern DIGEST_SECRET = Pattern.compile(
      "(?i)\\b(response|cnonce)([ \\t]*=[ \\t]*)(\"[^\"\\r\\n]*\"?|[0-9a-f]{8,}\\b)");

  private LogMask() {}

  /** {@code text} with every credential replaced by {@value #MASK}; null stays null. */
  public static String mask(String text) {
    if (text == null) {
      return null;
    }
    String masked = CREDENTIAL_HEADER.matcher(text).replaceAll("$1 " + MASK);
    return DIGEST_SECRET.matcher(masked).replaceAll("$1$2" + MASK);
  }

  /**
   * {@code t} itself when neither it nor a cause carries a credential in its message; otherwise
   * a stand-in with the same stack traces whose messages are masked (the original names its
   * class in the message).
   */
  public static Throwable mask(Throwable t) {
    if (t == null || !carriesCredentials(t, 0)) {
      return t;
    }
    return masked(t, 0);
  }

  private static boolean carriesCredentials(Throwable t, int depth) {
    for (Throwable c = t; c != null && depth < 20; c = c.getCause(), depth++) {
      String text = c.toString();
      if (!text.equals(mask(text))) {
        return true;
      }
    }
    return false;
  }

  private static Throwable masked(Throwable t, int depth) {
    Throwable cause = t.getCause() == null || depth >= 20 ? null : masked(t.getCause(), depth + 1);
    MaskedThrowable m = new MaskedThrowable(mask(t.toString()), cause);
    m.setStackTrace(t.getStackTrace());
    return m;
  }

  /** A throwable whose message had a credential: its class and masked message, its trace. */
  static final class MaskedThrowable extends Exception {
    private static final long serialVersionUID = 1L;

    MaskedThrowable(String originalWithMaskedMessage, Throwable cause) {
      super(originalWithMaskedMessage, cause, false, true);
    }
  }
}
