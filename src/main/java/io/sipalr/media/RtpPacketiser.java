package io.sipalr.media;

/**
 * The sending side of one RTP stream (RFC 3550 §5.1): a random SSRC, a random initial
 * sequence number and timestamp, the sequence number one up per packet, the timestamp up by the
 * samples each packet carries, and the marker bit on the first packet of a talk spurt (the
 * stream's first, and the first after a move, which a receiver may take as a new spurt).
 */
public final class RtpPacketiser {
  private final int payloadType;
  private final long ssrc;
  private int sequence;
  private long timestamp;
  private boolean marker = true;

  public RtpPacketiser(int payloadType, java.util.random.RandomGenerator random) {
    this.payloadType = payloadType;
    this.ssrc = random.nextLong() & 0xFFFFFFFFL;
    this.sequence = random.nextInt(1 << 16);
    this.timestamp = random.nextLong() & 0xFFFFFFFFL;
  }

  /** The next packet, carrying {@code payload} of {@code samples} samples. */
  public RtpPacket next(byte[] payload, int samples) {
    RtpPacket p = new RtpPacket(marker, payloadType, sequence, timestamp, ssrc, payload);
    marker = false;
    sequence = (sequence + 1) & 0xFFFF;
    timestamp = (timestamp + samples) & 0xFFFFFFFFL;
    return p;
  }

  /**
   * The next packet of a telephone-event (RFC 4733): its own payload type, and the RTP time
   * {@code timestamp} of the event's start, which every packet of the event repeats; the
   * stream's time goes on by {@link #advance}.
   */
  public RtpPacket event(int eventPayloadType, boolean eventMarker, long eventTimestamp,
      byte[] payload) {
    RtpPacket p = new RtpPacket(eventMarker, eventPayloadType, sequence, eventTimestamp, ssrc,
        payload);
    marker = false;
    sequence = (sequence + 1) & 0xFFFF;
    return p;
  }

  /** The RTP time the next audio packet will carry. */
  public long timestamp() {
    return timestamp;
  }

  /** Moves the stream's time on by {@code samples} (a frame sent as a telephone-event). */
  public void advance(int samples) {
    timestamp = (timestamp + samples) & 0xFFFFFFFFL;
  }

  /** The next packet starts a talk spurt (after a move). */
  public void markNext() {
    marker = true;
  }

  public long ssrc() {
    return ssrc;
  }
}
