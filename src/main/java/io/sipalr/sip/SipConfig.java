package io.sipalr.sip;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import io.sipalr.mobility.IpLiterals;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The SIP side of the agent's configuration (the {@code sip} block of {@code conf/agent.conf}).
 *
 * @param localAddress the address the agent listens on and registers from
 * @param port the UDP and TCP port; 0 picks a free one at start
 * @param registerTimeout how long one REGISTER attempt may take before it counts as failed; far
 *     shorter than Timer F (32 s), so that a dead network is noticed quickly
 * @param backoff RFC 5626 §4.5 retry timing
 * @param keepAliveInterval how often an outbound flow is probed when the registrar sent no
 *     Flow-Timer (RFC 5626 §4.4)
 * @param stackThreads threads the SIP stack uses to deliver events (not per profile)
 * @param workerThreads threads of the shared pool that runs every profile's state machine
 * @param endpointLinger how long a local address nobody registers from any more stays bound
 *     (its TCP connections are closed at once): a carrier back within it moves without a bind
 * @param limits what keeps a misbehaving registrar from making a profile storm or stop
 * @param maxMessageBody the largest MESSAGE body delivered (bytes); a larger one is refused 413
 * @param nat what a registration behind a NAT without outbound does
 * @param outbound how outbound flows are kept alive (RFC 5626 §4.4)
 * @param tls trust store, client certificate and timeouts of TLS profiles ({@code sip.tls})
 */
