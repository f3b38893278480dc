package io.sipalr.media;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.sip.VirtualClock;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * DTMF as RTP telephone-events (RFC 4733): the payload byte for byte, the packets of a digit
 * on the wire (one RTP time per digit, duration growing, the end three times, audio between
 * digits, sequence numbers running on), digits received counted once per event, and what is
 * refused (no such digit, too many waiting, a peer without telephone-event).
 */
class DtmfTest {
  private static final HexFormat HEX = HexFormat.of();
  private final VirtualClock clock = new VirtualClock();
  private final RtpMedia.SocketPair peer;

  DtmfTest() throws IOException {
    peer = RtpMedia.bindUdp("127.0.0.1");
    peer.rtp().configureBlocking(true);
  }

  @AfterEach
  void close() {
    peer.close();
  }

  @Test
  void thePayloadIsEventEndVolumeDuration() {
    assertEquals("050a00a0", HEX.formatHex(new TelephoneEvent(5, false, 10, 160).payload()));
    assertEquals("0b8a0320", HEX.formatHex(new TelephoneEvent(11, true, 10, 800).payload()));
    assertEquals(new TelephoneEvent(11, true, 10, 800),
        TelephoneEvent.read(HEX.parseHex("0b8a0320")));
    assertEquals(10, TelephoneEvent.code('*'));
    assertEquals(15, TelephoneEvent.code('d'));
    assertEquals('#', TelephoneEvent.digit(11));
    assertEquals(0, TelephoneEvent.digit(32)); // a fax tone, not a digit
  }

  private MediaChannel call(int telephoneEvent) throws IOException {
    RtpMedia media = new RtpMedia(() -> AudioSource.tone(440, 0.3), null, Duration.ZERO, 4,
        true, clock, Runnable::run, RtpMedia::bindUdp, clock::nanoTime, clock.clock());
    MediaChannel c = media.open("127.0.0.1", "d");
    c.start(new SdpNegotiator.Agreed("127.0.0.1", peer.local().getPort(), Codec.PCMU,
        telephoneEvent, "sendrecv"));
    return c;
  }

  private RtpPacket receive() throws IOException {
    ByteBuffer in = ByteBuffer.allocate(2048);
    peer.rtp().receive(in);
    return RtpPacket.read(in.flip());
  }

  @Test
  void eachDigitIsOneEventOfGrowingDurationEndedThreeTimesThenAudio() throws IOException {
    MediaChannel c = call(101);
    c.sendDtmf("1#");
    List<RtpPacket> sent = new ArrayList<>();
    for (int i = 0; i < 2 * 11; i++) {
      clock.advance(RtpMedia.PTIME);
      sent.add(receive());
    }
    for (int digit = 0; digit < 2; digit++) {
      List<RtpPacket> d = sent.subList(digit * 11, digit * 11 + 11);
      int code = digit == 0 ? 1 : 11;
      long start = d.get(0).timestamp();
      for (int i = 0; i < 8; i++) {
        RtpPacket p = d.get(i);
        assertEquals(101, p.payloadType(), "packet " + i);
        assertEquals(start, p.timestamp(), "one RTP time per digit");
        assertEquals(i == 0, p.marker(), "the marker on the first only");
        TelephoneEvent e = TelephoneEvent.read(p.payload());
        assertEquals(code, e.event());
        assertEquals(i >= 5, e.end(), "packet " + i);
        assertEquals(Math.min(i + 1, 5) * 160, e.duration());
      }
      for (int i = 8; i < 11; i++) {
        assertEquals(0, d.get(i).payloadType(), "audio between digits");
        assertEquals(start + i * 160, d.get(i).timestamp(), "the stream's time went on");
      }
    }
    for (int i = 1; i < sent.size(); i++) {
      assertEquals((sent.get(i - 1).sequence() + 1) & 0xFFFF, sent.get(i).sequence());
    }
    c.close();
  }

  private void sendEvent(MediaChannel to, int seq, long timestamp, TelephoneEvent e)
      throws IOException {
    peer.rtp().send(new RtpPacket(false, 101, seq, timestamp, 0x77, e.payload())
        .writeTo(ByteBuffer.allocate(64)), new InetSocketAddress("127.0.0.1", to.localPort()));
  }

  @Test
  void aReceivedDigitCountsOncePerEvent() throws IOException {
    MediaChannel c = call(101);
    sendEvent(c, 1, 1000, new TelephoneEvent(7, false, 10, 160));
    sendEvent(c, 2, 1000, new TelephoneEvent(7, false, 10, 320));
    sendEvent(c, 3, 1000, new TelephoneEvent(7, true, 10, 400));
    sendEvent(c, 4, 1000, new TelephoneEvent(7, true, 10, 400));
    sendEvent(c, 5, 2000, new TelephoneEvent(10, true, 10, 400)); // its start was lost
    clock.advance(RtpMedia.PTIME);
    assertEquals("7*", c.stats().dtmfReceived());
    assertEquals(5, c.stats().received());
    c.close();
  }

  @Test
  void whatCannotBeSentIsRefusedNamingTheCause() throws IOException {
    MediaChannel c = call(101);
    var e = assertThrows(IllegalArgumentException.class, () -> c.sendDtmf("12x"));
    assertTrue(e.getMessage().contains("'x'"), e.getMessage());
    c.sendDtmf("0123456789*#ABCD0123456789*#ABCD"); // 32
    e = assertThrows(IllegalArgumentException.class, () -> c.sendDtmf("1"));
    assertTrue(e.getMessage().contains("at most 32"), e.getMessage());
    c.close();
    MediaChannel without = call(-1);
    var s = assertThrows(IllegalStateException.class, () -> without.sendDtmf("1"));
    assertTrue(s.getMessage().contains("telephone-event"), s.getMessage());
    without.close();
  }
}
