package io.sipalr.sip;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocket;

/**
 * Whether a registrar that asked for a client certificate took the agent's answer (a
 * certificate, or none), told as a clear TLS error ({@link SipTrust.Refused}, reason
 * CLIENT_CERTIFICATE_REFUSED) rather than a connection that dies under the REGISTER.
 *
 * <p>Over TLS 1.2 a refusal is an alert that ends the handshake. Over TLS 1.3 the client's
 * handshake is over before the server has looked at its certificate: the refusal comes with
 * the first read. So a TLS 1.3 connection whose server asked is read briefly before the stack
 * gets it: an alert is the refusal, silence acceptance (the session tickets that come then are
 * no application data). The wait, twice the handshake's time but at least 100 ms and at most
 * the handshake timeout, is paid only where a registrar asks for client certificates.
 */
final class ClientAuthVerdict {
  private static final long MIN_WAIT_MILLIS = 100;

  private ClientAuthVerdict() {}

  /**
   * {@code e}, or, when the server asked for a certificate and then ended the handshake (an
   * alert, or over TLS 1.2 a close that the client's next write meets), why.
   */
  static IOException refusedOrAsIs(IOException e, SipTrust.ClientAuth auth, String host,
      String certificate) {
    if (!auth.asked || SipTrust.refusal(e) != null || e instanceof SocketTimeoutException) {
      return e;
    }
    return refused(host, auth, certificate, String.valueOf(e.getMessage()), e);
  }

  /**
   * Over TLS 1.3 with a certificate asked for: waits for the server's verdict on it. Returns
   * the first byte the server sent meanwhile (the stack must read it first), or -1.
   */
  static int await(SSLSocket socket, SipTrust.ClientAuth auth, String host, String certificate,
      long handshakeMillis, Duration bound) throws IOException {
    if (!auth.asked || !"TLSv1.3".equals(socket.getSession().getProtocol())) {
      return -1;
    }
    long wait = Math.min(bound.toMillis(), Math.max(MIN_WAIT_MILLIS, 2 * handshakeMillis));
    socket.setSoTimeout((int) wait);
    try {
      int first = socket.getInputStream().read();
      if (first < 0) {
        throw refused(host, auth, certificate, "it closed the connection", null);
      }
      return first;
    } catch (SocketTimeoutException silence) {
      return -1; // no alert: taken (JSSE's socket stays usable after a read timeout)
    } catch (SSLException e) {
      throw refusedOrAsIs(e, auth, host, certificate);
    }
  }

  private static IOException refused(String host, SipTrust.ClientAuth auth, String certificate,
      String detail, Throwable cause) {
    String shown = certificate.isEmpty() ? "sip.tls.key-store's" : "\"" + certificate + "\"";
    String message;
    if (auth.shown) {
      message = host + " refused the client certificate " + shown + ": " + detail;
    } else if (!certificate.isEmpty()) {
      message = host + " asked for a client certificate, and " + shown + " is not issued by a"
          + " CA it accepts (none shown): " + detail;
    } else {
      message = host + " asked for a client certificate and the agent showed none (the profile"
          + " names no tlsClientCertificate, and sip.tls.key-store has none): " + detail;
    }
    SSLHandshakeException e = new SSLHandshakeException(message);
    e.initCause(SipTrust.Refused.clientSide(host,
        SipTrust.Refused.Reason.CLIENT_CERTIFICATE_REFUSED, message, cause));
    return e;
  }
}
