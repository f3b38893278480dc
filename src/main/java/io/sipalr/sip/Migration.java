package io.sipalr.sip;

import java.util.concurrent.CompletableFuture;

/**
 * One move of a {@link Registration} to a new endpoint: where to, where from (and the Contact
 * bound there, to fall back to), and who waits for the outcome. Used on the registration's
 * executor only.
 */
final class Migration {
  final SipEngine.Endpoint target;
  final SipEngine.Endpoint fallback;
  final String fallbackContact;
  final MigrationOrder order;
  final Runnable registerSent;
  final CompletableFuture<MigrationOutcome> outcome;
  /** Whether {@link #registerSent} ran (MIGRATION_STARTED, rule 4): once per move. */
  boolean announced;

  Migration(Pending move, SipEngine.Endpoint fallback, String fallbackContact) {
    this.target = move.target();
    this.fallback = fallback;
    this.fallbackContact = fallbackContact;
    this.order = move.order();
    this.registerSent = move.registerSent();
    this.outcome = move.outcome();
  }

  /** A move asked for; it may wait for the REGISTER in flight to be answered first. */
  record Pending(SipEngine.Endpoint target, MigrationOrder order, Runnable registerSent,
      CompletableFuture<MigrationOutcome> outcome) {}
}
