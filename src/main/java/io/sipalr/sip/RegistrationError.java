package io.sipalr.sip;

import java.time.Duration;

/**
 * Why a REGISTER failed, as observers see it.
 *
 * @param sipStatus the final response's status code, or 0 when no response came (timeout,
 *     transport)
 * @param reason the reason phrase or a short description of the local failure
 * @param retryIn when the agent tries again, or {@code null} when it will not on its own (wrong
 *     credentials: rule 16)
 */
public record RegistrationError(Kind kind, int sipStatus, String reason, Duration retryIn) {

  public enum Kind {
    /** No final response within the agent's per-attempt timeout. */
    TIMEOUT,
    /** The request could not be sent, or the stack reported a transport failure. */
    TRANSPORT,
    /** 401/407 after a fresh challenge, 403, or no digest algorithm we support. */
    AUTHENTICATION,
    /**
     * The registrar's TLS certificate was refused (expired, untrusted, another name): waits
     * {@code sip.auth-retry} as AUTHENTICATION does, since retrying sooner cannot help.
     */
    TLS,
    /** 503: the registrar asked us to come back later. */
    SERVICE_UNAVAILABLE,
    /** Any other final failure response. */
    REJECTED,
    /**
     * The registrar's (or outbound proxy's) name did not resolve (RFC 3263): no such name, no
     * usable record, or no answer from the nameserver. Backed off as any failure.
     */
    DNS
  }

  /** True for failures that mean "this network cannot reach the registrar" (rule 10). */
  public boolean isNetworkFailure() {
    return kind == Kind.TIMEOUT || kind == Kind.TRANSPORT;
  }

  @Override
  public String toString() {
    return kind + (sipStatus > 0 ? " " + sipStatus : "") + " " + reason
        + (retryIn == null ? " (no retry)" : " (retry in " + retryIn.toMillis() + " ms)");
  }
}
