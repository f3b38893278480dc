package io.sipalr.alr;

/** What {@link AlrObserver#alrEvent} reports (Symbian's MSipAlrObserver events). */
public enum AlrEvent {
  /** A better IAP is available for a registered profile: allow or disallow the move. */
  IAP_AVAILABLE,
  /** The new carrier is active and the REGISTER through it has been sent. */
  MIGRATION_STARTED,
  /** The registration through the new IAP succeeded; the old binding is being removed. */
  MIGRATION_COMPLETED
}
