package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullSource;
import org.junit.jupiter.params.provider.ValueSource;

class DigestAuthenticatorTest {

  // RFC 7616 §3.9.1
  private static final String RFC7616_USER = "Mufasa";
  private static final String RFC7616_PASSWORD = "Circle of Life";
  private static final String RFC7616_REALM = "http-auth@example.org";
  private static final String RFC7616_URI = "/dir/index.html";
  private static final String RFC7616_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
  private static final String RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
  private static final String RFC7616_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";
  private static final String RFC7616_MD5_RESPONSE = "8ca523f5e9506fed4657c9700eebdbec";
  private static final String RFC7616_SHA256_RESPONSE =
      "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1";

  // RFC 2617 §3.5
  private static final String RFC2617_PASSWORD = "Circle Of Life";
  private static final String RFC2617_REALM = "testrealm@host.com";
  private static final String RFC2617_NONCE = "dcd98b7102dd2f0e8b11d0f600bfb0c093";
  private static final String RFC2617_OPAQUE = "5ccc069c403ebaf9f0171e9517f40e41";
  private static final String RFC2617_CNONCE = "0a4f113b";
  private static final String RFC2617_RESPONSE = "6629fae49393a05397450978507c4ef1";

  private static String rfc7616Challenge(String algorithm) {
    return "Digest realm=\"" + RFC7616_REALM + "\", qop=\"auth, auth-int\", algorithm=" + algorithm
        + ", nonce=\"" + RFC7616_NONCE + "\", opaque=\"" + RFC7616_OPAQUE + "\"";
  }

  private static final String RFC2617_CHALLENGE = "Digest realm=\"" + RFC2617_REALM + "\", "
      + "qop=\"auth,auth-int\", nonce=\"" + RFC2617_NONCE + "\", opaque=\"" + RFC2617_OPAQUE + "\"";

  /** Hands out the given cnonces in order, then fails. */
  private static Supplier<String> cnonces(String... values) {
    Deque<String> queue = new ArrayDeque<>(List.of(values));
    return () -> {
      if (queue.isEmpty()) {
        throw new AssertionError("more cnonces asked for than expected");
      }
      return queue.removeFirst();
    };
  }

  /** A parameter of a produced header, unescaped, and whether it was a quoted-string. */
  private record Param(String value, boolean quoted) {}

  private static final Pattern PARAM =
      Pattern.compile("\\G(?:, )?([A-Za-z-]+)=(?:\"((?:[^\"\\\\]|\\\\.)*)\"|([^,\\s\"]+))");

  /** Parses an Authorization value strictly in the form we produce: "Digest a=b, c=\"d\"". */
  private static Map<String, Param> params(String header) {
    assertTrue(header.startsWith("Digest "), header);
    String rest = header.substring("Digest ".length());
    Map<String, Param> params = new LinkedHashMap<>();
    Matcher m = PARAM.matcher(rest);
    int end = 0;
    while (m.find()) {
      Param param = m.group(2) != null
          ? new Param(m.group(2).replaceAll("\\\\(.)", "$1"), true)
          : new Param(m.group(3), false);
      assertNull(params.put(m.group(1), param), () -> "repeated " + m.group(1));
      end = m.end();
    }
    assertEquals(rest.length(), end, () -> "unparsed tail in " + header);
    return params;
  }

  private static void assertQuoted(String expected, Param param) {
    assertEquals(new Param(expected, true), param);
  }

  private static void assertToken(String expected, Param param) {
    assertEquals(new Param(expected, false), param);
  }

  // --- response(): published test vectors

  @Test
  void rfc7616Md5Response() {
    assertEquals(RFC7616_MD5_RESPONSE, DigestAuthenticator.response("MD5", RFC7616_USER,
        RFC7616_REALM, RFC7616_PASSWORD, "GET", RFC7616_URI, RFC7616_NONCE, "00000001",
        RFC7616_CNONCE, "auth"));
  }

  @Test
  void rfc7616Sha256Response() {
    assertEquals(RFC7616_SHA256_RESPONSE, DigestAuthenticator.response("SHA-256", RFC7616_USER,
        RFC7616_REALM, RFC7616_PASSWORD, "GET", RFC7616_URI, RFC7616_NONCE, "00000001",
        RFC7616_CNONCE, "auth"));
  }

