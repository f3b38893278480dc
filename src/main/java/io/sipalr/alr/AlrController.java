package io.sipalr.alr;

/**
 * One client's voice in the ALR flow (Symbian's CSipAlrMigrationController): created with
 * {@link SipAlr#newController}, it receives IAP_AVAILABLE for every registered profile of a SNAP
 * and must answer each with {@link #allowMigration} or {@link #disallowMigration}. A migration
 * happens only when every controller allowed it for every registered profile sharing the SNAP.
 */
public final class AlrController implements AutoCloseable {
  private final SipAlr alr;
  final AlrObserver observer;

  AlrController(SipAlr alr, AlrObserver observer) {
    this.alr = alr;
    this.observer = observer;
  }

  /**
   * Allows {@code profileId} to move to {@code iapId}.
   *
   * @throws IllegalStateException when no offer of that IAP is pending for the profile
   * @throws java.util.NoSuchElementException when there is no such profile
   */
  public void allowMigration(String profileId, int iapId) {
    alr.vote(this, profileId, iapId, true);
  }

  /** Refuses the move: the profile stays where it is and the IAP is not offered again. */
  public void disallowMigration(String profileId, int iapId) {
    alr.vote(this, profileId, iapId, false);
  }

  /**
   * Looks at the IAPs of the profile's SNAP afresh: refused and rejected IAPs are forgotten and
   * the best available one is offered again if it beats the current one.
   *
   * @throws IllegalArgumentException when the profile has no SNAP
   */
  public void refreshIapAvailability(String profileId) {
    alr.refresh(profileId);
  }

  /** Removes this controller: its pending votes no longer hold anything up. */
  @Override
  public void close() {
    alr.remove(this);
  }
}
