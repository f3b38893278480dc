package io.sipalr.profile;

import java.util.Objects;

/**
 * One SIP profile as the store keeps it: who registers (AOR, credentials), where (registrar,
 * optional outbound proxy, transport), and through which access points (a SNAP, or one fixed
 * IAP, narrowed by a bearer filter).
 *
 * <p>{@code instanceId} (a {@code urn:uuid:} for {@code +sip.instance}) and {@code regId} are
 * generated once when the profile is first stored and never change: the registrar replaces a
 * binding with the same pair instead of adding a second one (RFC 5626).
 *
 * <p>Values are checked by {@link ProfileValidator}; a record that exists has passed it only if
 * it came out of the {@link ProfileStore}.
 *
 * @param snapId the SNAP this profile roams in, or {@code null} when it uses a fixed IAP
 * @param iapId the fixed IAP, or {@code null} when it names a SNAP (never both)
 * @param realm the realm to answer, or {@code null} for whichever realm the registrar challenges with
 * @param outboundProxy a SIP URI every REGISTER is routed through, or {@code null}
 * @param tlsClientCertificate over TLS, the client certificate shown: a name of the agent's
 *     {@code sip.tls.client-certificates} (the key store and its password stay in the agent's
 *     configuration, never in the profile), or {@code null}: {@code sip.tls.key-store}'s, or none
 */
public record SipProfile(
    String id,
    String aor,
    String registrar,
    String outboundProxy,
    String authUser,
    String password,
    String realm,
    Transport transport,
    int expires,
    boolean autoRegister,
    Integer snapId,
    Integer iapId,
    BearerFilter bearerFilter,
    String instanceId,
    int regId,
    String tlsClientCertificate) {

  public SipProfile {
    Objects.requireNonNull(id, "id");
    transport = transport == null ? Transport.AUTO : transport;
    bearerFilter = bearerFilter == null ? BearerFilter.ANY : bearerFilter;
  }

  /** Without a client certificate of its own. */
  public SipProfile(String id, String aor, String registrar, String outboundProxy,
      String authUser, String password, String realm, Transport transport, int expires,
      boolean autoRegister, Integer snapId, Integer iapId, BearerFilter bearerFilter,
      String instanceId, int regId) {
    this(id, aor, registrar, outboundProxy, authUser, password, realm, transport, expires,
        autoRegister, snapId, iapId, bearerFilter, instanceId, regId, null);
  }

  /** The password never reaches a log line through {@code toString()}. */
  @Override
  public String toString() {
    return "SipProfile[id=" + id + ", aor=" + aor + ", registrar=" + registrar
        + ", outboundProxy=" + outboundProxy + ", authUser=" + authUser + ", password=***"
        + ", realm=" + realm + ", transport=" + transport + ", expires=" + expires
        + ", autoRegister=" + autoRegister + ", snapId=" + snapId + ", iapId=" + iapId
        + ", bearerFilter=" + bearerFilter + ", instanceId=" + instanceId + ", regId=" + regId
        + ", tlsClientCertificate=" + tlsClientCertificate + "]";
  }

  public SipProfile withInstance(String newInstanceId, int newRegId) {
    return new SipProfile(id, aor, registrar, outboundProxy, authUser, password, realm, transport,
        expires, autoRegister, snapId, iapId, bearerFilter, newInstanceId, newRegId,
        tlsClientCertificate);
  }

  /** True when a change from {@code other} to this requires a new registration. */
  public boolean registrationDiffers(SipProfile other) {
    return !Objects.equals(aor, other.aor) || !Objects.equals(registrar, other.registrar)
        || !Objects.equals(outboundProxy, other.outboundProxy)
        || !Objects.equals(authUser, other.authUser) || !Objects.equals(password, other.password)
        || !Objects.equals(realm, other.realm) || transport != other.transport
        || expires != other.expires || !Objects.equals(snapId, other.snapId)
        || !Objects.equals(iapId, other.iapId) || bearerFilter != other.bearerFilter
        || !Objects.equals(tlsClientCertificate, other.tlsClientCertificate);
  }
}
