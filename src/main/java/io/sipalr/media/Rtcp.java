package io.sipalr.media;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * RTCP (RFC 3550 §6) as the agent writes and reads it: compound packets of a sender report (SR,
 * when we sent RTP since the last report) or a receiver report (RR), then an SDES with our
 * CNAME, and at the end of a call a BYE; and the report interval (§6.3, appendix A.7).
 * What a peer sends is read for its SSRC, its sender info and the report block about us;
 * other packet types (APP, XR, ...) in a compound are skipped.
 */
public final class Rtcp {
  public static final int SR = 200;
  public static final int RR = 201;
  public static final int SDES = 202;
  public static final int BYE = 203;
  /** Seconds from 1900 (NTP's epoch) to 1970. */
  static final long NTP_EPOCH_OFFSET = 2_208_988_800L;

  private Rtcp() {
  }

  /**
   * One report block (§6.4.1): what {@code reporter} received from source {@code ssrc}.
   *
   * @param fractionLost lost since the last report, in 1/256ths
   * @param cumulativeLost lost since the start (24-bit signed: duplicates can make it negative)
   * @param jitter interarrival jitter, in timestamp units
   * @param lastSr the middle 32 bits of the NTP time of the last SR from {@code ssrc}, 0: none
   * @param delaySinceLastSr since that SR arrived, in 1/65536 s
   */
  public record ReportBlock(long ssrc, int fractionLost, int cumulativeLost,
      long highestSequence, long jitter, long lastSr, long delaySinceLastSr) {}

  /** An SR's sender info (§6.4.1): its NTP time (64-bit), RTP time and counts. */
  public record SenderInfo(long ntp, long rtpTimestamp, long packets, long octets) {}

  /**
   * A compound packet read: the reporter's SSRC (of its SR or RR), its sender info if it was
   * an SR, its report blocks, its CNAME if any, and whether it said BYE.
   */
  public record Compound(long ssrc, SenderInfo sender, List<ReportBlock> reports, String cname,
      boolean bye) {}

  /** The NTP timestamp (§4) of {@code epochMillis}: seconds since 1900, then a 32-bit fraction. */
  public static long ntp(long epochMillis) {
    long seconds = Math.floorDiv(epochMillis, 1000) + NTP_EPOCH_OFFSET;
    long fraction = ((long) Math.floorMod(epochMillis, 1000) << 32) / 1000;
    return (seconds << 32) | fraction;
  }

  /** The middle 32 bits of an NTP timestamp: what LSR carries. */
  public static long middle(long ntp) {
    return (ntp >>> 16) & 0xFFFFFFFFL;
  }

  /**
   * Writes a compound packet into {@code out} (cleared first; flipped for sending): an SR when
   * {@code sender} is not null, else an RR, with {@code blocks} (at most 31); an SDES CNAME; a
   * BYE when {@code bye}.
   */
  public static ByteBuffer write(ByteBuffer out, long ssrc, SenderInfo sender,
      List<ReportBlock> blocks, String cname, boolean bye) {
    if (blocks.size() > 31) {
      throw new IllegalArgumentException("at most 31 report blocks in one SR/RR");
    }
    out.clear();
    int words = (sender != null ? 6 : 1) + 6 * blocks.size(); // after the header word
    out.put((byte) (0x80 | blocks.size()));
    out.put((byte) (sender != null ? SR : RR));
    out.putShort((short) words);
    out.putInt((int) ssrc);
    if (sender != null) {
      out.putLong(sender.ntp());
      out.putInt((int) sender.rtpTimestamp());
      out.putInt((int) sender.packets());
      out.putInt((int) sender.octets());
    }
    for (ReportBlock b : blocks) {
      out.putInt((int) b.ssrc());
      out.putInt((b.fractionLost() & 0xFF) << 24 | (b.cumulativeLost() & 0xFFFFFF));
      out.putInt((int) b.highestSequence());
      out.putInt((int) b.jitter());
      out.putInt((int) b.lastSr());
      out.putInt((int) b.delaySinceLastSr());
    }
    byte[] name = cname.getBytes(StandardCharsets.UTF_8);
    int nameLength = Math.min(255, name.length);
    // SSRC, CNAME item (type, length, text), then at least one null octet up to a 32-bit end
    int chunk = 4 + 2 + nameLength;
    int padded = (chunk / 4 + 1) * 4;
    out.put((byte) 0x81);
    out.put((byte) SDES);
    out.putShort((short) (padded / 4));
    out.putInt((int) ssrc);
    out.put((byte) 1);
    out.put((byte) nameLength);
    out.put(name, 0, nameLength);
    for (int i = chunk; i < padded; i++) {
      out.put((byte) 0);
    }
    if (bye) {
      out.put((byte) 0x81);
      out.put((byte) BYE);
      out.putShort((short) 1);
      out.putInt((int) ssrc);
    }
    return out.flip();
  }

