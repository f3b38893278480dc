package io.sipalr.mobility;

import io.sipalr.profile.BearerFilter;

/** The kind of network an IAP attaches to; a profile's {@link BearerFilter} selects by it. */
public enum Bearer {
  WLAN,
  CELLULAR,
  ETHERNET,
  OTHER;

  /**
   * Whether a profile with {@code filter} may use an IAP of {@code bearer}. The filter is
   * Symbian's KBearerType: wlan-only means WLAN and nothing else, not "anything but cellular".
   */
  public static boolean allows(BearerFilter filter, Bearer bearer) {
    switch (filter) {
      case ANY:
        return true;
      case WLAN_ONLY:
        return bearer == WLAN;
      case CELLULAR_ONLY:
        return bearer == CELLULAR;
      default:
        throw new IllegalArgumentException("unknown bearer filter " + filter);
    }
  }
}
