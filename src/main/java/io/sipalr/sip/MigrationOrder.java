package io.sipalr.sip;

/** In which order a migration registers the new contact and removes the old binding (rule 14). */
public enum MigrationOrder {
  /**
   * REGISTER through the new IAP first, then remove the old binding; the status stays
   * REGISTERED and a failed move falls back to the old registration (the default).
   */
  MAKE_BEFORE_BREAK,
  /**
   * Deregister through the old IAP, then register through the new one, as the Symbian
   * documentation describes: observers see DEREGISTERED, then REGISTERED.
   */
  BREAK_BEFORE_MAKE
}
