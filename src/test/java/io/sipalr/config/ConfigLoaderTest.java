package io.sipalr.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import io.sipalr.sip.SipConfig;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the agent used to accept silently or report without saying where: each is an error at
 * load time whose message names the file, the line and the key (or the variable).
 */
class ConfigLoaderTest {
  @TempDir Path dir;

  private Path write(String text) throws Exception {
    Path file = dir.resolve("agent.conf");
    Files.writeString(file, text);
    return file;
  }

  private ConfigException refused(Path file) {
    return assertThrows(ConfigException.class, () -> ConfigLoader.load(file, Map.of()));
  }

  private void assertNames(String message, String fileAndLine, String key) {
    assertTrue(message.contains(fileAndLine), "names " + fileAndLine + ": " + message);
    assertTrue(message.contains("'" + key + "'"), "names " + key + ": " + message);
  }

  @Test
  void aValidFileLoadsOverTheDefaults() throws Exception {
    Config c = ConfigLoader.load(write("""
        sip { port = 5999 }
        alr.policy.rules.no-cellular-from = "22:00"
        control.token = "0123456789abcdef0123"
        profiles = [ { id = a, anything-here = "checked by ProfileSeeds" } ]
        mobility.iaps = [ { id = 1, whatever = "checked by MobilityConfig" } ]
        """), Map.of());
    assertEquals(5999, c.getInt("sip.port"));
    assertEquals("sip-alr-agent/0.1", c.getString("sip.user-agent"));
  }

  @Test
  void theShippedConfigurationPassesTheChecks() {
    Config c = ConfigLoader.load(Path.of("conf/agent.conf"), Map.of());
    assertEquals(1, c.getList("profiles").size());
  }

  @Test
  void anUnknownKeyInAnyBlockIsRefusedWithASuggestion() throws Exception {
    String[][] cases = {
        {"sip {\n  port = 5080\n  user-agnet = x\n}\n", "agent.conf: 3", "sip.user-agnet",
            "sip.user-agent"},
        {"agent {\n  data_dir = x\n}\n", "agent.conf: 2", "agent.data_dir", "agent.data-dir"},
        {"alr.register-rates = 10\n", "agent.conf: 1", "alr.register-rates", "alr.register-rate"},
        {"sip.backoff.maximum = 10s\n", "agent.conf: 1", "sip.backoff.maximum", null},
        {"\ncontrol.adress = \"127.0.0.1\"\n", "agent.conf: 2", "control.adress",
            "control.address"},
        {"mobility.provder = linux\n", "agent.conf: 1", "mobility.provder", "mobility.provider"},
        {"alr.policy.rules.prefer-wlna = true\n", "agent.conf: 1", "alr.policy.rules.prefer-wlna",
            "alr.policy.rules.prefer-wlan"},
    };
    for (String[] c : cases) {
      String message = refused(write(c[0])).getMessage();
      assertNames(message, c[1], c[2]);
      assertTrue(message.contains("unknown key"), message);
      if (c[3] != null) {
        assertTrue(message.contains("did you mean '" + c[3] + "'?"), message);
      }
    }
  }

  @Test
  void clientCertificatesAreNamedByTheUserAndCheckedByTheirReader() throws Exception {
    Config c = ConfigLoader.load(write("sip.tls.client-certificates {\n"
        + "  alice-device { key-store = \"/k/a.p12\", key-store-password = pw }\n}\n"),
        Map.of());
    assertEquals("/k/a.p12", c.getString("sip.tls.client-certificates.alice-device.key-store"));
    String message = refused(write("sip.tls.client-certificate { }\n")).getMessage();
    assertTrue(message.contains("did you mean 'sip.tls.client-certificates'?"), message);
  }

  @Test
  void anUnknownKeyInASystemPropertyIsRefused() throws Exception {
    Path file = write("sip.port = 5080\n");
    System.setProperty("sip.prot", "5090");
    ConfigFactory.invalidateCaches(); // system properties are cached
    try {
      String message = refused(file).getMessage();
      assertTrue(message.startsWith("system properties: Invalid value at 'sip.prot': unknown key "
          + "(did you mean 'sip.port'?)"), message);
    } finally {
      System.clearProperty("sip.prot");
      ConfigFactory.invalidateCaches();
    }
    assertEquals(5080, ConfigLoader.load(file, Map.of()).getInt("sip.port"));
  }

  @Test
  void anUnknownTopLevelBlockIsRefused() throws Exception {
    String message = refused(write("sip.port = 5080\n\nsipp { port = 5080 }\n")).getMessage();
    assertNames(message, "agent.conf: 3", "sipp");
    assertTrue(message.contains("unknown top-level block (did you mean 'sip'?)"), message);
    assertTrue(message.contains("the blocks are agent, alr, calls, control, metrics, mobility, profiles,"
        + " sip"),
        message);
  }

