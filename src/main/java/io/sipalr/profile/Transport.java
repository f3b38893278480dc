package io.sipalr.profile;

import java.util.Locale;

/** The SIP transport a profile registers over. */
public enum Transport {
  UDP,
  TCP;

  /** The lower-case name JAIN-SIP and SIP URIs use ("udp", "tcp"). */
  public String sipName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
