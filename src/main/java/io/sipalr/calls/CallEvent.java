package io.sipalr.calls;

import java.time.Instant;

/**
 * Something that happened to a call: {@code CALL_INCOMING} (an INVITE is ringing here),
 * {@code CALL_ESTABLISHED}, {@code CALL_MOVED} (re-INVITE after the profile moved: new address),
 * {@code CALL_ENDED} (with the reason).
 */
public record CallEvent(Type type, String callId, String profileId, String peer,
    String localAddress, String reason, Instant time) {

  public enum Type { CALL_INCOMING, CALL_ESTABLISHED, CALL_MOVED, CALL_ENDED }
}
