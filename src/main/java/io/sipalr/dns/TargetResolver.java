package io.sipalr.dns;

import java.util.concurrent.CompletableFuture;

/**
 * Finds the servers a SIP request can go to, in the order to try them (RFC 3263 §4). The future
 * completes on a DNS thread (or at once, for a literal or a cached answer), never blocking the
 * caller; it fails with a {@link DnsException}.
 */
public interface TargetResolver {
  CompletableFuture<Resolved> resolve(TargetQuery query);

  /**
   * Targets in the order to try, and until when they may be used (the smallest TTL of the
   * records they came from).
   */
  record Resolved(java.util.List<SipTarget> targets, java.time.Instant expires) {
    public Resolved {
      targets = java.util.List.copyOf(targets);
    }
  }
}
