package io.sipalr.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sipalr.profile.BearerFilter;
import io.sipalr.profile.ProfileValidationException;
import io.sipalr.profile.SipProfile;
import io.sipalr.profile.SipProfileBuilder;
import io.sipalr.profile.Transport;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.RegistrationError;
import io.sipalr.sip.RegistrationInfo;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProfileJsonTest {
  static final String SECRET = "pa55-w0rd-never-shown";

  private static JsonNode json(String text) {
    return ControlApi.body(new ControlApi.Call(List.of(), text.getBytes(StandardCharsets.UTF_8)));
  }

  private static SipProfile stored() {
    return SipProfileBuilder.forId("alice").aor("sip:alice@sipalr.test")
        .registrar("sip:127.0.0.1:5060").password(SECRET).snapId(1).expires(600)
        .instanceId("urn:uuid:00000000-0000-4000-8000-000000000001").regId(1).build();
  }

  @Test
  void showsEveryFieldButThePassword() {
    RegistrationInfo info = new RegistrationInfo("alice", ProfileStatus.REGISTERED, "127.0.0.2",
        "sip:alice@127.0.0.2:5070", Instant.parse("2026-01-05T12:10:00Z"), 600, true,
        new RegistrationError(RegistrationError.Kind.TIMEOUT, 0, "no answer",
            Duration.ofSeconds(30)));
    ObjectNode o = ProfileJson.toJson(stored(), info, 1);
    assertFalse(o.toString().contains(SECRET), o.toString());
    assertFalse(o.has("password"));
    for (String key : List.of("id", "aor", "registrar", "outboundProxy", "authUser", "realm",
        "transport", "expires", "autoRegister", "snap", "fixedIap", "bearerFilter", "status",
        "iap", "localAddress", "contact", "expiresAt", "lastError")) {
      assertTrue(o.has(key), key);
    }
    assertEquals("auto", o.get("transport").asText());
    assertEquals("any", o.get("bearerFilter").asText());
    assertEquals(1, o.get("snap").asInt());
    assertTrue(o.get("fixedIap").isNull());
    assertEquals("REGISTERED", o.get("status").asText());
    assertEquals(1, o.get("iap").asInt());
    assertEquals("2026-01-05T12:10:00Z", o.get("expiresAt").asText());
    assertEquals("TIMEOUT", o.get("lastError").get("kind").asText());
    assertEquals(30_000, o.get("lastError").get("retryInMs").asLong());
  }

  @Test
  void createsWithTheBuildersDefaults() {
    SipProfile p = ProfileJson.forCreate(json("""
        {"id": "bob", "aor": "sip:bob@sipalr.test", "registrar": "sip:127.0.0.1",
         "password": "x", "transport": "TCP", "bearerFilter": "wlan-only", "fixedIap": 2}
        """));
    assertEquals("bob", p.authUser(), "the AOR's user");
    assertEquals(Transport.TCP, p.transport());
    assertEquals(BearerFilter.WLAN_ONLY, p.bearerFilter());
    assertEquals(SipProfileBuilder.DEFAULT_EXPIRES, p.expires());
    assertTrue(p.autoRegister());
    assertEquals(2, p.iapId());
    assertNull(p.snapId());
  }

  @Test
  void updateKeepsWhatIsLeftOutAndClearsWhatIsNull() {
    SipProfile p = ProfileJson.forUpdate(json("""
        {"id": "alice", "expires": 120, "snap": null, "fixedIap": 3, "realm": "r"}
        """), stored());
    assertEquals(SECRET, p.password(), "a password left out is kept");
    assertEquals(120, p.expires());
    assertNull(p.snapId());
    assertEquals(3, p.iapId());
    assertEquals("r", p.realm());
    assertEquals(stored().instanceId(), p.instanceId());

    ApiException renamed = assertThrows(ApiException.class,
        () -> ProfileJson.forUpdate(json("{\"id\": \"bob\"}"), stored()));
    assertEquals("id", renamed.field);
  }

  @Test
  void errorsNameTheKey() {
    assertField("aor", "{\"id\": \"a\", \"aor\": 5}", "must be a string");
    assertField("expires", "{\"id\": \"a\", \"expires\": \"600\"}", "whole number");
    assertField("expires", "{\"id\": \"a\", \"expires\": 1.5}", "whole number");
    assertField("autoRegister", "{\"id\": \"a\", \"autoRegister\": \"yes\"}", "true or false");
    assertField("transport", "{\"id\": \"a\", \"transport\": \"sctp\"}", "\"sctp\"");
    assertField("bearerFilter", "{\"id\": \"a\", \"bearerFilter\": \"5g\"}", "wlan-only");
    assertField("colour", "{\"id\": \"a\", \"colour\": \"red\"}", "unknown key \"colour\"");
    assertField("status", "{\"id\": \"a\", \"status\": \"REGISTERED\"}", "read-only");
    assertField("id", "{\"aor\": \"sip:a@b\"}", "must be set");
    ApiException e = assertField("password", "{\"id\": \"a\", \"password\": 12345}",
        "must be a string");
    assertFalse(e.getMessage().contains("12345"));
  }

  @Test
  void aChoiceIsReadInAnyCaseAndAWrongOneNamesWhatIsAllowed() {
    SipProfile p = ProfileJson.forCreate(json("{\"id\": \"a\", \"aor\": \"sip:a@b\","
        + " \"registrar\": \"sip:b\", \"transport\": \" TCP \", \"bearerFilter\": \"wlan-only\"}"));
    assertEquals(Transport.TCP, p.transport());
    assertEquals(BearerFilter.WLAN_ONLY, p.bearerFilter());
    assertField("transport", "{\"id\": \"a\", \"transport\": \"sctp\"}",
        "transport: must be \"auto\", \"udp\", \"tcp\" or \"tls\", was \"sctp\"");
    assertField("bearerFilter", "{\"id\": \"a\", \"bearerFilter\": 5}",
        "bearerFilter: must be \"any\", \"wlan-only\" or \"cellular-only\"");
  }

  private static ApiException assertField(String field, String body, String problem) {
    ApiException e = assertThrows(ApiException.class, () -> ProfileJson.forCreate(json(body)));
    assertEquals(field, e.field, e.getMessage());
    assertTrue(e.getMessage().contains(field) && e.getMessage().contains(problem),
        e.getMessage());
    assertEquals(400, e.status.code());
    return e;
  }

  @Test
  void validatorMessagesUseTheApisKeys() {
    ApiException e = ProfileJson.invalid(new ProfileValidationException("alice", "snapId",
        "must be a positive SNAP id, was 0"));
    assertEquals("snap", e.field);
    assertEquals("profile \"alice\": snap: must be a positive SNAP id, was 0", e.getMessage());
  }

  @Test
  void badJsonSaysWhereButNeverQuotesTheBody() {
    ApiException e = assertThrows(ApiException.class,
        () -> json("{\"password\": hunter2secret}"));
    assertEquals("bad_json", e.code);
    assertTrue(e.getMessage().contains("line 1"), e.getMessage());
    assertFalse(e.getMessage().contains("hunter2"), e.getMessage());
    assertEquals("bad_json", assertThrows(ApiException.class, () -> json("{} {}")).code);
    assertTrue(assertThrows(ApiException.class, () -> json("{\"a\": 1, \"a\": 2}"))
        .getMessage().contains("twice"));
  }

  @Test
  void pathSegmentsAreDecoded() {
    assertEquals(List.of("v1", "profiles", "a b"), ControlHandler.segments("/v1/profiles/a%20b"));
    assertEquals(List.of("v1", "profiles"), ControlHandler.segments("/v1/profiles/"));
    assertEquals(List.of(""), ControlHandler.segments("/"));
  }
}
