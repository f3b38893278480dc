package io.sipalr.profile;

import java.util.Objects;

/**
 * Builds a {@link SipProfile} with the defaults a new profile gets: UDP, 3600 s, auto-register,
 * any bearer, and the AOR's user part as the authentication user.
 *
 * <p>{@link #build()} does not validate, so that tests can build broken profiles; the store and
 * the seeds run {@link ProfileValidator}.
 */
public final class SipProfileBuilder {

  public static final Transport DEFAULT_TRANSPORT = Transport.AUTO;
  public static final int DEFAULT_EXPIRES = 3600;

  private final String id;
  private String aor;
  private String registrar;
  private String outboundProxy;
  private String authUser;
  private String password;
  private String realm;
  private Transport transport = DEFAULT_TRANSPORT;
  private int expires = DEFAULT_EXPIRES;
  private boolean autoRegister = true;
  private Integer snapId;
  private Integer iapId;
  private BearerFilter bearerFilter = BearerFilter.ANY;
  private String instanceId;
  private int regId;
  private String tlsClientCertificate;

  private SipProfileBuilder(String id) {
    this.id = Objects.requireNonNull(id, "id");
  }

  /** A new profile with the defaults. */
  public static SipProfileBuilder forId(String id) {
    return new SipProfileBuilder(id);
  }

  /** Every value of {@code profile}, instance included, to change some of them. */
  public static SipProfileBuilder copyOf(SipProfile profile) {
    return new SipProfileBuilder(profile.id())
        .aor(profile.aor())
        .registrar(profile.registrar())
        .outboundProxy(profile.outboundProxy())
        .authUser(profile.authUser())
        .password(profile.password())
        .realm(profile.realm())
        .transport(profile.transport())
        .expires(profile.expires())
        .autoRegister(profile.autoRegister())
        .snapId(profile.snapId())
        .iapId(profile.iapId())
        .bearerFilter(profile.bearerFilter())
        .instanceId(profile.instanceId())
        .regId(profile.regId())
        .tlsClientCertificate(profile.tlsClientCertificate());
  }

  public SipProfileBuilder aor(String value) {
    aor = value;
    return this;
  }

  public SipProfileBuilder registrar(String value) {
    registrar = value;
    return this;
  }

  public SipProfileBuilder outboundProxy(String value) {
    outboundProxy = value;
    return this;
  }

  /** {@code null} (the default) means the AOR's user part. */
  public SipProfileBuilder authUser(String value) {
    authUser = value;
    return this;
  }

  public SipProfileBuilder password(String value) {
    password = value;
    return this;
  }

  public SipProfileBuilder realm(String value) {
    realm = value;
    return this;
  }

  public SipProfileBuilder transport(Transport value) {
    transport = value;
    return this;
  }

  public SipProfileBuilder expires(int seconds) {
    expires = seconds;
    return this;
  }

  public SipProfileBuilder autoRegister(boolean value) {
    autoRegister = value;
    return this;
  }

  public SipProfileBuilder snapId(Integer value) {
    snapId = value;
    return this;
  }

  public SipProfileBuilder iapId(Integer value) {
    iapId = value;
    return this;
  }

  public SipProfileBuilder bearerFilter(BearerFilter value) {
    bearerFilter = value;
    return this;
  }

  /** Normally left unset: the store generates it when the profile is first stored. */
  public SipProfileBuilder instanceId(String value) {
    instanceId = value;
    return this;
  }

  /** Normally left unset (0): the store uses 1 when it generates the instance id. */
  public SipProfileBuilder regId(int value) {
    regId = value;
    return this;
  }

  /**
   * Over TLS, the client certificate shown: a name of sip.tls.client-certificates; null (the
   * default): sip.tls.key-store's, or none.
   */
  public SipProfileBuilder tlsClientCertificate(String value) {
    tlsClientCertificate = value;
    return this;
  }

  public SipProfile build() {
    String effectiveAuthUser = authUser != null ? authUser : SipUri.userPartOf(aor);
    return new SipProfile(id, aor, registrar, outboundProxy, effectiveAuthUser, password, realm,
        transport, expires, autoRegister, snapId, iapId, bearerFilter, instanceId, regId,
        tlsClientCertificate);
  }
}
