package io.sipalr.sip;

import java.time.Clock;
import java.util.Arrays;

/**
 * The per-profile REGISTER bound ({@code sip.register-limit-per-minute}): at most N in any 60 s,
 * whatever the registrar answers. The send times of the last N, oldest next; one profile's, so
 * used on its executor only.
 */
final class RegisterRate {
  private static final long WINDOW_MILLIS = 60_000;

  private final long[] sentAt;
  private final Clock clock;
  private int oldest;

  RegisterRate(int perMinute, Clock clock) {
    this.sentAt = new long[perMinute];
    this.clock = clock;
    Arrays.fill(sentAt, Long.MIN_VALUE);
  }

  /** How long the next REGISTER must wait to keep the bound; 0 to send now. */
  long waitMillis() {
    long first = sentAt[oldest];
    if (first == Long.MIN_VALUE) {
      return 0; // fewer than N sent so far
    }
    return Math.max(0, first + WINDOW_MILLIS - clock.millis());
  }

  /** A REGISTER went out now. */
  void sent() {
    sentAt[oldest] = clock.millis();
    oldest = (oldest + 1) % sentAt.length;
  }

  int perMinute() {
    return sentAt.length;
  }
}
