package io.sipalr.alr;

import io.sipalr.sip.RegistrationError;

/**
 * What {@link AlrObserver#alrError} reports.
 *
 * @param registrationError why the REGISTER through the IAP failed, for {@link
 *     Kind#REGISTRATION_FAILED}; otherwise {@code null}
 */
public record AlrError(Kind kind, RegistrationError registrationError) {

  public enum Kind {
    /** A controller disallowed the migration: the profile stays on the old IAP (rule 5). */
    ACCESS_DENIED,
    /** Registration through the offered IAP failed; the profile keeps its old one (rule 6). */
    REGISTRATION_FAILED
  }

  static final AlrError ACCESS_DENIED = new AlrError(Kind.ACCESS_DENIED, null);

  static AlrError registrationFailed(RegistrationError cause) {
    return new AlrError(Kind.REGISTRATION_FAILED, cause);
  }

  @Override
  public String toString() {
    return registrationError == null ? kind.toString() : kind + " (" + registrationError + ")";
  }
}
