package io.sipalr.media;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SDP offer/answer, RTP packets and G.711 without a socket. */
class MediaFormatsTest {
  final SdpNegotiator sdp = new SdpNegotiator();

  @Test
  void anOfferListsPcmuPcmaAndTelephoneEventOnTheGivenAddress() throws Exception {
    String offer = sdp.offer(42, 7, "198.18.0.2", 40000);
    assertTrue(offer.contains("o=- 42 7 IN IP4 198.18.0.2"), offer);
    assertTrue(offer.contains("c=IN IP4 198.18.0.2"), offer);
    assertTrue(offer.contains("m=audio 40000 RTP/AVP 0 8 101"), offer);
    assertTrue(offer.contains("a=rtpmap:101 telephone-event/8000"), offer);
    // and it reads back as what it says (RFC 3264: the answerer picks the first)
    SdpNegotiator.Agreed a = sdp.agreedBy(offer);
    assertEquals(new SdpNegotiator.Agreed("198.18.0.2", 40000, Codec.PCMU, 101, "sendrecv"), a);
  }

  @Test
  void theAnswerKeepsTheOfferersFirstCommonCodec() throws Exception {
    String offer = String.join("\r\n", "v=0", "o=x 1 1 IN IP4 198.18.0.9", "s=-",
        "t=0 0", "m=audio 6000 RTP/AVP 18 8 0", "c=IN IP4 198.18.0.9",
        "a=rtpmap:18 G729/8000", "a=sendonly", "");
    SdpNegotiator.Answer answer = sdp.answer(offer, 5, 0, "198.18.0.2", 40000);
    assertEquals(Codec.PCMA, answer.agreed().codec());
    assertEquals(-1, answer.agreed().telephoneEvent());
    assertEquals("sendonly", answer.agreed().direction());
    assertEquals("198.18.0.9", answer.agreed().remoteAddress()); // media-level c=
    assertTrue(answer.sdp().contains("m=audio 40000 RTP/AVP 8\r\n"), answer.sdp());
    assertTrue(answer.sdp().contains("a=recvonly"), answer.sdp());
    assertFalse(answer.sdp().contains("telephone-event"), answer.sdp());
  }

  @Test
  void noCommonCodecOrNoAudioIsRefusedWithTheReason() {
    String g722 = String.join("\r\n", "v=0", "o=x 1 1 IN IP4 198.18.0.9", "s=-",
        "c=IN IP4 198.18.0.9", "t=0 0", "m=audio 6000 RTP/AVP 9", "");
    var e = assertThrows(SdpNegotiator.SdpNegotiationException.class,
        () -> sdp.answer(g722, 1, 0, "198.18.0.2", 4000));
    assertTrue(e.getMessage().contains("no codec in common"), e.getMessage());
    String video = g722.replace("m=audio", "m=video");
    assertThrows(SdpNegotiator.SdpNegotiationException.class, () -> sdp.agreedBy(video));
    // a dynamic type named PCMU is PCMU; a dynamic type without a name is not
    String dyn = g722.replace("RTP/AVP 9", "RTP/AVP 96 97\r\na=rtpmap:97 pcmu/8000");
    assertEquals(Codec.PCMU, assertDoesNotThrowAgreed(dyn).codec());
  }

  private SdpNegotiator.Agreed assertDoesNotThrowAgreed(String text) {
    try {
      return sdp.agreedBy(text);
    } catch (SdpNegotiator.SdpNegotiationException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void rtpHeaderFieldsAndTheirProgression() {
    RtpPacketiser p = new RtpPacketiser(8, new Random(1));
    RtpPacket first = p.next(new byte[160], 160);
    RtpPacket second = p.next(new byte[160], 160);
    assertTrue(first.marker());
    assertFalse(second.marker());
    assertEquals((first.sequence() + 1) & 0xFFFF, second.sequence());
    assertEquals((first.timestamp() + 160) & 0xFFFFFFFFL, second.timestamp());
    assertEquals(first.ssrc(), second.ssrc());

    ByteBuffer b = first.writeTo(ByteBuffer.allocate(200));
    assertEquals(172, b.remaining());
    assertEquals((byte) 0x80, b.get(0)); // V=2, no padding, extension or CSRC
    assertEquals((byte) (0x80 | 8), b.get(1)); // marker, PT 8
    assertEquals(first.sequence(), b.getShort(2) & 0xFFFF);
    assertEquals(first.timestamp(), b.getInt(4) & 0xFFFFFFFFL);
    assertEquals(first.ssrc(), b.getInt(8) & 0xFFFFFFFFL);
    RtpPacket back = RtpPacket.read(b);
    assertEquals(first.sequence(), back.sequence());
    assertArrayEquals(first.payload(), back.payload());
  }

  @Test
  void sequenceAndTimestampWrap() {
    RtpPacketiser p = new RtpPacketiser(0, new Random(3));
    int start = p.next(new byte[1], 160).sequence();
    RtpPacket last = null;
    for (int i = 0; i < 70_000; i++) {
      last = p.next(new byte[1], 160);
    }
    assertEquals((start + 70_000) & 0xFFFF, last.sequence());
    assertTrue(last.timestamp() <= 0xFFFFFFFFL);
  }

  @Test
  void aPacketWithCsrcsAndAnExtensionIsReadPastThem() {
    ByteBuffer b = ByteBuffer.allocate(64);
    b.put((byte) (0x80 | 0x10 | 1)).put((byte) 0).putShort((short) 7).putInt(99).putInt(5);
    b.putInt(1234); // one CSRC
    b.putShort((short) 0xBEDE).putShort((short) 1).putInt(0); // a one-word extension
    b.put(new byte[] {1, 2, 3});
    RtpPacket p = RtpPacket.read(b.flip());
    assertArrayEquals(new byte[] {1, 2, 3}, p.payload());
    assertEquals(7, p.sequence());
    assertNull(RtpPacket.read(ByteBuffer.wrap(new byte[] {0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0}))); // version 1: not RTP
  }

  @Test
  void g711KnownValuesAndRoundTrip() {
    assertEquals((byte) 0xFF, Codec.PCMU.encode((short) 0));
    assertEquals((byte) 0xD5, Codec.PCMA.encode((short) 0));
    assertEquals((byte) 0x80, Codec.PCMU.encode(Short.MAX_VALUE));
    for (Codec c : Codec.values()) {
      for (int s = -32768; s < 32768; s += 97) {
        short back = c.decode(c.encode((short) s));
        // logarithmic: the error grows with the level, about 1/16 of it at most
        assertTrue(Math.abs(back - s) <= Math.max(16, Math.abs(s) / 15), c + " " + s + " -> "
            + back);
      }
    }
  }

  @Test
  void wavRoundTrip(@TempDir Path dir) throws Exception {
    short[] samples = new short[800];
    AudioSource.tone(440, 0.5).next(samples);
    Path f = dir.resolve("t.wav");
    Wav.write(f, samples, samples.length);
    assertArrayEquals(samples, Wav.read(f));
    AudioSource loop = AudioSource.loop(new short[] {1, 2, 3});
    short[] frame = new short[5];
    loop.next(frame);
    assertArrayEquals(new short[] {1, 2, 3, 1, 2}, frame);
  }
}