  /**
   * The compound packet in {@code in} (position to limit), or null when it is not RTCP: the
   * first packet must be an SR or RR (§6.1), every length must fit.
   */
  public static Compound read(ByteBuffer in) {
    long ssrc = -1;
    SenderInfo sender = null;
    List<ReportBlock> reports = new ArrayList<>();
    String cname = null;
    boolean bye = false;
    boolean first = true;
    while (in.remaining() >= 4) {
      int start = in.position();
      int b0 = in.get() & 0xFF;
      int type = in.get() & 0xFF;
      int length = ((in.getShort() & 0xFFFF) + 1) * 4;
      if (b0 >> 6 != 2 || length > in.remaining() + 4 || (first && type != SR && type != RR)) {
        return null;
      }
      first = false;
      int count = b0 & 0x1F;
      int end = start + length;
      if ((type == SR || type == RR) && ssrc == -1) {
        if (length < 8 + (type == SR ? 20 : 0) + 24 * count) {
          return null;
        }
        ssrc = in.getInt() & 0xFFFFFFFFL;
        if (type == SR) {
          sender = new SenderInfo(in.getLong(), in.getInt() & 0xFFFFFFFFL,
              in.getInt() & 0xFFFFFFFFL, in.getInt() & 0xFFFFFFFFL);
        }
        for (int i = 0; i < count; i++) {
          long source = in.getInt() & 0xFFFFFFFFL;
          int lost = in.getInt();
          int cumulative = (lost << 8) >> 8; // 24-bit signed
          reports.add(new ReportBlock(source, (lost >>> 24) & 0xFF, cumulative,
              in.getInt() & 0xFFFFFFFFL, in.getInt() & 0xFFFFFFFFL, in.getInt() & 0xFFFFFFFFL,
              in.getInt() & 0xFFFFFFFFL));
        }
      } else if (type == SDES && count > 0 && length >= 8) {
        in.getInt(); // the first chunk's SSRC
        while (in.position() + 2 <= end) {
          int item = in.get() & 0xFF;
          if (item == 0) {
            break;
          }
          int n = in.get() & 0xFF;
          if (in.position() + n > end) {
            return null;
          }
          byte[] text = new byte[n];
          in.get(text);
          if (item == 1 && cname == null) {
            cname = new String(text, StandardCharsets.UTF_8);
          }
        }
      } else if (type == BYE) {
        bye = true;
      }
      in.position(end);
    }
    return ssrc == -1 ? null : new Compound(ssrc, sender, List.copyOf(reports), cname, bye);
  }

  /**
   * The time to the next report (RFC 3550 §6.3.1 and A.7), in seconds: the deterministic
   * interval from the session's RTCP bandwidth ({@code rtcpBytesPerSecond}, 5 % of the
   * session's), the members and senders and the average compound size, at least 5 s (2.5 s
   * before the first report), then drawn from [0.5, 1.5] times that and divided by e - 3/2
   * (the compensation for timer reconsideration).
   */
  public static double interval(int members, int senders, double rtcpBytesPerSecond,
      boolean weSent, double averageRtcpSize, boolean initial, RandomGenerator random) {
    double minimum = initial ? 2.5 : 5.0;
    double n = members;
    double bandwidth = rtcpBytesPerSecond;
    if (senders <= members * 0.25) { // senders get a quarter of the RTCP bandwidth
      if (weSent) {
        bandwidth *= 0.25;
        n = senders;
      } else {
        bandwidth *= 0.75;
        n -= senders;
      }
    }
    double t = Math.max(minimum, averageRtcpSize * n / bandwidth);
    return t * (random.nextDouble() + 0.5) / (Math.E - 1.5);
  }
}