public record SipConfig(
    String localAddress,
    int port,
    String userAgent,
    Duration registerTimeout,
    Backoff backoff,
    Duration keepAliveInterval,
    int stackThreads,
    int workerThreads,
    Duration endpointLinger,
    RegisterLimits limits,
    int maxMessageBody,
    Nat nat,
    Outbound outbound,
    TlsSettings tls) {

  /** The settings of before TLS, with the JVM's trust store and no client certificate. */
  public SipConfig(String localAddress, int port, String userAgent, Duration registerTimeout,
      Backoff backoff, Duration keepAliveInterval, int stackThreads, int workerThreads,
      Duration endpointLinger, RegisterLimits limits, int maxMessageBody, Nat nat,
      Outbound outbound) {
    this(localAddress, port, userAgent, registerTimeout, backoff, keepAliveInterval,
        stackThreads, workerThreads, endpointLinger, limits, maxMessageBody, nat, outbound,
        TlsSettings.DEFAULTS);
  }

  /** The same settings with {@code tls} instead. */
  public SipConfig withTls(TlsSettings tls) {
    return new SipConfig(localAddress, port, userAgent, registerTimeout, backoff,
        keepAliveInterval, stackThreads, workerThreads, endpointLinger, limits, maxMessageBody,
        nat, outbound, tls);
  }

  /**
   * How an outbound flow is kept alive (README, "Outbound keep-alives").
   *
   * @param keepAlive which keep-alive: the RFC 5626 ones, with or without the OPTIONS fallback
   * @param pongTimeout how long a TCP flow's pong (a CRLF) may take (RFC 5626 §4.4.1: 10 s)
   * @param connectionInterval the keep-alive interval of a TCP flow whose registrar sent no
   *     Flow-Timer (RFC 5626 §4.4.1 recommends 95-120 s); UDP flows use keepAliveInterval
   */
  public record Outbound(OutboundKeepAlive keepAlive, Duration pongTimeout,
      Duration connectionInterval) {
    public static final Outbound DEFAULTS = new Outbound(OutboundKeepAlive.AUTO,
        Duration.ofSeconds(10), Duration.ofSeconds(120));

    public Outbound {
      if (pongTimeout.toMillis() < 100) {
        throw new IllegalArgumentException("sip.outbound.pong-timeout: must be at least 100 ms");
      }
      if (connectionInterval.compareTo(pongTimeout) <= 0) {
        throw new IllegalArgumentException(
            "sip.outbound.connection-interval: must be longer than pong-timeout");
      }
    }
  }

  /** Which keep-alive an outbound flow gets. */
  public enum OutboundKeepAlive {
    /**
     * RFC 5626's: STUN on UDP, a CRLF ping on TCP and TLS; a flow whose registrar answers no
     * STUN or sends no pongs (twice unanswered while OPTIONS is, or a STUN error) falls back to
     * OPTIONS, logged.
     */
    AUTO,
    /** RFC 5626's only: a STUN request or CRLF ping left unanswered fails the flow, always. */
    RFC5626,
    /** An OPTIONS to the flow's far end on every transport: any answer proves the flow. */
    OPTIONS
  }

  /**
   * What the agent does for a registration behind a NAT when the registrar did not negotiate
   * outbound (README, "Behind a NAT").
   *
   * @param contactRewrite re-register with the address the registrar saw (Via received/rport)
   *     when it differs from the Contact, removing the old contact (pjsip's contact rewrite)
   * @param keepAlive what keeps the NAT's mapping open between refreshes
   * @param keepAliveInterval how often on UDP (jittered 80-100 %)
   * @param connectionKeepAliveInterval how often on a TCP or TLS connection (jittered 80-100 %;
   *     a NAT keeps an idle TCP mapping far longer than a UDP one, pjsip pings every 90 s)
   */
  public record Nat(boolean contactRewrite, NatKeepAlive keepAlive,
      Duration keepAliveInterval, Duration connectionKeepAliveInterval) {
    /** pjsip's PJSIP_TCP_KEEP_ALIVE_INTERVAL and PJSIP_TLS_KEEP_ALIVE_INTERVAL. */
    public static final Duration DEFAULT_CONNECTION_INTERVAL = Duration.ofSeconds(90);
    public static final Nat DEFAULTS = new Nat(true, NatKeepAlive.AUTO, Duration.ofSeconds(15));

    public Nat {
      if (keepAliveInterval.toMillis() < 1000) {
        throw new IllegalArgumentException("sip.nat.keepalive-interval: must be at least 1s");
      }
      if (connectionKeepAliveInterval.toMillis() < 1000) {
        throw new IllegalArgumentException(
            "sip.nat.connection-keepalive-interval: must be at least 1s");
      }
    }

    /** The same with the default TCP and TLS interval. */
    public Nat(boolean contactRewrite, NatKeepAlive keepAlive, Duration keepAliveInterval) {
      this(contactRewrite, keepAlive, keepAliveInterval, DEFAULT_CONNECTION_INTERVAL);
    }
  }

  /**
   * The NAT keep-alive without outbound, on UDP. A TCP or TLS connection gets a double CRLF
   * under every kind but {@code OFF} (STUN means nothing there), whose pong fails the connection
   * when missing once the registrar has answered one ({@link NatConnectionPings}).
   */
  public enum NatKeepAlive {
    /**
     * A STUN Binding request on the flow's socket every interval: its mapped address, other
     * than the REGISTER's 200 showed, is a NAT rebinding (re-register at once at the new one);
     * a registrar that answers no STUN (twice unanswered, or an error) gets CRLF, logged.
     */
    AUTO,
    /** STUN as AUTO, never falling back to CRLF. */
    STUN,
    /** A double CRLF on the flow's socket every interval (RFC 5626 §3.5.1's ping, unanswered). */
    CRLF,
    /** Nothing: the refreshes alone (a NAT whose UDP timeout is longer than them). */
    OFF
  }

  /** The largest MESSAGE body delivered when nothing else is configured (bytes). */
  public static final int DEFAULT_MAX_MESSAGE_BODY = 4096;

  /** The settings of before the outbound keep-alive settings, with their defaults. */
  public SipConfig(String localAddress, int port, String userAgent, Duration registerTimeout,
      Backoff backoff, Duration keepAliveInterval, int stackThreads, int workerThreads,
      Duration endpointLinger, RegisterLimits limits, int maxMessageBody, Nat nat) {
    this(localAddress, port, userAgent, registerTimeout, backoff, keepAliveInterval,
        stackThreads, workerThreads, endpointLinger, limits, maxMessageBody, nat,
        Outbound.DEFAULTS);
  }

  /** The settings of before the NAT settings, with their defaults. */
  public SipConfig(String localAddress, int port, String userAgent, Duration registerTimeout,
      Backoff backoff, Duration keepAliveInterval, int stackThreads, int workerThreads,
      Duration endpointLinger, RegisterLimits limits, int maxMessageBody) {
    this(localAddress, port, userAgent, registerTimeout, backoff, keepAliveInterval,
        stackThreads, workerThreads, endpointLinger, limits, maxMessageBody, Nat.DEFAULTS);
  }

  /** The settings of before MESSAGE delivery, with its default body limit. */
  public SipConfig(String localAddress, int port, String userAgent, Duration registerTimeout,
      Backoff backoff, Duration keepAliveInterval, int stackThreads, int workerThreads,
      Duration endpointLinger, RegisterLimits limits) {
    this(localAddress, port, userAgent, registerTimeout, backoff, keepAliveInterval,
        stackThreads, workerThreads, endpointLinger, limits, DEFAULT_MAX_MESSAGE_BODY);
  }

  private static final Pattern CHECK_MESSAGE = Pattern.compile("sip\\.([a-z.-]+): (.*)");

  /** The settings of before the register limits existed, with the default limits. */
  public SipConfig(String localAddress, int port, String userAgent, Duration registerTimeout,
      Backoff backoff, Duration keepAliveInterval, int stackThreads, int workerThreads,
      Duration endpointLinger) {
    this(localAddress, port, userAgent, registerTimeout, backoff, keepAliveInterval,
        stackThreads, workerThreads, endpointLinger, RegisterLimits.DEFAULTS);
  }

  public SipConfig {
    tls = tls == null ? TlsSettings.DEFAULTS : tls;
    if (maxMessageBody < 0 || maxMessageBody > SipEngine.MAX_MESSAGE_SIZE) {
      throw new IllegalArgumentException("sip.max-message-body: must be 0.."
          + SipEngine.MAX_MESSAGE_SIZE + " bytes, was " + maxMessageBody);
    }
    // An IP literal, never a host name: a typo must not become a DNS lookup at start.
    if (localAddress == null || !isIpLiteral(localAddress)) {
      throw new IllegalArgumentException("sip.local-address: must be an IP address such as "
          + "127.0.0.1 (no host names), was "
          + (localAddress == null ? "nothing" : "\"" + localAddress + "\""));
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("sip.port: must be 0..65535, was " + port);
    }
    if (registerTimeout.isNegative() || registerTimeout.isZero()) {
      throw new IllegalArgumentException("sip.register-timeout: must be positive");
    }
    if (keepAliveInterval.toMillis() < 100) {
      throw new IllegalArgumentException("sip.keepalive-interval: must be at least 100 ms");
    }
    if (endpointLinger.isNegative()) {
      throw new IllegalArgumentException("sip.endpoint-linger: must not be negative");
    }
    if (stackThreads < 1 || workerThreads < 1) {
      throw new IllegalArgumentException("sip.stack-threads and sip.worker-threads: must be ≥ 1");
    }
  }

  /**
   * The bounds every profile's registration keeps, whatever the registrar answers (README,
   * "Self-healing").
   *
   * @param authRetry how long after credentials were refused (or a 403) the profile tries again
   * @param minGrantedExpires a granted expiry below this is the registrar's error, not a reason
   *     to refresh sooner: the attempt fails and backs off
   * @param perMinute at most this many REGISTERs per profile in any 60 s; one more waits
   */
  public record RegisterLimits(Duration authRetry, Duration minGrantedExpires, int perMinute) {
    public static final RegisterLimits DEFAULTS =
        new RegisterLimits(Duration.ofMinutes(5), Duration.ofSeconds(10), 20);

    public RegisterLimits {
      if (authRetry.toMillis() < 1000) {
        throw new IllegalArgumentException("sip.auth-retry: must be at least 1s");
      }
      if (minGrantedExpires.isNegative() || minGrantedExpires.toSeconds() > 3600) {
        throw new IllegalArgumentException("sip.min-granted-expires: must be 0s..3600s");
      }
      if (perMinute < 4 || perMinute > 1000) {
        throw new IllegalArgumentException("sip.register-limit-per-minute: must be 4..1000");
      }
    }
  }

  /**
   * RFC 5626 §4.5: after {@code n} consecutive failures wait a random 50–100 % of
   * {@code min(max, base · 2^n)}; base is {@code baseAllFailed} when every flow failed.
   */
  public record Backoff(Duration baseAllFailed, Duration baseSomeFailed, Duration max) {
    public Backoff {
      if (baseAllFailed.isNegative() || baseAllFailed.isZero() || baseSomeFailed.isNegative()
          || baseSomeFailed.isZero() || max.compareTo(baseAllFailed) < 0) {
        throw new IllegalArgumentException(
            "sip.backoff: bases must be positive and max at least base-all-failed");
      }
    }

    /** The upper bound of the wait after {@code failures} consecutive failures (≥ 1). */
    public Duration upperBound(int failures, boolean everyFlowFailed) {
      Duration base = everyFlowFailed ? baseAllFailed : baseSomeFailed;
      int shift = Math.min(Math.max(failures, 0), 30);
      long millis = base.toMillis() << shift;
      return millis <= 0 || millis > max.toMillis() ? max : Duration.ofMillis(millis);
    }
  }

  private static boolean isIpLiteral(String text) {
    try {
      IpLiterals.parse(text);
      return true;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /**
   * Reads the {@code sip} block; errors name the file (or environment variable), line and key:
   * typesafe-config's own for a wrong type, the key's origin for a value out of range.
   */
  public static SipConfig from(Config root) {
    // Full paths, so that typesafe-config's own errors (a wrong type) name sip.<key>.
    Config c = root.getConfig("sip").atKey("sip");
    try {
      return new SipConfig(
          c.getString("sip.local-address"),
          c.getInt("sip.port"),
          c.getString("sip.user-agent"),
          c.getDuration("sip.register-timeout"),
          new Backoff(
              c.getDuration("sip.backoff.base-all-failed"),
              c.getDuration("sip.backoff.base-some-failed"),
              c.getDuration("sip.backoff.max")),
          c.getDuration("sip.keepalive-interval"),
          c.getInt("sip.stack-threads"),
          c.getInt("sip.worker-threads"),
          c.getDuration("sip.endpoint-linger"),
          new RegisterLimits(
              c.getDuration("sip.auth-retry"),
              c.getDuration("sip.min-granted-expires"),
              c.getInt("sip.register-limit-per-minute")),
          c.getInt("sip.max-message-body"),
          new Nat(c.getBoolean("sip.nat.contact-rewrite"),
              c.getEnum(NatKeepAlive.class, "sip.nat.keepalive"),
              c.getDuration("sip.nat.keepalive-interval"),
              c.getDuration("sip.nat.connection-keepalive-interval")),
          new Outbound(c.getEnum(OutboundKeepAlive.class, "sip.outbound.keepalive"),
              c.getDuration("sip.outbound.pong-timeout"),
              c.getDuration("sip.outbound.connection-interval")),
          TlsSettings.from(c));
    } catch (IllegalArgumentException e) {
      // The checks' messages read "sip.<key>: <problem>"; locate that key where it was set.
      Matcher m = CHECK_MESSAGE.matcher(e.getMessage());
      if (m.matches() && c.hasPath("sip." + m.group(1))) {
        throw new ConfigException.BadValue(c.getValue("sip." + m.group(1)).origin(),
            "sip." + m.group(1), m.group(2));
      }
      throw new ConfigException.BadValue(c.getValue("sip").origin(), "sip", e.getMessage());
    }
  }
}
