package io.sipalr.media;

/**
 * What one call received from its peer's RTP source, as RFC 3550 counts it: sequence numbers
 * extended over wrap-arounds (appendix A.1, without the probation of a new source), packets
 * expected and lost, the fraction lost since the last report (§6.4.1, A.3) and the
 * interarrival jitter (§6.4.1, A.8). A new SSRC starts the counts afresh. Not thread-safe: the
 * session's lock guards it.
 */
final class RtpReception {
  private static final int MAX_DROPOUT = 3000;
  private static final int MAX_MISORDER = 100;
  private static final int SEQ_MOD = 1 << 16;

  private long ssrc = -1;
  private int maxSeq;
  private long cycles;
  private long baseSeq;
  private int badSeq = SEQ_MOD + 1;
  private long received;
  private long expectedPrior;
  private long receivedPrior;
  /** Jitter in timestamp units, and the last packet's transit time (arrival - RTP time). */
  private double jitter;
  private long lastTransit;
  private boolean haveTransit;

  /** The SSRC heard, -1 before any packet. */
  long ssrc() {
    return ssrc;
  }

  /**
   * Counts a packet that arrived at {@code arrival} (in the stream's timestamp units, from any
   * monotonic clock).
   */
  void received(RtpPacket p, long arrival) {
    if (p.ssrc() != ssrc) {
      ssrc = p.ssrc();
      init(p.sequence());
      haveTransit = false;
      jitter = 0;
    } else if (!update(p.sequence())) {
      return;
    }
    received++;
    long transit = arrival - p.timestamp();
    if (haveTransit) {
      long d = Math.abs(transit - lastTransit);
      if (d < Integer.MAX_VALUE) { // a timestamp jump (a new talk spurt's clock): not jitter
        jitter += (d - jitter) / 16.0;
      }
    }
    lastTransit = transit;
    haveTransit = true;
  }

  private void init(int seq) {
    baseSeq = seq;
    maxSeq = seq;
    badSeq = SEQ_MOD + 1;
    cycles = 0;
    received = 0;
    expectedPrior = 0;
    receivedPrior = 0;
  }

  /** A.1's update_seq: false when the packet is dropped from the counts (a wild jump). */
  private boolean update(int seq) {
    int delta = (seq - maxSeq) & 0xFFFF;
    if (delta < MAX_DROPOUT) {
      if (seq < maxSeq) {
        cycles += SEQ_MOD;
      }
      maxSeq = seq;
    } else if (delta <= SEQ_MOD - MAX_MISORDER) {
      if (seq == badSeq) { // two in a row: the source restarted its sequence
        init(seq);
      } else {
        badSeq = (seq + 1) & 0xFFFF;
        return false;
      }
    }
    return true; // in order, or a duplicate or late packet (still counted as received)
  }

  long received() {
    return received;
  }

  long extendedHighest() {
    return cycles + maxSeq;
  }

  long expected() {
    return ssrc == -1 ? 0 : extendedHighest() - baseSeq + 1;
  }

  /** Lost since the start, clamped to the 24-bit signed field of a report block. */
  int cumulativeLost() {
    long lost = expected() - received;
    return (int) Math.max(-0x800000, Math.min(0x7FFFFF, lost));
  }

  /** Jitter in timestamp units. */
  long jitter() {
    return (long) jitter;
  }

  /** The fraction lost since the previous call of this (in 1/256ths), as a report sends it. */
  int fractionLostSinceLastReport() {
    long expectedInterval = expected() - expectedPrior;
    long receivedInterval = received - receivedPrior;
    expectedPrior = expected();
    receivedPrior = received;
    long lostInterval = expectedInterval - receivedInterval;
    return expectedInterval == 0 || lostInterval <= 0 ? 0
        : (int) ((lostInterval << 8) / expectedInterval);
  }
}
