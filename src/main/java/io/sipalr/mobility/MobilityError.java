package io.sipalr.mobility;

/** What {@link MobilityListener#error} reports. */
public enum MobilityError {
  /**
   * No IAP of the SNAP is usable: none is available, allowed by the bearer filter and not
   * blacklisted. The connection waits; when one becomes usable it is made active at once
   * ({@link MobilityListener#newCarrierActive}), as the first one was. Reported once per wait,
   * not repeated.
   */
  NOT_FOUND,
  /**
   * The IAP of the outstanding {@link MobilityListener#preferredCarrierAvailable} offer went
   * away before the application migrated to it: the offer is void, a decision still coming for
   * it is ignored, and the connection stays where it was. Another offer follows when another
   * IAP qualifies (or, with no carrier left, a downgrade offer or {@link #NOT_FOUND}).
   */
  OFFER_WITHDRAWN
}
