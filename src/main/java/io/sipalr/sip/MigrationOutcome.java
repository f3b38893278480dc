package io.sipalr.sip;

/**
 * How one profile's move to a new local address ended.
 *
 * @param error why it failed, for {@link Result#FAILED}; otherwise {@code null}
 */
public record MigrationOutcome(Result result, RegistrationError error) {

  public enum Result {
    /** Registered through the new address; the old binding is being removed. */
    MOVED,
    /** The profile was not registered (backing off, waiting): it simply follows the carrier. */
    FOLLOWED,
    /** Not registered through the new address; the profile keeps (or regains) the old one. */
    FAILED
  }

  static final MigrationOutcome MOVED = new MigrationOutcome(Result.MOVED, null);
  static final MigrationOutcome FOLLOWED = new MigrationOutcome(Result.FOLLOWED, null);

  static MigrationOutcome failed(RegistrationError error) {
    return new MigrationOutcome(Result.FAILED, error);
  }

  public boolean moved() {
    return result == Result.MOVED;
  }
}