  @Test
  void rfc2617Md5Response() {
    assertEquals(RFC2617_RESPONSE, DigestAuthenticator.response("MD5", "Mufasa", RFC2617_REALM,
        RFC2617_PASSWORD, "GET", "/dir/index.html", RFC2617_NONCE, "00000001", RFC2617_CNONCE,
        "auth"));
  }

  @Test
  void rfc7616Sha512_256ResponseAsCorrectedByErratum4897() {
    // §3.9.2 prints ae66e67d…, which no implementation reproduces; erratum 4897 corrects it.
    // The userhash in that example changes the username field only, not the response.
    assertEquals("3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5",
        DigestAuthenticator.response("SHA-512-256", "J\u00e4s\u00f8n Doe", "api@example.org",
            "Secret, or not?", "GET", "/doe.json", "5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK",
            "00000001", "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v", "auth"));
  }

  // The expected values below were computed independently with Python's hashlib.

  @Test
  void sessionAlgorithmsHashNonceAndCnonceIntoA1() {
    assertEquals("e783283f46242139c486a698fec7211d", DigestAuthenticator.response("MD5-sess",
        RFC7616_USER, RFC7616_REALM, RFC7616_PASSWORD, "GET", RFC7616_URI, RFC7616_NONCE,
        "00000001", RFC7616_CNONCE, "auth"));
    assertEquals("2fd51b3a77ad75bad6afad6003e818d767133c46d9e2749e7f5232ae1ea3efd7",
        DigestAuthenticator.response("SHA-256-sess", RFC7616_USER, RFC7616_REALM,
            RFC7616_PASSWORD, "GET", RFC7616_URI, RFC7616_NONCE, "00000001", RFC7616_CNONCE,
            "auth"));
    assertEquals("3f2a34f923c38b0fb26dce2fdfc2ce326c23cecf86fbb1444f3e51fbbc2cb92e",
        DigestAuthenticator.response("SHA-512-256-sess", RFC7616_USER, RFC7616_REALM,
            RFC7616_PASSWORD, "GET", RFC7616_URI, RFC7616_NONCE, "00000001", RFC7616_CNONCE,
            "auth"));
  }

  @Test
  void rfc2069ResponseWithoutQop() {
    assertEquals("670fd8c2df070c60b045671b8b24ff02", DigestAuthenticator.response("MD5",
        "Mufasa", RFC2617_REALM, RFC2617_PASSWORD, "GET", "/dir/index.html", RFC2617_NONCE,
        null, null, null));
  }

  @Test
  void algorithmNamesCompareCaseInsensitively() {
    assertEquals(RFC7616_SHA256_RESPONSE, DigestAuthenticator.response("sha-256", RFC7616_USER,
        RFC7616_REALM, RFC7616_PASSWORD, "GET", RFC7616_URI, RFC7616_NONCE, "00000001",
        RFC7616_CNONCE, "auth"));
  }

  @Test
  void responseRefusesWhatItCannotComputeWithoutRevealingThePassword() {
    IllegalArgumentException algorithm = assertThrows(IllegalArgumentException.class,
        () -> DigestAuthenticator.response("SHA-1", "u", "r", "hunter2", "GET", "/", "n",
            "00000001", "c", "auth"));
    IllegalArgumentException authInt = assertThrows(IllegalArgumentException.class,
        () -> DigestAuthenticator.response("MD5", "u", "r", "hunter2", "GET", "/", "n",
            "00000001", "c", "auth-int"));
    IllegalArgumentException sessWithoutCnonce = assertThrows(IllegalArgumentException.class,
        () -> DigestAuthenticator.response("MD5-sess", "u", "r", "hunter2", "GET", "/", "n",
            null, null, null));
    for (Exception e : List.of(algorithm, authInt, sessWithoutCnonce)) {
      assertFalse(e.getMessage().contains("hunter2"), e.getMessage());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"MD5", "md5", "MD5-sess", "SHA-256", "sha-256", "SHA-256-sess",
      "SHA-512-256", "sha-512-256-SESS"})
  void supportsMd5Sha256AndSha512_256WithSessionVariants(String algorithm) {
    assertTrue(DigestAuthenticator.supports(algorithm));
  }

