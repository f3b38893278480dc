package io.sipalr.media;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * The DTMF digits a call still has to send, and where the one being sent is: each digit is
 * five packets of 20 ms growing in duration (a 100 ms tone, the first with the marker bit), its
 * end packet three times (RFC 4733 §2.5.1.4: the end is sent again, as it ends the tone), then
 * three frames of audio before the next digit. All packets of one digit carry the RTP time of
 * its start (§2.5.1.2). At most {@value #MAX_QUEUED} digits wait. Not thread-safe: the session's
 * lock guards it.
 */
final class DtmfSender {
  static final int MAX_QUEUED = 32;
  static final int TONE_PACKETS = 5;
  static final int END_PACKETS = 3;
  static final int PAUSE_FRAMES = 3;
  /** -10 dBm0, a usual DTMF level. */
  static final int VOLUME = 10;

  /** What one tick sends: a telephone-event packet (the RTP time of its digit), or audio. */
  record Step(TelephoneEvent event, boolean marker, boolean newDigit) {}

  private final Deque<Integer> queued = new ArrayDeque<>();
  private int current = -1;
  private int tick;

  /**
   * Queues {@code digits}.
   *
   * @throws IllegalArgumentException naming the first character that is no DTMF digit, or when
   *     more than {@value #MAX_QUEUED} digits would wait
   */
  void queue(String digits) {
    if (digits.isEmpty()) {
      throw new IllegalArgumentException("no digits: DTMF digits are 0-9, *, # and A-D");
    }
    for (char d : digits.toCharArray()) {
      if (TelephoneEvent.code(d) < 0) {
        throw new IllegalArgumentException("'" + d + "' is no DTMF digit (0-9, *, #, A-D)");
      }
    }
    if (queued.size() + digits.length() > MAX_QUEUED) {
      throw new IllegalArgumentException("at most " + MAX_QUEUED + " DTMF digits may wait; "
          + queued.size() + " do");
    }
    for (char d : digits.toCharArray()) {
      queued.add(TelephoneEvent.code(d));
    }
  }

  /** Digits waiting or being sent. */
  int pending() {
    return queued.size() + (current >= 0 ? 1 : 0);
  }

  /** This tick's step; null: send audio. */
  Step next() {
    if (current < 0) {
      if (queued.isEmpty()) {
        return null;
      }
      current = queued.poll();
      tick = 0;
    }
    int t = tick++;
    if (t < TONE_PACKETS) {
      return new Step(new TelephoneEvent(current, false, VOLUME, (t + 1) * 160), t == 0,
          t == 0);
    }
    if (t < TONE_PACKETS + END_PACKETS) {
      return new Step(new TelephoneEvent(current, true, VOLUME, TONE_PACKETS * 160), false,
          false);
    }
    if (t == TONE_PACKETS + END_PACKETS + PAUSE_FRAMES - 1) {
      current = -1;
    }
    return null;
  }
}
