package io.sipalr.media;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * RTCP (RFC 3550) with known packets, byte by byte: a peer's SR + SDES + BYE read, our RR +
 * SDES written; the report interval's bounds; loss and jitter counted as appendix A says; the
 * round trip from a report's LSR/DLSR; our own report echoed back not taken for the peer's.
 */
class RtcpTest {
  private static final HexFormat HEX = HexFormat.of();

  /** An SR with one report block, an SDES CNAME "bob@x" and a BYE, as a peer sends them. */
  private static final String PEER_SR =
      // SR: V=2 RC=1, PT=200, length 12 (words - 1), SSRC 0x11223344
      "81c8000c" + "11223344"
      // NTP 0xe3a1b2c3.80000000, RTP time 0x00001000, 50 packets, 8000 octets
      + "e3a1b2c380000000" + "00001000" + "00000032" + "00001f40"
      // block about SSRC 0xaabbccdd: fraction 0x40 (1/4), cumulative 3, highest 0x00010005,
      // jitter 12, LSR 0x12345678, DLSR 0x00008000 (0.5 s)
      + "aabbccdd" + "40000003" + "00010005" + "0000000c" + "12345678" + "00008000"
      // SDES: SC=1, length 3; SSRC, CNAME(1) len 5 "bob@x", end 00, padding to 12 bytes
      + "81ca0003" + "11223344" + "0105626f62407800"
      // BYE: SC=1, length 1, SSRC
      + "81cb0001" + "11223344";

  @Test
  void aPeersSenderReportSdesAndByeAreRead() {
    Rtcp.Compound c = Rtcp.read(ByteBuffer.wrap(HEX.parseHex(PEER_SR)));
    assertNotNull(c);
    assertEquals(0x11223344L, c.ssrc());
    assertEquals(new Rtcp.SenderInfo(0xe3a1b2c380000000L, 0x1000, 50, 8000), c.sender());
    assertEquals(List.of(new Rtcp.ReportBlock(0xaabbccddL, 0x40, 3, 0x10005, 12, 0x12345678L,
        0x8000)), c.reports());
    assertEquals("bob@x", c.cname());
    assertTrue(c.bye());
  }

  @Test
  void aNegativeCumulativeLossIsReadAsTwentyFourBitSigned() {
    byte[] rr = HEX.parseHex("81c90007" + "11223344" + "aabbccdd" + "00fffffe"
        + "00000000" + "00000000" + "00000000" + "00000000");
    assertEquals(-2, Rtcp.read(ByteBuffer.wrap(rr)).reports().get(0).cumulativeLost());
  }

  @Test
  void notRtcpIsNull() {
    assertNull(Rtcp.read(ByteBuffer.wrap(HEX.parseHex("80000001"
        + "0000000000000000")))); // an RTP header, PT 0
    assertNull(Rtcp.read(ByteBuffer.wrap(HEX.parseHex("81ca0003" + "11223344"
        + "0105626f62407800")))); // an SDES first: a compound starts with SR or RR
    assertNull(Rtcp.read(ByteBuffer.wrap(HEX.parseHex("81c900ff" + "11223344")))); // too long
  }

  @Test
  void ourReceiverReportIsWrittenByteForByte() {
    ByteBuffer out = Rtcp.write(ByteBuffer.allocate(512), 0xaabbccddL, null,
        List.of(new Rtcp.ReportBlock(0x11223344L, 0x19, 7, 0x1002a, 33, 0xb2c38000L, 0x10000)),
        "c1@10.0.0.1", false);
    byte[] bytes = new byte[out.remaining()];
    out.get(bytes);
    assertEquals("81c90007" + "aabbccdd"
        + "11223344" + "19000007" + "0001002a" + "00000021" + "b2c38000" + "00010000"
        // SDES: SSRC, CNAME len 11 "c1@10.0.0.1", then one null octet: 4+2+11+1 = 18 -> 20
        + "81ca0005" + "aabbccdd" + "010b" + HEX.formatHex("c1@10.0.0.1".getBytes()) + "000000",
        HEX.formatHex(bytes));
  }

  @Test
  void whatWeWriteWeRead() {
    Rtcp.SenderInfo info = new Rtcp.SenderInfo(Rtcp.ntp(1_700_000_000_250L), 12345, 250, 40000);
    ByteBuffer out = Rtcp.write(ByteBuffer.allocate(512), 7, info, List.of(), "me@h", true);
    Rtcp.Compound c = Rtcp.read(out);
    assertEquals(new Rtcp.Compound(7, info, List.of(), "me@h", true), c);
  }

  @Test
  void ntpTimeIsSecondsSince1900AndAFraction() {
    long ntp = Rtcp.ntp(1_000); // 1970-01-01T00:00:01Z
    assertEquals(2_208_988_801L, ntp >>> 32);
    assertEquals(0, ntp & 0xFFFFFFFFL);
    assertEquals(1L << 31, Rtcp.ntp(500) & 0xFFFFFFFFL); // half a second
    assertEquals(0x8001_8000L, Rtcp.middle(0x1234_8001_8000_5678L));
  }