  @Test
  void everyUnknownKeyIsListedTheFirstOneLocated() throws Exception {
    String message = refused(write("sip.a = 1\nsip.b = 2\nzzz = 3\n")).getMessage();
    assertNames(message, "agent.conf: 1", "sip.a");
    assertTrue(message.contains("and 2 more: sip.b, zzz"), message);
  }

  @Test
  void aValueThatIsNotUtf8IsRefusedNamingLineAndKey() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    bytes.writeBytes("sip {\n  port = 5080\n  user-agent = \"caf".getBytes(StandardCharsets.UTF_8));
    bytes.write(0xE9); // Latin-1 e-acute: not UTF-8
    bytes.writeBytes("\"\n}\n".getBytes(StandardCharsets.UTF_8));
    Path file = dir.resolve("agent.conf");
    Files.write(file, bytes.toByteArray());

    String message = refused(file).getMessage();
    assertNames(message, "agent.conf: 3", "sip.user-agent");
    assertTrue(message.contains("not valid UTF-8 (byte 0xE9 at column 20)"), message);
  }

  @Test
  void aSeedPasswordThatIsNotUtf8IsNamedButNotQuoted() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    bytes.writeBytes("profiles = [\n  { id = a\n    password = \"Zq".getBytes(StandardCharsets.UTF_8));
    bytes.write(0xFF);
    bytes.writeBytes("Xw\" }\n]\n".getBytes(StandardCharsets.UTF_8));
    Path file = dir.resolve("agent.conf");
    Files.write(file, bytes.toByteArray());

    String message = refused(file).getMessage();
    assertNames(message, "agent.conf: 3", "profiles[0].password");
    assertFalse(message.contains("Zq") || message.contains("Xw"), "no part of it: " + message);
  }

  @Test
  void anIncludedFileThatIsNotUtf8IsNamed() throws Exception {
    Path included = dir.resolve("site.conf");
    Files.write(included, new byte[] {'s', 'i', 'p', '.', 'u', 's', 'e', 'r', '-', 'a', 'g', 'e',
        'n', 't', ' ', '=', ' ', '"', (byte) 0xC3, '"', '\n'});
    String message = refused(write("include required(\"site.conf\")\n")).getMessage();
    assertNames(message, "site.conf: 1", "sip.user-agent");
    assertTrue(message.contains("not valid UTF-8"), message);
  }

  @Test
  void aMissingRequiredIncludeNamesTheIncludingFileAndLine() throws Exception {
    Path file = write("sip.port = 5080\ninclude required(\"secrets.conf\")\n");
    String message = refused(file).getMessage();
    assertTrue(message.contains("agent.conf: 2"), message);
    assertTrue(message.contains("include required(\"secrets.conf\")"), message);
    assertTrue(message.contains(dir.resolve("secrets.conf").toString()), message);
  }

  @Test
  void aMissingOptionalIncludeIsNoError() throws Exception {
    Config c = ConfigLoader.load(write("include \"local.conf\"\nsip.port = 5082\n"), Map.of());
    assertEquals(5082, c.getInt("sip.port"));
  }

  @Test
  void aMissingIncludeOfAnIncludedFileIsNamedWhereItIsWritten() throws Exception {
    Path site = dir.resolve("site.conf");
    Files.writeString(site, "sip.port = 5081\n\ninclude required(\"secrets.conf\")\n");
    String message = refused(write("include \"site.conf\"\n")).getMessage();
    assertTrue(message.contains("site.conf: 3: include required(\"secrets.conf\"): required "
        + "include not found (" + dir.resolve("secrets.conf") + ")"), message);
  }

  @Test
  void aValueFromAnEnvironmentVariableNamesTheVariable() throws Exception {
    Config c = ConfigLoader.load(write(""), Map.of("SIPALR_SIP_PORT", "fifty"));
    ConfigException e = assertThrows(ConfigException.class, () -> SipConfig.from(c));
    assertTrue(e.getMessage().contains("environment variable SIPALR_SIP_PORT"), e.getMessage());
    assertTrue(e.getMessage().contains("sip.port"), e.getMessage());

    Config big = ConfigLoader.load(write(""), Map.of("SIPALR_SIP_PORT", "70000"));
    e = assertThrows(ConfigException.class, () -> SipConfig.from(big));
    assertTrue(e.getMessage().startsWith("environment variable SIPALR_SIP_PORT: "), e.getMessage());
    assertTrue(e.getMessage().contains("'sip.port'"), e.getMessage());

    Config fine = ConfigLoader.load(write(""), Map.of("SIPALR_SIP_PORT", "5090"));
    assertEquals(5090, SipConfig.from(fine).port());
  }

  @Test
  void aKeySetInTheFileStillHidesItsVariable() throws Exception {
    Config c = ConfigLoader.load(write("sip.port = 5081\n"), Map.of("SIPALR_SIP_PORT", "5090"));
    assertEquals(5081, c.getInt("sip.port"));
  }
}
