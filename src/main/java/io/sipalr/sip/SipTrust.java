package io.sipalr.sip;

import java.io.IOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The agent's TLS trust: one {@link SSLContext} per SIP stack (so that its client session cache,
 * and with it session resumption, is shared by every connection and every uplink), whose trust
 * manager checks a registrar's chain against the configured trust store (PKIX, validity
 * included) and then its name against the SIP domain the connection is for (RFC 5922, see
 * {@link Rfc5922Names}). A refusal is a {@link Refused} naming host and reason.
 */
final class SipTrust {

  /** Why a server certificate was refused; the message names the host and the reason. */
  static final class Refused extends CertificateException {
    enum Reason { EXPIRED, NOT_YET_VALID, UNTRUSTED, NAME_MISMATCH }

    final String host;
    final Reason reason;

    Refused(String host, Reason reason, String detail, Throwable cause) {
      super("certificate of " + host + " refused: " + detail, cause);
      this.host = host;
      this.reason = reason;
    }
  }

  private final SSLContext context;
  private final DomainTrustManager trustManager;

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
    KeyManager[] keys = null;
    if (settings.keyStore() != null) {
      KeyManagerFactory kmf = KeyManagerFactory.getInstance(
          KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(load(settings.keyStore(), settings.keyStorePassword(), "sip.tls.key-store"),
          settings.keyStorePassword());
      keys = kmf.getKeyManagers();
    }
    trustManager = new DomainTrustManager(pkix);
    context = SSLContext.getInstance("TLS");
    context.init(keys, new TrustManager[] {trustManager}, null);
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
