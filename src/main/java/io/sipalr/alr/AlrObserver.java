package io.sipalr.alr;

/**
 * Hears the ALR flow of the profiles it is interested in. Called on the SNAP's serial executor:
 * return quickly and never block. {@link AlrController} methods may be called from inside.
 */
public interface AlrObserver {
  void alrEvent(AlrEvent event, String profileId, int snapId, int iapId);

  /**
   * The same event with the profile's calls that the move touches (IAP_AVAILABLE: would
   * touch, so that a vote can weigh them; MIGRATION_STARTED and MIGRATION_COMPLETED: touches).
   * This is what the flow calls; by default it drops the calls and calls the other.
   */
  default void alrEvent(AlrEvent event, String profileId, int snapId, int iapId,
      MigrationCalls calls) {
    alrEvent(event, profileId, snapId, iapId);
  }

  void alrError(AlrError error, String profileId, int snapId, int iapId);
}
