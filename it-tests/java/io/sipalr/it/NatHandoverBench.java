package io.sipalr.it;

import static io.sipalr.it.BenchMath.sleep;
import static io.sipalr.it.BenchMath.percentile;
import static io.sipalr.it.BenchMath.publish;
import static io.sipalr.it.NetnsTopology.CELL_NAT;
import static io.sipalr.it.NetnsTopology.CELL_PUBLIC;
import static io.sipalr.it.NetnsTopology.REGISTRAR_ADDRESS;
import static io.sipalr.it.NetnsTopology.WLAN_PUBLIC;

import io.sipalr.it.KamailioRegistrar.Binding;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reachable again behind a real NAT (issue 9, the benchmark row): the agent as users run it in
 * the namespace of {@link NetnsTopology#createWithNat()} (wlan0 and cell0 each behind its own
 * masquerading NAT namespace; the cell NAT randomises ports), a routing Kamailio on
 * 198.19.30.1, and a caller on the registrar's address sending MESSAGE to the AOR through
 * Kamailio. What a user experiences is measured: the time until a request to the AOR is
 * answered 200 by the agent itself (its User-Agent; Kamailio's own 404/408 do not count).
 *
 * <p>Two rows, each in its own topology and Kamailio:
 * <ul>
 *   <li><b>interface lost</b>: registered through the wlan NAT, UDP, <em>without</em> outbound
 *       (Kamailio {@code noOutbound()}: the realistic case, most registrars do not negotiate
 *       RFC 5626; the agent rewrites its Contact to the NAT's public address learnt from the
 *       200's Via). t0 is the return of {@code ip link set wlan0 down}; from then a MESSAGE to
 *       the AOR every {@value #POLL_MS} ms (one caller socket per run, each answer awaited until
 *       the next send is due) until one is answered 200 by the agent: t1 − t0. Then the one
 *       binding must be the cell NAT's (awaited, bounded: Kamailio routes to the binding's
 *       source, so the agent may answer before its Contact rewrite is through); wlan0 comes back ({@link NetnsTopology#wlanUp()}), and
 *       the next run waits (bounded) until the one binding is the wlan NAT's again and a MESSAGE
 *       is answered through it.
 *   <li><b>NAT rebinding</b>: wlan0 down, registered through the cell NAT with outbound and
 *       {@code Flow-Timer: }{@value #FLOW_TIMER}; t0 is the return of {@code conntrack -F} in the
 *       cell NAT ({@link NetnsTopology#flushNatMappings}); the same polling until the agent
 *       answers again, through the new mapping (then the one binding must be received from
 *       another port). Between runs a pause drawn uniformly (fixed seed) from 0.5 s to
 *       Flow-Timer + 0.5 s, so that the flush falls at every phase of the keep-alive cycle.
 * </ul>
 *
 * <p>Baseline in the same run: the MESSAGE round trip caller → Kamailio → agent → Kamailio →
 * caller with nothing happening, through the wlan NAT (first topology) and over the outbound
 * flow through the cell NAT (second).
 *
 * <p>Writes target/bench/nat-handover.{md,csv} and copies the agents' logs to
 * target/bench/nat-handover-*-agent.log. Never fails on time; fails (after writing the report)
 * when a run was not answered within {@link #RUN_TIMEOUT} or left other than one binding through
 * the expected NAT. Needs root, iproute2, nftables, conntrack and Docker (skips without them
 * unless CI=true). Settings: {@code -Dbench.nat.runs=N} (interface lost, default
 * {@value #DEFAULT_RUNS}), {@code -Dbench.nat.rebinding-runs=N} (default
 * {@value #DEFAULT_REBINDING_RUNS}), {@code -Dbench.budget-seconds} (each loop's budget,
 * default 240).
 */
class NatHandoverBench {
  private static final int DEFAULT_RUNS = 30;
  private static final int DEFAULT_REBINDING_RUNS = 30;
  private static final int MAX_RUNS = 500;
  private static final int WARMUP = 2;
  private static final String USER = "natted";
  private static final String PASSWORD = "natted-secret";
  private static final int FLOW_TIMER = 5;
  /** The caller's interval between MESSAGEs; -Dbench.nat.poll-ms (1 to 1000, default 20). */
  private static final long POLL_MS =
      Math.max(1, Math.min(1000, Long.getLong("bench.nat.poll-ms", 20)));
  private static final int BASELINE_SAMPLES = 200;
  private static final int BASELINE_WARMUP = 20;
  private static final Duration FIRST_REGISTRATION = Duration.ofSeconds(60);
  /** One run gets this long to be answered again. */
  private static final Duration RUN_TIMEOUT = Duration.ofSeconds(20);
  /** After the answer: the binding as expected (checked, not timed). */
  private static final Duration AFTER_ANSWER = Duration.ofSeconds(5);
  /** wlan0 back: the one binding through the wlan NAT and answered through it. */
  private static final Duration BACK_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration LOOP_BUDGET = Duration.ofSeconds(
      Math.max(10, Math.min(1800, Long.getLong("bench.budget-seconds", 240))));
  private static final int MAX_FAILURES = 3;
  private static final int CONTROL_PORT = 8471;
  private static final Path OUT = Path.of("target", "bench");

  /** One measure: values in ms, in run order. */
  private record Series(String measure, List<Double> ms) {
    Series(String measure) {
      this(measure, new ArrayList<>());
    }
  }

  private final Series baselineWlan = new Series("MESSAGE round trip caller → Kamailio → agent"
      + " (through the wlan NAT, no outbound), nothing happening");
  private final Series baselineCell = new Series("MESSAGE round trip caller → Kamailio → agent"
      + " (outbound flow through the cell NAT), nothing happening");
  private final Series lost = new Series("wlan0 down → MESSAGE to the AOR answered 200 by the"
      + " agent through the cell NAT (no outbound, UDP)");
  private final Series lostSent = new Series("wlan0 down → the MESSAGE that was answered was"
      + " sent (the previous one was not answered: reachable again in between)");
  private final Series lostCommand = new Series("`ip link set wlan0 down` itself (before t0)");
  private final Series back = new Series("wlan0 up → one binding through the wlan NAT"
      + " (Kamailio polled; not part of the row)");
  private final Series rebinding = new Series("cell NAT `conntrack -F` → MESSAGE to the AOR"
      + " answered 200 by the agent through the new mapping (outbound, Flow-Timer "
      + FLOW_TIMER + " s, UDP)");
  private final Series rebindingSent = new Series("cell NAT `conntrack -F` → the MESSAGE that"
      + " was answered was sent");
  private final List<String> failures = new ArrayList<>();
  private final List<String> notes = new ArrayList<>();
  private int lostRunsWanted;
  private int rebindingRunsWanted;
  private long pollsLost;
  private long pollsRebinding;

  @Test
  void natHandoverAndRebinding(@TempDir Path dir) throws Exception {
    lostRunsWanted = Math.max(1, Math.min(MAX_RUNS, Integer.getInteger("bench.nat.runs",
        DEFAULT_RUNS)));
    rebindingRunsWanted = Math.max(1, Math.min(MAX_RUNS,
        Integer.getInteger("bench.nat.rebinding-runs", DEFAULT_REBINDING_RUNS)));
    NetnsTopology.assumeUsable();
    NetnsTopology.assumeNftables();
    NetnsTopology.assumeConntrack();
    Files.createDirectories(OUT);
    try {
      interfaceLost(Files.createDirectories(dir.resolve("lost")));
      natRebinding(Files.createDirectories(dir.resolve("rebinding")));
    } finally {
      report();
    }
    if (!failures.isEmpty()) {
      throw new AssertionError("NatHandoverBench: " + failures.size() + " problems; see"
          + " target/bench/nat-handover.md and nat-handover-*-agent.log:\n"
          + String.join("\n", failures));
    }
  }

  // ---- row 1: interface lost --------------------------------------------------------------

  private void interfaceLost(Path dir) throws Exception {
    try (NetnsTopology net = NetnsTopology.createWithNat();
        KamailioRegistrar kamailio = KamailioRegistrar.builder().noOutbound().routing()
            .listenAddress(REGISTRAR_ADDRESS).start()) {
      kamailio.addUser(USER, PASSWORD);
      AgentProcess agent = startAgent(dir, kamailio);
      try (agent) {
        Ctx c = new Ctx(net, kamailio, agent);
        c.awaitOne(FIRST_REGISTRATION, "first registration through the wlan NAT",
            b -> atPublic(b, WLAN_PUBLIC));
        if (c.pollUntilAnswered(System.nanoTime() + BACK_TIMEOUT.toNanos(), null) < 0) {
          throw new AssertionError("no MESSAGE answered through the wlan NAT after the first"
              + " registration" + c.diagnostics());
        }
        baseline(c, baselineWlan);
        long loopDeadline = System.nanoTime() + LOOP_BUDGET.toNanos();
        int done = 0;
        for (int run = -WARMUP; done < lostRunsWanted; run++) { // bounded: budget, failures
          if (System.nanoTime() > loopDeadline) {
            notes.add("interface lost: the loop's budget of " + LOOP_BUDGET.toSeconds()
                + " s ran out after " + done + " of " + lostRunsWanted + " runs");
            break;
          }
          if (failures.size() >= MAX_FAILURES) {
            notes.add("interface lost: stopped after " + failures.size() + " failures, "
                + done + " runs measured");
            break;
          }
          boolean warm = run < 0;
          long cmdStart = System.nanoTime();
          net.wlanDown();
          long t0 = System.nanoTime();
          long[] polls = new long[2];
          long t1 = c.pollUntilAnswered(t0 + RUN_TIMEOUT.toNanos(), polls);
          String what = "interface lost, run " + run;
          if (t1 < 0) {
            failures.add(what + ": no MESSAGE answered by the agent within "
                + RUN_TIMEOUT.toSeconds() + " s of wlan0 down; bindings "
                + kamailio.lookup(USER));
            System.out.println("NatHandoverBench: FAILED " + failures.get(failures.size() - 1)
                + c.diagnostics());
          } else {
            // Kamailio routes to the binding's source (received), so the agent may answer
            // before its Contact rewrite to the cell NAT's address is through: awaited.
            try {
              c.awaitOne(AFTER_ANSWER, "after " + what, b -> atPublic(b, CELL_PUBLIC));
            } catch (AssertionError e) {
              failures.add(what + ": answered, but then no single binding at the cell NAT"
                  + " within " + AFTER_ANSWER.toSeconds() + " s: " + kamailio.lookup(USER));
            }
            double ms = (t1 - t0) / 1e6;
            double sentMs = (polls[1] - t0) / 1e6;
            System.out.printf(Locale.ROOT, "NatHandoverBench: %-24s wlan0 down → answered"
                + " through the cell NAT %8.2f ms (sent at %.2f ms, %d MESSAGEs sent)%s%n", what,
                ms, sentMs, polls[0], warm ? " (warm-up)" : "");
            if (!warm) {
              lost.ms().add(ms);
              lostSent.ms().add(sentMs);
              lostCommand.ms().add((t0 - cmdStart) / 1e6);
              pollsLost += polls[0];
              done++;
            }
          }
          // Back on wlan before the next run (bounded), then a short quiet time.
          long upAt = System.nanoTime();
          net.wlanUp();
          long upDone = System.nanoTime();
          c.awaitOne(BACK_TIMEOUT, "after wlan0 came back", b -> atPublic(b, WLAN_PUBLIC));
          if (!warm) {
            back.ms().add((System.nanoTime() - upDone) / 1e6);
          }
          if (c.pollUntilAnswered(upAt + BACK_TIMEOUT.toNanos(), null) < 0) {
            throw new AssertionError("after wlan0 came back, no MESSAGE answered through the"
                + " wlan NAT within " + BACK_TIMEOUT.toSeconds() + " s" + c.diagnostics());
          }
          sleep(500);
        }
      } finally {
        copyLog(agent, "lost");
      }
    }
  }

  // ---- row 2: NAT rebinding ---------------------------------------------------------------

  private void natRebinding(Path dir) throws Exception {
    try (NetnsTopology net = NetnsTopology.createWithNat();
        KamailioRegistrar kamailio = KamailioRegistrar.builder().routing().flowTimer(FLOW_TIMER)
            .listenAddress(REGISTRAR_ADDRESS).start()) {
      kamailio.addUser(USER, PASSWORD);
      net.wlanDown();
      AgentProcess agent = startAgent(dir, kamailio);
      try (agent) {
        Ctx c = new Ctx(net, kamailio, agent);
        c.awaitOne(FIRST_REGISTRATION, "first registration through the cell NAT",
            b -> isFrom(b, CELL_PUBLIC));
        if (c.pollUntilAnswered(System.nanoTime() + BACK_TIMEOUT.toNanos(), null) < 0) {
          throw new AssertionError("no MESSAGE answered over the outbound flow through the"
              + " cell NAT after the first registration" + c.diagnostics());
        }
        baseline(c, baselineCell);
        Random random = new Random(9);
        long loopDeadline = System.nanoTime() + LOOP_BUDGET.toNanos();
        int done = 0;
        for (int run = -WARMUP; done < rebindingRunsWanted; run++) { // bounded: budget, failures
          if (System.nanoTime() > loopDeadline) {
            notes.add("NAT rebinding: the loop's budget of " + LOOP_BUDGET.toSeconds()
                + " s ran out after " + done + " of " + rebindingRunsWanted + " runs");
            break;
          }
          if (failures.size() >= MAX_FAILURES) {
            notes.add("NAT rebinding: stopped after " + failures.size() + " failures, "
                + done + " runs measured");
            break;
          }
          boolean warm = run < 0;
          sleep(500 + random.nextInt(FLOW_TIMER * 1000));
          List<Binding> before = kamailio.lookup(USER);
          String beforeReceived = before.size() == 1 ? before.get(0).received() : null;
          net.flushNatMappings(CELL_NAT);
          long t0 = System.nanoTime();
          long[] polls = new long[2];
          long t1 = c.pollUntilAnswered(t0 + RUN_TIMEOUT.toNanos(), polls);
          String what = "NAT rebinding, run " + run;
          if (t1 < 0) {
            failures.add(what + ": no MESSAGE answered by the agent within "
                + RUN_TIMEOUT.toSeconds() + " s of the flush; bindings "
                + kamailio.lookup(USER));
            System.out.println("NatHandoverBench: FAILED " + failures.get(failures.size() - 1)
                + c.diagnostics());
            continue;
          }
          List<Binding> after = kamailio.lookup(USER);
          try {
            after = List.of(c.awaitOne(AFTER_ANSWER, "after " + what,
                b -> isFrom(b, CELL_PUBLIC) && !b.received().equals(beforeReceived)));
          } catch (AssertionError e) {
            failures.add(what + ": answered, but then no single binding from the cell NAT at"
                + " another port within " + AFTER_ANSWER.toSeconds() + " s: "
                + kamailio.lookup(USER) + " (before: " + beforeReceived + ")");
          }
          double ms = (t1 - t0) / 1e6;
          double sentMs = (polls[1] - t0) / 1e6;
          System.out.printf(Locale.ROOT, "NatHandoverBench: %-24s conntrack -F → answered"
              + " through the new mapping %8.2f ms (sent at %.2f ms; %s → %s, %d MESSAGEs"
              + " sent)%s%n", what, ms, sentMs, beforeReceived,
              after.isEmpty() ? "-" : after.get(0).received(), polls[0], warm ? " (warm-up)" : "");
          if (!warm) {
            rebinding.ms().add(ms);
            rebindingSent.ms().add(sentMs);
            pollsRebinding += polls[0];
            done++;
          }
        }
      } finally {
        copyLog(agent, "rebinding");
      }
    }
  }

  // ---- the caller -------------------------------------------------------------------------

  private void baseline(Ctx c, Series into) throws IOException {
    for (int i = -BASELINE_WARMUP; i < BASELINE_SAMPLES; i++) { // bounded
      long start = System.nanoTime();
      long answered = c.pollUntilAnswered(start + Duration.ofSeconds(5).toNanos(), null);
      if (answered < 0) {
        throw new AssertionError("baseline: a MESSAGE not answered within 5 s"
            + c.diagnostics());
      }
      if (i >= 0) {
        into.ms().add((answered - start) / 1e6);
      }
    }
  }

  private record Ctx(NetnsTopology net, KamailioRegistrar kamailio, AgentProcess agent) {

    /**
     * From one fresh caller socket on the registrar's address, a MESSAGE to the AOR through
     * Kamailio every {@value #POLL_MS} ms, until one of them is answered 200 by the agent (its
     * User-Agent, this run's Call-ID); returns {@link System#nanoTime()} at that answer, or -1
     * at the deadline. {@code polls}, when given (two elements): [0] counts the MESSAGEs sent,
     * [1] is the {@link System#nanoTime()} at which the one answered was sent.
     */
    long pollUntilAnswered(long deadlineNanos, long[] polls) throws IOException {
      String run = "nb" + System.nanoTime();
      InetAddress registrar = InetAddress.getByName(kamailio.host());
      try (DatagramSocket socket =
          new DatagramSocket(new InetSocketAddress(REGISTRAR_ADDRESS, 0))) {
        byte[] buffer = new byte[8192];
        long nextSend = System.nanoTime();
        int seq = 0;
        List<Long> sentAt = new ArrayList<>();
        while (true) { // bounded by the deadline
          long now = System.nanoTime();
          if (now - deadlineNanos > 0) {
            return -1;
          }
          if (now - nextSend >= 0) {
            agent.requireAlive(this::diagnostics);
            byte[] bytes = message(run + "-" + seq++, socket.getLocalPort()).getBytes(
                StandardCharsets.UTF_8);
            sentAt.add(System.nanoTime());
            socket.send(new DatagramPacket(bytes, bytes.length, registrar, kamailio.port()));
            if (polls != null) {
              polls[0]++;
            }
            nextSend = now + POLL_MS * 1_000_000L;
          }
          long waitMs = Math.max(1, (Math.min(nextSend, deadlineNanos) - System.nanoTime())
              / 1_000_000L);
          socket.setSoTimeout((int) Math.min(waitMs, POLL_MS));
          DatagramPacket answer = new DatagramPacket(buffer, buffer.length);
          try {
            socket.receive(answer);
          } catch (SocketTimeoutException e) {
            continue;
          }
          long at = System.nanoTime();
          String text = new String(answer.getData(), 0, answer.getLength(),
              StandardCharsets.UTF_8);
          if (text.startsWith("SIP/2.0 200 ") && text.contains("\r\nUser-Agent: sip-alr-agent")) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile(
                java.util.regex.Pattern.quote(run + "-") + "(\\d+)@").matcher(text);
            if (m.find()) {
              if (polls != null) {
                polls[1] = sentAt.get(Integer.parseInt(m.group(1)));
              }
              return at;
            }
          }
        }
      }
    }

    private String message(String callId, int localPort) {
      return SipCaller.request("MESSAGE", kamailio, USER, REGISTRAR_ADDRESS, localPort, callId,
          "bench " + callId);
    }

    /** Waits (bounded, polling Kamailio) for exactly one binding of {@link #USER} as wanted. */
    Binding awaitOne(Duration atMost, String when, Predicate<Binding> wanted) {
      long deadline = System.nanoTime() + atMost.toNanos();
      List<Binding> last = List.of();
      while (System.nanoTime() - deadline < 0) { // bounded
        agent.requireAlive(this::diagnostics);
        last = kamailio.lookup(USER);
        if (last.size() == 1 && wanted.test(last.get(0))) {
          return last.get(0);
        }
        sleep(10);
      }
      throw new AssertionError("no single wanted binding of " + USER + " " + when + " within "
          + atMost.toSeconds() + " s; last: " + last + diagnostics());
    }

    String diagnostics() {
      return "\n---- network namespaces ----\n" + net.describe()
          + "---- Kamailio log (tail) ----\n"
          + AgentProcess.tail(LinuxRoamingIT.withoutRpcNoise(kamailio.logs()), 40)
          + "\n---- agent log " + agent.outputFile() + " (tail) ----\n" + agent.outputTail(100);
    }
  }

  private static boolean isFrom(Binding b, String address) {
    return b.received() != null && b.received().startsWith("sip:" + address + ":");
  }

  private static boolean atPublic(Binding b, String address) {
    return b.address() != null && b.address().contains("@" + address + ":")
        && isFrom(b, address);
  }

  // ---- the agent --------------------------------------------------------------------------

  private static final String LOGBACK = """
      <configuration>
        <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
          <encoder><pattern>%d{HH:mm:ss.SSS} [%thread] %-5level %logger{30} - %msg%n</pattern></encoder>
        </appender>
        <logger name="gov.nist" level="WARN"/>
        <logger name="io.sipalr" level="INFO"/>
        <root level="WARN"><appender-ref ref="OUT"/></root>
      </configuration>
      """;

  /** As NatReachabilityIT: REGISTER timeout 2 s, expires 600 s, UDP, the agent's own JVM options. */
  private static AgentProcess startAgent(Path dir, KamailioRegistrar kamailio)
      throws IOException {
    return NetnsTopology.startAgent(dir,
        NetnsTopology.agentConfig(dir.resolve("data"), kamailio, List.of(USER), PASSWORD,
            Duration.ofSeconds(2), 600, CONTROL_PORT),
        LOGBACK, List.of());
  }

  private static void copyLog(AgentProcess agent, String name) {
    try {
      Files.createDirectories(OUT);
      Files.copy(agent.outputFile(), OUT.resolve("nat-handover-" + name + "-agent.log"),
          StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      System.out.println("NatHandoverBench: cannot copy the agent's log: " + e);
    }
  }

  // ---- report -----------------------------------------------------------------------------

  private void report() throws IOException {
    StringBuilder md = new StringBuilder();
    StringBuilder csv = new StringBuilder("variant,measure,count,p50_ms,p99_ms,max_ms\n");
    md.append("NAT handover and rebinding (namespaces, masquerading NATs, routing Kamailio), ")
        .append(LocalDate.now()).append(", ")
        .append(Runtime.getRuntime().availableProcessors()).append(" cores; ")
        .append(lost.ms().size()).append(" of ").append(lostRunsWanted)
        .append(" interface-lost runs, ").append(rebinding.ms().size()).append(" of ")
        .append(rebindingRunsWanted).append(" rebinding runs (after ").append(WARMUP)
        .append(" warm-up runs each)\n\n")
        .append("| variant | measure | n | p50 ms | p99 ms | max ms |\n")
        .append("| --- | --- | ---: | ---: | ---: | ---: |\n");
    row(md, csv, "baseline", baselineWlan);
    row(md, csv, "baseline", baselineCell);
    row(md, csv, "interface lost", lost);
    row(md, csv, "interface lost", lostSent);
    row(md, csv, "interface lost", lostCommand);
    row(md, csv, "interface lost", back);
    row(md, csv, "NAT rebinding", rebinding);
    row(md, csv, "NAT rebinding", rebindingSent);
    md.append("\nMethod\n\n")
        .append("- The agent (`Main run`, linux provider, one profile, UDP, register-timeout")
        .append(" 2 s, backoff 1 s, rescan 1 s) in `sipalr-ue`; wlan0 behind sipalr-natw")
        .append(" (masquerade), cell0 behind sipalr-natc (masquerade random); conntrack UDP")
        .append(" timeout ").append(NetnsTopology.NAT_UDP_TIMEOUT_SECONDS).append(" s;")
        .append(" Kamailio with `routing()` on 198.19.30.1.\n")
        .append("- The caller: one UDP socket per run on 198.19.30.1, a MESSAGE to the AOR")
        .append(" through Kamailio every ").append(POLL_MS).append(" ms until one is answered")
        .append(" 200 by the agent (its User-Agent): a figure is late by up to one poll")
        .append(" interval; the row \"was sent\" is when the answered MESSAGE left, the one")
        .append(" before it was not answered, so the agent became reachable in between. MESSAGEs sent per run: interface lost ")
        .append(lost.ms().isEmpty() ? "-" : String.format(Locale.ROOT, "%.1f",
            (double) pollsLost / lost.ms().size()))
        .append(", rebinding ")
        .append(rebinding.ms().isEmpty() ? "-" : String.format(Locale.ROOT, "%.1f",
            (double) pollsRebinding / rebinding.ms().size()))
        .append(" on average.\n")
        .append("- Interface lost: Kamailio without outbound (`noOutbound()`: the realistic")
        .append(" case); t0 = the return of `ip link set wlan0 down`; afterwards exactly one")
        .append(" binding, contact and source the cell NAT's. wlan0 then comes back and the")
        .append(" next run starts once the one binding is the wlan NAT's and a MESSAGE is")
        .append(" answered through it, plus 500 ms.\n")
        .append("- NAT rebinding: wlan0 down, outbound with Flow-Timer ").append(FLOW_TIMER)
        .append(" s; t0 = the return of `conntrack -F` in sipalr-natc; afterwards exactly one")
        .append(" binding, received from the cell NAT at another port. Before each flush a")
        .append(" pause drawn from 0.5 to ").append(FLOW_TIMER).append(".5 s (seed 9), so the")
        .append(" flush falls anywhere in the keep-alive cycle: the figure is bounded by the")
        .append(" keep-alive interval (the agent's, from the Flow-Timer) plus one REGISTER")
        .append(" exchange.\n")
        .append("- Percentiles: nearest rank; below 100 runs p99 is the maximum.\n");
    for (String note : notes) {
      md.append("- ").append(note).append(".\n");
    }
    publish("nat-handover", md, csv, failures);
  }

  private static void row(StringBuilder md, StringBuilder csv, String variant, Series s) {
    if (s.ms().isEmpty()) {
      return;
    }
    double p50 = percentile(s.ms(), 50);
    double p99 = percentile(s.ms(), 99);
    double max = percentile(s.ms(), 100);
    md.append(String.format(Locale.ROOT, "| %s | %s | %d | %.2f | %.2f | %.2f |%n", variant,
        s.measure(), s.ms().size(), p50, p99, max));
    csv.append(String.format(Locale.ROOT, "%s,\"%s\",%d,%.3f,%.3f,%.3f%n", variant,
        s.measure().replace("\"", "\"\""), s.ms().size(), p50, p99, max));
  }
}