  @ParameterizedTest
  @NullSource
  @ValueSource(strings = {"", "SHA-1", "SHA-512", "SHA-512/256", "AKAv1-MD5", "AKAv2-SHA-256",
      "-sess", "MD5-sessx"})
  void supportsNothingElse(String algorithm) {
    assertFalse(DigestAuthenticator.supports(algorithm));
  }

  // --- accept() + authorization(): the whole path

  @Test
  void rfc7616Sha256ThroughAcceptAndAuthorization() {
    DigestAuthenticator auth =
        new DigestAuthenticator(RFC7616_USER, RFC7616_PASSWORD, null, cnonces(RFC7616_CNONCE));

    // the RFC's 401 lists SHA-256 first, then MD5
    DigestChallenge held =
        auth.accept(List.of(rfc7616Challenge("SHA-256"), rfc7616Challenge("MD5"))).orElseThrow();
    assertEquals("SHA-256", held.algorithm());

    Map<String, Param> p = params(auth.authorization("GET", RFC7616_URI));
    assertQuoted(RFC7616_USER, p.get("username"));
    assertQuoted(RFC7616_REALM, p.get("realm"));
    assertQuoted(RFC7616_NONCE, p.get("nonce"));
    assertQuoted(RFC7616_URI, p.get("uri"));
    assertQuoted(RFC7616_SHA256_RESPONSE, p.get("response"));
    assertToken("SHA-256", p.get("algorithm"));
    assertQuoted(RFC7616_CNONCE, p.get("cnonce"));
    assertToken("auth", p.get("qop"));
    assertToken("00000001", p.get("nc"));
    assertQuoted(RFC7616_OPAQUE, p.get("opaque"));
    assertEquals(10, p.size(), p::toString);
  }

  @Test
  void rfc7616Md5ThroughAcceptAndAuthorization() {
    DigestAuthenticator auth =
        new DigestAuthenticator(RFC7616_USER, RFC7616_PASSWORD, null, cnonces(RFC7616_CNONCE));
    auth.accept(List.of(rfc7616Challenge("MD5"))).orElseThrow();

    Map<String, Param> p = params(auth.authorization("GET", RFC7616_URI));
    assertQuoted(RFC7616_MD5_RESPONSE, p.get("response"));
    assertToken("MD5", p.get("algorithm"));
    assertQuoted(RFC7616_CNONCE, p.get("cnonce"));
    assertToken("auth", p.get("qop"));
    assertToken("00000001", p.get("nc"));
    assertQuoted(RFC7616_OPAQUE, p.get("opaque"));
  }

  @Test
  void rfc2617ThroughAcceptAndAuthorization() {
    DigestAuthenticator auth =
        new DigestAuthenticator("Mufasa", RFC2617_PASSWORD, RFC2617_REALM, cnonces(RFC2617_CNONCE));
    DigestChallenge held = auth.accept(List.of(RFC2617_CHALLENGE)).orElseThrow();
    assertEquals("MD5", held.algorithm()); // no algorithm parameter: the default

    Map<String, Param> p = params(auth.authorization("GET", "/dir/index.html"));
    assertQuoted("Mufasa", p.get("username"));
    assertQuoted(RFC2617_REALM, p.get("realm"));
    assertQuoted(RFC2617_NONCE, p.get("nonce"));
    assertQuoted("/dir/index.html", p.get("uri"));
    assertQuoted(RFC2617_RESPONSE, p.get("response"));
    assertQuoted(RFC2617_CNONCE, p.get("cnonce"));
    assertToken("auth", p.get("qop"));
    assertToken("00000001", p.get("nc"));
    assertQuoted(RFC2617_OPAQUE, p.get("opaque"));
  }

  @Test
  void withoutQopTheHeaderTakesTheRfc2069Form() {
    DigestAuthenticator auth = new DigestAuthenticator("Mufasa", RFC2617_PASSWORD, null,
        cnonces()); // no cnonce may be drawn
    auth.accept(List.of("Digest realm=\"" + RFC2617_REALM + "\", nonce=\"" + RFC2617_NONCE + "\""))
        .orElseThrow();

    Map<String, Param> p = params(auth.authorization("GET", "/dir/index.html"));
    assertQuoted("670fd8c2df070c60b045671b8b24ff02", p.get("response"));
    assertEquals(Set.of("username", "realm", "nonce", "uri", "response", "algorithm"), p.keySet());
  }

