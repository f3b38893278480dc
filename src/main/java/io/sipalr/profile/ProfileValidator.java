package io.sipalr.profile;

import java.util.regex.Pattern;

/**
 * The rules every stored profile obeys. {@link #validate} reports the first broken rule as a
 * {@link ProfileValidationException} naming the profile and the field.
 *
 * <p>It does not fill in defaults: those belong to {@link SipProfileBuilder} (and so to seeds),
 * so that a record read back from the store is checked exactly as written.
 */
public final class ProfileValidator {

  /** Letters, digits, '.', '_', '-': the id is also the profile's file name. */
  public static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

  public static final int MIN_EXPIRES = 1;
  /** A week: longer registrations only hide a dead device from the registrar. */
  public static final int MAX_EXPIRES = 604_800;

  /** A name of sip.tls.client-certificates (the agent checks that it is one). */
  private static final Pattern CERTIFICATE_NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");
  private static final Pattern INSTANCE_ID = Pattern.compile(
      "urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");

  private ProfileValidator() {}

  /** Returns {@code profile} when it obeys every rule, else throws naming the first it breaks. */
  public static SipProfile validate(SipProfile profile) {
    String id = profile.id();
    if (!ID.matcher(id).matches()) {
      throw new ProfileValidationException(id, "id", "must be 1 to 64 letters, digits, '.', '_' or"
          + " '-', starting with a letter or digit (it becomes a file name)");
    }

    SipUri aor = requireUri(id, "aor", profile.aor());
    if (aor.user() == null) {
      throw new ProfileValidationException(id, "aor", "must name a user, as in sip:alice@example.com");
    }
    SipUri registrar = requireUri(id, "registrar", profile.registrar());
    SipUri proxy = profile.outboundProxy() == null ? null
        : requireUri(id, "outboundProxy", profile.outboundProxy());
    // Without a fixed transport RFC 3263 chooses TLS only for a sips: next hop (§4.1).
    boolean tlsChosen = (proxy != null ? proxy : registrar).scheme().equals("sips");
    requireTlsForSips(id, "aor", aor, profile.transport(), tlsChosen);
    requireTlsForSips(id, "registrar", registrar, profile.transport(), tlsChosen);
    if (registrar.user() != null) {
      // RFC 3261 10.2: the REGISTER Request-URI has no user part.
      throw new ProfileValidationException(id, "registrar",
          "must not have a user part: use sip:host[:port]");
    }
    if (proxy != null) {
      requireTlsForSips(id, "outboundProxy", proxy, profile.transport(), tlsChosen);
    }

    if (profile.authUser() == null || profile.authUser().isBlank()) {
      throw new ProfileValidationException(id, "authUser", "must be set (it defaults to the AOR's user)");
    }
    requireNoControlChars(id, "authUser", profile.authUser());
    if (profile.password() == null) {
      throw new ProfileValidationException(id, "password", "must be set");
    }
    if (profile.password().isEmpty()) {
      throw new ProfileValidationException(id, "password", "must not be empty");
    }
    if (profile.realm() != null) {
      if (profile.realm().isBlank()) {
        throw new ProfileValidationException(id, "realm",
            "must not be blank (leave it unset to answer the registrar's realm)");
      }
      requireNoControlChars(id, "realm", profile.realm());
    }

    if (profile.tlsClientCertificate() != null) {
      if (!CERTIFICATE_NAME.matcher(profile.tlsClientCertificate()).matches()) {
        throw new ProfileValidationException(id, "tlsClientCertificate", "must name one of the"
            + " agent's sip.tls.client-certificates: 1 to 64 letters, digits, '.', '_' or '-'");
      }
      if (profile.transport() == Transport.UDP || profile.transport() == Transport.TCP) {
        throw new ProfileValidationException(id, "tlsClientCertificate", "is shown over TLS"
            + " only: set transport to tls (or auto with a sips: registrar), or leave it unset");
      }
    }

    if (profile.expires() < MIN_EXPIRES || profile.expires() > MAX_EXPIRES) {
      throw new ProfileValidationException(id, "expires", "must be " + MIN_EXPIRES + ".." + MAX_EXPIRES
          + " seconds (up to 7 days), was " + profile.expires());
    }

    if (profile.snapId() != null && profile.snapId() <= 0) {
      throw new ProfileValidationException(id, "snapId", "must be a positive SNAP id, was " + profile.snapId());
    }
    if (profile.iapId() != null && profile.iapId() <= 0) {
      throw new ProfileValidationException(id, "iapId", "must be a positive IAP id, was " + profile.iapId());
    }
    if (profile.snapId() != null && profile.iapId() != null) {
      throw new ProfileValidationException(id, "iapId",
          "must not be set together with a SNAP: a profile uses a SNAP, one fixed IAP, or neither");
    }

    if (profile.instanceId() != null && !INSTANCE_ID.matcher(profile.instanceId()).matches()) {
      throw new ProfileValidationException(id, "instanceId",
          "must be urn:uuid: followed by a UUID (8-4-4-4-12 hex digits)");
    }
    if (profile.regId() < 0) {
      throw new ProfileValidationException(id, "regId", "must not be negative, was " + profile.regId());
    }
    if (profile.instanceId() != null && profile.regId() < 1) {
      throw new ProfileValidationException(id, "regId", "must be at least 1 when instanceId is set");
    }
    return profile;
  }

  private static SipUri requireUri(String id, String field, String value) {
    if (value == null || value.isEmpty()) {
      throw new ProfileValidationException(id, field, "must be set");
    }
    try {
      return SipUri.parse(value);
    } catch (SipUri.InvalidSipUri e) {
      String problem = e.getMessage().equals(SipUri.NOT_SIP)
          ? SipUri.NOT_SIP
          : "is not a valid SIP URI: it " + e.getMessage();
      throw new ProfileValidationException(id, field, problem);
    }
  }

  /**
   * RFC 5630 §3.1.1: sips: means TLS on every hop, so only a TLS profile may name one, or one
   * whose transport RFC 3263 chooses when that choice is TLS ({@code tlsChosen}: the next hop
   * is sips:).
   */
  private static void requireTlsForSips(String id, String field, SipUri uri, Transport transport,
      boolean tlsChosen) {
    if (uri.scheme().equals("sips") && transport != Transport.TLS
        && !(transport == Transport.AUTO && tlsChosen)) {
      throw new ProfileValidationException(id, field, "is a sips: URI, which needs transport = tls"
          + (transport == Transport.AUTO ? " or a sips: registrar" : "") + " (was "
          + transport.sipName() + ")");
    }
  }

  private static void requireNoControlChars(String id, String field, String value) {
    if (value.chars().anyMatch(c -> c < ' ' || c == 0x7f)) {
      throw new ProfileValidationException(id, field, "must not contain control characters");
    }
  }
}
