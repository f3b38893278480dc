package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullAndEmptySource;
import org.junit.jupiter.params.provider.ValueSource;

class DigestChallengeTest {

  private static DigestChallenge parsed(String headerValue) {
    return DigestChallenge.parse(headerValue)
        .orElseThrow(() -> new AssertionError("not parsed: " + headerValue));
  }

  @Test
  void parsesTheRfc7616ChallengeAsPrintedOverSeveralLines() {
    DigestChallenge challenge = parsed("Digest\r\n"
        + "    realm=\"http-auth@example.org\",\r\n"
        + "    qop=\"auth, auth-int\",\r\n"
        + "    algorithm=SHA-256,\r\n"
        + "    nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n"
        + "    opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"");

    assertEquals(new DigestChallenge("http-auth@example.org",
        "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", "SHA-256", List.of("auth", "auth-int"),
        false), challenge);
    assertTrue(challenge.offersQopAuth());
  }

  @Test
  void algorithmDefaultsToMd5AndOptionalParamsToAbsent() {
    DigestChallenge challenge = parsed("Digest realm=\"sip.example.com\", nonce=\"abc\"");

    assertEquals("MD5", challenge.algorithm());
    assertNull(challenge.opaque());
    assertEquals(List.of(), challenge.qop());
    assertFalse(challenge.stale());
    assertFalse(challenge.offersQopAuth());
  }

  @Test
  void commasInsideQuotesBelongToTheValue() {
    DigestChallenge challenge =
        parsed("Digest realm=\"a, b\", nonce=\"n,1\", opaque=\",\", qop=\"auth,auth-int\"");

    assertEquals("a, b", challenge.realm());
    assertEquals("n,1", challenge.nonce());
    assertEquals(",", challenge.opaque());
    assertEquals(List.of("auth", "auth-int"), challenge.qop());
  }

  @Test
  void quotedPairsAreUnescaped() {
    DigestChallenge challenge = parsed("Digest realm=\"say \\\"hi\\\" \\\\o/\", nonce=\"n\"");

    assertEquals("say \"hi\" \\o/", challenge.realm());
  }

  @Test
  void algorithmMayBeUnquotedOrQuotedAndKeepsItsSpelling() {
    assertEquals("SHA-256",
        parsed("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256").algorithm());
    assertEquals("sha-256",
        parsed("Digest realm=\"r\", nonce=\"n\", algorithm=\"sha-256\"").algorithm());
    assertEquals("MD5-sess",
        parsed("Digest algorithm=MD5-sess,realm=\"r\",nonce=\"n\"").algorithm());
  }

  @Test
  void unquotedValuesMayBeBase64() {
    // some servers do not quote their nonce; base64 has "/", "+" and "="
    assertEquals("ab/c+d==", parsed("Digest realm=r, nonce=ab/c+d==").nonce());
  }

  @ParameterizedTest
  @ValueSource(strings = {"stale=true", "stale=TRUE", "stale=True", "stale=\"true\"", "STALE=true"})
  void staleIsTrueInAnyCase(String stale) {
    assertTrue(parsed("Digest realm=\"r\", nonce=\"n\", " + stale).stale());
  }

  @ParameterizedTest
  @ValueSource(strings = {"stale=false", "stale=FALSE", "stale=yes", "stale=\"\""})
  void staleIsFalseForAnythingButTrue(String stale) {
    assertFalse(parsed("Digest realm=\"r\", nonce=\"n\", " + stale).stale());
  }

  @Test
  void schemeAndParameterNamesAreCaseInsensitive() {
    DigestChallenge challenge =
        parsed("digest REALM=\"r\", Nonce=\"n\", ALGORITHM=sha-512-256, QOP=\"Auth\"");

    assertEquals("r", challenge.realm());
    assertEquals("n", challenge.nonce());
    assertEquals("sha-512-256", challenge.algorithm());
    assertEquals(List.of("auth"), challenge.qop());
  }

  @Test
  void whitespaceAroundEqualsAndCommasIsAllowed() {
    DigestChallenge challenge =
        parsed("  Digest \t realm = \"r\" ,nonce=\"n\" ,  ,  qop = \" auth , auth-int \"  ");

    assertEquals("r", challenge.realm());
    assertEquals("n", challenge.nonce());
    assertEquals(List.of("auth", "auth-int"), challenge.qop());
  }

  @Test
  void unknownParametersAreIgnoredAndTheFirstOfARepeatedOneWins() {
    DigestChallenge challenge = parsed("Digest domain=\"sip:example.com\", realm=\"first\", "
        + "nonce=\"n\", charset=UTF-8, userhash=false, realm=\"second\"");

    assertEquals("first", challenge.realm());
  }

  @Test
  void parsingStopsAtASecondChallenge() {
    DigestChallenge challenge = parsed("Digest realm=\"a\", nonce=\"n\", Basic realm=\"b\"");

    assertEquals("a", challenge.realm());
  }

  @ParameterizedTest
  @NullAndEmptySource
  @ValueSource(strings = {
      "Basic realm=\"r\"",
      "Bearer realm=\"r\", nonce=\"n\"",
      "Digestrealm=\"r\", nonce=\"n\"",
      "Digest",
      "Digest realm=\"r\"",
      "Digest nonce=\"n\"",
      "Digest realm=\"r\", nonce=\"\"",
      "Digest realm=\"r\", nonce=\"n",
      "Digest realm=\"r\", nonce=\"n\" junk",
      "Digest realm=\"r\", nonce=",
      "Digest realm=\"r\", =\"n\"",
      "Digest realm=\"r\u0000\", nonce=\"n\"",
  })
  void rejectsOtherSchemesMissingRealmOrNonceAndMalformedValues(String headerValue) {
    assertTrue(DigestChallenge.parse(headerValue).isEmpty(), () -> "parsed: " + headerValue);
  }

  @Test
  void qopListIsImmutable() {
    List<String> qop = parsed("Digest realm=\"r\", nonce=\"n\", qop=\"auth\"").qop();

    assertThrows(UnsupportedOperationException.class, () -> qop.add("auth-int"));
  }
}
