package io.sipalr.dns;

/** Why a SIP server's name did not resolve to anything we can send to; the message says it all. */
public final class DnsException extends Exception {
  /** What went wrong. */
  public enum Kind {
    /** The name does not exist (NXDOMAIN). */
    NO_SUCH_NAME,
    /** The name exists but has no record we can use (no SRV target, no A/AAAA of our family). */
    NO_RECORDS,
    /** The nameserver did not answer, or answered with an error (SERVFAIL, refused). */
    NO_ANSWER
  }

  private final Kind kind;
  private final String name;

  public DnsException(Kind kind, String name, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
    this.name = name;
  }

  public Kind kind() {
    return kind;
  }

  /** The name that did not resolve. */
  public String name() {
    return name;
  }
}
