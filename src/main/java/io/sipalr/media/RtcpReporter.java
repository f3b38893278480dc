package io.sipalr.media;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * One call's RTCP state (RFC 3550 §6): what we sent (for our SR), what we received (for our
 * report block, {@link RtpReception}), when the next report is due (§6.3, {@link Rtcp#interval}
 * with two members and a 64 kbit/s session: at least 5 s, 2.5 s before the first, randomised),
 * and what the peer's last report said about us (packets lost, jitter, and the round trip from
 * its LSR/DLSR, §6.4.1). Our own packets coming back (an echoing peer) are not the peer's
 * report (§8.2: our SSRC). Not thread-safe: the session's lock guards it.
 */
final class RtcpReporter {
  /** 5 % of a G.711 session's 64 kbit/s (RFC 3550 §6.2), in bytes per second. */
  private static final double RTCP_BYTES_PER_SECOND = 64_000 / 8 * 0.05;

  private final String cname;
  private final RandomGenerator random;
  private final RtpReception reception = new RtpReception();
  private long ssrc;
  private long packets;
  private long octets;
  private long lastRtpTimestamp;
  private long lastRtpSentAt;
  private boolean sentSinceReport;
  private boolean initial = true;
  private double averageSize = 100;
  private long nextReportAt;
  /** The peer's last SR: the middle of its NTP time, and when it arrived (nanos); 0: none. */
  private long lastSrMiddle;
  private long lastSrAt;
  private Rtcp.ReportBlock aboutUs;
  private double roundTripMillis = -1;
  private long reportsSent;
  private long reportsReceived;

  RtcpReporter(String cname, RandomGenerator random, long now) {
    this.cname = cname;
    this.random = random;
    schedule(now);
  }

  /** Our SSRC (the packetiser's). */
  void ssrc(long ssrc) {
    this.ssrc = ssrc;
  }

  void sent(RtpPacket p, int bytes, long now) {
    packets++;
    octets += bytes - RtpPacket.HEADER;
    lastRtpTimestamp = p.timestamp();
    lastRtpSentAt = now;
    sentSinceReport = true;
  }

  void received(RtpPacket p, long now) {
    reception.received(p, now / 125_000); // 8 kHz: one timestamp unit is 125 µs
  }

  boolean due(long now) {
    return now - nextReportAt >= 0;
  }

  private void schedule(long now) {
    double seconds = Rtcp.interval(2, sentSinceReport ? 1 : 0, RTCP_BYTES_PER_SECOND,
        sentSinceReport, averageSize, initial, random);
    nextReportAt = now + (long) (seconds * 1e9);
  }

  /**
   * Our next compound packet into {@code out} (SR if we sent since the last report, else RR;
   * a BYE when {@code bye}), and the report after it scheduled.
   */
  ByteBuffer report(ByteBuffer out, long now, long epochMillis, boolean bye) {
    Rtcp.SenderInfo sender = null;
    if (sentSinceReport) {
      // the RTP time that corresponds to now: the last packet's, advanced by the time since
      long rtpNow = lastRtpTimestamp + (now - lastRtpSentAt) / 125_000;
      sender = new Rtcp.SenderInfo(Rtcp.ntp(epochMillis), rtpNow & 0xFFFFFFFFL, packets, octets);
    }
    List<Rtcp.ReportBlock> blocks = List.of();
    if (reception.ssrc() != -1) {
      long dlsr = lastSrMiddle == 0 ? 0 : (now - lastSrAt) * 65_536 / 1_000_000_000L;
      blocks = List.of(new Rtcp.ReportBlock(reception.ssrc(),
          reception.fractionLostSinceLastReport(), reception.cumulativeLost(),
          reception.extendedHighest() & 0xFFFFFFFFL, reception.jitter(), lastSrMiddle, dlsr));
    }
    ByteBuffer packet = Rtcp.write(out, ssrc, sender, blocks, cname, bye);
    averageSize = averageSize + (packet.remaining() + 28 - averageSize) / 16; // §6.3.3, + UDP/IP
    reportsSent++;
    initial = false;
    schedule(now);
    sentSinceReport = false;
    return packet;
  }

  /** A packet on the RTCP socket: the peer's report, read. */
  void onRtcp(ByteBuffer in, long now, long epochMillis) {
    int size = in.remaining();
    Rtcp.Compound c = Rtcp.read(in);
    if (c == null || c.ssrc() == ssrc) {
      return; // not RTCP, or our own report echoed back
    }
    reportsReceived++;
    averageSize = averageSize + (size + 28 - averageSize) / 16;
    if (c.sender() != null) {
      lastSrMiddle = Rtcp.middle(c.sender().ntp());
      lastSrAt = now;
    }
    for (Rtcp.ReportBlock b : c.reports()) {
      if (b.ssrc() == ssrc) {
        aboutUs = b;
        if (b.lastSr() != 0) {
          long a = Rtcp.middle(Rtcp.ntp(epochMillis));
          long rtt = (a - b.lastSr() - b.delaySinceLastSr()) & 0xFFFFFFFFL;
          if (rtt < 65_536L * 10) { // beyond 10 s: clocks or a stale LSR, not a round trip
            roundTripMillis = rtt * 1000.0 / 65_536;
          }
        }
      }
    }
  }

  RtcpStats stats() {
    return new RtcpStats(reception.expected(), reception.cumulativeLost(),
        reception.jitter() / 8.0, reportsSent, reportsReceived,
        aboutUs == null ? null : aboutUs.cumulativeLost(),
        aboutUs == null ? null : aboutUs.fractionLost() / 256.0,
        aboutUs == null ? null : aboutUs.jitter() / 8.0,
        roundTripMillis < 0 ? null : roundTripMillis);
  }
}
