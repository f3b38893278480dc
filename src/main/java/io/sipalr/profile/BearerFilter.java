package io.sipalr.profile;

/**
 * Which IAPs of its SNAP a profile may ever use (Symbian's KBearerType). It holds on downgrades
 * too: a profile never registers through an excluded bearer, it waits instead.
 */
public enum BearerFilter {
  ANY,
  WLAN_ONLY,
  CELLULAR_ONLY
}
