package io.sipalr.profile;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/**
 * The JSON shape of one profile file, {@code profiles/<id>.json}: every {@link SipProfile}
 * component under its own name, after the file's format version. A file written before a
 * component existed reads as without it ({@code tlsClientCertificate}: null).
 */
@JsonPropertyOrder({"formatVersion", "id", "aor", "registrar", "outboundProxy", "authUser",
    "password", "realm", "transport", "expires", "autoRegister", "snapId", "iapId", "bearerFilter",
    "instanceId", "regId", "tlsClientCertificate"})
record ProfileDocument(
    int formatVersion,
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

  static ProfileDocument of(SipProfile p) {
    return new ProfileDocument(ProfileStore.FORMAT_VERSION, p.id(), p.aor(), p.registrar(),
        p.outboundProxy(), p.authUser(), p.password(), p.realm(), p.transport(), p.expires(),
        p.autoRegister(), p.snapId(), p.iapId(), p.bearerFilter(), p.instanceId(), p.regId(),
        p.tlsClientCertificate());
  }

  SipProfile toProfile() {
    return new SipProfile(id, aor, registrar, outboundProxy, authUser, password, realm, transport,
        expires, autoRegister, snapId, iapId, bearerFilter, instanceId, regId,
        tlsClientCertificate);
  }

  /** Never the password. */
  @Override
  public String toString() {
    return "ProfileDocument[formatVersion=" + formatVersion + ", id=" + id + "]";
  }
}
