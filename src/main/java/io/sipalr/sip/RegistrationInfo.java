package io.sipalr.sip;

import java.time.Instant;

/**
 * A snapshot of one profile's registration for display and APIs.
 *
 * @param localAddress the local address (an IAP's, or the configured one) it registers from,
 *     or {@code null} while it waits for a network
 * @param contact the Contact URI registered (or being registered), or {@code null}
 * @param expiresAt when the registrar's grant runs out, or {@code null} when not registered
 * @param grantedExpires seconds the registrar granted in its last 200, 0 when none
 * @param outbound whether the registrar's last 200 carried {@code Require: outbound}
 * @param lastError the most recent failure, or {@code null}
 * @param publicAddress the address and port the registrar saw the last REGISTER come from
 *     (Via received/rport), when it differs from the local one (a NAT), else {@code null}
 * @param server the server (registrar, or outbound proxy) the last REGISTER went to, resolved
 *     (RFC 3263): the one registered with while REGISTERED; {@code null} before the first
 * @param keepAliveKind the keep-alive of its outbound flow now (STUN, CRLF, or OPTIONS after
 *     a registrar answered no STUN or sent no pongs), else its NAT ping without outbound (STUN,
 *     or CRLF), or {@code null} when it has neither
 * @param lastKeepAlive when a keep-alive of that flow was last answered, or {@code null}
 */
public record RegistrationInfo(
    String profileId,
    ProfileStatus status,
    String localAddress,
    String contact,
    Instant expiresAt,
    int grantedExpires,
    boolean outbound,
    RegistrationError lastError,
    String publicAddress,
    io.sipalr.dns.SipTarget server,
    KeepAliveKind keepAliveKind,
    Instant lastKeepAlive) {

  /** A snapshot without the keep-alive of a flow. */
  public RegistrationInfo(String profileId, ProfileStatus status, String localAddress,
      String contact, Instant expiresAt, int grantedExpires, boolean outbound,
      RegistrationError lastError, String publicAddress, io.sipalr.dns.SipTarget server) {
    this(profileId, status, localAddress, contact, expiresAt, grantedExpires, outbound,
        lastError, publicAddress, server, null, null);
  }

  /** A snapshot without the server (before RFC 3263 resolution) nor a flow's keep-alive. */
  public RegistrationInfo(String profileId, ProfileStatus status, String localAddress,
      String contact, Instant expiresAt, int grantedExpires, boolean outbound,
      RegistrationError lastError, String publicAddress) {
    this(profileId, status, localAddress, contact, expiresAt, grantedExpires, outbound,
        lastError, publicAddress, null);
  }

  /** A snapshot without a learned public address. */
  public RegistrationInfo(String profileId, ProfileStatus status, String localAddress,
      String contact, Instant expiresAt, int grantedExpires, boolean outbound,
      RegistrationError lastError) {
    this(profileId, status, localAddress, contact, expiresAt, grantedExpires, outbound,
        lastError, null);
  }

  /** This snapshot with its outbound flow's keep-alive. */
  public RegistrationInfo withKeepAlive(KeepAliveKind kind, Instant lastAnswered) {
    return new RegistrationInfo(profileId, status, localAddress, contact, expiresAt,
        grantedExpires, outbound, lastError, publicAddress, server, kind, lastAnswered);
  }
}
