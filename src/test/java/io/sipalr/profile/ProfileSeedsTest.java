package io.sipalr.profile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ProfileSeedsTest {

  static final String PASSWORD = "s3cret-Passw0rd";

  @TempDir Path dir;

  private Path file;

  /** Parses {@code text} from a real file, as the agent does, so that origins name it. */
  private Config conf(String text) throws IOException {
    file = dir.resolve("agent.conf");
    Files.writeString(file, text);
    return ConfigFactory.parseFile(file.toFile());
  }

  private ProfileValidationException seedError(String text) throws IOException {
    Config config = conf(text);
    return assertThrows(ProfileValidationException.class,
        () -> ProfileSeeds.fromConfig(config, "profiles"));
  }

  @Test
  void readsEveryKeyAndAppliesTheDefaults() throws IOException {
    Config config = conf("""
        profiles = [
          { id = alice, aor = "sip:alice@sipalr.test", registrar = "sip:127.0.0.1:5060",
            password = "%s" }
          { id = bob
            aor = "sip:bob@sipalr.test"
            registrar = "sip:registrar.sipalr.test:5080;transport=tcp"
            outbound-proxy = "sip:proxy.sipalr.test;lr"
            auth-user = bob-auth
            password = 1234
            realm = sipalr.test
            transport = TCP
            expires = 600
            auto-register = no
            iap = 2
            bearer-filter = wlan-only
          }
          { id = carol, aor = "sip:carol@sipalr.test", registrar = "sip:127.0.0.1",
            password = x, snap = 1, bearer-filter = cellular-only, expires = "90",
            outbound-proxy = null }
        ]
        """.formatted(PASSWORD));

    List<SipProfile> seeds = ProfileSeeds.fromConfig(config, "profiles");

    assertEquals(List.of(
        SipProfileBuilder.forId("alice").aor("sip:alice@sipalr.test")
            .registrar("sip:127.0.0.1:5060").password(PASSWORD).build(),
        SipProfileBuilder.forId("bob").aor("sip:bob@sipalr.test")
            .registrar("sip:registrar.sipalr.test:5080;transport=tcp")
            .outboundProxy("sip:proxy.sipalr.test;lr").authUser("bob-auth").password("1234")
            .realm("sipalr.test").transport(Transport.TCP).expires(600).autoRegister(false)
            .iapId(2).bearerFilter(BearerFilter.WLAN_ONLY).build(),
        SipProfileBuilder.forId("carol").aor("sip:carol@sipalr.test").registrar("sip:127.0.0.1")
            .password("x").snapId(1).bearerFilter(BearerFilter.CELLULAR_ONLY).expires(90).build()),
        seeds);
    assertEquals("alice", seeds.get(0).authUser());
    assertNull(seeds.get(0).instanceId());
  }

  @Test
  void anAbsentPathMeansNoSeeds() throws IOException {
    assertEquals(List.of(), ProfileSeeds.fromConfig(conf("agent { }"), "profiles"));
  }

  @Test
  void substitutionsAreResolved() throws IOException {
    Config config = conf("""
        secrets.alice = "%s"
        profiles = [ { id = alice, aor = "sip:alice@sipalr.test", registrar = "sip:127.0.0.1",
                       password = ${secrets.alice} } ]
        """.formatted(PASSWORD));

    assertEquals(PASSWORD, ProfileSeeds.fromConfig(config, "profiles").get(0).password());
  }

  /** Every bad value on line 3 of the file: the message names the file, line, key and profile. */
  @ParameterizedTest(name = "{0} = {1}")
  @CsvSource(delimiter = '|', value = {
      "aor            | \"bob@sipalr.test\"           | aor            | must be a sip: or sips: URI",
      "aor            | \"sip:sipalr.test\"           | aor            | must name a user",
      "registrar      | \"sip:127.0.0.1:99999\"       | registrar      | outside 1..65535",
      "outbound-proxy | \"proxy\"                     | outboundProxy  | must be a sip: or sips: URI",
      "auth-user      | \"  \"                        | authUser       | must be set",
      "password       | \"\"                          | password       | must not be empty",
      "password       | [ 1, 2 ]                      | password       | must be a string",
      "realm          | \"\"                          | realm          | must not be blank",
      "transport      | sctp                          | transport      | must be one of udp, tcp, tls, auto, was \"sctp\"",
      "transport      | { a = 1 }                     | transport      | must be a string",
      "expires        | 0                             | expires        | must be 1..604800 seconds",
      "expires        | 1.5                           | expires        | must be a whole number",
      "expires        | 10000000000                   | expires        | must be a whole number",
      "expires        | soon                          | expires        | must be a whole number",
      "auto-register  | maybe                         | autoRegister   | must be true or false",
      "snap           | -1                            | snapId         | must be a positive SNAP id",
      "iap            | 0                             | iapId          | must be a positive IAP id",
      "bearer-filter  | wifi                          | bearerFilter   | must be one of any, wlan-only, cellular-only",
  })
  void aBadValueIsNamedWithFileLineKeyAndProfile(String key, String value, String field,
      String problem) throws IOException {
    ProfileValidationException e = seedError("""
        profiles = [
          { id = alice, aor = "sip:alice@sipalr.test", registrar = "sip:127.0.0.1", password = x }
          { id = bob, aor = "sip:bob@sipalr.test", registrar = "sip:127.0.0.1", password = "%s",
            %s = %s }
        ]
        """.formatted(PASSWORD, key, value));

    String where = file + ": 4: profiles[1]." + key + " (profile \"bob\"): ";
    assertTrue(e.getMessage().startsWith(where), e.getMessage());
    assertTrue(e.getMessage().contains(problem), e.getMessage());
    assertEquals("bob", e.profileId());
    assertEquals(field, e.field());
    assertEquals(file + ": 4: profiles[1]." + key, e.location().orElseThrow());
    assertFalse(e.getMessage().contains(PASSWORD), e.getMessage());
  }

  @Test
  void aMissingRequiredKeyIsNamedAtTheProfile() throws IOException {
    ProfileValidationException e = seedError("""
        profiles = [
          { id = alice, aor = "sip:alice@sipalr.test", password = x }
        ]
        """);

    assertEquals(file + ": 2: profiles[0].registrar (profile \"alice\"): must be set",
        e.getMessage());
  }

  @Test
  void aMissingIdIsNamed() throws IOException {
    ProfileValidationException e = seedError("""
        profiles = [
          { aor = "sip:alice@sipalr.test", registrar = "sip:127.0.0.1", password = x }
        ]
        """);

    assertNull(e.profileId());
    assertEquals(file + ": 2: profiles[0].id: must be set", e.getMessage());
  }

  @Test
  void anInvalidIdIsNamed() throws IOException {
    ProfileValidationException e = seedError("""
        profiles = [
          { id = "../alice", aor = "sip:alice@sipalr.test", registrar = "sip:127.0.0.1", password = x }
        ]
        """);

    assertTrue(e.getMessage().startsWith(file + ": 2: profiles[0].id (profile \"../alice\"): must be"),
        e.getMessage());
  }

  @Test
  void unknownKeysAreErrors() throws IOException {
    ProfileValidationException e = seedError("""
        profiles = [
          { id = alice, aor = "sip:alice@sipalr.test", registrar = "sip:127.0.0.1", password = x,
            auth_user = alice }
        ]
        """);

    assertEquals("auth_user", e.field());
    assertTrue(e.getMessage().startsWith(
        file + ": 3: profiles[0].auth_user (profile \"alice\"): unknown key; the keys are id, aor,"),
        e.getMessage());
    assertTrue(e.getMessage().endsWith("; did you mean auth-user?"), e.getMessage());
  }

  @Test
  void aSeedCannotSetTheInstance() throws IOException {
    ProfileValidationException e = seedError("""
        profiles = [
          { id = alice, aor = "sip:alice@sipalr.test", registrar = "sip:127.0.0.1", password = x,
            instance-id = "urn:uuid:00000000-0000-4000-8000-000000000001" }
        ]
        """);

    assertTrue(e.getMessage().contains("profiles[0].instance-id"), e.getMessage());
    assertTrue(e.getMessage().contains("unknown key"), e.getMessage());
  }

  @Test
  void snapAndIapTogetherAreRefused() throws IOException {
    ProfileValidationException e = seedError("""
        profiles = [
          { id = alice, aor = "sip:alice@sipalr.test", registrar = "sip:127.0.0.1", password = x,
            snap = 1, iap = 2 }
        ]
        """);

    assertTrue(e.getMessage().startsWith(file + ": 3: profiles[0].iap (profile \"alice\"): "),
        e.getMessage());
    assertTrue(e.getMessage().contains("a SNAP, one fixed IAP, or neither"), e.getMessage());
  }

  @Test
  void duplicateIdsAreRefused() throws IOException {
    ProfileValidationException e = seedError("""
        profiles = [
          { id = alice, aor = "sip:alice@sipalr.test", registrar = "sip:127.0.0.1", password = x }
          { id = bob, aor = "sip:bob@sipalr.test", registrar = "sip:127.0.0.1", password = x }
          { id = alice, aor = "sip:alice2@sipalr.test", registrar = "sip:127.0.0.1", password = x }
        ]
        """);

    assertEquals("alice", e.profileId());
    assertEquals("id", e.field());
    assertEquals(file + ": 4: profiles[2].id (profile \"alice\"): duplicate id, already used by"
        + " the profile at " + file + ": 2", e.getMessage());
  }

  @Test
  void theListAndItsElementsMustHaveTheirShape() throws IOException {
    ProfileValidationException notAList = seedError("profiles = { id = alice }\n");
    assertTrue(notAList.getMessage().startsWith(file + ": 1: profiles: must be a list"),
        notAList.getMessage());

    ProfileValidationException notAnObject = seedError("profiles = [ alice ]\n");
    assertTrue(notAnObject.getMessage().startsWith(file + ": 1: profiles[0]: must be an object"),
        notAnObject.getMessage());
  }
}
