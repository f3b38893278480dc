package io.sipalr.it;

import static io.sipalr.it.BenchMath.sleep;
import static io.sipalr.it.BenchMath.percentile;
import static io.sipalr.it.BenchMath.publish;
import static io.sipalr.it.NetnsTopology.CELL_ADDRESS;
import static io.sipalr.it.NetnsTopology.NAMESPACE;
import static io.sipalr.it.NetnsTopology.REGISTRAR_ADDRESS;
import static io.sipalr.it.NetnsTopology.WLAN;
import static io.sipalr.it.NetnsTopology.WLAN_ADDRESS;

import io.sipalr.it.KamailioRegistrar.Binding;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Handover between real interfaces: the agent as users run it ({@code io.sipalr.agent.Main run},
 * linux provider) in the network namespace of {@link NetnsTopology}, registered at a Kamailio on
 * 198.19.30.1. Each run takes wlan0 down for real ({@code ip netns exec sipalr-ue ip link set
 * wlan0 down}) and times the move to cell0 until Kamailio holds the binding received from
 * 198.19.20.2, then brings wlan0 back ({@link NetnsTopology#wlanUp()}) and times the move back
 * (an upgrade, allowed by the default auto policy) until the binding is received from
 * 198.19.10.2.
 *
 * <p>Each move is split at the agent's own IAP event ({@code IAP 1 (wlan) down} / {@code up on
 * ...}, logged by io.sipalr.mobility.MobilityManager from the provider's callback):
 * <ul>
 *   <li>detection: the command's return (and its start) to that event;
 *   <li>SIP: that event to the 200 OK of the REGISTER through the new uplink (SIP trace) and to
 *       the agent's own end of the move (REGISTERED for the downgrade, MIGRATION_COMPLETED for
 *       the upgrade: make-before-break keeps the status REGISTERED);
 *   <li>total: the command's return to the binding seen at Kamailio (ul.lookup polled every
 *       {@value #POLL_MS} ms) and to the agent's end of the move.
 * </ul>
 * The agent child logs with {@code %epoch.%micros} (epoch milliseconds, then the microseconds
 * within the millisecond; logback 1.5 has no {@code %d{UNIX_MILLIS}}) and this JVM reads
 * {@link Instant#now()}: both are this machine's CLOCK_REALTIME, so their differences need no
 * clock sync; the figures are given in ms.
 *
 * <p>Baseline, measured in the same run before the agent starts: {@code ip netns exec sipalr-ue
 * true} started from this JVM (a process start in the namespace: what the agent pays to re-read
 * the interfaces after each monitor event), and a bare UDP OPTIONS round trip to the same
 * Kamailio from each uplink's address, sent by a small JVM started inside the namespace (the
 * floor of any REGISTER exchange through that uplink), and the ul.lookup round trip of the
 * polling itself (the resolution of the Kamailio-side total).
 *
 * <p>Writes target/bench/real-handover.{md,csv} and copies the agent's log to
 * target/bench/real-handover-agent.log. Never fails on time; fails (after writing the report)
 * when a move did not complete at all (no binding, event or end of move within 10 s), left more
 * than one binding, or the agent died. After a failed move it brings wlan0 back and waits for
 * a fresh registration through it before going on; it stops early after 3 failures or when
 * its time budget is spent. Needs root, iproute2 and Docker (skips without them unless
 * CI=true). Settings: {@code -Dbench.runs=N} (default {@value #DEFAULT_RUNS}, plus
 * {@value #WARMUP} warm-up runs not counted), {@code -Dbench.pause-ms} (quiet time after each
 * settled move, default 300), {@code -Dbench.budget-seconds} (the loop's budget, default 200).
 */
class RealHandoverBench {
  private static final int DEFAULT_RUNS = 50;
  private static final int MAX_RUNS = 500;
  private static final int WARMUP = 3;
  private static final String USER = "roamer";
  private static final String PASSWORD = "roamer-secret";
  private static final int POLL_MS = 5;
  /** Quiet time after each move has settled, before the next command; -Dbench.pause-ms. */
  private static final long PAUSE_MS =
      Math.max(0, Math.min(5000, Long.getLong("bench.pause-ms", 300)));
  private static final Duration FIRST_REGISTRATION = Duration.ofSeconds(60);
  private static final Duration MOVE_TIMEOUT = Duration.ofSeconds(10);
  /** A failed move gets this long to come right by itself (the agent's backoff is 1 s). */
  private static final Duration RECOVERY_TIMEOUT = Duration.ofSeconds(20);
  /** The measured loop stops early (and says so) after this long; -Dbench.budget-seconds. */
  private static final Duration LOOP_BUDGET = Duration.ofSeconds(
      Math.max(10, Math.min(1800, Long.getLong("bench.budget-seconds", 200))));
  private static final int MAX_FAILURES = 3;
  private static final int NETNS_TRUE_SAMPLES = 50;
  private static final int OPTIONS_SAMPLES = 200;
  private static final long COMMAND_TIMEOUT_SECONDS = 10;
  private static final Path OUT = Path.of("target", "bench");

  private static final String IAP_DOWN = "IAP 1 (wlan) down";
  private static final String IAP_UP = "IAP 1 (wlan) up on " + WLAN_ADDRESS;

  // ---- results ----------------------------------------------------------------------------

  /** One measure: values in ms, in run order. */
  private static final class Series {
    final String measure;
    final List<Double> ms = new ArrayList<>();

    Series(String measure) {
      this.measure = measure;
    }

    void add(double value) {
      ms.add(value);
    }
  }

  /** Everything measured for one direction. */
  private static final class Direction {
    final String name;
    final Map<String, Series> series = new LinkedHashMap<>();
    final Map<String, Integer> eventThreads = new TreeMap<>();
    long registers;
    int moves;
    int failures;
    int extraBindings;

    Direction(String name) {
      this.name = name;
    }

    Series s(String key, String measure) {
      return series.computeIfAbsent(key, k -> new Series(measure));
    }
  }

  private final Direction down = new Direction("wlan0 down: wlan0 to cell0 (downgrade)");
  private final Direction up = new Direction("wlan0 up: cell0 to wlan0 (upgrade)");
  private final Series netnsTrue = new Series("`ip netns exec sipalr-ue true` from this JVM");
  private final Series optionsWlan = new Series("UDP OPTIONS round trip from " + WLAN_ADDRESS
      + " (wlan0) to Kamailio");
  private final Series optionsCell = new Series("UDP OPTIONS round trip from " + CELL_ADDRESS
      + " (cell0) to Kamailio");
  private final Series rpc = new Series("ul.lookup JSON-RPC round trip (the polling's own)");
  private final List<String> failures = new ArrayList<>();
  private final List<String> warmups = new ArrayList<>();
  private int runsDone;
  private String resourcesAtStart;
  private String resourcesAtEnd;
  private String stoppedEarly;

  @Test
  void realInterfaceHandover(@TempDir Path dir) throws Exception {
    int runs = Math.max(1, Math.min(MAX_RUNS, Integer.getInteger("bench.runs", DEFAULT_RUNS)));
    NetnsTopology.assumeUsable();
    Files.createDirectories(OUT);
    try (NetnsTopology net = NetnsTopology.create();
        KamailioRegistrar kamailio =
            KamailioRegistrar.builder().listenAddress(REGISTRAR_ADDRESS).start()) {
      kamailio.addUser(USER, PASSWORD); // before the agent starts (rule 16)
      baseline(kamailio);
      try (BenchAgent agent = BenchAgent.start(dir, kamailio)) {
        Mover mover = new Mover(net, kamailio, agent);
        mover.awaitFirstRegistration();
        resourcesAtStart = agent.resources();
        long loopDeadline = System.nanoTime() + LOOP_BUDGET.toNanos();
        for (int run = -WARMUP; run < runs; run++) { // bounded by runs, budget and failures
          if (System.nanoTime() > loopDeadline) {
            stoppedEarly = "the loop's budget of " + LOOP_BUDGET.toSeconds() + " s ran out after "
                + runsDone + " measured runs";
            break;
          }
          if (failures.size() >= MAX_FAILURES) {
            stoppedEarly = failures.size() + " failed moves: stopped after " + runsDone
                + " measured runs";
            break;
          }
          boolean warm = run < 0;
          boolean ok = mover.move(run, true, warm ? null : down)
              && mover.move(run, false, warm ? null : up);
          if (!ok) {
            if (!mover.recover(run)) {
              stoppedEarly = "run " + run + ": the agent did not get back to wlan0 within "
                  + RECOVERY_TIMEOUT.toSeconds() + " s after a failed move; stopped after "
                  + runsDone + " measured runs";
              break;
            }
          }
          if (ok && !warm) {
            runsDone++;
          }
        }
        resourcesAtEnd = agent.resources();
      }
    } finally {
      if (runsDone > 0 || !failures.isEmpty()) {
        report(runs);
      }
    }
    if (!failures.isEmpty() || down.extraBindings + up.extraBindings > 0) {
      throw new AssertionError("RealHandoverBench: " + failures.size() + " problems (moves that"
          + " did not complete, or left more than one binding); see target/bench/real-handover.md and real-handover-agent.log:\n"
          + String.join("\n", failures));
    }
  }

  // ---- one move ---------------------------------------------------------------------------

  /** Moves the agent by taking wlan0 down or bringing it back, and times each part. */
  private final class Mover {
    private final NetnsTopology net;
    private final KamailioRegistrar kamailio;
    private final BenchAgent agent;

    Mover(NetnsTopology net, KamailioRegistrar kamailio, BenchAgent agent) {
      this.net = net;
      this.kamailio = kamailio;
      this.agent = agent;
    }

    void awaitFirstRegistration() {
      long deadline = System.nanoTime() + FIRST_REGISTRATION.toNanos();
      if (awaitBindingFrom(WLAN_ADDRESS, deadline, null) < 0) {
        throw new AssertionError("no binding from " + WLAN_ADDRESS + " within "
            + FIRST_REGISTRATION.toSeconds() + " s of the agent's start" + diagnostics());
      }
      if (agent.log.await(0, e -> isSettled(e), deadline) == null) {
        throw new AssertionError("the agent registered but never settled" + diagnostics());
      }
      sleep(PAUSE_MS);
    }

    /**
     * One move; false when it failed (recorded). {@code into} null: a warm-up run, printed
     * but not counted.
     */
    boolean move(int run, boolean wlanDown, Direction into) {
      String to = wlanDown ? CELL_ADDRESS : WLAN_ADDRESS;
      String what = (wlanDown ? "down" : "up") + " run " + run;
      LogTail log = agent.log;
      log.refresh();
      int mark = log.size();
      long registersBefore = kamailio.registerCount(USER);

      long start;
      long end;
      if (wlanDown) {
        Timed cmd = runTimed(List.of("ip", "netns", "exec", NAMESPACE, "ip", "link", "set",
            WLAN, "down"));
        if (cmd.exit != 0) {
          throw new IllegalStateException("ip link set " + WLAN + " down exited with "
              + cmd.exit + ": " + cmd.output);
        }
        start = cmd.startMicros;
        end = cmd.endMicros;
      } else {
        start = nowMicros();
        net.wlanUp();
        end = nowMicros();
      }
      long deadline = System.nanoTime() + MOVE_TIMEOUT.toNanos();

      long bindingSeen = awaitBindingFrom(to, deadline, rpc);
      LogTail.Entry event = log.await(mark, e -> isMobility(e, wlanDown ? IAP_DOWN : IAP_UP),
          deadline);
      int from = event == null ? mark : event.index();
      LogTail.Entry done = log.await(from, wlanDown ? RealHandoverBench::isRegistered
          : RealHandoverBench::isMigrationCompleted, deadline);
      LogTail.Entry ok = log.await(from, e -> isOkToRegisterThrough(e, to), deadline);
      LogTail.Entry sent = log.await(from, e -> isRegisterSentFrom(e, to), deadline);
      // From the event: the SNAP's session may log SETTLED just before the registry's line.
      LogTail.Entry settled = event == null ? null
          : log.await(from, RealHandoverBench::isSettled, deadline);
      if (bindingSeen < 0 || event == null || done == null || ok == null || sent == null
          || settled == null) {
        String failure = String.format(Locale.ROOT, "%s: within %d s: binding from %s %s, "
            + "IAP event %s, 200 OK through %s %s, %s %s, SNAP settled %s", what,
            MOVE_TIMEOUT.toSeconds(), to, seen(bindingSeen >= 0), seen(event != null), to,
            seen(ok != null), wlanDown ? "REGISTERED" : "MIGRATION_COMPLETED", seen(done != null),
            seen(settled != null));
        failures.add(failure);
        if (into != null) {
          into.failures++;
        }
        System.out.println("RealHandoverBench: FAILED " + failure + diagnostics());
        return false;
      }
      sleep(PAUSE_MS);
      long registers = kamailio.registerCount(USER) - registersBefore;
      List<Binding> after = kamailio.lookup(USER);
      boolean oneBinding = after.size() == 1 && isFrom(after.get(0), to);
      if (!oneBinding) {
        String failure = what + ": " + PAUSE_MS + " ms after the move, bindings: " + after;
        failures.add(failure);
        System.out.println("RealHandoverBench: " + failure);
      }

      double cmdMs = (end - start) / 1e3;
      double detect = (event.micros() - end) / 1e3;
      double detectFromStart = (event.micros() - start) / 1e3;
      double sipSent = (sent.micros() - event.micros()) / 1e3;
      double sip200 = (ok.micros() - event.micros()) / 1e3;
      double sipDone = (done.micros() - event.micros()) / 1e3;
      double totalBinding = (bindingSeen - end) / 1e3;
      double totalDone = (done.micros() - end) / 1e3;
      String doneName = wlanDown ? "REGISTERED" : "MIGRATION_COMPLETED";
      System.out.printf(Locale.ROOT, "RealHandoverBench: %-12s command %6.2f | detection %6.2f"
          + " (from start %6.2f, %s) | SIP sent %6.2f, 200 %6.2f, %s %6.2f | total binding"
          + " %6.2f, %s %6.2f ms | %d REGISTERs%s%n", what, cmdMs, detect, detectFromStart,
          event.thread(), sipSent, sip200, doneName, sipDone, totalBinding, doneName, totalDone, registers,
          into == null ? " (warm-up)" : "");
      if (into == null) {
        warmups.add(String.format(Locale.ROOT, "%s: detection %.2f ms, SIP to %s %.2f ms,"
            + " total to binding %.2f ms", what, detect, doneName, sipDone, totalBinding));
        return true;
      }
      String uplink = wlanDown ? "cell0" : "wlan0";
      String command = wlanDown ? "`ip netns exec sipalr-ue ip link set wlan0 down`"
          : "wlanUp(): 4 ip commands (wlan0 up, routes, far end up)";
      into.s("cmd", "command itself: " + command + " start to return").add(cmdMs);
      into.s("det", "detection: command return to IAP event (agent log)").add(detect);
      into.s("det0", "detection: command start to IAP event (agent log)").add(detectFromStart);
      into.s("sipSent", "SIP: IAP event to REGISTER sent through " + uplink
          + " (SIP trace; logged after the send)").add(sipSent);
      into.s("sip200", "SIP: IAP event to 200 OK through " + uplink + " (SIP trace)").add(sip200);
      into.s("sipDone", "SIP: IAP event to " + doneName + " (agent log)").add(sipDone);
      into.s("totBinding", "total: command return to binding from " + to
          + " seen at Kamailio (ul.lookup every " + POLL_MS + " ms)").add(totalBinding);
      into.s("totDone", "total: command return to " + doneName + " (agent log)").add(totalDone);
      into.eventThreads.merge(event.thread(), 1, Integer::sum);
      into.registers += registers;
      into.moves++;
      if (!oneBinding) {
        into.extraBindings++;
      }
      return true;
    }

    /**
     * After a failed move: wlan0 up (whatever it was), then wait until Kamailio holds exactly one
     * binding, received from wlan0 through a REGISTER sent after the failure (a higher CSeq than
     * a binding from wlan0 left from before: a stale one proves nothing); false when that does
     * not happen in time.
     */
    boolean recover(int run) {
      System.out.println("RealHandoverBench: run " + run + ": recovering (wlan0 up, waiting "
          + "for a new registration from " + WLAN_ADDRESS + ")");
      Long staleCseq = kamailio.lookup(USER).stream().filter(b -> isFrom(b, WLAN_ADDRESS))
          .map(Binding::cseq).max(Long::compare).orElse(null);
      String state = runTimed(List.of("ip", "-n", NAMESPACE, "-br", "link", "show", "dev",
          WLAN)).output;
      if (!state.contains(" UP ")) {
        net.wlanUp();
      }
      long deadline = System.nanoTime() + RECOVERY_TIMEOUT.toNanos();
      while (System.nanoTime() < deadline) { // bounded by the deadline
        List<Binding> bindings = kamailio.lookup(USER);
        if (bindings.size() == 1 && isFrom(bindings.get(0), WLAN_ADDRESS)
            && (staleCseq == null || bindings.get(0).cseq() > staleCseq)) {
          sleep(2_000); // let whatever was under way finish
          return true;
        }
        agent.requireAlive(this::diagnostics);
        sleep(50);
      }
      System.out.println("RealHandoverBench: no recovery" + diagnostics());
      return false;
    }

    /** When (epoch µs) a poll first saw a binding received from {@code address}; -1: never. */
    long awaitBindingFrom(String address, long deadlineNanos, Series rpcTimes) {
      while (true) { // bounded by the deadline
        long t0 = System.nanoTime();
        List<Binding> bindings = kamailio.lookup(USER);
        long seen = nowMicros();
        if (rpcTimes != null) {
          rpcTimes.add((System.nanoTime() - t0) / 1e6);
        }
        if (bindings.stream().anyMatch(b -> isFrom(b, address))) {
          return seen;
        }
        agent.requireAlive(this::diagnostics);
        if (System.nanoTime() > deadlineNanos) {
          return -1;
        }
        sleep(POLL_MS);
      }
    }

    String diagnostics() {
      return "\n---- network namespace ----\n" + net.describe()
          + "---- Kamailio bindings ----\n" + safeLookup()
          + "\n---- Kamailio log (tail) ----\n"
          + AgentProcess.tail(LinuxRoamingIT.withoutRpcNoise(kamailio.logs()), 30)
          + "\n---- agent log " + agent.logFile + " (tail) ----\n" + agent.logTail(120);
    }

    private String safeLookup() {
      try {
        return kamailio.lookup(USER).toString();
      } catch (RuntimeException e) {
        return "(lookup failed: " + e + ")";
      }
    }
  }

  private static String seen(boolean seen) {
    return seen ? "seen" : "NOT seen";
  }

  // ---- what the agent's log says ------------------------------------------------------------

  private static boolean isMobility(LogTail.Entry e, String message) {
    return e.logger().equals("io.sipalr.mobility.MobilityManager") && e.message().equals(message);
  }

  private static boolean isRegistered(LogTail.Entry e) {
    return e.logger().equals("io.sipalr.agent.Agent")
        && e.message().startsWith("profile " + USER + ": REGISTERED");
  }

  private static boolean isMigrationCompleted(LogTail.Entry e) {
    return e.logger().equals("io.sipalr.alr.SipAlr")
        && e.message().startsWith("profile " + USER + ": MIGRATION_COMPLETED (SNAP 1, IAP 1)");
  }

  private static boolean isSettled(LogTail.Entry e) {
    return e.logger().equals("io.sipalr.alr.SnapSession") && e.message().endsWith("-> SETTLED");
  }

  private static final Pattern CSEQ_REGISTER = Pattern.compile("(?i)^CSeq\\s*:\\s*\\d+\\s+REGISTER\\s*$");

  /** A 200 OK to a REGISTER, received on {@code address} (the trace logs it as it arrives). */
  private static boolean isOkToRegisterThrough(LogTail.Entry e, String address) {
    return e.logger().equals("io.sipalr.sip.trace")
        && e.message().startsWith("received " + REGISTRAR_ADDRESS + ":")
        && e.message().contains(" -> " + address + ":")
        && !e.body().isEmpty() && e.body().get(0).startsWith("SIP/2.0 200 ")
        && e.body().stream().anyMatch(l -> CSEQ_REGISTER.matcher(l).matches());
  }

  /** A REGISTER sent from {@code address} (the trace logs it once the stack has sent it). */
  private static boolean isRegisterSentFrom(LogTail.Entry e, String address) {
    return e.logger().equals("io.sipalr.sip.trace")
        && e.message().startsWith("sent " + address + ":")
        && !e.body().isEmpty() && e.body().get(0).startsWith("REGISTER ");
  }

  private static boolean isFrom(Binding binding, String address) {
    return binding.received() != null && binding.received().startsWith("sip:" + address + ":");
  }

  // ---- baseline ----------------------------------------------------------------------------

  private void baseline(KamailioRegistrar kamailio) throws IOException {
    for (int i = 0; i < NETNS_TRUE_SAMPLES; i++) {
      Timed t = runTimed(List.of("ip", "netns", "exec", NAMESPACE, "true"));
      if (t.exit != 0) {
        throw new IllegalStateException("ip netns exec " + NAMESPACE + " true: " + t.output);
      }
      netnsTrue.add((t.endMicros - t.startMicros) / 1e3);
    }
    // A JVM in the namespace sends the OPTIONS: this JVM cannot send from there.
    List<String> probe = List.of("ip", "netns", "exec", NAMESPACE, javaBinary(),
        "-cp", System.getProperty("java.class.path"), OptionsProbe.class.getName(),
        kamailio.host(), String.valueOf(kamailio.port()), String.valueOf(OPTIONS_SAMPLES),
        WLAN_ADDRESS, CELL_ADDRESS);
    Timed t = runTimed(probe, 60);
    if (t.exit != 0) {
      throw new IllegalStateException("the OPTIONS probe exited with " + t.exit + ": "
          + t.output);
    }
    for (String line : t.output.lines().toList()) {
      String[] f = line.trim().split("\\s+");
      if (f.length == 2 && f[1].matches("\\d+")) {
        (f[0].equals(WLAN_ADDRESS) ? optionsWlan : optionsCell).add(Long.parseLong(f[1]) / 1e6);
      } else if (!line.isBlank()) {
        System.out.println("RealHandoverBench: OPTIONS probe: " + line);
      }
    }
  }

  /**
   * Run inside the namespace: {@code OptionsProbe HOST PORT COUNT LOCAL...} sends COUNT OPTIONS
   * (after 20 not counted) from each LOCAL address to HOST:PORT and prints {@code LOCAL nanos}
   * per answered one, {@code LOCAL timeout} per lost one.
   */
  static final class OptionsProbe {
    private OptionsProbe() {}

    public static void main(String[] args) throws IOException {
      InetAddress target = InetAddress.getByName(args[0]);
      int port = Integer.parseInt(args[1]);
      int count = Integer.parseInt(args[2]);
      StringBuilder out = new StringBuilder();
      for (int a = 3; a < args.length; a++) {
        String local = args[a];
        try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(local, 0))) {
          socket.setSoTimeout(1000);
          for (int i = -20; i < count; i++) { // bounded: count + 20 sends, 1 s each at most
            String request = "OPTIONS sip:" + args[0] + ":" + port + " SIP/2.0\r\n"
                + "Via: SIP/2.0/UDP " + local + ":" + socket.getLocalPort()
                + ";branch=z9hG4bKprobe" + a + "x" + i + "\r\nMax-Forwards: 70\r\n"
                + "From: <sip:probe@" + local + ">;tag=p" + a + "x" + i + "\r\n"
                + "To: <sip:" + args[0] + ":" + port + ">\r\n"
                + "Call-ID: sipalr-probe-" + a + "-" + i + "@" + local + "\r\n"
                + "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
            byte[] bytes = request.getBytes(StandardCharsets.US_ASCII);
            DatagramPacket answer = new DatagramPacket(new byte[4096], 4096);
            long start = System.nanoTime();
            socket.send(new DatagramPacket(bytes, bytes.length, target, port));
            try {
              socket.receive(answer);
            } catch (SocketTimeoutException e) {
              out.append(local).append(" timeout\n");
              continue;
            }
            long rtt = System.nanoTime() - start;
            if (i >= 0) {
              out.append(local).append(' ').append(rtt).append('\n');
            }
          }
        }
      }
      System.out.print(out);
    }
  }

  // ---- the agent child --------------------------------------------------------------------

  /**
   * The agent in the namespace, as {@link LinuxRoamingIT#startAgent} runs it but with the
   * JVM's default options (as bin/sip-alr-agent) and a log whose time stamps are epoch
   * milliseconds plus microseconds, read incrementally by {@link LogTail}.
   */
  static final class BenchAgent implements AutoCloseable {
    private static final Path LOG_COPY = OUT.resolve("real-handover-agent.log");

    private static final String LOGBACK = """
        <configuration>
          <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
            <encoder><pattern>%epoch.%micros [%thread] %-5level %logger - %msg%n</pattern></encoder>
          </appender>
          <logger name="gov.nist" level="WARN"/>
          <logger name="io.sipalr" level="INFO"/>
          <logger name="io.sipalr.alr.SnapSession" level="DEBUG"/>
          <logger name="io.sipalr.mobility.SnapConnection" level="DEBUG"/>
          <logger name="io.sipalr.sip.trace" level="DEBUG"/>
          <root level="WARN"><appender-ref ref="OUT"/></root>
        </configuration>
        """;

    final Path logFile;
    final LogTail log;
    private final AgentProcess process;

    private BenchAgent(AgentProcess process) {
      this.process = process;
      this.logFile = process.outputFile();
      this.log = new LogTail(logFile);
    }

    static BenchAgent start(Path dir, KamailioRegistrar kamailio) throws IOException {
      return new BenchAgent(
          NetnsTopology.startAgent(dir, kamailio, USER, PASSWORD, LOGBACK, List.of()));
    }

    String logTail(int lines) {
      return process.outputTail(lines);
    }

    /** The agent JVM's open descriptors and threads (ip netns exec execs java in place). */
    String resources() {
      Path proc = Path.of("/proc", String.valueOf(process.pid()));
      try (var fds = Files.list(proc.resolve("fd"))) {
        long threads = Files.readAllLines(proc.resolve("status")).stream()
            .filter(l -> l.startsWith("Threads:")).mapToLong(l -> Long.parseLong(
                l.substring("Threads:".length()).trim())).findFirst().orElse(-1);
        return fds.count() + " open descriptors, " + threads + " threads";
      } catch (IOException | RuntimeException e) {
        return "(cannot read " + proc + ": " + e + ")";
      }
    }

    void requireAlive(java.util.function.Supplier<String> diagnostics) {
      process.requireAlive(diagnostics);
    }

    /** SIGTERM (the agent deregisters, bounded), then SIGKILL; keeps the log. */
    @Override
    public void close() throws InterruptedException {
      try {
        process.close();
      } finally {
        try {
          Files.createDirectories(OUT);
          Files.copy(logFile, LOG_COPY, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
          System.out.println("RealHandoverBench: cannot copy the agent's log: " + e);
        }
      }
    }
  }

  /**
   * The agent's log, read as it grows: entries start with {@code EPOCHMILLIS.MICROS [thread]
   * LEVEL logger - message}; following lines without a time stamp (a traced SIP message) are
   * the entry's body. Only whole lines are taken, so a UTF-8 sequence is never split.
   */
  static final class LogTail {
    private static final Pattern HEAD =
        Pattern.compile("^(\\d{10,})\\.(\\d{3}) \\[(.*?)\\] (\\S+) +(\\S+) - (.*)$");

    record Entry(int index, long micros, String thread, String level, String logger,
        String message, List<String> body) {}

    private final Path file;
    private final List<Entry> entries = new ArrayList<>();
    private long offset;

    LogTail(Path file) {
      this.file = file;
    }

    int size() {
      return entries.size();
    }

    void refresh() {
      byte[] bytes;
      try (SeekableByteChannel channel = Files.newByteChannel(file)) {
        long size = channel.size();
        if (size <= offset) {
          return;
        }
        ByteBuffer buffer = ByteBuffer.allocate((int) Math.min(size - offset, 64 << 20));
        channel.position(offset);
        while (buffer.hasRemaining() && channel.read(buffer) > 0) {
          // fill
        }
        bytes = Arrays.copyOf(buffer.array(), buffer.position());
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read " + file, e);
      }
      int last = -1;
      for (int i = bytes.length - 1; i >= 0; i--) {
        if (bytes[i] == '\n') {
          last = i;
          break;
        }
      }
      if (last < 0) {
        return;
      }
      offset += last + 1;
      String text = new String(bytes, 0, last + 1, StandardCharsets.UTF_8);
      for (String line : text.split("\r?\n", -1)) {
        Matcher m = HEAD.matcher(line);
        if (m.matches()) {
          long micros = Long.parseLong(m.group(1)) * 1000 + Integer.parseInt(m.group(2));
          entries.add(new Entry(entries.size(), micros, m.group(3), m.group(4), m.group(5),
              m.group(6), new ArrayList<>()));
        } else if (!entries.isEmpty() && !line.isEmpty()) {
          entries.get(entries.size() - 1).body().add(line.stripTrailing());
        }
      }
    }

    /** The first entry from {@code from} on that matches, re-reading until the deadline. */
    Entry await(int from, Predicate<Entry> matches, long deadlineNanos) {
      while (true) { // bounded by the deadline
        refresh();
        for (int i = from; i < entries.size(); i++) {
          if (matches.test(entries.get(i))) {
            return entries.get(i);
          }
        }
        if (System.nanoTime() > deadlineNanos) {
          return null;
        }
        sleep(POLL_MS);
      }
    }
  }

  // ---- processes and time ------------------------------------------------------------------

  private record Timed(int exit, String output, long startMicros, long endMicros) {}

  private static Timed runTimed(List<String> command) {
    return runTimed(command, COMMAND_TIMEOUT_SECONDS);
  }

  /** Runs {@code command}; start and end are this machine's wall clock in µs. */
  private static Timed runTimed(List<String> command, long timeoutSeconds) {
    Path output = null;
    try {
      output = Files.createTempFile("sipalr-bench", ".out");
      long start = nowMicros();
      Process process = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(output.toFile()).start();
      process.getOutputStream().close();
      if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(5, TimeUnit.SECONDS);
        throw new IllegalStateException("`" + String.join(" ", command) + "` did not end within "
            + timeoutSeconds + " s");
      }
      long end = nowMicros();
      return new Timed(process.exitValue(), Files.readString(output, StandardCharsets.UTF_8),
          start, end);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run " + String.join(" ", command), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } finally {
      if (output != null) {
        try {
          Files.deleteIfExists(output);
        } catch (IOException ignored) {
          // a temp file left behind is harmless
        }
      }
    }
  }

  private static String javaBinary() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  /** This machine's wall clock (CLOCK_REALTIME), microseconds since the epoch. */
  private static long nowMicros() {
    Instant now = Instant.now();
    return now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
  }

  // ---- report ------------------------------------------------------------------------------

  private void report(int runs) throws IOException {
    StringBuilder md = new StringBuilder();
    StringBuilder csv = new StringBuilder(
        "variant,measure,count,p50_ms,p95_ms,p99_ms,requests_per_migration\n");
    md.append("Real-interface handover (linux provider, network namespace, veth uplinks), ")
        .append(LocalDate.now()).append(", ")
        .append(Runtime.getRuntime().availableProcessors()).append(" cores, ")
        .append(runsDone).append(" of ").append(runs).append(" runs measured (after ")
        .append(WARMUP).append(" warm-up runs)\n\n")
        .append("| variant | measure | p50 ms | p95 ms | p99 ms | REGISTERs per move |\n")
        .append("| --- | --- | ---: | ---: | ---: | ---: |\n");
    for (Series s : List.of(netnsTrue, optionsWlan, optionsCell, rpc)) {
      row(md, csv, "baseline", s, Double.NaN);
    }
    for (Direction d : List.of(down, up)) {
      double perMove = d.moves == 0 ? Double.NaN : (double) d.registers / d.moves;
      for (Series s : d.series.values()) {
        row(md, csv, d.name, s, perMove);
      }
    }
    md.append("\nMethod\n\n")
        .append("- Agent: `io.sipalr.agent.Main run` (linux provider, default JVM options) in")
        .append(" namespace `sipalr-ue` with veth uplinks wlan0 198.19.10.2 and cell0")
        .append(" 198.19.20.2 (a routing table per uplink); Kamailio 5.6 on 198.19.30.1 in the")
        .append(" root namespace (host networking); one profile, UDP, outbound (one binding")
        .append(" replaced atomically), make-before-break, auto policy; register-timeout 2 s,")
        .append(" backoff 1 s, rescan-interval 1 s (as LinuxRoamingIT).\n")
        .append("- A run: `ip netns exec sipalr-ue ip link set wlan0 down`, wait for the")
        .append(" binding from 198.19.20.2 at Kamailio, the agent's REGISTERED and its SNAP")
        .append(" settled, ").append(PAUSE_MS).append(" ms quiet; then NetnsTopology.wlanUp()")
        .append(" (far end down, wlan0 up, its routes back, far end up: the carrier, hence the")
        .append(" event, comes with the last command), wait for the binding from 198.19.10.2,")
        .append(" MIGRATION_COMPLETED and settled, ").append(PAUSE_MS).append(" ms quiet.\n")
        .append("- IAP event: the agent's `IAP 1 (wlan) down` / `up on 198.19.10.2` line")
        .append(" (io.sipalr.mobility.MobilityManager, logged from the provider's callback).")
        .append(" Detection is measured from the command's return, as asked; the link changes")
        .append(" while the command runs, so it can be negative; the row from the command's")
        .append(" start bounds it from above.\n")
        .append("- SIP end: the agent's `profile roamer: REGISTERED` (downgrade: rule 7 goes")
        .append(" through REGISTRATION_IN_PROGRESS) or `MIGRATION_COMPLETED (SNAP 1, IAP 1)`")
        .append(" (upgrade: make-before-break keeps the status REGISTERED, so no REGISTERED")
        .append(" event); the 200 OK row is the first traced 200 to a REGISTER received on the")
        .append(" new address (io.sipalr.sip.trace at DEBUG).\n")
        .append("- Clocks: the agent child logs `%epoch.%micros` (logback 1.5 has no")
        .append(" `%d{UNIX_MILLIS}`), this JVM reads Instant.now(): both are this machine's CLOCK_REALTIME, µs resolution, no")
        .append(" sync needed. The Kamailio-side total is the time the ul.lookup answer that")
        .append(" first showed the new binding arrived: late by up to one poll interval (")
        .append(POLL_MS).append(" ms) plus one RPC round trip (baseline row).\n")
        .append("- Baseline, same run, before the agent started: `ip netns exec sipalr-ue")
        .append(" true` (").append(NETNS_TRUE_SAMPLES).append("x) is a process start in the")
        .append(" namespace, the cost the agent pays per monitor event (it re-reads the")
        .append(" interfaces with `ip -j addr show`); the OPTIONS round trips (")
        .append(OPTIONS_SAMPLES).append(" per uplink, sent by a JVM started in the namespace)")
        .append(" are the floor of one REGISTER exchange through each uplink (with pre-emptive")
        .append(" credentials a move costs one). The scripted loopback handover is")
        .append(" HandoverBench's (target/bench/handover.md).\n")
        .append("- Percentiles: nearest rank (as HandoverBench); below 100 runs p99 is the")
        .append(" maximum.\n");
    for (Direction d : List.of(down, up)) {
      md.append("- ").append(d.name).append(": IAP event logged by thread ")
          .append(d.eventThreads).append(" (iap-monitor: the re-read after an `ip monitor`")
          .append(" line; alr-timer: the periodic re-read, which got there first); ").append(d.failures).append(" failed moves, ")
          .append(d.extraBindings).append(" moves leaving more than one binding.\n");
    }
    md.append("- Agent process after the first registration: ").append(resourcesAtStart)
        .append("; after the last run: ").append(resourcesAtEnd).append(".\n");
    if (!warmups.isEmpty()) {
      md.append("- Warm-up runs (not counted): ").append(String.join("; ", warmups))
          .append(".\n");
    }
    if (stoppedEarly != null) {
      md.append("- Stopped early: ").append(stoppedEarly).append(".\n");
    }
    publish("real-handover", md, csv, failures);
  }

  private static void row(StringBuilder md, StringBuilder csv, String variant, Series s,
      double requests) {
    if (s.ms.isEmpty()) {
      return;
    }
    String req = Double.isNaN(requests) ? "" : String.format(Locale.ROOT, "%.2f", requests);
    double p50 = percentile(s.ms, 50);
    double p95 = percentile(s.ms, 95);
    double p99 = percentile(s.ms, 99);
    md.append(String.format(Locale.ROOT, "| %s | %s | %.2f | %.2f | %.2f | %s |%n", variant,
        s.measure, p50, p95, p99, req));
    csv.append(String.format(Locale.ROOT, "%s,%s,%d,%.3f,%.3f,%.3f,%s%n", csvField(variant),
        csvField(s.measure), s.ms.size(), p50, p95, p99, req));
  }

  private static String csvField(String text) {
    return text.contains(",") || text.contains("\"")
        ? "\"" + text.replace("\"", "\"\"") + "\"" : text;
  }
}
