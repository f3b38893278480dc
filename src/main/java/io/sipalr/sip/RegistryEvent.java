package io.sipalr.sip;

import java.time.Instant;

/**
 * One event of the profile registry, delivered to every {@link RegistryListener}. Events of one
 * profile arrive in order.
 *
 * @param error set for {@link Type#REGISTRATION_FAILED}, otherwise {@code null}
 */
public record RegistryEvent(
    Type type, String profileId, ProfileStatus status, RegistrationError error, Instant time) {

  public enum Type {
    CREATED,
    UPDATED,
    REGISTERED,
    DEREGISTERED,
    DESTROYED,
    FORCIBLY_DISABLED,
    REGISTRATION_FAILED
  }
}
