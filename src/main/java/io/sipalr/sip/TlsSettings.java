package io.sipalr.sip;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;

/**
 * How the agent speaks TLS (the {@code sip.tls} block): whom it trusts, which client
 * certificate it shows, how long a connection and its handshake may take. Protocols are fixed:
 * TLS 1.2 and 1.3 only (RFC 8996 retired the older ones).
 *
 * <p>Passwords are secrets: {@link #toString()} never shows them, and nothing logs them.
 *
 * @param trustStore the CAs that may sign a registrar's certificate; {@code null}: the JVM's
 *     own (cacerts)
 * @param trustStorePassword its password, or {@code null} (a PKCS#12 trust store needs none)
 * @param keyStore the client certificate and key shown when a registrar asks for one, or
 *     {@code null}: none
 * @param keyStorePassword the key store's (and key's) password
 * @param connectTimeout how long the TCP connect under TLS may take
 * @param handshakeTimeout how long the TLS handshake may take after the connect
 * @param sessionResumption whether a new connection to a registrar resumes the TLS session of
 *     an earlier one (the default; a move then skips the certificate exchange). Off makes every
 *     handshake a full one: for a registrar that mishandles resumption, and for measuring what
 *     resumption saves (TlsHandoverBench)
 */
public record TlsSettings(
    Path trustStore,
    char[] trustStorePassword,
    Path keyStore,
    char[] keyStorePassword,
    Duration connectTimeout,
    Duration handshakeTimeout,
    boolean sessionResumption) {

  /**
   * The JVM's trust store, no client certificate, 5 s to connect and 5 s to shake hands,
   * sessions resumed.
   */
  public static final TlsSettings DEFAULTS = new TlsSettings(null, null, null, null,
      Duration.ofSeconds(5), Duration.ofSeconds(5), true);

  /** The protocols every TLS connection is limited to. */
  static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};

  public TlsSettings {
    if (connectTimeout == null || connectTimeout.toMillis() < 1) {
      throw new IllegalArgumentException("sip.tls.connect-timeout: must be positive");
    }
    if (handshakeTimeout == null || handshakeTimeout.toMillis() < 1) {
      throw new IllegalArgumentException("sip.tls.handshake-timeout: must be positive");
    }
    if (keyStore != null && keyStorePassword == null) {
      throw new IllegalArgumentException("sip.tls.key-store-password: must be set with "
          + "sip.tls.key-store");
    }
  }

  /** With sessions resumed (the default). */
  public TlsSettings(Path trustStore, char[] trustStorePassword, Path keyStore,
      char[] keyStorePassword, Duration connectTimeout, Duration handshakeTimeout) {
    this(trustStore, trustStorePassword, keyStore, keyStorePassword, connectTimeout,
        handshakeTimeout, true);
  }

  /** Trust only the CAs in {@code trustStore} (PKCS#12 or JKS), e.g. a test CA. */
  public static TlsSettings trusting(Path trustStore, char[] password) {
    return new TlsSettings(trustStore, password, null, null, DEFAULTS.connectTimeout(),
        DEFAULTS.handshakeTimeout());
  }

  /** The same with this client certificate. */
  public TlsSettings withKeyStore(Path store, char[] password) {
    return new TlsSettings(trustStore, trustStorePassword, store, password, connectTimeout,
        handshakeTimeout, sessionResumption);
  }

  /** The same with session resumption on or off ({@code sip.tls.session-resumption}). */
  public TlsSettings withSessionResumption(boolean on) {
    return new TlsSettings(trustStore, trustStorePassword, keyStore, keyStorePassword,
        connectTimeout, handshakeTimeout, on);
  }

  /** Reads {@code sip.tls}; empty paths mean "not set". */
  static TlsSettings from(Config c) {
    if (!c.hasPath("sip.tls")) {
      return DEFAULTS;
    }
    return new TlsSettings(
        path(c, "sip.tls.trust-store"),
        secret(c, "sip.tls.trust-store-password"),
        path(c, "sip.tls.key-store"),
        secret(c, "sip.tls.key-store-password"),
        c.getDuration("sip.tls.connect-timeout"),
        c.getDuration("sip.tls.handshake-timeout"),
        !c.hasPath("sip.tls.session-resumption") || c.getBoolean("sip.tls.session-resumption"));
  }

  private static Path path(Config c, String key) {
    String value = c.hasPath(key) ? c.getString(key) : "";
    return value.isBlank() ? null : Path.of(value);
  }

  private static char[] secret(Config c, String key) {
    String value = c.hasPath(key) ? c.getString(key) : "";
    return value.isEmpty() ? null : value.toCharArray();
  }

  @Override
  public String toString() {
    return "TlsSettings[trustStore=" + (trustStore == null ? "JVM default" : trustStore)
        + ", keyStore=" + (keyStore == null ? "none" : keyStore)
        + ", passwords=(hidden), connectTimeout=" + connectTimeout
        + ", handshakeTimeout=" + handshakeTimeout
        + ", sessionResumption=" + sessionResumption + "]";
  }
}
