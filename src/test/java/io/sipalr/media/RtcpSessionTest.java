package io.sipalr.media;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.sip.VirtualClock;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A call's RTCP on the wire: reports on the RTP port + 1 to the peer's RTP port + 1, the first
 * within 1.03 to 3.08 s and then every 2.05 to 6.16 s (RFC 3550's 5 s minimum, randomised and
 * compensated), loss and jitter of what the peer sent in the call's stats, the peer's report on
 * ours read back, RTCP moving with RTP, and a BYE when the call ends. Virtual time drives the
 * ticks; the peer is a pair of plain sockets on loopback.
 */
class RtcpSessionTest {
  private final VirtualClock clock = new VirtualClock();
  private final RtpMedia.SocketPair peer;

  RtcpSessionTest() throws IOException {
    peer = RtpMedia.bindUdp("127.0.0.1");
    peer.rtp().configureBlocking(true);
    peer.rtcp().configureBlocking(true);
  }

  @AfterEach
  void close() {
    peer.close();
  }

  private RtpMedia media() {
    return new RtpMedia(() -> AudioSource.tone(440, 0.3), null, Duration.ZERO, 4, true, clock,
        Runnable::run, RtpMedia::bindUdp, clock::nanoTime, clock.clock());
  }

  /** The next RTCP compound at the peer, and where it came from. */
  private Rtcp.Compound receiveRtcp(int[] fromPort) throws IOException {
    ByteBuffer in = ByteBuffer.allocate(2048);
    InetSocketAddress from = (InetSocketAddress) peer.rtcp().receive(in);
    fromPort[0] = from.getPort();
    return Rtcp.read(in.flip());
  }

  private void sendRtp(MediaChannel to, int seq, long timestamp) throws IOException {
    ByteBuffer b = new RtpPacket(false, 0, seq, timestamp, 0x5eed, new byte[160])
        .writeTo(ByteBuffer.allocate(512));
    peer.rtp().send(b, new InetSocketAddress("127.0.0.1", to.localPort()));
  }

  @Test
  void reportsFlowOnTheNextPortCarryLossAndMoveWithRtpAndEndWithBye() throws IOException {
    MediaChannel call = media().open("127.0.0.1", "c1");
    assertEquals(0, call.localPort() % 2, "RTP on an even port");
    call.start(new SdpNegotiator.Agreed("127.0.0.1", peer.local().getPort(), Codec.PCMU, -1,
        "sendrecv"));
    for (int seq : new int[] {100, 101, 103, 104}) { // 102 lost
      sendRtp(call, seq, seq * 160L);
    }
    long start = clock.now();
    int[] from = new int[1];
    Rtcp.Compound first = null;
    while (first == null && clock.now() - start < 3100) {
      clock.advance(RtpMedia.PTIME);
      if (call.stats().rtcp().reportsSent() > 0) {
        first = receiveRtcp(from);
      }
    }
    assertNotNull(first, "a first report within 3.08 s");
    assertTrue(clock.now() - start >= 1020, "not before 1.03 s: " + (clock.now() - start));
    assertEquals(call.localPort() + 1, from[0], "from the RTP port + 1");
    assertNotNull(first.sender(), "we sent RTP: an SR");
    assertEquals("c1@127.0.0.1", first.cname());
    assertEquals(1, first.reports().size());
    Rtcp.ReportBlock aboutPeer = first.reports().get(0);
    assertEquals(0x5eed, aboutPeer.ssrc());
    assertEquals(1, aboutPeer.cumulativeLost());
    assertEquals(104, aboutPeer.highestSequence());
    RtcpStats stats = call.stats().rtcp();
    assertEquals(5, stats.packetsExpected());
    assertEquals(1, stats.packetsLost());
    assertNull(stats.roundTripMs(), "the peer has not reported yet");

    // the peer reports on our SR at once: a round trip of about 0 (virtual time stood still)
    peer.rtcp().send(Rtcp.write(ByteBuffer.allocate(512), 0x5eed, null,
        List.of(new Rtcp.ReportBlock(first.ssrc(), 0, 0, 1, 8, Rtcp.middle(first.sender()
            .ntp()), 0)), "peer@h", false), new InetSocketAddress("127.0.0.1", from[0]));
    clock.advance(RtpMedia.PTIME);
    stats = call.stats().rtcp();
    assertEquals(1, stats.reportsReceived());
    assertEquals(1.0, stats.peerJitterMs());
    assertEquals(20, stats.roundTripMs(), 1, "the tick of virtual time the answer waited");

    // a move: the next report leaves the new pair
    int port = call.prepareMove("127.0.0.2");
    call.commitMove(new SdpNegotiator.Agreed("127.0.0.1", peer.local().getPort(), Codec.PCMU,
        -1, "sendrecv"));
    long sentBefore = call.stats().rtcp().reportsSent();
    long moved = clock.now();
    while (call.stats().rtcp().reportsSent() == sentBefore && clock.now() - moved < 6200) {
      clock.advance(RtpMedia.PTIME);
    }
    assertTrue(clock.now() - moved <= 6200, "the next report within 6.16 s");
    // RTP packets may be queued before it at the peer's RTP socket; RTCP has its own
    Rtcp.Compound next = receiveRtcp(from);
    assertEquals(port + 1, from[0], "RTCP moved with RTP");
    assertFalse(next.bye());

    call.close();
    Rtcp.Compound last = receiveRtcp(from);
    assertTrue(last.bye(), "a BYE when the call ends");
    assertEquals(first.ssrc(), last.ssrc());
  }
}
