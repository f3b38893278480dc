package io.sipalr.it;

import static io.sipalr.it.BenchMath.percentile;
import static io.sipalr.it.NetnsTopology.CELL_ADDRESS;
import static io.sipalr.it.NetnsTopology.REGISTRAR_ADDRESS;
import static io.sipalr.it.NetnsTopology.WLAN_ADDRESS;

import java.io.InputStream;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The media gap of a call that moves, seen at the far end: the agent as users run it ({@code
 * Main run}, linux provider) in {@link NetnsTopology}'s namespace, registered through wlan0 at
 * a routing Kamailio on 198.19.30.1, auto-answers a call from SIPp there ({@code -rtp_echo},
 * it-tests/resources/sipp/call-uac-move.xml). Then, per run, {@code ip link set wlan0 down}
 * (the call moves to cell0) and up again (back to wlan0), each move settled (RTP from the new
 * address, the re-INVITE answered and ACKed) and followed by a pause of 300 to 320 ms (drawn,
 * so that the command falls anywhere in the 20 ms packet cycle).
 *
 * <p>Measured by Debian's tcpdump in the root namespace ({@link FarEndCapture}), never by the
 * agent: the media gap is the kernel time of the first RTP packet from the new address minus
 * that of the last one from the old address before it; the re-INVITE round trip is its first
 * transmission out of the agent's new uplink to the 200 coming back on it (both on the veth);
 * also the command's return to the re-INVITE and to the first RTP from the new address, and
 * the re-INVITE to that RTP: with make-before-break RTP need not wait for the 200. Baseline,
 * same run: the inter-arrival time of 150 RTP packets at the far end with nothing moving (20 ms
 * plus the scheduler's and the path's jitter): a gap of one such interval means no packet was
 * lost.
 * Two agents in turn, one per {@link #variants() variant}: {@code calls.media.make-before-break}
 * false (RTP leaves the new socket only at the 200) and true (as the agent runs).
 *
 * <p>Writes target/bench/media-gap.{md,csv} and the agent's log next to them. Never fails on
 * time; fails (after the report) when a move did not reach the far end within 10 s, the call
 * did not survive, or Kamailio did not hold exactly one binding at the end. Bounded: {@code
 * -Dbench.media.runs} (default {@value #DEFAULT_RUNS} each way, at most 200) after {@value
 * #WARMUP} warm-up runs, and a loop budget of {@code -Dbench.budget-seconds} (default 300).
 * Needs root, iproute2, Docker, sipp and tcpdump (skips without unless CI=true).
 */
class MediaGapBench {
  private static final int DEFAULT_RUNS = 30;
  private static final int WARMUP = 2;
  private static final int BASELINE_PACKETS = 150;
  private static final String USER = "talker";
  private static final String PASSWORD = "talker-secret";
  private static final int CONTROL_PORT = 18471;
  private static final Duration MOVE_BOUND = Duration.ofSeconds(10);
  private static final Duration START_BOUND = Duration.ofSeconds(60);
  private static final Duration LOOP_BUDGET = Duration.ofSeconds(
      Math.max(10, Math.min(1800, Long.getLong("bench.budget-seconds", 300))));
  private static final Path OUT = Path.of("target", "bench");

  /** One configuration of the agent measured in this run. */
  record Variant(String name, String callsConfig) {}

  /** Values in ms, in run order. */
  record Series(String measure, List<Double> ms) {
    Series(String measure) {
      this(measure, new ArrayList<>());
    }
  }

  private final Map<String, Series> series = new LinkedHashMap<>();
  private final List<String> failures = new ArrayList<>();
  private final List<String> notes = new ArrayList<>();
  private final Random random = new Random(12);

  static List<Variant> variants() {
    return List.of(new Variant("switch at the 200", "media.make-before-break = false\n"),
        new Variant("make-before-break", "media.make-before-break = true\n"));
  }

  @Test
  void mediaGapOfAMoveAtTheFarEnd(@TempDir Path dir) throws Exception {
    int runs = Math.max(1, Math.min(200, Integer.getInteger("bench.media.runs", DEFAULT_RUNS)));
    NetnsTopology.assumeUsable();
    Path sipp = Path.of("/usr/bin/sipp");
    Assumptions.assumeTrue(Files.isExecutable(sipp) || "true".equals(System.getenv("CI")),
        "sipp (sip-tester) is not installed");
    FarEndCapture.tcpdump();
    Files.createDirectories(OUT);
    Path scenario = dir.resolve("call-uac-move.xml");
    try (InputStream in = MediaGapBench.class.getResourceAsStream("/sipp/call-uac-move.xml")) {
      Files.write(scenario, in.readAllBytes());
    }
    try (NetnsTopology net = NetnsTopology.create();
        KamailioRegistrar kamailio = KamailioRegistrar.builder()
            .listenAddress(REGISTRAR_ADDRESS).routing().start()) {
      kamailio.addUser(USER, PASSWORD);
      for (Variant v : variants()) {
        if (failures.isEmpty()) {
          runVariant(net, kamailio, v, dir.resolve(v.name().replace(' ', '-')), scenario, sipp,
              runs);
        }
      }
    } finally {
      report();
    }
    if (!failures.isEmpty()) {
      throw new AssertionError("media gap bench: " + failures);
    }
  }

  private void runVariant(NetnsTopology net, KamailioRegistrar kamailio, Variant v, Path dir,
      Path scenario, Path sipp, int runs) throws Exception {
    Files.createDirectories(dir);
    String config = NetnsTopology.agentConfig(dir.resolve("data"), kamailio, List.of(USER),
        PASSWORD, Duration.ofSeconds(2), 600, CONTROL_PORT)
        + "calls { policy = auto-answer, answer-delay = 0s\n" + v.callsConfig() + "}\n";
    AgentProcess agent = NetnsTopology.startAgent(dir, config, WARN_LOGBACK,
        List.of("-Xms256m", "-Xmx256m", "-XX:+UseParallelGC"));
    Process caller = null;
    int mediaPort = freeUdpPort();
    try (agent;
        FarEndCapture rtp = FarEndCapture.rtp(REGISTRAR_ADDRESS, List.of(mediaPort),
            dir.resolve("tcpdump-rtp.log"));
        FarEndCapture sip = FarEndCapture.sip(kamailio.port(), List.of(WLAN_ADDRESS,
            CELL_ADDRESS), dir.resolve("tcpdump-sip.log"))) {
      long until = System.nanoTime() + START_BOUND.toNanos();
      while (kamailio.lookup(USER).stream().noneMatch(b -> b.received() != null
          && b.received().startsWith("sip:" + WLAN_ADDRESS + ":"))) {
        agent.requireAlive(() -> "\n" + agent.outputTail(40));
        if (System.nanoTime() > until) {
          throw new IllegalStateException(v.name() + ": not registered through wlan0 within "
              + START_BOUND);
        }
        sip.await(sip.size(), p -> true, Duration.ofMillis(200)); // the next SIP message
      }
      caller = new ProcessBuilder(sipp.toString(),
          kamailio.host() + ":" + kamailio.port(), "-sf", scenario.toString(), "-s", USER,
          "-i", REGISTRAR_ADDRESS, "-p", Integer.toString(freeUdpPort()),
          "-mi", REGISTRAR_ADDRESS, "-mp", Integer.toString(mediaPort), "-rtp_echo",
          "-m", "1", "-timeout", "1800s", "-timeout_error", "-nostdin", "-trace_err",
          "-error_file", dir.resolve("sipp-errors.log").toString())
          .redirectErrorStream(true).redirectOutput(dir.resolve("sipp.log").toFile()).start();
      if (rtp.await(0, p -> p.from().equals(WLAN_ADDRESS), START_BOUND) == null) {
        throw new IllegalStateException(v.name() + ": no RTP from wlan0 at the far end within "
            + START_BOUND + "\n" + agent.outputTail(40));
      }
      baseline(v, rtp);
      long deadline = System.nanoTime() + LOOP_BUDGET.toNanos();
      int done = 0;
      for (int run = -WARMUP; run < runs; run++) {
        if (System.nanoTime() > deadline) {
          notes.add(v.name() + ": the loop's budget ran out after " + done + " runs");
          break;
        }
        boolean warm = run < 0;
        if (!move(v, net, rtp, sip, true, warm) || !move(v, net, rtp, sip, false, warm)) {
          break;
        }
        done += warm ? 0 : 1;
        if (!caller.isAlive()) {
          failures.add(v.name() + ": SIPp's call ended during run " + run + ": "
              + Files.readString(dir.resolve("sipp.log")));
          break;
        }
      }
      List<KamailioRegistrar.Binding> bindings = kamailio.lookup(USER);
      if (bindings.size() != 1) {
        failures.add(v.name() + ": " + bindings.size() + " bindings at the end: " + bindings);
      }
    } finally {
      if (caller != null) {
        caller.destroyForcibly();
      }
      Files.copy(agent.outputFile(), OUT.resolve("media-gap-agent-"
          + v.name().replace(' ', '-') + ".log"), StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** Inter-arrival times of {@value #BASELINE_PACKETS} packets with nothing moving. */
  private void baseline(Variant v, FarEndCapture rtp) throws InterruptedException {
    int from = rtp.size();
    if (rtp.await(from + BASELINE_PACKETS, p -> true, Duration.ofSeconds(30)) == null) {
      failures.add(v.name() + ": RTP stopped before the baseline was taken");
      return;
    }
    List<FarEndCapture.Packet> p = rtp.since(from);
    Series s = s(v, "baseline", "RTP inter-arrival at the far end, nothing moving");
    for (int i = 1; i <= BASELINE_PACKETS; i++) {
      s.ms().add((p.get(i).micros() - p.get(i - 1).micros()) / 1000.0);
    }
  }

  /** One move (wlan0 down, or up again); false (with a failure) when it did not complete. */
  private boolean move(Variant v, NetnsTopology net, FarEndCapture rtp, FarEndCapture sip,
      boolean down, boolean warm) throws Exception {
    String oldAddress = down ? WLAN_ADDRESS : CELL_ADDRESS;
    String newAddress = down ? CELL_ADDRESS : WLAN_ADDRESS;
    String way = down ? "wlan0 down → cell0" : "wlan0 up → wlan0";
    int rtpFrom = rtp.size();
    int sipFrom = sip.size();
    long command = micros(Instant.now());
    if (down) {
      net.wlanDown();
    } else {
      net.wlanUp();
    }
    long returned = micros(Instant.now());
    FarEndCapture.Packet first = rtp.await(rtpFrom, p -> p.from().equals(newAddress),
        MOVE_BOUND);
    FarEndCapture.Packet invite = sip.await(sipFrom, p -> p.from().equals(newAddress)
        && "INVITE INVITE".equals(p.sip()), MOVE_BOUND);
    FarEndCapture.Packet ok = invite == null ? null : sip.await(sipFrom, p -> p.micros()
        >= invite.micros() && p.to().equals(newAddress) && "200 INVITE".equals(p.sip()),
        MOVE_BOUND);
    FarEndCapture.Packet ack = ok == null ? null : sip.await(sipFrom, p -> p.micros()
        >= ok.micros() && p.from().equals(newAddress) && "ACK ACK".equals(p.sip()), MOVE_BOUND);
    if (first == null || ack == null) {
      failures.add(v.name() + ", " + way + ": " + (first == null ? "no RTP from " + newAddress
          + " at the far end" : "no re-INVITE/200/ACK from " + newAddress) + " within "
          + MOVE_BOUND);
      return false;
    }
    FarEndCapture.Packet lastOld = null;
    for (FarEndCapture.Packet p : rtp.since(Math.max(0, rtpFrom - 5))) {
      if (p.micros() < first.micros() && p.from().equals(oldAddress)) {
        lastOld = p;
      }
    }
    if (!warm && lastOld != null) {
      s(v, way, "media gap: last RTP from " + oldAddress + " → first from " + newAddress)
          .ms().add((first.micros() - lastOld.micros()) / 1000.0);
      s(v, way, "command returned → first RTP from " + newAddress).ms()
          .add((first.micros() - returned) / 1000.0);
      s(v, way, "re-INVITE out → first RTP from " + newAddress + " (negative: before it)")
          .ms().add((first.micros() - invite.micros()) / 1000.0);
      s(v, way, "re-INVITE round trip (out of " + newAddress + " → its 200)").ms()
          .add((ok.micros() - invite.micros()) / 1000.0);
      s(v, way, "command returned → re-INVITE out").ms()
          .add((invite.micros() - returned) / 1000.0);
      s(v, way, "`ip link set` in the namespace (process start included)").ms()
          .add((returned - command) / 1000.0);
    }
    // quiet time, drawn so that the next command falls anywhere in the 20 ms packet cycle
    Thread.sleep(300 + random.nextInt(20));
    return true;
  }

  private Series s(Variant v, String way, String measure) {
    return series.computeIfAbsent(v.name() + "|" + way + "|" + measure,
        k -> new Series(measure));
  }

  private static long micros(Instant t) {
    return ChronoUnit.MICROS.between(Instant.EPOCH, t);
  }

  private void report() throws Exception {
    StringBuilder md = new StringBuilder("Media gap of a moving call at the far end (namespaces,"
        + " real wlan0 down/up, routing Kamailio, SIPp -rtp_echo, tcpdump), " + LocalDate.now()
        + ", " + Runtime.getRuntime().availableProcessors() + " cores\n\n"
        + "| variant | move | measure | n | p50 ms | p99 ms | max ms |\n"
        + "| --- | --- | --- | ---: | ---: | ---: | ---: |\n");
    StringBuilder csv = new StringBuilder("variant,move,measure,count,p50_ms,p99_ms,max_ms\n");
    for (Map.Entry<String, Series> e : series.entrySet()) {
      String[] key = e.getKey().split("\\|");
      List<Double> ms = e.getValue().ms();
      if (ms.isEmpty()) {
        continue;
      }
      double p50 = percentile(ms, 50);
      double p99 = percentile(ms, 99);
      double max = percentile(ms, 100);
      md.append(String.format(Locale.ROOT, "| %s | %s | %s | %d | %.2f | %.2f | %.2f |%n",
          key[0], key[1], key[2], ms.size(), p50, p99, max));
      csv.append(String.format(Locale.ROOT, "%s,%s,\"%s\",%d,%.3f,%.3f,%.3f%n", key[0], key[1],
          key[2], ms.size(), p50, p99, max));
    }
    md.append("\n- Percentiles: nearest rank; below 100 values p99 is the maximum.\n");
    notes.forEach(n -> md.append("- ").append(n).append('\n'));
    failures.forEach(f -> md.append("- FAILED: ").append(f).append('\n'));
    System.out.println("\n" + md);
    Files.createDirectories(OUT);
    Files.writeString(OUT.resolve("media-gap.md"), md);
    Files.writeString(OUT.resolve("media-gap.csv"), csv);
  }

  private static int freeUdpPort() throws Exception {
    try (DatagramSocket s = new DatagramSocket(0, InetAddress.getByName(REGISTRAR_ADDRESS))) {
      return s.getLocalPort();
    }
  }

  /** The agent's logging as users run it (conf/logback.xml: WARN). */
  private static final String WARN_LOGBACK = """
      <configuration>
        <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
          <encoder><pattern>%d{HH:mm:ss.SSS} [%thread] %-5level %logger{30} - %msg%n</pattern></encoder>
        </appender>
        <root level="WARN"><appender-ref ref="OUT"/></root>
      </configuration>
      """;
}
