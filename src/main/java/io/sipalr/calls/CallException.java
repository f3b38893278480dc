package io.sipalr.calls;

/** A call that cannot be made or found; the message names the profile or call and why. */
public final class CallException extends Exception {
  public enum Kind { NOT_FOUND, NOT_REGISTERED, INVALID, LIMIT, FAILED }

  private final Kind kind;

  public CallException(Kind kind, String message) {
    super(message);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }
}
