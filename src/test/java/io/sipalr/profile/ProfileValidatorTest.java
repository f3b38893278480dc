package io.sipalr.profile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class ProfileValidatorTest {

  static final String PASSWORD = "s3cret-Passw0rd";

  static SipProfileBuilder alice() {
    return SipProfileBuilder.forId("alice")
        .aor("sip:alice@sipalr.test")
        .registrar("sip:127.0.0.1:5060")
        .password(PASSWORD);
  }

  @Test
  void builderDefaultsMakeAValidProfile() {
    SipProfile profile = alice().build();

    assertSame(profile, ProfileValidator.validate(profile));
    assertEquals(Transport.AUTO, profile.transport(), "RFC 3263 chooses (NAPTR, SRV)");
    assertEquals(3600, profile.expires());
    assertTrue(profile.autoRegister());
    assertEquals(BearerFilter.ANY, profile.bearerFilter());
    assertEquals("alice", profile.authUser());
    assertNull(profile.instanceId());
    assertEquals(0, profile.regId());
  }

  @Test
  void explicitAuthUserWinsOverTheAorUser() {
    assertEquals("alice-auth", alice().authUser("alice-auth").build().authUser());
  }

  @Test
  void copyOfKeepsEveryValue() {
    SipProfile full = alice().outboundProxy("sip:proxy.sipalr.test;lr").realm("sipalr.test")
        .transport(Transport.TCP).expires(600).autoRegister(false).iapId(7)
        .bearerFilter(BearerFilter.WLAN_ONLY)
        .instanceId("urn:uuid:00000000-0000-4000-8000-000000000001").regId(2).build();

    assertEquals(full, SipProfileBuilder.copyOf(full).build());
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "sip:alice@sipalr.test", "sip:alice@10.0.0.1:5080",
      "sip:+358401234567;phone-context=x@sipalr.test", "sip:al%20ice@[2001:db8::1]:5060;transport=tcp",
      "SIP:alice@example.com."})
  void acceptsSipAors(String aor) {
    ProfileValidator.validate(alice().aor(aor).build());
  }

  /** Without a transport, a sips: registrar makes RFC 3263 choose TLS: sips: URIs are fine. */
  @Test
  void aTlsOrAutoProfileMayNameAClientCertificate() {
    ProfileValidator.validate(alice().transport(Transport.TLS)
        .tlsClientCertificate("alice-device.2").build());
    ProfileValidator.validate(alice().registrar("sips:registrar.sipalr.test")
        .aor("sips:alice@sipalr.test").tlsClientCertificate("alice_device").build());
  }

  @Test
  void aSipsRegistrarWithoutATransportIsValid() {
    ProfileValidator.validate(alice().aor("sips:alice@sipalr.test")
        .registrar("sips:registrar.sipalr.test").build());
  }

  /** RFC 5630: sips: URIs (AOR, registrar, proxy) with transport = tls; sip: over TLS too. */
  @ParameterizedTest
  @ValueSource(strings = {"sips:registrar.sipalr.test", "sip:registrar.sipalr.test:5061",
      "sips:127.0.0.1:5061"})
  void acceptsTlsProfilesWithSipsOrSipUris(String registrar) {
    ProfileValidator.validate(alice().aor("sips:alice@sipalr.test").registrar(registrar)
        .outboundProxy("sips:proxy.sipalr.test;lr").transport(Transport.TLS).build());
    ProfileValidator.validate(alice().registrar(registrar).transport(Transport.TLS).build());
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "sip:127.0.0.1", "sip:127.0.0.1:5060", "sip:registrar.sipalr.test;transport=tcp",
      "sip:[::1]:5060", "sip:reg-1.example.com:65535;lr;maddr=10.0.0.1"})
  void acceptsRegistrars(String registrar) {
    ProfileValidator.validate(alice().registrar(registrar).build());
  }

  static Stream<Arguments> badFields() {
    return Stream.of(
        bad("aor", b -> b.aor(null), "must be set"),
        bad("aor", b -> b.aor("alice@sipalr.test"), "must be a sip: or sips: URI"),
        bad("aor", b -> b.aor("tel:+358401234567"), "must be a sip: or sips: URI"),
        bad("aor", b -> b.aor("sip:sipalr.test"), "must name a user"),
        bad("aor", b -> b.aor("sip:alice@"), "has no host"),
        bad("aor", b -> b.aor("sip:alice@bad_host"), "invalid host"),
        bad("aor", b -> b.aor("sip:alice@300.1.1.1"), "invalid IPv4"),
        bad("aor", b -> b.aor("sip:alice@sipalr.test:70000"), "port 70000, outside 1..65535"),
        bad("aor", b -> b.aor("sip:alice@sipalr.test:http"), "invalid port"),
        bad("aor", b -> b.aor("sip:al ice@sipalr.test"), "spaces"),
        bad("aor", b -> b.aor("sip:al\"ice@sipalr.test"), "user part"),
        bad("aor", b -> b.aor("sip:alice@sipalr.test?subject=x"), "headers"),
        bad("aor", b -> b.aor("sip:alice@sipalr.test;;lr"), "empty URI parameter"),
        bad("aor", b -> b.aor("sip:alice@[2001:db8::1"), "closing ']'"),
        bad("registrar", b -> b.registrar(null), "must be set"),
        bad("registrar", b -> b.registrar("http://127.0.0.1:5060"), "must be a sip: or sips: URI"),
        bad("registrar", b -> b.registrar("sips:registrar.sipalr.test").transport(Transport.UDP),
            "is a sips: URI, which needs transport = tls (was udp)"),
        bad("registrar", b -> b.registrar("sips:registrar.sipalr.test").transport(Transport.TCP),
            "needs transport = tls (was tcp)"),
        bad("aor", b -> b.aor("sips:alice@sipalr.test").transport(Transport.UDP),
            "needs transport = tls (was udp)"),
        bad("aor", b -> b.aor("sips:alice@sipalr.test"),
            "needs transport = tls or a sips: registrar (was auto)"),
        bad("outboundProxy", b -> b.outboundProxy("sips:proxy.sipalr.test")
            .transport(Transport.UDP), "needs transport = tls"),
        bad("registrar", b -> b.registrar("sip:bob@registrar.sipalr.test"), "must not have a user part"),
        bad("registrar", b -> b.registrar("sip:127.0.0.1:0"), "port 0"),
        bad("outboundProxy", b -> b.outboundProxy("proxy.sipalr.test"), "must be a sip: or sips: URI"),
        bad("outboundProxy", b -> b.outboundProxy("sip:proxy.sipalr.test;transport="), "empty value"),
        bad("authUser", b -> b.authUser(" "), "must be set"),
        bad("authUser", b -> b.authUser("ali\nce"), "control characters"),
        bad("password", b -> b.password(null), "must be set"),
        bad("password", b -> b.password(""), "must not be empty"),
        bad("realm", b -> b.realm(""), "must not be blank"),
        bad("realm", b -> b.realm("a\u0000b"), "control characters"),
        bad("expires", b -> b.expires(0), "must be 1..604800 seconds (up to 7 days), was 0"),
        bad("expires", b -> b.expires(604_801), "was 604801"),
        bad("snapId", b -> b.snapId(0), "must be a positive SNAP id, was 0"),
        bad("iapId", b -> b.iapId(-3), "must be a positive IAP id, was -3"),
        bad("iapId", b -> b.snapId(1).iapId(2), "a SNAP, one fixed IAP, or neither"),
        bad("instanceId", b -> b.instanceId("uuid:1234").regId(1), "urn:uuid:"),
        bad("instanceId", b -> b.instanceId("urn:uuid:0000-0000").regId(1), "urn:uuid:"),
        bad("regId", b -> b.instanceId("urn:uuid:00000000-0000-4000-8000-000000000001"),
            "at least 1 when instanceId is set"),
        bad("regId", b -> b.regId(-1), "must not be negative"),
        bad("tlsClientCertificate", b -> b.transport(Transport.TLS)
            .tlsClientCertificate("alice device"), "1 to 64 letters, digits"),
        bad("tlsClientCertificate", b -> b.transport(Transport.UDP)
            .tlsClientCertificate("alice-device"), "is shown over TLS only"));
  }

  private static Arguments bad(String field, UnaryOperator<SipProfileBuilder> change, String problem) {
    return Arguments.of(field, change, problem);
  }

  @ParameterizedTest(name = "{0}: {2}")
  @MethodSource("badFields")
  void eachBadFieldIsNamedWithTheProfile(String field, UnaryOperator<SipProfileBuilder> change,
      String problem) {
    SipProfile profile = change.apply(alice()).build();

    ProfileValidationException e =
        assertThrows(ProfileValidationException.class, () -> ProfileValidator.validate(profile));

    assertEquals("alice", e.profileId());
    assertEquals(field, e.field());
    assertTrue(e.getMessage().startsWith("profile \"alice\": " + field + ": "), e.getMessage());
    assertTrue(e.getMessage().contains(problem), e.getMessage());
    assertTrue(e.location().isEmpty());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "-alice", ".hidden", "../etc/passwd", "a/b", "al ice", "ålice",
      "a2345678901234567890123456789012345678901234567890123456789012345"})
  void idsThatCannotBeFileNamesAreRefused(String id) {
    SipProfile renamed = SipProfileBuilder.forId(id).aor("sip:alice@sipalr.test")
        .registrar("sip:sipalr.test").password(PASSWORD).build();

    ProfileValidationException e =
        assertThrows(ProfileValidationException.class, () -> ProfileValidator.validate(renamed));

    assertEquals("id", e.field());
    assertTrue(e.getMessage().contains("file name"), e.getMessage());
  }

  @Test
  void aMissingAuthUserIsNamed() {
    SipProfile p = alice().build();
    SipProfile noAuthUser = new SipProfile(p.id(), p.aor(), p.registrar(), null, null,
        p.password(), null, null, p.expires(), true, null, null, null, null, 0);

    ProfileValidationException e =
        assertThrows(ProfileValidationException.class, () -> ProfileValidator.validate(noAuthUser));

    assertEquals("authUser", e.field());
    assertEquals("profile \"alice\": authUser: must be set (it defaults to the AOR's user)",
        e.getMessage());
  }

  @Test
  void aLongIdIsAccepted() {
    String id = "a".repeat(64);
    ProfileValidator.validate(new SipProfile(id, "sip:a@b.test", "sip:b.test", null, "a",
        PASSWORD, null, null, 60, true, null, null, null, null, 0));
  }

  @Test
  void aPasswordInAUriIsRefusedWithoutQuotingIt() {
    SipProfile profile = alice().aor("sip:alice:" + PASSWORD + "@sipalr.test").authUser("alice").build();

    ProfileValidationException e =
        assertThrows(ProfileValidationException.class, () -> ProfileValidator.validate(profile));

    assertEquals("aor", e.field());
    assertTrue(e.getMessage().contains("password"), e.getMessage());
    assertFalse(e.getMessage().contains(PASSWORD), e.getMessage());
  }

  @Test
  void noMessageQuotesThePassword() {
    for (Arguments arguments : badFields().toList()) {
      @SuppressWarnings("unchecked")
      UnaryOperator<SipProfileBuilder> change = (UnaryOperator<SipProfileBuilder>) arguments.get()[1];
      ProfileValidationException e = assertThrows(ProfileValidationException.class,
          () -> ProfileValidator.validate(change.apply(alice()).build()));
      assertFalse(e.getMessage().contains(PASSWORD), e.getMessage());
    }
  }

  @Test
  void toStringHidesThePassword() {
    assertFalse(alice().build().toString().contains(PASSWORD));
  }

  @Test
  void controlCharactersInAnIdAreEscapedInTheMessage() {
    SipProfile profile = new SipProfile("evil\nINFO forged line", "sip:a@b.test", "sip:b.test",
        null, "a", PASSWORD, null, null, 60, true, null, null, null, null, 0);

    ProfileValidationException e =
        assertThrows(ProfileValidationException.class, () -> ProfileValidator.validate(profile));

    assertFalse(e.getMessage().contains("\n"), e.getMessage());
    assertTrue(e.getMessage().contains("evil\\u000aINFO"), e.getMessage());
  }
}
