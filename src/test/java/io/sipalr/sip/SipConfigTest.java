package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import io.sipalr.config.AgentConfFile;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SipConfigTest {
  @TempDir Path dir;

  private Config load(String text) throws Exception {
    return AgentConfFile.load(dir, text);
  }

  @Test
  void defaultsComeFromReferenceConf() throws Exception {
    SipConfig c = SipConfig.from(load(""));
    assertEquals(5070, c.port());
    assertEquals(Duration.ofSeconds(5), c.registerTimeout());
    assertEquals(Duration.ofSeconds(30), c.backoff().baseAllFailed());
    assertEquals(Duration.ofSeconds(90), c.backoff().baseSomeFailed());
    assertEquals(Duration.ofSeconds(300), c.backoff().max());
    assertEquals(SipConfig.RegisterLimits.DEFAULTS, c.limits());
  }

  @Test
  void registerLimitsAreReadAndChecked() throws Exception {
    SipConfig c = SipConfig.from(load(
        "sip { auth-retry = 2m, min-granted-expires = 30s, register-limit-per-minute = 12 }"));
    assertEquals(new SipConfig.RegisterLimits(Duration.ofMinutes(2), Duration.ofSeconds(30), 12),
        c.limits());
    ConfigException e = assertThrows(ConfigException.class,
        () -> SipConfig.from(load("sip { register-limit-per-minute = 2 }")));
    assertTrue(e.getMessage().contains("register-limit-per-minute"), e.getMessage());
  }

  @Test
  void theNatPingIntervalOfConnectionsIsPjsipsUnlessSetAndAtLeastASecond() throws Exception {
    SipConfig.Nat nat = SipConfig.from(load("")).nat();
    assertEquals(Duration.ofSeconds(90), nat.connectionKeepAliveInterval());
    assertEquals(Duration.ofSeconds(15), nat.keepAliveInterval(), "UDP's stays apart");
    assertEquals(Duration.ofSeconds(5), SipConfig.from(
        load("sip.nat.connection-keepalive-interval = 5s")).nat().connectionKeepAliveInterval());
    String message = AgentConfFile.error(dir,
        "sip {\n  nat {\n    connection-keepalive-interval = 10ms\n  }\n}\n",
        "sip.nat.connection-keepalive-interval", ConfigException.BadValue.class,
        SipConfig::from);
    assertTrue(message.contains("agent.conf: 3"), message);
  }

  @Test
  void wrongTypeNamesFileAndKey() throws Exception {
    ConfigException e = assertThrows(ConfigException.class,
        () -> SipConfig.from(load("sip { port = lots }")));
    assertTrue(e.getMessage().contains("agent.conf"), e.getMessage());
    assertTrue(e.getMessage().contains("port"), e.getMessage());
  }

  @Test
  void outOfRangeValueNamesFileAndKey() throws Exception {
    ConfigException e = assertThrows(ConfigException.class,
        () -> SipConfig.from(load("sip { port = 70000 }")));
    assertTrue(e.getMessage().contains("agent.conf"), e.getMessage());
    assertTrue(e.getMessage().contains("sip.port"), e.getMessage());
  }

  @Test
  void aLocalAddressThatIsNoIpLiteralIsRefusedWithoutDns() throws Exception {
    // Before: accepted here, then looked up in DNS when the stack started (exit 1).
    String message = AgentConfFile.error(dir, "sip {\n  local-address = \"not-an-ip\"\n}\n",
        "sip.local-address", ConfigException.BadValue.class, SipConfig::from);
    assertTrue(message.contains("agent.conf: 2"), message);
    assertTrue(message.contains("must be an IP address"), message);
    // A literal of either family is taken as it is.
    assertEquals("::1", SipConfig.from(load("sip.local-address = \"::1\"")).localAddress());
  }

  @Test
  void aValueOutOfRangeIsLocatedAtItsKeyNotTheBlock() throws Exception {
    String message = AgentConfFile.error(dir, "sip {\n  user-agent = x\n  port = 70000\n}\n",
        "sip.port", ConfigException.BadValue.class, SipConfig::from);
    assertTrue(message.contains("agent.conf: 3"), message);
  }

  @Test
  void backoffFollowsRfc5626() {
    SipConfig.Backoff b = new SipConfig.Backoff(Duration.ofSeconds(30), Duration.ofSeconds(90),
        Duration.ofSeconds(1800));
    assertEquals(Duration.ofSeconds(60), b.upperBound(1, true));
    assertEquals(Duration.ofSeconds(180), b.upperBound(1, false));
    assertEquals(Duration.ofSeconds(960), b.upperBound(5, true));
    assertEquals(Duration.ofSeconds(1800), b.upperBound(6, true));
    assertEquals(Duration.ofSeconds(1800), b.upperBound(40, true));
  }

  @Test
  void traceMasksCredentials() {
    String masked = Slf4jServerLogger.mask("REGISTER sip:x SIP/2.0\r\n"
        + "Authorization: Digest username=\"a\", response=\"abc\"\r\n"
        + "proxy-authorization: Digest username=\"a\", response=\"def\"\r\nCSeq: 1 REGISTER\r\n");
    assertFalse(masked.contains("abc"), masked);
    assertFalse(masked.contains("def"), masked);
    assertTrue(masked.contains("Authorization: ***"), masked);
    assertTrue(masked.contains("CSeq: 1 REGISTER"), masked);
  }
}
