package io.sipalr.sip;

import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;

/**
 * What the keep-alives' timers share ({@link FlowKeepAlive}, {@link NatPings},
 * {@link NatConnectionPings}): the jitter of their interval, and a cancel that may find none.
 */
final class KeepAliveTimers {
  private KeepAliveTimers() {
  }

  /**
   * 80-100 % of {@code interval}, drawn afresh for each ping (RFC 5626 §4.4.1), so that the
   * pings of many flows spread out instead of going together.
   */
  static long jitteredMillis(Duration interval) {
    long millis = interval.toMillis();
    return (long) (millis * (0.8 + 0.2 * ThreadLocalRandom.current().nextDouble()));
  }

  /** Cancels {@code timer} (without interrupting it) if there is one. */
  static void cancel(ScheduledFuture<?> timer) {
    if (timer != null) {
      timer.cancel(false);
    }
  }
}
