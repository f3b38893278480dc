package io.sipalr.sip;

/**
 * What clients see of a profile's registration. The internal states behind it (backing off,
 * refreshing, and later the ALR states) never show through: during a make-before-break
 * migration a profile stays REGISTERED.
 */
public enum ProfileStatus {
  UNREGISTERED,
  REGISTRATION_IN_PROGRESS,
  REGISTERED,
  UNREGISTRATION_IN_PROGRESS
}
