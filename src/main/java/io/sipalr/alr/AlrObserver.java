package io.sipalr.alr;

/**
 * Hears the ALR flow of the profiles it is interested in. Called on the SNAP's serial executor:
 * return quickly and never block. {@link AlrController} methods may be called from inside.
 */
public interface AlrObserver {
  void alrEvent(AlrEvent event, String profileId, int snapId, int iapId);

  void alrError(AlrError error, String profileId, int snapId, int iapId);
}
