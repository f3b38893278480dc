package io.sipalr.profile;

/**
 * {@link ProfileStore#create} or {@link ProfileStore#createAll} was asked for an id that the
 * store already holds, or createAll for one id twice.
 */
public final class ProfileConflictException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final String profileId;

  public ProfileConflictException(String profileId) {
    super("profile " + ProfileValidationException.quote(profileId) + " already exists");
    this.profileId = profileId;
  }

  public String profileId() {
    return profileId;
  }
}
