package io.sipalr.profile;

import java.util.Locale;

/** The SIP transport a profile registers over. */
public enum Transport {
  UDP,
  TCP,
  /** TCP in TLS 1.2+ (RFC 3261 §26); the only transport for sips: URIs (RFC 5630). */
  TLS,
  /**
   * Not fixed: RFC 3263 chooses it (the registrar's NAPTR records, else its SRV records, else
   * UDP; TLS for sips:), and the REGISTER goes over the transport of the server chosen. The
   * default for a profile that names none.
   */
  AUTO;

  /** The lower-case name JAIN-SIP and SIP URIs use ("udp", "tcp", "tls"; "auto"). */
  public String sipName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
