package io.sipalr.sip;

/**
 * Hears every {@link RegistryEvent}. Called on the profile's own serial executor: return quickly
 * and never block, or every profile sharing the pool waits.
 */
@FunctionalInterface
public interface RegistryListener {
  void onEvent(RegistryEvent event);
}