  @Test
  void sha512_256ThroughAcceptAndAuthorization() {
    DigestAuthenticator auth =
        new DigestAuthenticator(RFC7616_USER, RFC7616_PASSWORD, null, cnonces(RFC7616_CNONCE));
    auth.accept(List.of(rfc7616Challenge("SHA-512-256"))).orElseThrow();

    Map<String, Param> p = params(auth.authorization("GET", RFC7616_URI));
    // computed independently with Python's hashlib.sha512_256
    assertQuoted("430d05014cecc49cab6fbe03176d41a1da86cbfe24a16580e22aaad928d960d0",
        p.get("response"));
    assertToken("SHA-512-256", p.get("algorithm"));
  }

  @Test
  void takesTheFirstChallengeWithASupportedAlgorithm() {
    DigestAuthenticator auth = new DigestAuthenticator("alice", "secret", null, cnonces("c1"));
    List<String> challenges = List.of(
        "Digest realm=\"ims\", nonce=\"aka\", algorithm=AKAv1-MD5, qop=\"auth\"",
        "Digest realm=\"r\", nonce=\"sha1\", algorithm=SHA-1, qop=\"auth\"",
        "Basic realm=\"r\"",
        "Digest realm=\"r\", nonce=\"int-only\", algorithm=SHA-256, qop=\"auth-int\"",
        "Digest realm=\"r\", nonce=\"sess-without-qop\", algorithm=MD5-sess",
        "Digest realm=\"r\", nonce=\"sha256\", algorithm=SHA-256, qop=\"auth\"",
        "Digest realm=\"r\", nonce=\"md5\", qop=\"auth\"");

    assertEquals("sha256", auth.accept(challenges).orElseThrow().nonce());
    assertToken("SHA-256", params(auth.authorization("REGISTER", "sip:r")).get("algorithm"));
  }

  @Test
  void aConfiguredRealmSkipsChallengesForOtherRealms() {
    DigestAuthenticator auth = new DigestAuthenticator("alice", "secret", "home.example");

    DigestChallenge held = auth.accept(List.of(
        "Digest realm=\"proxy.example\", nonce=\"p\", qop=\"auth\"",
        "Digest realm=\"HOME.example\", nonce=\"case\", qop=\"auth\"",
        "Digest realm=\"home.example\", nonce=\"h\", qop=\"auth\"")).orElseThrow();
    assertEquals("h", held.nonce());
  }

  @Test
  void nothingUsableLeavesNoCredentials() {
    DigestAuthenticator auth = new DigestAuthenticator("alice", "secret", "home.example");

    assertTrue(auth.accept(List.of("Digest realm=\"other\", nonce=\"n\"",
        "Digest realm=\"home.example\", nonce=\"n\", algorithm=AKAv1-MD5")).isEmpty());
    assertFalse(auth.hasCredentials());
    assertThrows(IllegalStateException.class, () -> auth.authorization("REGISTER", "sip:x"));
  }

  @Test
  void nonceCountRisesWithAFreshCnonceEachTimeAndTheNonceKept() {
    DigestAuthenticator auth = new DigestAuthenticator("alice", "secret", null,
        cnonces("c1", "c2", "c3", "c4"));
    auth.accept(List.of("Digest realm=\"r\", nonce=\"n1\", qop=\"auth\", algorithm=SHA-256"));

    for (int i = 1; i <= 3; i++) {
      Map<String, Param> p = params(auth.authorization("REGISTER", "sip:r"));
      String nc = String.format("%08x", i);
      assertToken(nc, p.get("nc"));
      assertQuoted("c" + i, p.get("cnonce"));
      assertQuoted("n1", p.get("nonce"));
      assertQuoted(DigestAuthenticator.response("SHA-256", "alice", "r", "secret", "REGISTER",
          "sip:r", "n1", nc, "c" + i, "auth"), p.get("response"));
    }

    // a new challenge: new nonce, count back to 1
    auth.accept(List.of("Digest realm=\"r\", nonce=\"n2\", qop=\"auth\", algorithm=SHA-256"));
    Map<String, Param> p = params(auth.authorization("REGISTER", "sip:r"));
    assertToken("00000001", p.get("nc"));
    assertQuoted("n2", p.get("nonce"));
    assertQuoted("c4", p.get("cnonce"));
  }

