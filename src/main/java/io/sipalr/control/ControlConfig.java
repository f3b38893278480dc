package io.sipalr.control;

import static io.sipalr.config.ConfigChecks.originOf;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigOrigin;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import io.sipalr.config.ConfigChecks;
import io.sipalr.mobility.IpLiterals;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;

/**
 * The control API's settings ({@code control} block).
 *
 * @param bindAddress where it listens; 127.0.0.1 by default
 * @param port its TCP port; 0 picks a free one
 * @param token the bearer token, or {@code null}: one is generated and saved owner-only in
 *     {@code tokenFile}, whose path is logged
 * @param eventBuffer events kept per slow SSE reader before some are dropped (and it is told)
 * @param maxConnections connections open at once at most; beyond, a new one is closed at once
 * @param idleTimeout an HTTP connection with no request and no answer under way for this long
 *     is closed (never an event stream)
 * @param storeThreads threads writing profiles to the store (fsync), off the event loops
 * @param storeQueue requests that write the store waiting for one of those threads at most;
 *     beyond, a request is answered 503 with Retry-After
 * @param metricsWithoutToken whether {@code GET /metrics} answers without the token (a
 *     Prometheus scrape without credentials); false by default
 * @param readyRegisteredShare the share (0..1) of enabled profiles that must be REGISTERED for
 *     {@code GET /v1/health/ready} not to say "down"
 */
