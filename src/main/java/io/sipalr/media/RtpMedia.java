package io.sipalr.media;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The RTP of every call, timed by ONE scheduler: every 20 ms one task reads what each call's
 * socket has received (non-blocking) and sends each call's next frame. No thread per call; at
 * most {@code maxSessions} calls have media at once. A recording is kept in memory (bounded by
 * {@code recordLimit}) and written to its WAV file at the end of the call on {@code files}, never
 * on the scheduler's thread.
 */
public final class RtpMedia implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RtpMedia.class);
  public static final Duration PTIME = Duration.ofMillis(20);

  private final Supplier<AudioSource> sources;
  private final Path recordDir;
  private final int recordLimitSamples;
  private final int maxSessions;
  private final Executor files;
  private final Set<Session> sessions = ConcurrentHashMap.newKeySet();
  private final ScheduledFuture<?> ticking;

  /**
   * @param sources a new audio source per call
   * @param recordDir where received audio is written ({@code <call id>.wav}), or null: not kept
   */
  public RtpMedia(Supplier<AudioSource> sources, Path recordDir, Duration recordLimit,
      int maxSessions, ScheduledExecutorService scheduler, Executor files) {
    this.sources = sources;
    this.recordDir = recordDir;
    this.recordLimitSamples = (int) Math.min(Integer.MAX_VALUE / 2,
        recordLimit.toMillis() * Codec.CLOCK_RATE / 1000);
    this.maxSessions = maxSessions;
    this.files = files;
    this.ticking = scheduler.scheduleAtFixedRate(this::tick, PTIME.toMillis(), PTIME.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  /** Calls with media now. */
  public int sessionCount() {
    return sessions.size();
  }

  /**
   * A socket for a call on {@code address} (the profile's IAP address).
   *
   * @throws IOException when it cannot be bound, or {@code maxSessions} calls have media
   */
  public MediaChannel open(String address, String name) throws IOException {
    if (sessions.size() >= maxSessions) {
      throw new IOException("media: " + maxSessions + " calls have RTP already (calls.max-calls)");
    }
    Session s = new Session(name, bind(address), sources.get());
    sessions.add(s);
    return s;
  }

  private static DatagramChannel bind(String address) throws IOException {
    DatagramChannel channel = DatagramChannel.open();
    try {
      channel.configureBlocking(false);
      channel.bind(new InetSocketAddress(InetAddress.getByName(address), 0));
      return channel;
    } catch (IOException e) {
      channel.close();
      throw new IOException("media: cannot bind an RTP socket on " + address + ": "
          + e.getMessage(), e);
    }
  }

  private static String hostPort(SocketAddress a) {
    InetSocketAddress i = (InetSocketAddress) a;
    String host = i.getAddress() != null ? i.getAddress().getHostAddress() : i.getHostString();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + i.getPort();
  }

  private void tick() {
    for (Session s : sessions) {
      try {
        s.tick();
      } catch (RuntimeException e) {
        log.warn("media of {} failed this tick", s.name, e);
      }
    }
  }

  @Override
  public void close() {
    ticking.cancel(false);
    sessions.forEach(Session::close);
  }

  private final class Session implements MediaChannel {
    private final String name;
    private final AudioSource source;
    private final ByteBuffer in = ByteBuffer.allocate(2048);
    private final ByteBuffer out = ByteBuffer.allocate(RtpPacket.HEADER + 1024);
    private final short[] frame = new short[AudioSource.FRAME_SAMPLES];
    private DatagramChannel channel;
    private DatagramChannel prepared;
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

    Session(String name, DatagramChannel channel, AudioSource source) {
      this.name = name;
      this.channel = channel;
      this.source = source;
      this.recording = recordDir == null ? null : new short[Math.min(recordLimitSamples,
          Codec.CLOCK_RATE * 10)];
    }

    private InetSocketAddress local(DatagramChannel c) {
      try {
        return (InetSocketAddress) c.getLocalAddress();
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }

    @Override
    public synchronized String localAddress() {
      return local(channel).getAddress().getHostAddress();
    }

    @Override
    public synchronized int localPort() {
      return local(channel).getPort();
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
      prepared = bind(address);
      return local(prepared).getPort();
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
      prepared = null;
      start(agreed);
      packetiser.markNext();
    }

    @Override
    public synchronized void abortMove() {
      if (prepared != null) {
        closeQuietly(prepared);
        prepared = null;
      }
    }

    @Override
    public synchronized MediaStats stats() {
      InetSocketAddress l = local(channel);
      return new MediaStats(sent, received, l.getAddress().getHostAddress(), l.getPort(),
          lastSource, remote == null ? null : hostPort(remote),
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
      try {
        channel.send(packetiser.next(payload, frame.length).writeTo(out), remote);
        sent++;
      } catch (IOException e) {
        log.debug("media of {}: RTP not sent to {}: {}", name, remote, e.getMessage());
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
        lastSource = hostPort(from);
        long now = System.nanoTime();
        if (gapFrom != 0 && c == channel) {
          lastMoveGapMillis = (now - gapFrom) / 1_000_000;
          gapFrom = 0;
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
      int room = recordLimitSamples - recorded;
      int n = Math.min(room, decoded.length);
      if (n <= 0) {
        return;
      }
      if (recorded + n > recording.length) {
        recording = java.util.Arrays.copyOf(recording,
            Math.min(recordLimitSamples, Math.max(recording.length * 2, recorded + n)));
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
        sessions.remove(this);
        closeQuietly(channel);
        abortMove();
        toWrite = recording;
        count = recorded;
      }
      if (toWrite != null && count > 0) {
        Path file = recordDir.resolve(name + ".wav");
        files.execute(() -> {
          try {
            java.nio.file.Files.createDirectories(recordDir);
            Wav.write(file, toWrite, count);
            log.info("media of {}: {} s received written to {}", name,
                count / Codec.CLOCK_RATE, file);
          } catch (IOException e) {
            log.warn("media of {}: recording not written to {}: {}", name, file, e.getMessage());
          }
        });
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
}
