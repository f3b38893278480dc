package io.sipalr.sip;

import java.io.IOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The agent's TLS trust: one {@link SSLContext} per SIP stack and client certificate (so that
 * its client session cache, and with it session resumption, is shared by every connection and
 * every uplink showing that certificate), whose trust
 * manager checks a registrar's chain against the configured trust store (PKIX, validity
 * included) and then its name against the SIP domain the connection is for (RFC 5922, see
 * {@link Rfc5922Names}). A refusal is a {@link Refused} naming host and reason.
 */
final class SipTrust {

  /** Why a server certificate was refused; the message names the host and the reason. */
  static final class Refused extends CertificateException {
    /**
     * The server's certificate expired, not yet valid, untrusted or for another name; or the
     * server refused the agent's client certificate (or its lack of one); or the profile's
     * client certificate is not the one the connection it would share shows.
     */
    enum Reason { EXPIRED, NOT_YET_VALID, UNTRUSTED, NAME_MISMATCH, CLIENT_CERTIFICATE_REFUSED,
      CLIENT_CERTIFICATE_CONFLICT, CLIENT_CERTIFICATE_UNKNOWN }

    final String host;
    final Reason reason;

    Refused(String host, Reason reason, String detail, Throwable cause) {
      this(host, reason, cause, "certificate of " + host + " refused: " + detail);
    }

    private Refused(String host, Reason reason, Throwable cause, String message) {
      super(message, cause);
      this.host = host;
      this.reason = reason;
    }

    /** {@code message} as it is, naming {@code host} itself. */
    static Refused clientSide(String host, Reason reason, String message, Throwable cause) {
      return new Refused(host, reason, cause, message);
    }
  }

  private final DomainTrustManager trustManager;
  /** The config-wide client certificate's (sip.tls.key-store), or none's. */
  private final SSLContext context;
  /**
   * One per named client certificate (sip.tls.client-certificates), never per profile: the
   * profiles naming one share its context and so its session cache. A session is never
   * resumed under another certificate than the one it was made with.
   */
  private final Map<String, SSLContext> named;

  SipTrust(TlsSettings settings) throws GeneralSecurityException, IOException {
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(
        TrustManagerFactory.getDefaultAlgorithm());
    // null: the JVM's own trust store (cacerts, or javax.net.ssl.trustStore if a user set it).
    tmf.init(settings.trustStore() == null ? null
        : load(settings.trustStore(), settings.trustStorePassword(), "sip.tls.trust-store"));
    X509ExtendedTrustManager pkix = null;
    for (TrustManager tm : tmf.getTrustManagers()) {
      if (tm instanceof X509ExtendedTrustManager x) {
        pkix = x;
      }
    }
    if (pkix == null) {
      throw new GeneralSecurityException("no X509 trust manager for " + settings);
    }
    trustManager = new DomainTrustManager(pkix);
    context = context(settings.keyStore() == null ? null
        : keys(settings.keyStore(), settings.keyStorePassword(), "sip.tls.key-store"));
    Map<String, SSLContext> contexts = new TreeMap<>();
    for (Map.Entry<String, TlsSettings.ClientCertificate> e
        : settings.clientCertificates().entrySet()) {
      String key = "sip.tls.client-certificates." + e.getKey() + ".key-store";
      contexts.put(e.getKey(),
          context(keys(e.getValue().keyStore(), e.getValue().password(), key)));
    }
    named = Map.copyOf(contexts);
  }

  private SSLContext context(X509ExtendedKeyManager keys) throws GeneralSecurityException {
    SSLContext c = SSLContext.getInstance("TLS");
    c.init(new KeyManager[] {new WatchedKeyManager(keys)}, new TrustManager[] {trustManager},
        null);
    return c;
  }

