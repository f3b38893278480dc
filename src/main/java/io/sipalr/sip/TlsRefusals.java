package io.sipalr.sip;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells a REGISTER that could not be sent because the registrar's certificate was refused
 * from any other send failure, and says so once, clearly: profile, host and reason (expired,
 * untrusted, name mismatch). Such a profile waits {@code sip.auth-retry} (docs/registration.md,
 * "TLS"), as the stack would otherwise connect and shake hands again at every backoff step.
 */
final class TlsRefusals {
  private static final Logger log = LoggerFactory.getLogger(TlsRefusals.class);

  private TlsRefusals() {}

  /** "TLS: certificate of HOST refused: REASON" when {@code failure} is one, else null. */
  static String reason(String profileId, Throwable failure) {
    SipTrust.Refused refused = SipTrust.refusal(failure);
    if (refused == null) {
      return null;
    }
    String reason = "TLS " + refused.reason + ": " + refused.getMessage();
    log.warn("{}: {}", profileId, reason);
    return reason;
  }
}
