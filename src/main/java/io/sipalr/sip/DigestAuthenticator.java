package io.sipalr.sip;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Answers Digest challenges for one profile (RFC 3261 §22, RFC 7616) and keeps the last accepted
 * challenge, so that later requests carry credentials pre-emptively with an increasing nonce
 * count until the server challenges again.
 *
 * <p>Our own code rather than JAIN-SIP's AuthenticationHelper, which knows MD5 only. It works on
 * header values as strings so that it can be tested without a SIP stack.
 *
 * <p>How a request loop uses it:
 * <pre>{@code
 * if (auth.hasCredentials()) add Authorization: auth.authorization(method, requestUri)
 * on 401/407 with challenge header values v:
 *   if (auth.refusesCredentials(v))  -> wrong credentials: stop, do not loop
 *   else if (auth.accept(v).isPresent()) -> send again with auth.authorization(method, requestUri)
 *   else                               -> no challenge we can answer
 * }</pre>
 *
 * <p>Every method is synchronized: cheap at a profile's request rate, and it guarantees that two
 * requests never go out with the same nonce count.
 */
public final class DigestAuthenticator {

  private static final SecureRandom RANDOM = new SecureRandom();
  private static final HexFormat HEX = HexFormat.of();
  private static final int CNONCE_BYTES = 16;
  private static final String SESSION_SUFFIX = "-SESS";

  /**
   * Digest algorithm tokens (upper-cased, without "-sess") to JCA digest names; only those this
   * JVM provides, since a FIPS-restricted runtime may lack MD5.
   */
  private static final Map<String, String> DIGEST_BY_ALGORITHM = availableDigests(Map.of(
      "MD5", "MD5",
      "SHA-256", "SHA-256",
      "SHA-512-256", "SHA-512/256"));

  private final String username;
  private final String password;
  private final String realm;
  private final Supplier<String> cnonceSource;

  private DigestChallenge current;
  private long nonceCount;
  /** The one cnonce of a -sess challenge: see {@link #cnonceFor}. */
  private String sessionCnonce;

  /**
   * @param realmOrNull the realm to answer; {@code null} or blank answers whichever realm the
   *     server challenges with
   */
  public DigestAuthenticator(String username, String password, String realmOrNull) {
    this(username, password, realmOrNull, DigestAuthenticator::randomCnonce);
  }

  /** For tests: {@code cnonceSource} replaces the random client nonce. */
  DigestAuthenticator(String username, String password, String realmOrNull,
      Supplier<String> cnonceSource) {
    this.username = Objects.requireNonNull(username, "username");
    this.password = Objects.requireNonNull(password, "password");
    this.realm = realmOrNull == null || realmOrNull.isBlank() ? null : realmOrNull;
    this.cnonceSource = Objects.requireNonNull(cnonceSource, "cnonceSource");
    rejectControlCharacters(username, "username");
  }

  /**
   * True for the algorithms we answer: MD5, SHA-256 and SHA-512-256, each also as "-sess"
   * (RFC 7616 §3.4.2), compared case-insensitively.
   */
  public static boolean supports(String algorithm) {
    return algorithm != null && digestName(algorithm) != null;
  }

  /**
   * Takes the first challenge we can answer from all challenge header values of a 401/407, in
   * their order, and holds it as the current one with the nonce count back at zero.
   *
   * <p>A challenge is usable when its algorithm is supported, its realm is the configured one (if
   * any), and it offers qop "auth" or, for a non-session algorithm, no qop at all (RFC 2069
   * form). A challenge offering only "auth-int" is skipped: that needs the message body.
   *
   * @return the challenge now held, or empty when none was usable (the held one stays as it was)
   */
  public synchronized Optional<DigestChallenge> accept(List<String> challengeHeaderValues) {
    Optional<DigestChallenge> chosen = firstUsable(challengeHeaderValues);
    chosen.ifPresent(challenge -> {
      current = challenge;
      nonceCount = 0;
      sessionCnonce = null;
    });
    return chosen;
  }

  /**
   * Whether a 401/407 with these challenge header values means the server refused our
   * credentials, rather than only our nonce. Call it before {@link #accept}, which forgets what
   * was answered.
   *
   * <p>True when we had sent credentials for the held nonce and the server now challenges the
   * same realm without stale=true, or offers nothing we can answer. A stale challenge, or the
   * first challenge of all, is not a refusal: answer it silently.
   *
   * <p>A server that forgets its nonces (a restart) without setting stale looks the same as a
   * wrong password here; a caller that wants to ride that out may answer once more and give up
   * on the second refusal.
   */
  public synchronized boolean refusesCredentials(List<String> challengeHeaderValues) {
    if (current == null || nonceCount == 0) {
      return false;
    }
    Optional<DigestChallenge> next = firstUsable(challengeHeaderValues);
    return next.isEmpty() || (!next.get().stale() && next.get().realm().equals(current.realm()));
  }

