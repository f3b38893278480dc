package io.sipalr.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;

/**
 * What the far end receives, seen by Debian's {@code tcpdump} (not by code of ours): UDP
 * datagrams to {@code host} on a set of ports, captured on every interface of the root
 * namespace ({@code -i any}, where the veths of {@link NetnsTopology} end), with the kernel's
 * receive time. For RTP: each packet's source is where the agent sent it from. For SIP
 * ({@link #sip}): the first line and the CSeq of each message to or from the agent's uplinks.
 * One reader thread per capture, bounded by the process; waits are bounded by the caller.
 */
final class FarEndCapture implements AutoCloseable {
  /** One datagram: kernel time (µs since 1970), source and destination, and for SIP a summary. */
  record Packet(long micros, String from, int fromPort, String to, int toPort, int length,
      String sip) {}

  private static final Pattern HEADER = Pattern.compile(
      "^(\\d+)\\.(\\d{6}) \\S+\\s+\\S+\\s+IP (\\d+\\.\\d+\\.\\d+\\.\\d+)\\.(\\d+) > "
          + "(\\d+\\.\\d+\\.\\d+\\.\\d+)\\.(\\d+): UDP, length (\\d+)");
  private static final Pattern START_LINE = Pattern.compile(
      "(INVITE|ACK|BYE|CANCEL|REGISTER|OPTIONS|MESSAGE) sip:|SIP/2\\.0 (\\d{3})");
  private static final Pattern CSEQ = Pattern.compile("CSeq: *(\\d+) +([A-Z]+)");

  private final Process process;
  private final Thread reader;
  private final boolean sip;
  private final List<Packet> packets = new ArrayList<>();
  private final Object lock = new Object();

  private FarEndCapture(Process process, boolean sip, String name) {
    this.process = process;
    this.sip = sip;
    this.reader = new Thread(this::read, name);
    reader.setDaemon(true);
    reader.start();
  }

  /** tcpdump on this machine (installed with apt-get as root when missing), else abort/fail. */
  static Path tcpdump() throws IOException, InterruptedException {
    Path t = Path.of("/usr/bin/tcpdump");
    if (!Files.isExecutable(t) && "root".equals(System.getProperty("user.name"))) {
      Process p = new ProcessBuilder("apt-get", "install", "-y", "-qq", "tcpdump")
          .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      p.waitFor(5, TimeUnit.MINUTES);
    }
    if (!Files.isExecutable(t)) {
      String message = "tcpdump is not installed (apt-get install -y tcpdump)";
      if ("true".equals(System.getenv("CI"))) {
        throw new IllegalStateException(message + "; CI=true: failing instead of skipping");
      }
      Assumptions.abort(message);
    }
    return t;
  }

  /** RTP (any UDP) arriving at {@code host} on {@code ports}. */
  static FarEndCapture rtp(String host, List<Integer> ports, Path log) throws Exception {
    StringBuilder filter = new StringBuilder("udp and dst host " + host + " and (");
    for (int i = 0; i < ports.size(); i++) {
      filter.append(i == 0 ? "" : " or ").append("dst port ").append(ports.get(i));
    }
    filter.append(')');
    return start(List.of("-n", "-tt", "-l", "--immediate-mode", "-i", "any", "-Q", "in",
        filter.toString()), false, log, "far-end-rtp");
  }

  /** SIP (UDP to or from {@code port}) of the agent's uplinks {@code agentAddresses}. */
  static FarEndCapture sip(int port, List<String> agentAddresses, Path log) throws Exception {
    StringBuilder filter = new StringBuilder("udp port " + port + " and (");
    for (int i = 0; i < agentAddresses.size(); i++) {
      filter.append(i == 0 ? "" : " or ").append("host ").append(agentAddresses.get(i));
    }
    filter.append(')');
    return start(List.of("-n", "-tt", "-l", "--immediate-mode", "-i", "any", "-A", "-s", "0",
        filter.toString()), true, log, "far-end-sip");
  }

  private static FarEndCapture start(List<String> args, boolean sip, Path log, String name)
      throws Exception {
    List<String> command = new ArrayList<>();
    command.add(tcpdump().toString());
    command.addAll(args);
    Process p = new ProcessBuilder(command).redirectError(log.toFile()).start();
    p.getOutputStream().close();
    FarEndCapture c = new FarEndCapture(p, sip, name);
    // tcpdump says "listening on any" on stderr once the capture is open: before that, a
    // packet would be missed
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!Files.readString(log).contains("listening on")) {
      if (!p.isAlive() || System.nanoTime() > deadline) {
        p.destroyForcibly();
        throw new IllegalStateException("tcpdump did not start (" + String.join(" ", command)
            + "): " + Files.readString(log));
      }
      p.waitFor(20, TimeUnit.MILLISECONDS); // returns at once if it exits
    }
    return c;
  }

  private void read() {
    try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(),
        StandardCharsets.ISO_8859_1))) {
      Packet pending = null;
      String startLine = null;
      String line;
      while ((line = in.readLine()) != null) {
        Matcher h = HEADER.matcher(line);
        if (h.find()) {
          add(pending, startLine);
          pending = new Packet(Long.parseLong(h.group(1)) * 1_000_000
              + Long.parseLong(h.group(2)), h.group(3), Integer.parseInt(h.group(4)),
              h.group(5), Integer.parseInt(h.group(6)), Integer.parseInt(h.group(7)), null);
          startLine = null;
          if (!sip) {
            add(pending, null);
            pending = null;
          }
          continue;
        }
        if (pending == null) {
          continue;
        }
        Matcher s = START_LINE.matcher(line);
        if (startLine == null && s.find()) {
          startLine = s.group(1) != null ? s.group(1) : s.group(2);
        }
        Matcher c = CSEQ.matcher(line);
        if (startLine != null && c.find()) {
          add(pending, startLine + " " + c.group(2));
          pending = null;
        }
      }
    } catch (IOException e) {
      // the capture ended
    }
  }

  private void add(Packet p, String summary) {
    if (p == null || (sip && summary == null)) {
      return;
    }
    synchronized (lock) {
      packets.add(sip ? new Packet(p.micros(), p.from(), p.fromPort(), p.to(), p.toPort(),
          p.length(), summary) : p);
      lock.notifyAll();
    }
  }

  /** Packets captured so far. */
  int size() {
    synchronized (lock) {
      return packets.size();
    }
  }

  /** A copy of packets {@code from} (an index) onwards. */
  List<Packet> since(int from) {
    synchronized (lock) {
      return new ArrayList<>(packets.subList(Math.min(from, packets.size()), packets.size()));
    }
  }

  /**
   * The first packet at index {@code from} or later that passes {@code test}, waiting for it
   * up to {@code bound}; null if none came.
   */
  Packet await(int from, Predicate<Packet> test, Duration bound) throws InterruptedException {
    long deadline = System.nanoTime() + bound.toNanos();
    int next = from;
    synchronized (lock) {
      while (true) {
        for (; next < packets.size(); next++) {
          if (test.test(packets.get(next))) {
            return packets.get(next);
          }
        }
        long left = deadline - System.nanoTime();
        if (left <= 0 || !process.isAlive()) {
          return null;
        }
        lock.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
      }
    }
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(5, TimeUnit.SECONDS)) {
      process.destroyForcibly();
    }
    reader.join(5000);
  }
}