  @Test
  void nonceCountIsHexadecimal() {
    DigestAuthenticator auth = new DigestAuthenticator("alice", "secret", null);
    auth.accept(List.of("Digest realm=\"r\", nonce=\"n\", qop=\"auth\""));
    String nc = null;
    for (int i = 0; i < 26; i++) {
      nc = params(auth.authorization("REGISTER", "sip:r")).get("nc").value();
    }
    assertEquals("0000001a", nc);
  }

  @Test
  void sessionAlgorithmsKeepOneCnoncePerNonce() {
    DigestAuthenticator auth = new DigestAuthenticator("alice", "secret", null,
        cnonces("session-1", "session-2"));
    auth.accept(List.of("Digest realm=\"r\", nonce=\"n1\", qop=\"auth\", algorithm=SHA-256-sess"));

    Map<String, Param> first = params(auth.authorization("REGISTER", "sip:r"));
    Map<String, Param> second = params(auth.authorization("REGISTER", "sip:r"));
    assertQuoted("session-1", first.get("cnonce"));
    assertQuoted("session-1", second.get("cnonce"));
    assertToken("00000002", second.get("nc"));
    assertToken("SHA-256-sess", second.get("algorithm"));
    assertQuoted(DigestAuthenticator.response("SHA-256-sess", "alice", "r", "secret", "REGISTER",
        "sip:r", "n1", "00000002", "session-1", "auth"), second.get("response"));

    auth.accept(List.of("Digest realm=\"r\", nonce=\"n2\", qop=\"auth\", algorithm=SHA-256-sess"));
    assertQuoted("session-2", params(auth.authorization("REGISTER", "sip:r")).get("cnonce"));
  }

  @Test
  void usernameIsEscapedInTheHeaderButHashedAsIs() {
    String username = "al\"i\\ce";
    DigestAuthenticator auth = new DigestAuthenticator(username, "secret", null, cnonces("c"));
    auth.accept(List.of("Digest realm=\"r\", nonce=\"n\", qop=\"auth\""));

    String header = auth.authorization("REGISTER", "sip:r");
    assertTrue(header.startsWith("Digest username=\"al\\\"i\\\\ce\", "), header);
    Map<String, Param> p = params(header);
    assertQuoted(username, p.get("username"));
    assertQuoted(DigestAuthenticator.response("MD5", username, "r", "secret", "REGISTER", "sip:r",
        "n", "00000001", "c", "auth"), p.get("response"));
  }

  @Test
  void serverValuesAreEscapedAgainWhenEchoed() {
    DigestAuthenticator auth = new DigestAuthenticator("alice", "secret", null, cnonces("c"));
    auth.accept(List.of(
        "Digest realm=\"a \\\"b\\\"\", nonce=\"n\\\\1\", opaque=\"o\\\"\", qop=\"auth\""));

    Map<String, Param> p = params(auth.authorization("REGISTER", "sip:r"));
    assertQuoted("a \"b\"", p.get("realm"));
    assertQuoted("n\\1", p.get("nonce"));
    assertQuoted("o\"", p.get("opaque"));
  }

  @Test
  void noOpaqueWhenTheServerSentNone() {
    DigestAuthenticator auth = new DigestAuthenticator("alice", "secret", null, cnonces("c"));
    auth.accept(List.of("Digest realm=\"r\", nonce=\"n\", qop=\"auth\""));

    assertFalse(params(auth.authorization("REGISTER", "sip:r")).containsKey("opaque"));
  }

  @Test
  void controlCharactersCannotReachTheHeader() {
    assertThrows(IllegalArgumentException.class,
        () -> new DigestAuthenticator("alice\r\nX-Evil: 1", "secret", null));

    DigestAuthenticator auth = new DigestAuthenticator("alice", "secret", null);
    auth.accept(List.of("Digest realm=\"r\", nonce=\"n\", qop=\"auth\""));
    assertThrows(IllegalArgumentException.class,
        () -> auth.authorization("REGISTER", "sip:r\r\nX-Evil: 1"));
  }

