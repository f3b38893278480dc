package io.sipalr.media;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
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
  final Path recordDir;
  final int recordLimitSamples;
  /** Send on the old path until the peer has the new address, or at once if it failed. */
  final boolean makeBeforeBreak;
  private final int maxSessions;
  private final Executor files;
  private final Binder binder;
  final java.util.function.LongSupplier nanos;
  final java.time.Clock wallClock;
  private final Set<RtpSession> sessions = ConcurrentHashMap.newKeySet();
  private final ScheduledFuture<?> ticking;

  /** Binds a call's UDP sockets on a local address (a seam for tests that break a path). */
  interface Binder {
    SocketPair bind(String address) throws IOException;
  }

  /** A call's RTP socket on an even port and its RTCP socket on the next (RFC 3550 §11). */
  record SocketPair(DatagramChannel rtp, DatagramChannel rtcp, InetSocketAddress local) {
    void close() {
      closeQuietly(rtp);
      closeQuietly(rtcp);
    }
  }

  /** Tries at binding an even port with the next one free, before giving up. */
  private static final int PAIR_ATTEMPTS = 32;

  /** With make-before-break (as the agent runs). */
  public RtpMedia(Supplier<AudioSource> sources, Path recordDir, Duration recordLimit,
      int maxSessions, ScheduledExecutorService scheduler, Executor files) {
    this(sources, recordDir, recordLimit, maxSessions, true, scheduler, files,
        RtpMedia::bindUdp, System::nanoTime, java.time.Clock.systemUTC());
  }

  /**
   * @param sources a new audio source per call
   * @param recordDir where received audio is written ({@code <call id>.wav}), or null: not kept
   * @param makeBeforeBreak false: RTP moves to the new socket only at the peer's 200
   *     (calls.media.make-before-break)
   */
  public RtpMedia(Supplier<AudioSource> sources, Path recordDir, Duration recordLimit,
      int maxSessions, boolean makeBeforeBreak, ScheduledExecutorService scheduler,
      Executor files) {
    this(sources, recordDir, recordLimit, maxSessions, makeBeforeBreak, scheduler, files,
        RtpMedia::bindUdp, System::nanoTime, java.time.Clock.systemUTC());
  }

  /** With the scheduler's time ({@code nanos}, {@code wallClock} for RTCP's NTP times). */
  RtpMedia(Supplier<AudioSource> sources, Path recordDir, Duration recordLimit,
      int maxSessions, boolean makeBeforeBreak, ScheduledExecutorService scheduler,
      Executor files, Binder binder, java.util.function.LongSupplier nanos,
      java.time.Clock wallClock) {
    this.sources = sources;
    this.nanos = nanos;
    this.wallClock = wallClock;
    this.makeBeforeBreak = makeBeforeBreak;
    this.binder = binder;
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
    RtpSession s = new RtpSession(this, name, bind(address), sources.get());
    sessions.add(s);
    return s;
  }

  SocketPair bind(String address) throws IOException {
    return binder.bind(address);
  }

  /** An ephemeral even port for RTP with the one above it for RTCP, on {@code address}. */
  static SocketPair bindUdp(String address) throws IOException {
    InetAddress host = InetAddress.getByName(address);
    IOException last = null;
    for (int i = 0; i < PAIR_ATTEMPTS; i++) {
      DatagramChannel rtp = open(host, 0, address);
      int port = ((InetSocketAddress) rtp.getLocalAddress()).getPort();
      if (port % 2 != 0 || port == 65534) {
        closeQuietly(rtp);
        continue;
      }
      try {
        DatagramChannel rtcp = open(host, port + 1, address);
        return new SocketPair(rtp, rtcp, (InetSocketAddress) rtp.getLocalAddress());
      } catch (IOException e) {
        closeQuietly(rtp);
        last = e;
      }
    }
    throw new IOException("media: no even RTP port with a free RTCP port above it on "
        + address + " in " + PAIR_ATTEMPTS + " tries" + (last == null ? ""
        : ": " + last.getMessage()), last);
  }

  private static DatagramChannel open(InetAddress host, int port, String address)
      throws IOException {
    DatagramChannel channel = DatagramChannel.open();
    try {
      channel.configureBlocking(false);
      channel.bind(new InetSocketAddress(host, port));
      return channel;
    } catch (IOException e) {
      channel.close();
      throw new IOException("media: cannot bind a UDP socket on " + address + ":" + port + ": "
          + e.getMessage(), e);
    }
  }

  static void closeQuietly(DatagramChannel c) {
    try {
      c.close();
    } catch (IOException e) {
      log.debug("media: close failed: {}", e.getMessage());
    }
  }

  static String hostPort(SocketAddress a) {
    InetSocketAddress i = (InetSocketAddress) a;
    String host = i.getAddress() != null ? i.getAddress().getHostAddress() : i.getHostString();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + i.getPort();
  }

  private void tick() {
    for (RtpSession s : sessions) {
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
    sessions.forEach(RtpSession::close);
  }

  /** A session's recording, written on {@code files}: never on the scheduler's thread. */
  void write(String name, short[] samples, int count) {
    Path file = recordDir.resolve(name + ".wav");
    files.execute(() -> {
      try {
        java.nio.file.Files.createDirectories(recordDir);
        Wav.write(file, samples, count);
        log.info("media of {}: {} s received written to {}", name,
            count / Codec.CLOCK_RATE, file);
      } catch (IOException e) {
        log.warn("media of {}: recording not written to {}: {}", name, file, e.getMessage());
      }
    });
  }

  void closed(RtpSession s) {
    sessions.remove(s);
  }
}