  /** True when a challenge is held, so that requests can carry credentials pre-emptively. */
  public synchronized boolean hasCredentials() {
    return current != null;
  }

  /** The challenge held, if any. */
  public synchronized Optional<DigestChallenge> currentChallenge() {
    return Optional.ofNullable(current);
  }

  /** Forgets the held challenge, e.g. after a refusal or when the registrar changes. */
  public synchronized void reset() {
    current = null;
    nonceCount = 0;
    sessionCnonce = null;
  }

  /**
   * The Authorization (or Proxy-Authorization) header value answering the held challenge with
   * the next nonce count, e.g. {@code Digest username="alice", realm="example.com",
   * nonce="...", uri="sip:example.com", response="...", algorithm=MD5, cnonce="...", qop=auth,
   * nc=00000001, opaque="..."}. Without qop in the challenge it is the RFC 2069 form, which has
   * no cnonce, qop or nc.
   *
   * @param digestUri the Request-URI exactly as it goes on the request line
   * @throws IllegalStateException when no challenge is held
   */
  public synchronized String authorization(String method, String digestUri) {
    Objects.requireNonNull(method, "method");
    Objects.requireNonNull(digestUri, "digestUri");
    rejectControlCharacters(digestUri, "digestUri"); // before the nonce count moves
    if (current == null) {
      throw new IllegalStateException("no Digest challenge held");
    }
    nonceCount++;
    boolean withQop = current.offersQopAuth();
    String nc = withQop ? String.format("%08x", nonceCount) : null;
    String cnonce = withQop ? cnonceFor(current) : null;
    String qop = withQop ? "auth" : null;
    String response = response(current.algorithm(), username, current.realm(), password, method,
        digestUri, current.nonce(), nc, cnonce, qop);

    StringBuilder header = new StringBuilder("Digest ")
        .append("username=").append(quoted(username, "username"))
        .append(", realm=").append(quoted(current.realm(), "realm"))
        .append(", nonce=").append(quoted(current.nonce(), "nonce"))
        .append(", uri=").append(quoted(digestUri, "digestUri"))
        .append(", response=\"").append(response).append('"')
        // supports() only admits known algorithm tokens, so this is safe to echo unquoted
        .append(", algorithm=").append(current.algorithm());
    if (withQop) {
      header.append(", cnonce=").append(quoted(cnonce, "cnonce"))
          .append(", qop=").append(qop)
          .append(", nc=").append(nc);
    }
    if (current.opaque() != null) {
      header.append(", opaque=").append(quoted(current.opaque(), "opaque"));
    }
    return header.toString();
  }

  /**
   * The request-digest in lower-case hex (RFC 7616 §3.4.1, RFC 2617 §3.2.2.1):
   * {@code H(H(A1) ":" nonce ":" nc ":" cnonce ":" qop ":" H(A2))}, or
   * {@code H(H(A1) ":" nonce ":" H(A2))} when {@code qop} is null (RFC 2069), with
   * {@code A1 = username ":" realm ":" password} — for "-sess" algorithms
   * {@code H(that) ":" nonce ":" cnonce} (§3.4.2) — and {@code A2 = method ":" uri}.
   * All strings are hashed as UTF-8.
   *
   * @param nc ignored without qop
   * @param cnonce needed with qop and for -sess algorithms
   * @param qop "auth" or null; "auth-int" is not supported
   */
  public static String response(String algorithm, String username, String realm,
      String password, String method, String uri, String nonce, String nc, String cnonce,
      String qop) {
    Objects.requireNonNull(algorithm, "algorithm");
    Objects.requireNonNull(username, "username");
    Objects.requireNonNull(realm, "realm");
    Objects.requireNonNull(password, "password");
    Objects.requireNonNull(method, "method");
    Objects.requireNonNull(uri, "uri");
    Objects.requireNonNull(nonce, "nonce");
    String digestName = digestName(algorithm);
    if (digestName == null) {
      throw new IllegalArgumentException("unsupported Digest algorithm: " + algorithm);
    }
    if (qop != null && !qop.equalsIgnoreCase("auth")) {
      throw new IllegalArgumentException("unsupported qop: " + qop);
    }
    boolean session = isSession(algorithm);
    if ((qop != null || session) && cnonce == null) {
      throw new IllegalArgumentException("a cnonce is needed with qop or a -sess algorithm");
    }
    if (qop != null && nc == null) {
      throw new IllegalArgumentException("a nonce count is needed with qop");
    }

    String ha1 = hexHash(digestName, username + ":" + realm + ":" + password);
    if (session) {
      ha1 = hexHash(digestName, ha1 + ":" + nonce + ":" + cnonce);
    }
    String ha2 = hexHash(digestName, method + ":" + uri);
    return qop == null
        ? hexHash(digestName, ha1 + ":" + nonce + ":" + ha2)
        : hexHash(digestName, ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":" + qop + ":" + ha2);
  }

