package io.sipalr.calls;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.time.Duration;
import java.util.Objects;

/**
 * How calls signal (the {@code calls.signalling} block, reference.conf; docs/calls.md).
 *
 * @param moveRequest {@code AUTO}: a move goes by UPDATE (RFC 3311) when the peer's Allow
 *     lists it and the call is established, else by re-INVITE; {@code RE_INVITE}: always
 *     re-INVITE
 * @param glareRetries how many times a move's request answered 491 is sent again after the
 *     RFC 3261 §14.1 wait before the call ends
 * @param minSe the shortest session interval (RFC 4028 Min-SE) this agent accepts; a peer
 *     asking for less gets 422
 */
public record CallSettings(MoveRequest moveRequest, int glareRetries, Duration minSe) {
  /** Which request carries a move's new Contact and SDP. */
  public enum MoveRequest { AUTO, RE_INVITE }

  /** RFC 4028 §4: no Min-SE below 90 s. */
  public static final Duration RFC_MIN_SE = Duration.ofSeconds(90);

  public static final CallSettings DEFAULTS = new CallSettings(MoveRequest.AUTO, 3, RFC_MIN_SE);

  public CallSettings {
    Objects.requireNonNull(moveRequest, "moveRequest");
    if (glareRetries < 0) {
      throw new IllegalArgumentException("glare-retries must be at least 0");
    }
    if (minSe.compareTo(RFC_MIN_SE) < 0) {
      throw new IllegalArgumentException("min-se must be at least 90s (RFC 4028 §4)");
    }
  }

  /** Reads {@code calls.signalling}; a mistake names its key. */
  static CallSettings from(Config calls) {
    Config c = calls.getConfig("signalling");
    String move = c.getString("move-request");
    MoveRequest request = switch (move) {
      case "auto" -> MoveRequest.AUTO;
      case "re-invite" -> MoveRequest.RE_INVITE;
      default -> throw new ConfigException.BadValue(c.origin(), "calls.signalling.move-request",
          "is '" + move + "'; must be auto or re-invite");
    };
    int retries = c.getInt("glare-retries");
    if (retries < 0 || retries > 10) {
      throw new ConfigException.BadValue(c.origin(), "calls.signalling.glare-retries",
          "must be between 0 and 10");
    }
    Duration minSe = c.getDuration("min-se");
    if (minSe.compareTo(RFC_MIN_SE) < 0) {
      throw new ConfigException.BadValue(c.origin(), "calls.signalling.min-se",
          "must be at least 90s (RFC 4028 §4)");
    }
    return new CallSettings(request, retries, minSe);
  }
}