  /** The key manager of the key store at {@code path}, which must hold a private key. */
  private static X509ExtendedKeyManager keys(Path path, char[] password, String key)
      throws GeneralSecurityException, IOException {
    KeyStore store = load(path, password, key);
    boolean hasKey = false;
    for (String alias : java.util.Collections.list(store.aliases())) {
      hasKey |= store.isKeyEntry(alias);
    }
    if (!hasKey) {
      throw new GeneralSecurityException(key + ": " + path + " holds no private key");
    }
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(
        KeyManagerFactory.getDefaultAlgorithm());
    try {
      kmf.init(store, password);
    } catch (java.security.UnrecoverableKeyException e) {
      throw new GeneralSecurityException(key + ": cannot read the key in " + path
          + " (its password is not the store's?)", e);
    }
    for (KeyManager km : kmf.getKeyManagers()) {
      if (km instanceof X509ExtendedKeyManager x) {
        return x;
      }
    }
    throw new GeneralSecurityException(key + ": no X509 key manager for " + path);
  }

  /**
   * What a handshake with {@code host} checks, without one: PKIX against the trust store, then
   * the RFC 5922 name (the unit tests' way in).
   */
  void checkServer(X509Certificate[] chain, String authType, String host)
      throws CertificateException {
    DomainTrustManager.check(chain, host, () -> trustManager.pkix.checkServerTrusted(chain,
        authType));
  }

  SSLContext context() {
    return context;
  }

  /**
   * The context whose connections show client certificate {@code name}; {@code null}: the
   * config-wide one (or none).
   */
  SSLContext context(String name) {
    if (name == null) {
      return context;
    }
    SSLContext c = named.get(name);
    if (c == null) {
      throw new IllegalArgumentException("no client certificate \"" + name
          + "\" in sip.tls.client-certificates");
    }
    return c;
  }

  /** Every context: the config-wide one, then one per named client certificate. */
  java.util.Collection<SSLContext> contexts() {
    java.util.List<SSLContext> all = new java.util.ArrayList<>(named.values());
    all.add(0, context);
    return all;
  }

  /** The names of sip.tls.client-certificates, sorted. */
  java.util.Set<String> clientCertificates() {
    return new java.util.TreeSet<>(named.keySet());
  }

  /**
   * What the handshake on this thread did about a client certificate: whether the server
   * asked for one, and whether one was shown. Set by {@link #watch()}.
   */
  static final class ClientAuth {
    volatile boolean asked;
    volatile boolean shown;
  }

  private static final ThreadLocal<ClientAuth> WATCHED = new ThreadLocal<>();

  /**
   * Watches the handshakes on this thread (a socket's handshake runs on the thread that starts
   * it) until {@link #unwatch()}.
   */
  static ClientAuth watch() {
    ClientAuth auth = new ClientAuth();
    WATCHED.set(auth);
    return auth;
  }

  static void unwatch() {
    WATCHED.remove();
  }

  /** A key manager (or none) that tells {@link ClientAuth} when the server asks for a key. */
  private static final class WatchedKeyManager extends X509ExtendedKeyManager {
    private final X509ExtendedKeyManager keys;

    WatchedKeyManager(X509ExtendedKeyManager keys) {
      this.keys = keys;
    }

    private static String seen(String alias) {
      ClientAuth auth = WATCHED.get();
      if (auth != null) {
        auth.asked = true;
        auth.shown |= alias != null;
      }
      return alias;
    }

    @Override
    public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
      return seen(keys == null ? null : keys.chooseClientAlias(keyType, issuers, socket));
    }

    @Override
    public String chooseEngineClientAlias(String[] keyType, Principal[] issuers,
        SSLEngine engine) {
      return seen(keys == null ? null : keys.chooseEngineClientAlias(keyType, issuers, engine));
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
      return keys == null ? null : keys.getClientAliases(keyType, issuers);
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
      return keys == null ? null : keys.getServerAliases(keyType, issuers);
    }

