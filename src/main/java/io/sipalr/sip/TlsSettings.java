package io.sipalr.sip;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;

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
 * @param clientCertificates the key stores a profile may name ({@code tlsClientCertificate})
 *     instead of {@code keyStore}, by name ({@code sip.tls.client-certificates})
 */
public record TlsSettings(
    Path trustStore,
    char[] trustStorePassword,
    Path keyStore,
    char[] keyStorePassword,
    Duration connectTimeout,
    Duration handshakeTimeout,
    boolean sessionResumption,
    Map<String, ClientCertificate> clientCertificates) {

  /**
   * A client certificate and key a profile names: its key store (PKCS#12 or JKS) and that
   * store's (and key's) password, a secret that {@link #toString()} hides.
   */
  public record ClientCertificate(Path keyStore, char[] password) {
    public ClientCertificate {
      java.util.Objects.requireNonNull(keyStore, "keyStore");
      java.util.Objects.requireNonNull(password, "password");
    }

    @Override
    public String toString() {
      return "ClientCertificate[keyStore=" + keyStore + ", password=(hidden)]";
    }
  }

  /**
   * The JVM's trust store, no client certificate, 5 s to connect and 5 s to shake hands,
   * sessions resumed.
   */
  public static final TlsSettings DEFAULTS = new TlsSettings(null, null, null, null,
      Duration.ofSeconds(5), Duration.ofSeconds(5), true, Map.of());

  /** What a client certificate may be called (a config key, a profile's value). */
  static final java.util.regex.Pattern NAME = java.util.regex.Pattern.compile("[A-Za-z0-9._-]{1,64}");

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
    clientCertificates = clientCertificates == null ? Map.of()
        : java.util.Collections.unmodifiableMap(new TreeMap<>(clientCertificates));
  }

  /** With sessions resumed (the default). */
  public TlsSettings(Path trustStore, char[] trustStorePassword, Path keyStore,
      char[] keyStorePassword, Duration connectTimeout, Duration handshakeTimeout) {
    this(trustStore, trustStorePassword, keyStore, keyStorePassword, connectTimeout,
        handshakeTimeout, true, Map.of());
  }

  /** Trust only the CAs in {@code trustStore} (PKCS#12 or JKS), e.g. a test CA. */
  public static TlsSettings trusting(Path trustStore, char[] password) {
    return new TlsSettings(trustStore, password, null, null, DEFAULTS.connectTimeout(),
        DEFAULTS.handshakeTimeout());
  }

  /** The same with this client certificate. */
  public TlsSettings withKeyStore(Path store, char[] password) {
    return new TlsSettings(trustStore, trustStorePassword, store, password, connectTimeout,
        handshakeTimeout, sessionResumption, clientCertificates);
  }

  /** The same with client certificate {@code name} too, for the profiles that name it. */
  public TlsSettings withClientCertificate(String name, Path store, char[] password) {
    Map<String, ClientCertificate> all = new TreeMap<>(clientCertificates);
    all.put(name, new ClientCertificate(store, password));
    return new TlsSettings(trustStore, trustStorePassword, keyStore, keyStorePassword,
        connectTimeout, handshakeTimeout, sessionResumption, all);
  }

  /** The same with session resumption on or off ({@code sip.tls.session-resumption}). */
  public TlsSettings withSessionResumption(boolean on) {
    return new TlsSettings(trustStore, trustStorePassword, keyStore, keyStorePassword,
        connectTimeout, handshakeTimeout, on, clientCertificates);
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
        !c.hasPath("sip.tls.session-resumption") || c.getBoolean("sip.tls.session-resumption"),
        clientCertificates(c));
  }

  /**
   * {@code sip.tls.client-certificates { NAME { key-store, key-store-password } }}: both set
   * for each name, the names as a profile's {@code tlsClientCertificate} gives them.
   */
  private static Map<String, ClientCertificate> clientCertificates(Config c) {
    String block = "sip.tls.client-certificates";
    if (!c.hasPath(block)) {
      return Map.of();
    }
    Map<String, ClientCertificate> all = new TreeMap<>();
    for (String name : c.getObject(block).keySet()) {
      String key = block + "." + com.typesafe.config.ConfigUtil.joinPath(name);
      if (!NAME.matcher(name).matches()) {
        throw new IllegalArgumentException(key + ": a name of letters, digits, '.', '_' or '-'");
      }
      Path store = path(c, key + ".key-store");
      char[] password = secret(c, key + ".key-store-password");
      if (store == null) {
        throw new IllegalArgumentException(key + ".key-store: must be set");
      }
      if (password == null) {
        throw new IllegalArgumentException(key + ".key-store-password: must be set");
      }
      all.put(name, new ClientCertificate(store, password));
    }
    return all;
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
        + ", clientCertificates=" + clientCertificates.keySet()
        + ", passwords=(hidden), connectTimeout=" + connectTimeout
        + ", handshakeTimeout=" + handshakeTimeout
        + ", sessionResumption=" + sessionResumption + "]";
  }
}
