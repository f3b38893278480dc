package io.sipalr.media;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.file.Path;
import java.util.Arrays;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One call's RTP, run by {@link RtpMedia}'s tick. A move is make-before-break on both sides
 * (docs/calls.md, "Moves"): the new socket is bound and listened on before the re-offer, and
 * RTP goes on out of the old one while that still works, until the peer has the new address:
 * its 200 ({@link #commitMove}) or its first packet to the new socket. When the old path no
 * longer works (a send on it fails: the interface is gone), RTP goes out of the new socket at
 * once, beginning with the packet the old path could not send, instead of waiting for the 200.
 */
final class RtpSession implements MediaChannel {
  private static final Logger log = LoggerFactory.getLogger(RtpSession.class);
  /** A failed packet older than this is not sent again on the new socket: it is stale. */
  private static final long STALE_NANOS = 2 * RtpMedia.PTIME.toNanos();

  private final RtpMedia owner;
  final String name;
  private final AudioSource source;
  private final ByteBuffer in = ByteBuffer.allocate(2048);
  private final ByteBuffer out = ByteBuffer.allocate(RtpPacket.HEADER + 1024);
  private final short[] frame = new short[AudioSource.FRAME_SAMPLES];
  private DatagramChannel channel;
  private DatagramChannel prepared;
  /** Their local addresses, read once when bound (a socket broken under us has none). */
  private InetSocketAddress channelLocal;
  private InetSocketAddress preparedLocal;
  /** RTP goes out of {@link #prepared} already: the old path failed, or the peer uses the new. */
  private boolean sendingOnPrepared;
  /** The last packet the old socket could not send, and when (System.nanoTime()). */
  private byte[] unsent;
  private long unsentAt;
  private SocketAddress remote;
  private Codec codec;
  private RtpPacketiser packetiser;
  private boolean sending;
  private long sent;
  private long received;
  private String lastSource;
  /** System.nanoTime() of the last packet received; 0 before the first. */
  private long lastReceivedAt;
  /** Set at a move's commit: the last receive on the old socket, until the new one's first. */
  private long gapFrom;
  private long lastMoveGapMillis = -1;
  private short[] recording;
  private int recorded;
  private boolean closed;

  RtpSession(RtpMedia owner, String name, DatagramChannel channel, AudioSource source) {
    this.owner = owner;
    this.name = name;
    this.channel = channel;
    this.channelLocal = local(channel);
    this.source = source;
    this.recording = owner.recordDir == null ? null : new short[Math.min(
        owner.recordLimitSamples, Codec.CLOCK_RATE * 10)];
  }

  private static InetSocketAddress local(DatagramChannel c) {
    try {
      return (InetSocketAddress) c.getLocalAddress();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Override
  public synchronized String localAddress() {
    return channelLocal.getAddress().getHostAddress();
  }

  @Override
  public synchronized int localPort() {
    return channelLocal.getPort();
  }

  @Override
  public synchronized void start(SdpNegotiator.Agreed agreed) {
    remote = new InetSocketAddress(agreed.remoteAddress(), agreed.remotePort());
    if (codec != agreed.codec() || packetiser == null) {
      codec = agreed.codec();
      packetiser = new RtpPacketiser(codec.payloadType(), new java.util.Random());
    }
    // the peer's direction: it sendonly (or inactive) wants nothing from us
    sending = agreed.remotePort() != 0 && !"sendonly".equals(agreed.direction())
        && !"inactive".equals(agreed.direction());
  }

  @Override
  public synchronized int prepareMove(String address) throws IOException {
    abortMove();
    prepared = owner.bind(address);
    preparedLocal = local(prepared);
    if (owner.makeBeforeBreak && unsent != null && System.nanoTime() - unsentAt < STALE_NANOS) {
      switchToPrepared("the old path failed");
      sendOn(prepared, ByteBuffer.wrap(unsent));
      unsent = null;
    }
    return preparedLocal.getPort();
  }

  @Override
  public synchronized void commitMove(SdpNegotiator.Agreed agreed) {
    if (prepared == null) {
      start(agreed);
      return;
    }
    drain(channel); // what the old socket still holds counts
    gapFrom = lastReceivedAt;
    closeQuietly(channel);
    channel = prepared;
    channelLocal = preparedLocal;
    prepared = null;
    start(agreed);
    if (!sendingOnPrepared) {
      packetiser.markNext();
    }
    sendingOnPrepared = false;
    unsent = null;
  }

  @Override
  public synchronized void abortMove() {
    if (prepared != null) {
      closeQuietly(prepared);
      prepared = null;
    }
    sendingOnPrepared = false;
  }

  @Override
  public synchronized MediaStats stats() {
    InetSocketAddress l = sendingOnPrepared ? preparedLocal : channelLocal;
    return new MediaStats(sent, received, l.getAddress().getHostAddress(), l.getPort(),
        lastSource, remote == null ? null : RtpMedia.hostPort(remote),
        codec == null ? null : codec.name(), lastMoveGapMillis);
  }

  synchronized void tick() {
    if (closed) {
      return;
    }
    drain(channel);
    if (prepared != null) {
      drain(prepared); // the peer may already send to the new address
    }
    if (!sending) {
      return;
    }
    source.next(frame);
    byte[] payload = new byte[frame.length];
    for (int i = 0; i < frame.length; i++) {
      payload[i] = codec.encode(frame[i]);
    }
    ByteBuffer packet = packetiser.next(payload, frame.length).writeTo(out);
    if (sendingOnPrepared) {
      sendOn(prepared, packet);
      return;
    }
    if (!sendOn(channel, packet) && owner.makeBeforeBreak) {
      unsent = Arrays.copyOf(out.array(), out.limit());
      unsentAt = System.nanoTime();
      if (prepared != null) { // a move is under way: its socket takes over now
        switchToPrepared("the old path failed");
        sendOn(prepared, ByteBuffer.wrap(unsent));
        unsent = null;
      }
    }
  }

  private void switchToPrepared(String why) {
    if (!sendingOnPrepared) {
      sendingOnPrepared = true;
      packetiser.markNext();
      log.debug("media of {}: RTP out of the new socket before the peer's answer: {}", name,
          why);
    }
  }

  /** Sends {@code packet} out of {@code c}; false when that failed. */
  private boolean sendOn(DatagramChannel c, ByteBuffer packet) {
    try {
      c.send(packet, remote);
      sent++;
      return true;
    } catch (IOException e) {
      log.debug("media of {}: RTP not sent to {}: {}", name, remote, e.getMessage());
      return false;
    }
  }

  private void drain(DatagramChannel c) {
    for (int i = 0; i < 64; i++) { // bounded: at most 64 packets per tick and socket
      in.clear();
      SocketAddress from;
      try {
        from = c.receive(in);
      } catch (IOException e) {
        return;
      }
      if (from == null) {
        return;
      }
      RtpPacket p = RtpPacket.read(in.flip());
      if (p == null) {
        continue; // not RTP (an RTCP packet on this port, or noise)
      }
      received++;
      lastSource = RtpMedia.hostPort(from);
      long now = System.nanoTime();
      if (gapFrom != 0 && c == channel) {
        lastMoveGapMillis = (now - gapFrom) / 1_000_000;
        gapFrom = 0;
      }
      if (c == prepared && owner.makeBeforeBreak) {
        switchToPrepared("the peer sends to the new address");
      }
      lastReceivedAt = now;
      Codec c2 = Codec.of(p.payloadType(), null);
      if (c2 == null) {
        continue; // telephone-event or comfort noise: counted, not played
      }
      short[] decoded = new short[p.payload().length];
      for (int j = 0; j < decoded.length; j++) {
        decoded[j] = c2.decode(p.payload()[j]);
      }
      source.received(decoded);
      record(decoded);
    }
  }

  private void record(short[] decoded) {
    if (recording == null) {
      return;
    }
    int room = owner.recordLimitSamples - recorded;
    int n = Math.min(room, decoded.length);
    if (n <= 0) {
      return;
    }
    if (recorded + n > recording.length) {
      recording = Arrays.copyOf(recording, Math.min(owner.recordLimitSamples,
          Math.max(recording.length * 2, recorded + n)));
    }
    System.arraycopy(decoded, 0, recording, recorded, n);
    recorded += n;
  }

  @Override
  public void close() {
    short[] toWrite;
    int count;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      owner.closed(this);
      closeQuietly(channel);
      abortMove();
      toWrite = recording;
      count = recorded;
    }
    if (toWrite != null && count > 0) {
      owner.write(name, toWrite, count);
    }
  }

  private void closeQuietly(DatagramChannel c) {
    try {
      c.close();
    } catch (IOException e) {
      log.debug("media of {}: close failed: {}", name, e.getMessage());
    }
  }
}