    @Override
    public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
      return keys == null ? null : keys.chooseServerAlias(keyType, issuers, socket);
    }

    @Override
    public String chooseEngineServerAlias(String keyType, Principal[] issuers,
        SSLEngine engine) {
      return keys == null ? null : keys.chooseEngineServerAlias(keyType, issuers, engine);
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
      return keys == null ? null : keys.getCertificateChain(alias);
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
      return keys == null ? null : keys.getPrivateKey(alias);
    }
  }

  private static KeyStore load(Path path, char[] password, String key)
      throws GeneralSecurityException, IOException {
    if (!Files.isReadable(path)) {
      throw new IOException(key + ": " + path + " is not a readable file");
    }
    // PKCS#12 or JKS, told apart by the content (KeyStore.getInstance(File, ...)).
    try {
      return KeyStore.getInstance(path.toFile(), password);
    } catch (IOException e) {
      throw new IOException(key + ": cannot read " + path + " (wrong password or format?)", e);
    }
  }

  /** The domain a connection must prove: the host the SSL socket was created for. */
  private static String expectedHost(SSLSession handshake) {
    return handshake == null ? null : handshake.getPeerHost();
  }

  /** PKIX first (chain, CA, validity), then the RFC 5922 name check. */
  private static final class DomainTrustManager extends X509ExtendedTrustManager {
    private final X509ExtendedTrustManager pkix;

    DomainTrustManager(X509ExtendedTrustManager pkix) {
      this.pkix = pkix;
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      String host = socket instanceof SSLSocket s ? expectedHost(s.getHandshakeSession())
          : null;
      check(chain, host, () -> pkix.checkServerTrusted(chain, authType, socket));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      String host = engine == null ? null : expectedHost(engine.getHandshakeSession());
      check(chain, host, () -> pkix.checkServerTrusted(chain, authType, engine));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      check(chain, null, () -> pkix.checkServerTrusted(chain, authType));
    }

    private interface Check {
      void run() throws CertificateException;
    }

    private static void check(X509Certificate[] chain, String host, Check pkixCheck)
        throws CertificateException {
      String who = host == null ? "the server" : host;
      if (chain == null || chain.length == 0) {
        throw new Refused(who, Refused.Reason.UNTRUSTED, "no certificate", null);
      }
      X509Certificate leaf = chain[0];
      try {
        leaf.checkValidity(); // a clearer message than PKIX's for the commonest failure
      } catch (CertificateExpiredException e) {
        throw new Refused(who, Refused.Reason.EXPIRED, "expired on "
            + leaf.getNotAfter().toInstant() + " (now " + Instant.now() + ")", e);
      } catch (CertificateNotYetValidException e) {
        throw new Refused(who, Refused.Reason.NOT_YET_VALID, "not valid before "
            + leaf.getNotBefore().toInstant(), e);
      }
      try {
        pkixCheck.run();
      } catch (CertificateException e) {
        Refused.Reason reason = expired(e) ? Refused.Reason.EXPIRED : Refused.Reason.UNTRUSTED;
        throw new Refused(who, reason, (reason == Refused.Reason.EXPIRED
            ? "a certificate of its chain expired" : "not issued by a trusted CA (issuer "
            + leaf.getIssuerX500Principal().getName() + ")"), e);
      }
      if (host == null) {
        throw new Refused(who, Refused.Reason.NAME_MISMATCH,
            "no SIP domain to check its name against", null);
      }
      if (!Rfc5922Names.matches(leaf, host)) {
        throw new Refused(who, Refused.Reason.NAME_MISMATCH, "its names "
            + Rfc5922Names.presented(leaf, host) + " do not include " + host
            + " (RFC 5922: SIP URI, else DNS names; no wildcards)", null);
      }
    }

    private static boolean expired(Throwable e) {
      for (Throwable t = e; t != null; t = t.getCause()) {
        if (t instanceof CertificateExpiredException) {
          return true;
        }
        if (t instanceof CertPathValidatorException v
            && v.getReason() == CertPathValidatorException.BasicReason.EXPIRED) {
          return true;
        }
      }
      return false;
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      pkix.checkClientTrusted(chain, authType, socket);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      pkix.checkClientTrusted(chain, authType, engine);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      pkix.checkClientTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return pkix.getAcceptedIssuers();
    }
  }

  /** The {@link Refused} somewhere in {@code e}'s causes, or null. */
  static Refused refusal(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof Refused r) {
        return r;
      }
    }
    return null;
  }
}
