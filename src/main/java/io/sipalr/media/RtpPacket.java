package io.sipalr.media;

import java.nio.ByteBuffer;

/**
 * One RTP packet (RFC 3550 §5.1) as the agent sends and reads it: version 2, no padding, no
 * extension, no CSRC; what a peer sends with CSRCs or an extension is skipped over when read.
 */
public record RtpPacket(boolean marker, int payloadType, int sequence, long timestamp,
    long ssrc, byte[] payload) {

  public static final int HEADER = 12;

  /** Writes the packet into {@code out} (cleared first) and flips it for sending. */
  public ByteBuffer writeTo(ByteBuffer out) {
    out.clear();
    out.put((byte) 0x80);
    out.put((byte) ((marker ? 0x80 : 0) | (payloadType & 0x7F)));
    out.putShort((short) sequence);
    out.putInt((int) timestamp);
    out.putInt((int) ssrc);
    out.put(payload);
    return out.flip();
  }

  /** The packet in {@code in} (position to limit), or null when it is not RTP version 2. */
  public static RtpPacket read(ByteBuffer in) {
    if (in.remaining() < HEADER) {
      return null;
    }
    int b0 = in.get() & 0xFF;
    if (b0 >> 6 != 2) {
      return null;
    }
    boolean padding = (b0 & 0x20) != 0;
    boolean extension = (b0 & 0x10) != 0;
    int csrcs = b0 & 0x0F;
    int b1 = in.get() & 0xFF;
    int sequence = in.getShort() & 0xFFFF;
    long timestamp = in.getInt() & 0xFFFFFFFFL;
    long ssrc = in.getInt() & 0xFFFFFFFFL;
    if (in.remaining() < csrcs * 4) {
      return null;
    }
    in.position(in.position() + csrcs * 4);
    if (extension) {
      if (in.remaining() < 4) {
        return null;
      }
      in.getShort();
      int words = in.getShort() & 0xFFFF;
      if (in.remaining() < words * 4) {
        return null;
      }
      in.position(in.position() + words * 4);
    }
    int length = in.remaining();
    if (padding && length > 0) {
      length -= in.get(in.limit() - 1) & 0xFF;
      if (length < 0) {
        return null;
      }
    }
    byte[] payload = new byte[length];
    in.get(payload);
    return new RtpPacket((b1 & 0x80) != 0, b1 & 0x7F, sequence, timestamp, ssrc, payload);
  }
}
