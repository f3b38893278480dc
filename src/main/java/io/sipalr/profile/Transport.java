package io.sipalr.profile;

import java.util.Locale;

/** The SIP transport a profile registers over. */
public enum Transport {
  UDP,
  TCP,
  /** TCP in TLS 1.2+ (RFC 3261 §26); the only transport for sips: URIs (RFC 5630). */
  TLS;

  /** The lower-case name JAIN-SIP and SIP URIs use ("udp", "tcp", "tls"). */
  public String sipName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