  @Test
  void authorizationWithoutAChallengeFails() {
    DigestAuthenticator auth = new DigestAuthenticator("alice", "secret", null);

    assertFalse(auth.hasCredentials());
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> auth.authorization("REGISTER", "sip:r"));
    assertFalse(e.getMessage().contains("secret"));
  }

  @Test
  void resetForgetsTheChallenge() {
    DigestAuthenticator auth = new DigestAuthenticator("alice", "secret", null);
    auth.accept(List.of("Digest realm=\"r\", nonce=\"n\", qop=\"auth\""));
    assertTrue(auth.hasCredentials());
    assertEquals("n", auth.currentChallenge().orElseThrow().nonce());

    auth.reset();

    assertFalse(auth.hasCredentials());
    assertTrue(auth.currentChallenge().isEmpty());
    assertThrows(IllegalStateException.class, () -> auth.authorization("REGISTER", "sip:r"));
  }

  // --- stale nonce versus refused credentials

  @Test
  void aFirstChallengeIsNoRefusal() {
    DigestAuthenticator auth = new DigestAuthenticator("alice", "secret", null);
    List<String> challenge = List.of("Digest realm=\"r\", nonce=\"n1\", qop=\"auth\"");

    assertFalse(auth.refusesCredentials(challenge));
    auth.accept(challenge);
    // held but not answered yet: a second 401 before any credentials went out is no refusal
    assertFalse(auth.refusesCredentials(challenge));
  }

  @Test
  void aNonStaleChallengeAfterOurCredentialsIsARefusal() {
    DigestAuthenticator auth = new DigestAuthenticator("alice", "wrong", null);
    auth.accept(List.of("Digest realm=\"r\", nonce=\"n1\", qop=\"auth\""));
    auth.authorization("REGISTER", "sip:r");

    assertTrue(auth.refusesCredentials(List.of("Digest realm=\"r\", nonce=\"n2\", qop=\"auth\"")));
    assertTrue(auth.refusesCredentials(
        List.of("Digest realm=\"r\", nonce=\"n2\", stale=false, qop=\"auth\"")));
    assertTrue(auth.refusesCredentials(List.of("Basic realm=\"r\"")), "nothing left to answer");
  }

  @Test
  void aStaleChallengeIsAnsweredSilentlyWithTheNewNonce() {
    DigestAuthenticator auth = new DigestAuthenticator("alice", "secret", null,
        cnonces("c1", "c2", "c3"));
    auth.accept(List.of("Digest realm=\"r\", nonce=\"n1\", qop=\"auth\""));
    auth.authorization("REGISTER", "sip:r");
    auth.authorization("REGISTER", "sip:r");

    List<String> stale = List.of("Digest realm=\"r\", nonce=\"n2\", qop=\"auth\", stale=TRUE");
    assertFalse(auth.refusesCredentials(stale));
    assertTrue(auth.accept(stale).orElseThrow().stale());

    Map<String, Param> p = params(auth.authorization("REGISTER", "sip:r"));
    assertQuoted("n2", p.get("nonce"));
    assertToken("00000001", p.get("nc"));
  }

  @Test
  void aChallengeForAnotherRealmIsNoRefusal() {
    DigestAuthenticator auth = new DigestAuthenticator("alice", "secret", null);
    auth.accept(List.of("Digest realm=\"a\", nonce=\"n1\", qop=\"auth\""));
    auth.authorization("REGISTER", "sip:r");

    assertFalse(auth.refusesCredentials(List.of("Digest realm=\"b\", nonce=\"n2\", qop=\"auth\"")));
  }

  // --- secrets stay out of strings

  @Test
  void toStringShowsNeitherPasswordNorResponse() {
    DigestAuthenticator auth = new DigestAuthenticator("alice", "hunter2", "r", cnonces("c"));
    auth.accept(List.of("Digest realm=\"r\", nonce=\"n\", qop=\"auth\""));
    String response = params(auth.authorization("REGISTER", "sip:r")).get("response").value();

    String text = auth.toString();
    assertFalse(text.contains("hunter2"), text);
    assertFalse(text.contains(response), text);
    assertTrue(text.contains("alice"), text);
  }

  @Test
  void defaultCnoncesAreRandomHex() {
    DigestAuthenticator auth = new DigestAuthenticator("alice", "secret", null);
    auth.accept(List.of("Digest realm=\"r\", nonce=\"n\", qop=\"auth\""));

    Set<String> seen = new HashSet<>();
    for (int i = 0; i < 20; i++) {
      String cnonce = params(auth.authorization("REGISTER", "sip:r")).get("cnonce").value();
      assertTrue(cnonce.matches("[0-9a-f]{32}"), cnonce);
      assertTrue(seen.add(cnonce), "repeated cnonce " + cnonce);
    }
  }
}
