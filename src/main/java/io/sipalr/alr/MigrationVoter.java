package io.sipalr.alr;

import java.util.Optional;

/**
 * What a {@link PolicyController} needs of the ALR flow: its own controller's voice and two
 * questions. {@link SipAlr} provides it in the agent; unit tests provide a fake, so that the
 * policies can be tested without a registrar.
 */
interface MigrationVoter extends AutoCloseable {

  void allow(String profileId, int iapId);

  void disallow(String profileId, int iapId);

  void refresh(String profileId);

  /** Whether the offer of {@code iapId} to the profile still waits for votes. */
  boolean offerOpen(String profileId, int iapId);

  /** The local address the profile registers from now, if any. */
  Optional<String> localAddressOf(String profileId);

  /** Withdraws the voice: pending votes no longer hold anything up. */
  @Override
  void close();

  /** The voter of a new controller of {@code alr}, which reports to {@code observer}. */
  static MigrationVoter of(SipAlr alr, AlrObserver observer) {
    AlrController controller = alr.newController(observer);
    return new MigrationVoter() {
      @Override
      public void allow(String profileId, int iapId) {
        controller.allowMigration(profileId, iapId);
      }

      @Override
      public void disallow(String profileId, int iapId) {
        controller.disallowMigration(profileId, iapId);
      }

      @Override
      public void refresh(String profileId) {
        controller.refreshIapAvailability(profileId);
      }

      @Override
      public boolean offerOpen(String profileId, int iapId) {
        return alr.offerOpen(profileId, iapId);
      }

      @Override
      public Optional<String> localAddressOf(String profileId) {
        try {
          return alr.registry().localAddressOf(profileId);
        } catch (java.util.NoSuchElementException e) {
          return Optional.empty(); // destroyed meanwhile
        }
      }

      @Override
      public void close() {
        controller.close();
      }
    };
  }
}
