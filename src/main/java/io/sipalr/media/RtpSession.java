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
  private final ByteBuffer rtcpOut = ByteBuffer.allocate(512);
  /** The RTP and RTCP sockets now, and those bound for a move under way (else null). */
  private RtpMedia.SocketPair current;
  private RtpMedia.SocketPair prepared;
  /** RTP goes out of {@link #prepared} already: the old path failed, or the peer uses the new. */
  private boolean sendingOnPrepared;
  /** The last packet the old socket could not send, and when (owner.nanos.getAsLong()). */
  private byte[] unsent;
  private long unsentAt;
  private SocketAddress remote;
  private SocketAddress remoteRtcp;
  /** RTCP from the first start() on: the peer's address is known from then. */
  private RtcpReporter rtcp;
  private Codec codec;
  /** The negotiated telephone-event payload type (RFC 4733), -1: none. */
  private int telephoneEvent = -1;
  private final DtmfSender dtmf = new DtmfSender();
  private long dtmfTimestamp;
  /** The RTP time of the last telephone-event received: one digit per event (§2.5.1.3). */
  private long lastEventTimestamp = -1;
  /** The digits received, the last {@value #DTMF_KEPT}. */
  private final StringBuilder dtmfReceived = new StringBuilder();
  private static final int DTMF_KEPT = 64;
  private RtpPacketiser packetiser;
  private boolean sending;
  private long sent;
  private long received;
  private String lastSource;
  /** owner.nanos.getAsLong() of the last packet received; 0 before the first. */
  private long lastReceivedAt;
  /** Set at a move's commit: the last receive on the old socket, until the new one's first. */
  private long gapFrom;
  private long lastMoveGapMillis = -1;
  private short[] recording;
  private int recorded;
  private boolean closed;

  RtpSession(RtpMedia owner, String name, RtpMedia.SocketPair sockets, AudioSource source) {
    this.owner = owner;
    this.name = name;
    this.current = sockets;
    this.source = source;
    this.recording = owner.recordDir == null ? null : new short[Math.min(
        owner.recordLimitSamples, Codec.CLOCK_RATE * 10)];
  }

  @Override
  public synchronized String localAddress() {
    return current.local().getAddress().getHostAddress();
  }

  @Override
  public synchronized int localPort() {
    return current.local().getPort();
  }

  @Override
  public synchronized void start(SdpNegotiator.Agreed agreed) {
    remote = new InetSocketAddress(agreed.remoteAddress(), agreed.remotePort());
    telephoneEvent = agreed.telephoneEvent();
    // RTCP on the RTP port + 1 (RFC 3550 §11; no a=rtcp, no rtcp-mux offered)
    remoteRtcp = new InetSocketAddress(agreed.remoteAddress(), agreed.remotePort() + 1);
    if (codec != agreed.codec() || packetiser == null) {
      codec = agreed.codec();
      packetiser = new RtpPacketiser(codec.payloadType(), new java.util.Random());
    }
    if (rtcp == null) {
      rtcp = new RtcpReporter(name + "@" + current.local().getAddress().getHostAddress(),
          new java.util.Random(), owner.nanos.getAsLong());
    }
    rtcp.ssrc(packetiser.ssrc());
    // the peer's direction: it sendonly (or inactive) wants nothing from us
    sending = agreed.remotePort() != 0 && !"sendonly".equals(agreed.direction())
        && !"inactive".equals(agreed.direction());
  }

  @Override
  public synchronized int prepareMove(String address) throws IOException {
    abortMove();
    prepared = owner.bind(address);
    if (owner.makeBeforeBreak && unsent != null
        && owner.nanos.getAsLong() - unsentAt < STALE_NANOS) {
      switchToPrepared("the old path failed");
      sendOn(prepared.rtp(), ByteBuffer.wrap(unsent));
      unsent = null;
    }
    return prepared.local().getPort();
  }

  @Override
  public synchronized void commitMove(SdpNegotiator.Agreed agreed) {
    if (prepared == null) {
      start(agreed);
      return;
    }
    drain(current); // what the old sockets still hold counts
    gapFrom = lastReceivedAt;
    current.close();
    current = prepared;
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
      prepared.close();
      prepared = null;
    }
    sendingOnPrepared = false;
  }

  @Override
  public synchronized MediaStats stats() {
    InetSocketAddress l = (sendingOnPrepared ? prepared : current).local();
    return new MediaStats(sent, received, l.getAddress().getHostAddress(), l.getPort(),
        lastSource, remote == null ? null : RtpMedia.hostPort(remote),
        codec == null ? null : codec.name(), lastMoveGapMillis,
        rtcp == null ? null : rtcp.stats(), dtmfReceived.toString());
  }

  synchronized void tick() {
    if (closed) {
      return;
    }
    drain(current);
    if (prepared != null) {
      drain(prepared); // the peer may already send to the new address
    }
    if (sending) {
      sendFrame();
    }
    long now = owner.nanos.getAsLong();
    if (rtcp != null && rtcp.due(now)) {
      sendRtcp(rtcp.report(rtcpOut, now, owner.wallClock.millis(), false));
    }
  }

  @Override
  public synchronized void sendDtmf(String digits) {
    if (telephoneEvent < 0 || !sending) {
      throw new IllegalStateException(remote == null || !sending
          ? "the call sends no RTP (not answered, or held)"
          : "the peer did not accept telephone-event (RFC 4733) in its SDP");
    }
    dtmf.queue(digits);
  }

  private RtpPacket nextPacket() {
    DtmfSender.Step step = telephoneEvent >= 0 ? dtmf.next() : null;
    if (step != null) {
      if (step.newDigit()) {
        dtmfTimestamp = packetiser.timestamp();
      }
      RtpPacket p = packetiser.event(telephoneEvent, step.marker(), dtmfTimestamp,
          step.event().payload());
      packetiser.advance(frame.length); // the stream's time goes on while the digit sounds
      return p;
    }
    source.next(frame);
    byte[] payload = new byte[frame.length];
    for (int i = 0; i < frame.length; i++) {
      payload[i] = codec.encode(frame[i]);
    }
    return packetiser.next(payload, frame.length);
  }

  private void sendFrame() {
    RtpPacket rtp = nextPacket();
    ByteBuffer packet = rtp.writeTo(out);
    int size = packet.remaining();
    if (sendingOnPrepared) {
      if (sendOn(prepared.rtp(), packet)) {
        rtcp.sent(rtp, size, owner.nanos.getAsLong());
      }
      return;
    }
    if (sendOn(current.rtp(), packet)) {
      rtcp.sent(rtp, size, owner.nanos.getAsLong());
    } else if (owner.makeBeforeBreak) {
      unsent = Arrays.copyOf(out.array(), out.limit());
      unsentAt = owner.nanos.getAsLong();
      if (prepared != null) { // a move is under way: its socket takes over now
        switchToPrepared("the old path failed");
        sendOn(prepared.rtp(), ByteBuffer.wrap(unsent));
        unsent = null;
      }
    }
  }

  /** RTCP goes the way RTP goes: out of the new pair once RTP has switched to it. */
  private void sendRtcp(ByteBuffer report) {
    RtpMedia.SocketPair via = sendingOnPrepared ? prepared : current;
    try {
      via.rtcp().send(report, remoteRtcp);
    } catch (IOException e) {
      log.debug("media of {}: RTCP not sent to {}: {}", name, remoteRtcp, e.getMessage());
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

  private void drain(RtpMedia.SocketPair pair) {
    drainRtp(pair);
    for (int i = 0; i < 16 && rtcp != null; i++) { // bounded, as RTP
      in.clear();
      try {
        if (pair.rtcp().receive(in) == null) {
          break;
        }
      } catch (IOException e) {
        break;
      }
      rtcp.onRtcp(in.flip(), owner.nanos.getAsLong(), owner.wallClock.millis());
    }
  }

  private void drainRtp(RtpMedia.SocketPair pair) {
    DatagramChannel c = pair.rtp();
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
      long now = owner.nanos.getAsLong();
      if (gapFrom != 0 && pair == current) {
        lastMoveGapMillis = (now - gapFrom) / 1_000_000;
        gapFrom = 0;
      }
      if (pair == prepared && owner.makeBeforeBreak) {
        switchToPrepared("the peer sends to the new address");
      }
      lastReceivedAt = now;
      if (rtcp != null) {
        rtcp.received(p, now);
      }
      if (p.payloadType() == telephoneEvent) {
        dtmfReceived(p);
        continue;
      }
      Codec c2 = Codec.of(p.payloadType(), null);
      if (c2 == null) {
        continue; // comfort noise or another payload: counted, not played
      }
      short[] decoded = new short[p.payload().length];
      for (int j = 0; j < decoded.length; j++) {
        decoded[j] = c2.decode(p.payload()[j]);
      }
      source.received(decoded);
      record(decoded);
    }
  }

  /** A telephone-event packet: a digit the first time its event (RTP time) is seen. */
  private void dtmfReceived(RtpPacket p) {
    TelephoneEvent e = TelephoneEvent.read(p.payload());
    if (e == null || p.timestamp() == lastEventTimestamp) {
      return; // the same event again (a longer duration, or its end sent three times)
    }
    lastEventTimestamp = p.timestamp();
    char digit = TelephoneEvent.digit(e.event());
    if (digit != 0) {
      if (dtmfReceived.length() == DTMF_KEPT) {
        dtmfReceived.deleteCharAt(0);
      }
      dtmfReceived.append(digit);
      log.debug("media of {}: DTMF {} received", name, digit);
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
      if (rtcp != null) { // RFC 3550 §6.3.7: a last report with BYE
        sendRtcp(rtcp.report(rtcpOut, owner.nanos.getAsLong(), owner.wallClock.millis(), true));
      }
      abortMove();
      current.close();
      toWrite = recording;
      count = recorded;
    }
    if (toWrite != null && count > 0) {
      owner.write(name, toWrite, count);
    }
  }
}