  @Test
  void theIntervalIsAtLeastFiveSecondsRandomisedAndCompensated() {
    Random random = new Random(1);
    double low = Double.MAX_VALUE;
    double high = 0;
    for (int i = 0; i < 10_000; i++) {
      double t = Rtcp.interval(2, 1, 400, true, 100, false, random);
      low = Math.min(low, t);
      high = Math.max(high, t);
    }
    double e = Math.E - 1.5;
    assertTrue(low >= 5 * 0.5 / e && low < 5 * 0.55 / e, "low " + low);
    assertTrue(high <= 5 * 1.5 / e && high > 5 * 1.45 / e, "high " + high);
    double first = Rtcp.interval(2, 0, 400, false, 100, true, random);
    assertTrue(first >= 2.5 * 0.5 / e && first <= 2.5 * 1.5 / e, "initial " + first);
    // many members: the bandwidth share, not the minimum, sets it (1000 × 100 B / 300 B/s)
    double crowd = Rtcp.interval(1000, 1, 400, false, 100, false, new Random(2));
    assertTrue(crowd >= 0.5 * 999 * 100 / 300.0 / e, "crowd " + crowd);
  }

  private static RtpPacket rtp(int seq, long timestamp) {
    return new RtpPacket(false, 0, seq, timestamp, 99, new byte[160]);
  }

  @Test
  void lossIsCountedOverTheSequenceWrap() {
    RtpReception r = new RtpReception();
    long arrival = 0;
    for (int seq : new int[] {65534, 65535, 0, 1, 3}) { // 2 is lost
      r.received(rtp(seq, arrival), arrival);
      arrival += 160;
    }
    assertEquals(65536 + 3, r.extendedHighest());
    assertEquals(6, r.expected());
    assertEquals(5, r.received());
    assertEquals(1, r.cumulativeLost());
    assertEquals(256 / 6, r.fractionLostSinceLastReport());
    r.received(rtp(4, arrival), arrival);
    assertEquals(0, r.fractionLostSinceLastReport(), "none lost since the last report");
    assertEquals(0, r.jitter(), "a constant transit time is no jitter");
  }

  @Test
  void jitterFollowsTheTransitTimesSpread() {
    RtpReception r = new RtpReception();
    for (int i = 0; i < 400; i++) { // every other packet 10 ms (80 units) late
      long timestamp = i * 160L;
      r.received(rtp(i, timestamp), timestamp + (i % 2) * 80);
    }
    assertTrue(r.jitter() >= 75 && r.jitter() <= 80, "jitter " + r.jitter());
  }

  @Test
  void aNewSsrcStartsTheCountsAfresh() {
    RtpReception r = new RtpReception();
    r.received(rtp(10, 0), 0);
    r.received(rtp(20, 160), 160);
    assertEquals(9, r.cumulativeLost());
    r.received(new RtpPacket(false, 0, 500, 0, 77, new byte[160]), 320);
    assertEquals(77, r.ssrc());
    assertEquals(0, r.cumulativeLost());
  }

  @Test
  void theRoundTripComesFromThePeersReportOnOurSenderReport() {
    long second = 1_000_000_000L;
    RtcpReporter us = new RtcpReporter("us@h", new Random(3), 0);
    us.ssrc(0xaabbccddL);
    us.sent(rtp(1, 1000), RtpPacket.HEADER + 160, 0);
    long epoch = 1_700_000_000_000L;
    Rtcp.Compound sr = Rtcp.read(us.report(ByteBuffer.allocate(512), 0, epoch, false));
    assertNotNull(sr.sender(), "we sent: an SR");
    long lsr = Rtcp.middle(sr.sender().ntp());
    // the peer reports 0.5 s after our SR arrived, and that reaches us 0.6 s after we sent
    ByteBuffer rr = Rtcp.write(ByteBuffer.allocate(512), 0x11223344L, null,
        List.of(new Rtcp.ReportBlock(0xaabbccddL, 0, 2, 100, 16, lsr, 0x8000)), "peer", false);
    us.onRtcp(rr, second * 6 / 10, epoch + 600);
    RtcpStats stats = us.stats();
    assertEquals(100, stats.roundTripMs(), 0.1);
    assertEquals(2, stats.peerPacketsLost());
    assertEquals(2.0, stats.peerJitterMs());
    assertEquals(1, stats.reportsReceived());

    // our own report, echoed back by the peer, is not the peer's
    us.onRtcp(Rtcp.write(ByteBuffer.allocate(512), 0xaabbccddL, null, List.of(), "us@h",
        false), second, epoch + 1000);
    assertEquals(1, us.stats().reportsReceived());
  }
}
