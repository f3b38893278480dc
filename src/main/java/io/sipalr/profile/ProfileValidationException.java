package io.sipalr.profile;

import java.util.Optional;

/**
 * A profile value that breaks a rule of {@link ProfileValidator} or of the seed format. The
 * message names the profile and the field, and for seeds where in the configuration the value
 * was written; it never quotes a password.
 */
public final class ProfileValidationException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final String profileId;
  private final String field;
  private final String problem;
  private final String location;

  /**
   * @param profileId the profile's id, or {@code null} when it is the id that is missing
   * @param field the {@link SipProfile} component (or, for an unknown seed key, that key)
   * @param problem what is wrong, phrased to follow the field name ("must be set")
   */
  public ProfileValidationException(String profileId, String field, String problem) {
    this(profileId, field, problem, null);
  }

  /**
   * @param location where in a configuration file the value is, as
   *     {@code "<origin>: <key path>"}, e.g. {@code "conf/agent.conf: 12: profiles[1].aor"}
   */
  ProfileValidationException(String profileId, String field, String problem, String location) {
    super(message(profileId, field, problem, location));
    this.profileId = profileId;
    this.field = field;
    this.problem = problem;
    this.location = location;
  }

  /** The same problem, located in a configuration file. */
  ProfileValidationException at(String newLocation) {
    return new ProfileValidationException(profileId, field, problem, newLocation);
  }

  /** The id of the profile at fault, or {@code null} when the id itself is missing. */
  public String profileId() {
    return profileId;
  }

  /** The {@link SipProfile} component at fault, e.g. {@code "aor"} or {@code "authUser"}. */
  public String field() {
    return field;
  }

  /** What is wrong with the field, without the profile or location. */
  public String problem() {
    return problem;
  }

  /** For seeds: the configuration origin and key path, e.g. {@code "agent.conf: 12: profiles[1].aor"}. */
  public Optional<String> location() {
    return Optional.ofNullable(location);
  }

  private static String message(String profileId, String field, String problem, String location) {
    if (location != null) {
      return location + (profileId == null ? "" : " (profile " + quote(profileId) + ")") + ": "
          + problem;
    }
    return (profileId == null ? "profile" : "profile " + quote(profileId)) + ": " + field + ": "
        + problem;
  }

  /**
   * Quotes a user-supplied value for a message: control characters escaped so that it cannot
   * forge log lines, and long values cut.
   */
  public static String quote(String value) {
    StringBuilder quoted = new StringBuilder("\"");
    int max = Math.min(value.length(), 80);
    for (int i = 0; i < max; i++) {
      char c = value.charAt(i);
      if (c == '"' || c == '\\') {
        quoted.append('\\').append(c);
      } else if (c < ' ' || c == 0x7f) {
        quoted.append(String.format("\\u%04x", (int) c));
      } else {
        quoted.append(c);
      }
    }
    return quoted.append(value.length() > max ? "...\"" : "\"").toString();
  }
}