public record ControlConfig(String bindAddress, int port, String token, Path tokenFile,
    int eventBuffer, int maxConnections, Duration idleTimeout, int storeThreads,
    int storeQueue, boolean metricsWithoutToken, double readyRegisteredShare) {

  public static final int DEFAULT_MAX_CONNECTIONS = 256;
  public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(60);
  public static final int DEFAULT_STORE_THREADS = 2;
  public static final int DEFAULT_STORE_QUEUE = 64;
  public static final double DEFAULT_READY_REGISTERED_SHARE = 0.5;

  /** Shorter tokens are guessable; a generated one has 43 characters. */
  public static final int MIN_TOKEN_LENGTH = 16;
  /** The file under the data directory that holds a generated token. */
  public static final String TOKEN_FILE = "control.token";

  private static final String PATH = "control";
  private static final Set<String> KEYS = Set.of("enabled", "address", "port", "token",
      "event-buffer", "max-connections", "idle-timeout", "store-threads", "store-queue",
      "metrics-without-token", "ready-registered-share");

  public ControlConfig {
    Objects.requireNonNull(bindAddress, "bindAddress");
    if (port < 0 || port > 65_535) {
      throw new IllegalArgumentException("control.port: must be 0..65535, was " + port);
    }
    if (eventBuffer < 1) {
      throw new IllegalArgumentException("control.event-buffer: must be at least 1");
    }
    if (maxConnections < 1) {
      throw new IllegalArgumentException("control.max-connections: must be at least 1");
    }
    Objects.requireNonNull(idleTimeout, "idleTimeout");
    if (idleTimeout.toMillis() < 1) {
      throw new IllegalArgumentException("control.idle-timeout: must be at least 1 ms");
    }
    if (storeThreads < 1 || storeQueue < 1) {
      throw new IllegalArgumentException(
          "control.store-threads and control.store-queue: must be at least 1");
    }
    if (!(readyRegisteredShare >= 0 && readyRegisteredShare <= 1)) {
      throw new IllegalArgumentException("control.ready-registered-share: must be 0..1, was "
          + readyRegisteredShare);
    }
    if (token == null && tokenFile == null) {
      throw new IllegalArgumentException("control: a token or a token file is needed");
    }
    if (token != null && tokenProblem(token) != null) {
      throw new IllegalArgumentException("control.token: " + tokenProblem(token));
    }
  }

  /** The token required on {@code /metrics}, and the default readiness share. */
  public ControlConfig(String bindAddress, int port, String token, Path tokenFile,
      int eventBuffer, int maxConnections, Duration idleTimeout, int storeThreads,
      int storeQueue) {
    this(bindAddress, port, token, tokenFile, eventBuffer, maxConnections, idleTimeout,
        storeThreads, storeQueue, false, DEFAULT_READY_REGISTERED_SHARE);
  }

  /** With the defaults of the connection limit, idle timeout and store writers. */
  public ControlConfig(String bindAddress, int port, String token, Path tokenFile,
      int eventBuffer) {
    this(bindAddress, port, token, tokenFile, eventBuffer, DEFAULT_MAX_CONNECTIONS,
        DEFAULT_IDLE_TIMEOUT, DEFAULT_STORE_THREADS, DEFAULT_STORE_QUEUE);
  }

  /**
   * Reads {@code control}; {@code dataDir} holds the generated token file. Only reads: when no
   * token is configured, {@code token} is null and the {@link ControlServer} uses the one in
   * {@code dataDir/control.token}, generated first if absent (so that {@code status}, which
   * reads this too, never writes into an agent's data directory).
   *
   * @throws ConfigException naming the file and key of a bad value
   */
  public static ControlConfig from(Config root, Path dataDir) {
    ConfigValue blockValue = root.root().get(PATH);
    if (blockValue == null || blockValue.valueType() != ConfigValueType.OBJECT) {
      throw new ConfigException.BadValue(blockValue == null ? root.origin() : blockValue.origin(),
          PATH, "must be an object { address = ..., port = ... }");
    }
    ConfigObject block = (ConfigObject) blockValue;
    ConfigChecks.rejectUnknownKeys(block, PATH, KEYS);

    String address = string(block, "address");
    try {
      IpLiterals.parse(address.trim());
    } catch (IllegalArgumentException e) {
      throw bad(originOf(block, "address"), "address",
          "must be an IP address such as 127.0.0.1 (no host names), was \"" + address + "\"");
    }
    int port = integer(block, "port");
    if (port < 0 || port > 65_535) {
      throw bad(originOf(block, "port"), "port",
          "must be 0..65535 (0: any free port), was " + port);
    }
    int eventBuffer = integer(block, "event-buffer");
    if (eventBuffer < 1 || eventBuffer > 1_000_000) {
      throw bad(originOf(block, "event-buffer"), "event-buffer",
          "must be 1..1000000 events, was " + eventBuffer);
    }

    Path tokenFile = dataDir.resolve(TOKEN_FILE);
    ConfigValue tokenValue = block.get("token");
    String token = null;
    if (tokenValue != null && tokenValue.valueType() != ConfigValueType.NULL) {
      if (tokenValue.valueType() != ConfigValueType.STRING
          && tokenValue.valueType() != ConfigValueType.NUMBER) {
        throw bad(tokenValue.origin(), "token", "must be a string");
      }
      token = String.valueOf(tokenValue.unwrapped());
      String problem = tokenProblem(token);
      if (problem != null) {
        // The message never quotes the token.
        throw bad(tokenValue.origin(), "token", problem);
      }
    }
    int maxConnections = integer(block, "max-connections");
    if (maxConnections < 1 || maxConnections > 1_000_000) {
      throw bad(originOf(block, "max-connections"), "max-connections",
          "must be 1..1000000 connections, was " + maxConnections);
    }
    Duration idleTimeout;
    try {
      idleTimeout = root.getDuration(PATH + ".idle-timeout");
    } catch (ConfigException e) {
      throw bad(originOf(block, "idle-timeout"), "idle-timeout",
          "must be a duration such as 60s");
    }
    if (idleTimeout.toMillis() < 1) {
      throw bad(originOf(block, "idle-timeout"), "idle-timeout",
          "must be positive, such as 60s, was " + idleTimeout);
    }
    int storeThreads = integer(block, "store-threads");
    if (storeThreads < 1 || storeThreads > 64) {
      throw bad(originOf(block, "store-threads"), "store-threads",
          "must be 1..64 threads, was " + storeThreads);
    }
    int storeQueue = integer(block, "store-queue");
    if (storeQueue < 1 || storeQueue > 100_000) {
      throw bad(originOf(block, "store-queue"), "store-queue",
          "must be 1..100000 requests, was " + storeQueue);
    }
    boolean metricsWithoutToken;
    try {
      metricsWithoutToken = root.getBoolean(PATH + ".metrics-without-token");
    } catch (ConfigException e) {
      throw bad(originOf(block, "metrics-without-token"), "metrics-without-token",
          "must be true or false");
    }
    double share;
    try {
      share = root.getDouble(PATH + ".ready-registered-share");
    } catch (ConfigException e) {
      throw bad(originOf(block, "ready-registered-share"), "ready-registered-share",
          "must be a number from 0 to 1, such as 0.5");
    }
    if (!(share >= 0 && share <= 1)) {
      throw bad(originOf(block, "ready-registered-share"), "ready-registered-share",
          "must be a number from 0 to 1, such as 0.5, was " + share);
    }
    return new ControlConfig(address.trim(), port, token, tokenFile, eventBuffer,
        maxConnections, idleTimeout, storeThreads, storeQueue, metricsWithoutToken, share);
  }

  /** What is wrong with a configured token, or null. */
  static String tokenProblem(String token) {
    if (token.length() < MIN_TOKEN_LENGTH) {
      return "must be at least " + MIN_TOKEN_LENGTH + " characters (leave it unset to have one"
          + " generated)";
    }
    if (!token.chars().allMatch(c -> c > ' ' && c < 0x7f)) {
      return "must be printable ASCII without spaces (it is sent in an HTTP header)";
    }
    return null;
  }

  /** Never the token. */
  @Override
  public String toString() {
    return "ControlConfig[bindAddress=" + bindAddress + ", port=" + port + ", token="
        + (token == null ? "null" : "***") + ", tokenFile=" + tokenFile + ", eventBuffer="
        + eventBuffer + ", maxConnections=" + maxConnections + ", idleTimeout=" + idleTimeout
        + ", storeThreads=" + storeThreads + ", storeQueue=" + storeQueue
        + ", metricsWithoutToken=" + metricsWithoutToken + ", readyRegisteredShare="
        + readyRegisteredShare + "]";
  }

  private static String string(ConfigObject block, String key) {
    ConfigValue value = block.get(key);
    if (value == null || value.valueType() != ConfigValueType.STRING) {
      throw bad(originOf(block, key), key, "must be set (a string)");
    }
    return (String) value.unwrapped();
  }

  private static int integer(ConfigObject block, String key) {
    ConfigValue value = block.get(key);
    if (value != null && value.valueType() == ConfigValueType.NUMBER
        && value.unwrapped() instanceof Integer) {
      return (Integer) value.unwrapped();
    }
    if (value != null && value.valueType() == ConfigValueType.STRING) {
      try {
        // An environment override arrives as a string.
        return Integer.parseInt(((String) value.unwrapped()).trim());
      } catch (NumberFormatException e) {
        // reported below
      }
    }
    throw bad(originOf(block, key), key, "must be a whole number");
  }

  private static ConfigException bad(ConfigOrigin origin, String key, String problem) {
    return new ConfigException.BadValue(origin, PATH + "." + key, problem);
  }
}
