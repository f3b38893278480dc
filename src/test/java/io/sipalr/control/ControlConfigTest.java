package io.sipalr.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import io.sipalr.config.AgentConfFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

class ControlConfigTest {
  @TempDir Path dir;
  private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
  private final Logger tokenLog = (Logger) LoggerFactory.getLogger(TokenFile.class);

  @BeforeEach
  void captureLog() {
    logged.start();
    tokenLog.addAppender(logged);
  }

  @AfterEach
  void releaseLog() {
    tokenLog.detachAppender(logged);
  }

  private Config load(String text) throws Exception {
    return AgentConfFile.load(dir, text);
  }

  private String error(String text, String keyPath) throws Exception {
    return AgentConfFile.error(dir, text, keyPath, ConfigException.BadValue.class,
        config -> ControlConfig.from(config, dir.resolve("data")));
  }

  @Test
  void defaultsAndAGeneratedTokenSavedOwnerOnly() throws Exception {
    Path data = dir.resolve("data"); // absent: created owner-only too
    ControlConfig c = ControlConfig.from(load(""), data);
    assertEquals("127.0.0.1", c.bindAddress());
    assertEquals(8470, c.port());
    assertEquals(256, c.eventBuffer());
    assertEquals(256, c.maxConnections());
    assertEquals(java.time.Duration.ofSeconds(60), c.idleTimeout());
    assertEquals(2, c.storeThreads());
    assertEquals(64, c.storeQueue());
    assertEquals(data.resolve("control.token"), c.tokenFile());
    assertNull(c.token(), "none configured: the server reads or generates the file's");
    assertFalse(Files.exists(data), "reading the configuration writes nothing");

    // What the ControlServer does with it.
    String token = TokenFile.readOrCreate(c.tokenFile());
    assertTrue(token.matches("[A-Za-z0-9_-]{43}"), "32 bytes, base64url: " + token);
    assertEquals(token, Files.readString(c.tokenFile()).trim());
    assertEquals("rw-------",
        PosixFilePermissions.toString(Files.getPosixFilePermissions(c.tokenFile())));
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(data)));
    try (var files = Files.list(data)) {
      assertEquals(1, files.count(), "no temp file left");
    }

    // The log names the file, never the token; toString hides it too.
    String log = logged.list.stream().map(ILoggingEvent::getFormattedMessage).toList().toString();
    assertTrue(log.contains(c.tokenFile().toAbsolutePath().toString()), log);
    assertFalse(log.contains(token), log);
    ControlConfig withToken = new ControlConfig(c.bindAddress(), c.port(), token, c.tokenFile(),
        c.eventBuffer());
    assertFalse(withToken.toString().contains(token), withToken.toString());

    assertEquals(token, TokenFile.readOrCreate(c.tokenFile()), "the file's token is reused");
  }

  @Test
  void aConfiguredTokenWinsAndNoFileIsWritten() throws Exception {
    ControlConfig c = ControlConfig.from(load("""
        control { address = "127.0.0.9", port = 0, token = "0123456789abcdef0123", event-buffer = 4 }
        """), dir);
    assertEquals("0123456789abcdef0123", c.token());
    assertEquals("127.0.0.9", c.bindAddress());
    assertEquals(0, c.port());
    assertEquals(4, c.eventBuffer());
    assertFalse(Files.exists(dir.resolve("control.token")));
  }

  @Test
  void theConnectionLimitIdleTimeoutAndStoreWritersAreRead() throws Exception {
    ControlConfig c = ControlConfig.from(load("""
        control { max-connections = 10, idle-timeout = 5s, store-threads = 1, store-queue = 3 }
        """), dir);
    assertEquals(10, c.maxConnections());
    assertEquals(java.time.Duration.ofSeconds(5), c.idleTimeout());
    assertEquals(1, c.storeThreads());
    assertEquals(3, c.storeQueue());
  }

  @Test
  void twoGeneratedTokensDiffer() {
    assertNotEquals(TokenFile.generate(), TokenFile.generate());
  }

  @Test
  void errorsNameFileAndKey() throws Exception {
    error("control.port = 70000", "control.port");
    error("control.port = eighty", "control.port");
    error("control.address = localhost", "control.address");
    error("control.event-buffer = 0", "control.event-buffer");
    error("control.max-connections = 0", "control.max-connections");
    error("control.idle-timeout = soon", "control.idle-timeout");
    error("control.idle-timeout = 0s", "control.idle-timeout");
    error("control.store-threads = 0", "control.store-threads");
    error("control.store-queue = 0", "control.store-queue");
    error("control.adress = \"127.0.0.1\"", "control.adress");
    String message = error("control.token = shortsecret", "control.token");
    assertFalse(message.contains("shortsecret"), "never quotes the token: " + message);
  }

  @Test
  void aCorruptTokenFileIsNamed() throws Exception {
    Files.writeString(dir.resolve("control.token"), "short\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TokenFile.readOrCreate(ControlConfig.from(load(""), dir).tokenFile()));
    assertTrue(e.getMessage().contains("control.token"), e.getMessage());
    assertFalse(e.getMessage().contains("short\n"), e.getMessage());
  }

  @Test
  void metricsNeedTheTokenAndHalfTheProfilesMakeReadyByDefault() throws Exception {
    ControlConfig c = ControlConfig.from(load(""), dir.resolve("data"));
    assertFalse(c.metricsWithoutToken());
    assertEquals(0.5, c.readyRegisteredShare());
    ControlConfig set = ControlConfig.from(load("control.metrics-without-token = true\n"
        + "control.ready-registered-share = 0.9\n"), dir.resolve("data"));
    assertTrue(set.metricsWithoutToken());
    assertEquals(0.9, set.readyRegisteredShare());
  }

  @Test
  void aShareOutside0To1IsRefusedNamingTheKey() throws Exception {
    String message = error("control.ready-registered-share = 1.5\n",
        "control.ready-registered-share");
    assertTrue(message.contains("must be a number from 0 to 1"), message);
  }
}
