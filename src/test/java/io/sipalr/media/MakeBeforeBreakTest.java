package io.sipalr.media;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sipalr.sip.VirtualClock;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The send side of a move (docs/calls.md, "Moves"): RTP stays on the old socket while that
 * works, until the peer's 200 or its first packet to the new socket; when a send on the old one
 * fails, the new socket takes over at once with the packet that failed. Ticks are driven by a
 * virtual clock; the far end is a plain UDP socket on loopback; the old path is broken by
 * closing the old socket under the session (what a vanished interface does to its sends).
 */
class MakeBeforeBreakTest {
  private final VirtualClock clock = new VirtualClock();
  private final List<DatagramChannel> bound = new ArrayList<>();
  private DatagramSocket farEnd;

  @BeforeEach
  void farEnd() throws IOException {
    farEnd = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0));
    farEnd.setSoTimeout(5000);
  }

  @AfterEach
  void close() throws IOException {
    farEnd.close();
    for (DatagramChannel c : bound) {
      c.close();
    }
  }

  private RtpMedia media(boolean makeBeforeBreak) {
    return new RtpMedia(() -> AudioSource.tone(440, 0.3), null, Duration.ZERO, 4,
        makeBeforeBreak, clock, Runnable::run, address -> {
          RtpMedia.SocketPair pair = RtpMedia.bindUdp(address);
          bound.add(pair.rtp());
          bound.add(pair.rtcp());
          return pair;
        }, clock::nanoTime, clock.clock());
  }

  private SdpNegotiator.Agreed toFarEnd() {
    return new SdpNegotiator.Agreed("127.0.0.1", farEnd.getLocalPort(), Codec.PCMU, -1,
        "sendrecv");
  }

  /** The next packet at the far end: its source address and RTP sequence number. */
  private String[] receive() throws IOException {
    DatagramPacket d = new DatagramPacket(new byte[2048], 2048);
    farEnd.receive(d);
    RtpPacket p = RtpPacket.read(ByteBuffer.wrap(d.getData(), 0, d.getLength()));
    return new String[] {d.getAddress().getHostAddress(), Integer.toString(p.sequence())};
  }

  private void tick() {
    clock.advance(RtpMedia.PTIME);
  }

  @Test
  void whenTheOldPathFailsTheNewSocketSendsAtOnceStartingWithThePacketThatFailed()
      throws IOException {
    MediaChannel call = media(true).open("127.0.0.1", "a");
    call.start(toFarEnd());
    tick();
    String[] first = receive();
    assertEquals("127.0.0.1", first[0]);
    bound.get(0).close(); // RTP's; the interface is gone: sends on the old socket fail
    tick();
    assertEquals(1, call.stats().sent(), "the failed send is not counted");

    call.prepareMove("127.0.0.2"); // the re-INVITE goes out; its 200 has not come
    String[] resent = receive();
    assertEquals("127.0.0.2", resent[0], "the packet the old path lost, out of the new socket");
    assertEquals(Integer.parseInt(first[1]) + 1, Integer.parseInt(resent[1]));
    tick();
    String[] next = receive();
    assertEquals("127.0.0.2", next[0], "RTP stays on the new socket before the 200");
    assertEquals(Integer.parseInt(first[1]) + 2, Integer.parseInt(next[1]));
    assertEquals("127.0.0.2", call.stats().localAddress());

    call.commitMove(toFarEnd());
    tick();
    assertEquals("127.0.0.2", receive()[0]);
    call.close();
  }

  @Test
  void whileTheOldPathWorksRtpStaysOnItUntilThePeerSendsToTheNewSocket() throws IOException {
    MediaChannel call = media(true).open("127.0.0.1", "a");
    call.start(toFarEnd());
    tick();
    assertEquals("127.0.0.1", receive()[0]);
    int port = call.prepareMove("127.0.0.2");
    tick();
    assertEquals("127.0.0.1", receive()[0], "the old path works: RTP goes on there");
    tick();
    assertEquals("127.0.0.1", receive()[0]);

    // the peer took the new address (its 200 is still on the way): RTP follows it at once
    byte[] rtp = new byte[RtpPacket.HEADER + 160];
    new RtpPacket(false, 0, 1, 160, 42, new byte[160]).writeTo(ByteBuffer.wrap(rtp));
    farEnd.send(new DatagramPacket(rtp, rtp.length, new InetSocketAddress("127.0.0.2", port)));
    tick();
    assertEquals("127.0.0.2", receive()[0]);
    call.commitMove(toFarEnd());
    tick();
    assertEquals("127.0.0.2", receive()[0]);
    assertEquals(1, call.stats().received());
    call.close();
  }

  @Test
  void withoutMakeBeforeBreakRtpWaitsForThe200EvenWhenTheOldPathFailed() throws IOException {
    MediaChannel call = media(false).open("127.0.0.1", "a");
    call.start(toFarEnd());
    tick();
    assertEquals("127.0.0.1", receive()[0]);
    bound.get(0).close();
    call.prepareMove("127.0.0.2");
    tick();
    tick();
    assertEquals(1, call.stats().sent(), "nothing went out before the 200");
    call.commitMove(toFarEnd());
    tick();
    assertEquals("127.0.0.2", receive()[0]);
    assertEquals(2, call.stats().sent());
    call.close();
  }
}