  /** Names the user and realm only: the password never reaches a log line. */
  @Override
  public String toString() {
    return "DigestAuthenticator[username=" + username + ", realm=" + realm + "]";
  }

  private Optional<DigestChallenge> firstUsable(List<String> challengeHeaderValues) {
    Objects.requireNonNull(challengeHeaderValues, "challengeHeaderValues");
    for (String value : challengeHeaderValues) {
      Optional<DigestChallenge> challenge = DigestChallenge.parse(value).filter(this::isUsable);
      if (challenge.isPresent()) {
        return challenge;
      }
    }
    return Optional.empty();
  }

  private boolean isUsable(DigestChallenge challenge) {
    if (!supports(challenge.algorithm())) {
      return false;
    }
    if (realm != null && !realm.equals(challenge.realm())) {
      return false; // realms compare exactly (RFC 7616 §3.3: a quoted string)
    }
    // -sess needs a cnonce, and only the qop form carries one
    return challenge.offersQopAuth()
        || (challenge.qop().isEmpty() && !isSession(challenge.algorithm()));
  }

  /**
   * A fresh cnonce for every request, except with -sess: RFC 2617 §3.2.2.2 keys the session with
   * the cnonce of the first request, while many servers use each request's own. Keeping one
   * cnonce per nonce makes both readings compute the same session key.
   */
  private String cnonceFor(DigestChallenge challenge) {
    if (!isSession(challenge.algorithm())) {
      return cnonceSource.get();
    }
    if (sessionCnonce == null) {
      sessionCnonce = cnonceSource.get();
    }
    return sessionCnonce;
  }

  private static String randomCnonce() {
    byte[] bytes = new byte[CNONCE_BYTES];
    RANDOM.nextBytes(bytes);
    return HEX.formatHex(bytes);
  }

  private static boolean isSession(String algorithm) {
    return algorithm.toUpperCase(Locale.ROOT).endsWith(SESSION_SUFFIX);
  }

  private static String digestName(String algorithm) {
    String base = algorithm.toUpperCase(Locale.ROOT);
    if (base.endsWith(SESSION_SUFFIX)) {
      base = base.substring(0, base.length() - SESSION_SUFFIX.length());
    }
    return DIGEST_BY_ALGORITHM.get(base);
  }

  private static String hexHash(String digestName, String data) {
    try {
      MessageDigest digest = MessageDigest.getInstance(digestName);
      return HEX.formatHex(digest.digest(data.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      // checked when the class loaded
      throw new IllegalStateException("digest vanished: " + digestName, e);
    }
  }

  private static Map<String, String> availableDigests(Map<String, String> candidates) {
    Map<String, String> available = new HashMap<>();
    candidates.forEach((algorithm, digestName) -> {
      try {
        MessageDigest.getInstance(digestName);
        available.put(algorithm, digestName);
      } catch (NoSuchAlgorithmException e) {
        // not offered by this JVM: supports() says false
      }
    });
    return Map.copyOf(available);
  }

  /** Header values cannot hold control characters; quoting does not help there. */
  private static void rejectControlCharacters(String value, String what) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        throw new IllegalArgumentException(what + " contains a control character");
      }
    }
  }

  /** A quoted-string: {@code "} and {@code \} escaped (RFC 3261 §25.1). */
  private static String quoted(String value, String what) {
    rejectControlCharacters(value, what);
    StringBuilder out = new StringBuilder(value.length() + 2).append('"');
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c == '"' || c == '\\') {
        out.append('\\');
      }
      out.append(c);
    }
    return out.append('"').toString();
  }
}
