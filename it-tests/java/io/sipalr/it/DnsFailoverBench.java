package io.sipalr.it;

import static io.sipalr.it.BenchMath.sleep;
import static io.sipalr.it.BenchMath.percentile;
import static io.sipalr.it.BenchMath.publish;
import ch.qos.logback.classic.Level;
import io.sipalr.dns.DnsConfig;
import io.sipalr.dns.SipTarget;
import io.sipalr.it.KamailioRegistrar.Binding;
import io.sipalr.profile.SipProfile;
import io.sipalr.profile.SipProfileBuilder;
import io.sipalr.profile.Transport;
import io.sipalr.sip.RegistryEvent;
import io.sipalr.sip.SipConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.NoSuchElementException;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Failover time to the second SRV target (issue 10, the benchmark row), in the topology of
 * {@link DnsFailoverIT}: dnsmasq on 127.0.0.53 ({@link TestDns}) answers
 * {@code _sip._udp.sip.alr.test} with sip1.alr.test (priority 10, a routing Kamailio on
 * 127.0.0.21) and sip2.alr.test (priority 20, Kamailio on 127.0.0.22); the agent
 * ({@link AgentHarness}, 127.0.0.2, UDP) registers at sip1. The fault is {@code docker pause} of
 * sip1's container ({@link KamailioRegistrar#pause()}): a dead server, no answer at all, not
 * even an ICMP error; quick to undo and the same every time.
 *
 * <p>Two variants, each with its own pair of Kamailios and its own agent:
 * <ul>
 *   <li><b>refresh</b>: sip1 paused, then a refresh forced at once ({@code registry.save} with
 *       another expires, which re-registers now; t0 just before it): the REGISTER goes to sip1
 *       (sticky), gets no answer within {@code sip.register-timeout}, goes to sip2 (a 401, then
 *       the REGISTER with credentials) → REGISTERED at sip2. Registrars without Flow-Timer;
 *       the agent's keep-alive interval is the product's 30 s, so no keep-alive takes part.
 *   <li><b>idle</b>: what a user experiences: registered at sip1 and idle, Kamailio with
 *       {@code Flow-Timer: }{@link #FLOW_TIMER}; t0 is the return of {@code docker pause} at a
 *       random point of the keep-alive cycle (once a keep-alive on the flow was answered, a
 *       pause drawn from 0 to the Flow-Timer, fixed seed). The agent's next STUN keep-alive (at 80-100 % of the Flow-Timer) goes
 *       unanswered for {@code sip.register-timeout} (its probe timeout), the flow is dead, the
 *       REGISTER goes to sip1 again (sticky), times out, then to sip2 → REGISTERED at sip2.
 * </ul>
 * In both, "REGISTERED at sip2" is the REGISTERED event with the registration's server named
 * sip2.alr.test; afterwards Kamailio's location table at sip2 must hold exactly one binding of
 * the agent's contact (a functional failure fails the bench; time never does).
 *
 * <p>Baseline, in the refresh variant's run, one per run: a plain registration at sip2, the
 * profile created with registrar {@code sip:second.alr.test} (an SRV name with sip2 alone) →
 * REGISTERED at sip2 (a 401 and the REGISTER with credentials, as after the failover).
 *
 * <p>Back to sip1 before the next run: the agent is sticky (RFC 3263 §4.3 leaves going back to
 * the client), so it would stay with sip2 until sip2 fails. Failing sip2 the same way would
 * cost a timeout and a backoff per run and leave sip2 with a stale binding, so instead: sip1
 * unpaused, the profile destroyed (its contact removed at sip2, which must then hold none) and
 * created again with the same instance id (the same device), which registers at sip1 from the
 * first SRV target; exactly one binding at sip1 again (the REGISTERs sip1 got while paused are
 * handled when it thaws and refresh the same binding). Every run starts from the same state.
 *
 * <p>Prints a table and writes target/bench/dns-failover.{md,csv}. Settings:
 * {@code -Dbench.failover.runs=N} and {@code -Dbench.failover.idle-runs=N} (default
 * {@value #DEFAULT_RUNS} each, after {@value #WARMUP} unreported),
 * {@code -Dbench.failover.register-timeout-ms} (default 1000), {@code -Dbench.failover.flow-timer}
 * (s, default 2), {@code -Dbench.budget-seconds} (each loop's budget, default 240).
 */
class DnsFailoverBench {
  private static final String AGENT = "127.0.0.2";
  private static final String DNS = "127.0.0.53";
  private static final String FIRST = "127.0.0.21";
  private static final String SECOND = "127.0.0.22";
  private static final String USER = "alice";
  private static final String PASSWORD = AgentHarness.REALM_PASSWORD;
  private static final String SRV_BOTH = "sip:sip.alr.test";
  private static final String SRV_SECOND_ONLY = "sip:second.alr.test";
  private static final String SIP1 = "sip1.alr.test";
  private static final String SIP2 = "sip2.alr.test";
  private static final int DEFAULT_RUNS = 30;
  private static final int MAX_RUNS = 500;
  private static final int WARMUP = 2;
  private static final int EXPIRES = 600;
  /** One attempt; also the keep-alive's probe timeout (the agent ties them). */
  private static final Duration REGISTER_TIMEOUT = Duration.ofMillis(Math.max(200,
      Math.min(10_000, Long.getLong("bench.failover.register-timeout-ms", 1000))));
  private static final int FLOW_TIMER =
      Math.max(1, Math.min(60, Integer.getInteger("bench.failover.flow-timer", 2)));
  /** The product's sip.keepalive-interval (reference.conf): UDP flows without a Flow-Timer. */
  private static final Duration KEEP_ALIVE_INTERVAL = Duration.ofSeconds(30);
  /** One run gets this long to be registered at sip2. */
  private static final Duration RUN_TIMEOUT = REGISTER_TIMEOUT.multipliedBy(6)
      .plusSeconds(FLOW_TIMER + 10);
  /** Registered at sip1 (or at sip2 for the baseline), a binding as expected, a destroy. */
  private static final Duration STEP_TIMEOUT = Duration.ofSeconds(15);
  private static final Duration LOOP_BUDGET = Duration.ofSeconds(
      Math.max(10, Math.min(1800, Long.getLong("bench.budget-seconds", 240))));
  private static final Path OUT = Path.of("target", "bench");

  /** The variants as the table names them, with the settings that make their figures. */
  private static final String REFRESH = "failover, refresh (`sip.register-timeout` "
      + REGISTER_TIMEOUT.toMillis() + " ms)";
  private static final String IDLE = "failover, idle (`Flow-Timer: " + FLOW_TIMER
      + "`, keep-alive probe timeout = `sip.register-timeout` " + REGISTER_TIMEOUT.toMillis()
      + " ms)";

  /** One measure: values in ms, in run order; REGISTERs the agent sent, summed over runs. */
  private record Series(String variant, String measure, List<Double> ms, AtomicLong registers) {
    Series(String variant, String measure) {
      this(variant, measure, new ArrayList<>(), new AtomicLong(-1));
    }

    void addRegisters(long n) {
      registers.compareAndSet(-1, 0);
      registers.addAndGet(n);
    }
  }

  private final Series baseline = new Series("baseline", "profile created (registrar "
      + "`sip:second.alr.test`: sip2 alone) → REGISTERED at sip2");
  private final Series forced = new Series(REFRESH, "refresh forced with sip1"
      + " paused → REGISTERED at sip2");
  private final Series forcedTimedOut = new Series(REFRESH, "refresh forced →"
      + " its REGISTER to sip1 timed out (status left REGISTERED)");
  private final Series forcedAfter = new Series(REFRESH, "timed out →"
      + " REGISTERED at sip2");
  private final Series idle = new Series(IDLE, "`docker pause` sip1 returned →"
      + " REGISTERED at sip2 (Flow-Timer " + FLOW_TIMER + " s)");
  private final Series idleDetected = new Series(IDLE, "fault → flow found dead by"
      + " the keep-alive (status left REGISTERED)");
  private final Series idleAfter = new Series(IDLE, "flow dead → REGISTERED at"
      + " sip2 (a REGISTER to sip1 timed out, then sip2)");
  private final Series pauseCommand = new Series("fault", "`docker pause` itself (before t0)");
  private final List<String> failures = new ArrayList<>();
  private final List<String> notes = new ArrayList<>();
  private int runsWanted;
  private int idleRunsWanted;

  @Test
  void failoverToTheSecondSrvTarget() throws Exception {
    runsWanted = Math.max(1, Math.min(MAX_RUNS, Integer.getInteger("bench.failover.runs",
        DEFAULT_RUNS)));
    idleRunsWanted = Math.max(1, Math.min(MAX_RUNS,
        Integer.getInteger("bench.failover.idle-runs", DEFAULT_RUNS)));
    // The product's logging (conf/logback.xml: warnings only), as the other benchmarks.
    ch.qos.logback.classic.Logger agentLog =
        (ch.qos.logback.classic.Logger) LoggerFactory.getLogger("io.sipalr");
    Level previousLevel = agentLog.getLevel();
    agentLog.setLevel(Level.WARN);
    try {
      refreshVariant();
      idleVariant();
    } catch (AssertionError | RuntimeException e) {
      failures.add(e.getMessage());
      throw e;
    } finally {
      agentLog.setLevel(previousLevel);
      report();
    }
  }

  // ---- the refresh variant and the baseline -------------------------------------------------

  private void refreshVariant() throws Exception {
    try (Topology t = Topology.start(0)) {
      t.createAndAwait(SRV_BOTH, SIP1, t.sip1, "first registration at sip1");
      long loopDeadline = System.nanoTime() + LOOP_BUDGET.toNanos();
      int done = 0;
      for (int run = -WARMUP; done < runsWanted; run++) { // bounded: runs, budget
        if (System.nanoTime() > loopDeadline) {
          notes.add("refresh: the loop's budget of " + LOOP_BUDGET.toSeconds() + " s ran out"
              + " after " + done + " of " + runsWanted + " runs");
          break;
        }
        boolean warm = run < 0;
        String what = "refresh, run " + run;
        // Failover: sip1 dead, then the refresh.
        long cmd = System.nanoTime();
        t.sip1.pause();
        long paused = System.nanoTime();
        Watch w = t.arm(SIP2);
        long registersBefore = t.agent.registry.stats().registersSent();
        SipProfile current = t.agent.registry.profile(USER).orElseThrow();
        long t0 = System.nanoTime();
        t.agent.registry.save(SipProfileBuilder.copyOf(current).expires(EXPIRES + 1).build());
        long t1 = w.await(what + ": REGISTERED at sip2 after the refresh with sip1 paused");
        long registers = t.agent.registry.stats().registersSent() - registersBefore;
        t.assertAtSip2(what);
        double ms = (t1 - t0) / 1e6;
        double timedOut = w.left() == 0 ? Double.NaN : (w.left() - t0) / 1e6;
        double after = w.left() == 0 ? Double.NaN : (t1 - w.left()) / 1e6;
        // Back: sip1 thawed, the profile removed from sip2 (none left there).
        t.sip1.unpause();
        t.destroy(what);
        // Baseline: a plain registration at sip2.
        Watch b = t.arm(SIP2);
        long baseRegistersBefore = t.agent.registry.stats().registersSent();
        long b0 = System.nanoTime();
        t.agent.registry.create(t.profile(SRV_SECOND_ONLY));
        long b1 = b.await(what + ": baseline, REGISTERED at sip2");
        long baseRegisters = t.agent.registry.stats().registersSent() - baseRegistersBefore;
        t.assertAtSip2(what + ", baseline");
        double baseMs = (b1 - b0) / 1e6;
        t.destroy(what + ", baseline");
        // Back at sip1, as at the start of the run.
        t.createAndAwait(SRV_BOTH, SIP1, t.sip1, what + ": registered at sip1 again");
        System.out.printf(Locale.ROOT, "DnsFailoverBench: %-16s refresh → REGISTERED at sip2"
            + " %8.2f ms (sip1 timed out at %.2f ms; %d REGISTERs); baseline %.2f ms (%d"
            + " REGISTERs)%s%n", what, ms, timedOut, registers, baseMs, baseRegisters,
            warm ? " (warm-up)" : "");
        if (!warm) {
          forced.ms().add(ms);
          forced.addRegisters(registers);
          if (!Double.isNaN(timedOut)) {
            forcedTimedOut.ms().add(timedOut);
            forcedAfter.ms().add(after);
          }
          baseline.ms().add(baseMs);
          baseline.addRegisters(baseRegisters);
          pauseCommand.ms().add((paused - cmd) / 1e6);
          done++;
        }
      }
    }
  }

  // ---- the idle variant: keep-alives find sip1 dead ---------------------------------------

  private void idleVariant() throws Exception {
    try (Topology t = Topology.start(FLOW_TIMER)) {
      t.createAndAwait(SRV_BOTH, SIP1, t.sip1, "first registration at sip1, Flow-Timer");
      Random random = new Random(10);
      long loopDeadline = System.nanoTime() + LOOP_BUDGET.toNanos();
      int done = 0;
      for (int run = -WARMUP; done < idleRunsWanted; run++) { // bounded: runs, budget
        if (System.nanoTime() > loopDeadline) {
          notes.add("idle: the loop's budget of " + LOOP_BUDGET.toSeconds() + " s ran out"
              + " after " + done + " of " + idleRunsWanted + " runs");
          break;
        }
        boolean warm = run < 0;
        String what = "idle, run " + run;
        // Idle as a user's agent is: a keep-alive answered on the flow (until then the agent
        // cannot tell a dead flow from a registrar without STUN, and probes once more with
        // OPTIONS), then the fault anywhere in the keep-alive cycle.
        t.awaitKeepAliveAnswered(what);
        sleep(random.nextInt(FLOW_TIMER * 1000));
        Watch w = t.arm(SIP2);
        long registersBefore = t.agent.registry.stats().registersSent();
        long cmd = System.nanoTime();
        t.sip1.pause();
        long t0 = System.nanoTime();
        long t1 = w.await(what + ": REGISTERED at sip2 after sip1 was paused, idle");
        long registers = t.agent.registry.stats().registersSent() - registersBefore;
        t.assertAtSip2(what);
        double ms = (t1 - t0) / 1e6;
        double detected = w.left() == 0 ? Double.NaN : (w.left() - t0) / 1e6;
        double after = w.left() == 0 ? Double.NaN : (t1 - w.left()) / 1e6;
        t.sip1.unpause();
        t.destroy(what);
        t.createAndAwait(SRV_BOTH, SIP1, t.sip1, what + ": registered at sip1 again");
        System.out.printf(Locale.ROOT, "DnsFailoverBench: %-16s pause → REGISTERED at sip2"
            + " %8.2f ms (flow dead at %.2f ms; %d REGISTERs)%s%n", what, ms, detected,
            registers, warm ? " (warm-up)" : "");
        if (!warm) {
          idle.ms().add(ms);
          idle.addRegisters(registers);
          if (!Double.isNaN(detected)) {
            idleDetected.ms().add(detected);
            idleAfter.ms().add(after);
          }
          pauseCommand.ms().add((t0 - cmd) / 1e6);
          done++;
        }
      }
    }
  }

  // ---- the topology -----------------------------------------------------------------------

  /** Two Kamailios, dnsmasq with their SRV records, one agent; the profile's instance kept. */
  private static final class Topology implements AutoCloseable {
    final KamailioRegistrar sip1;
    final KamailioRegistrar sip2;
    final TestDns dns;
    final AgentHarness agent;
    final AtomicReference<Watch> watch = new AtomicReference<>();
    private String instanceId;

    private Topology(KamailioRegistrar sip1, KamailioRegistrar sip2, TestDns dns,
        AgentHarness agent) {
      this.sip1 = sip1;
      this.sip2 = sip2;
      this.dns = dns;
      this.agent = agent;
      agent.registry.addListener(e -> {
        Watch w = watch.get();
        if (w != null && USER.equals(e.profileId())) {
          w.heard(e, this);
        }
      });
    }

    /** @param flowTimer the Flow-Timer both registrars send, 0 for none */
    static Topology start(int flowTimer) throws Exception {
      List<AutoCloseable> opened = new ArrayList<>();
      try {
        KamailioRegistrar sip1 = kamailio(FIRST, flowTimer);
        opened.add(sip1);
        KamailioRegistrar sip2 = kamailio(SECOND, flowTimer);
        opened.add(sip2);
        TestDns dns = TestDns.start(DNS, List.of(
            "--srv-host=_sip._udp.sip.alr.test," + SIP1 + "," + sip1.port() + ",10,0",
            "--srv-host=_sip._udp.sip.alr.test," + SIP2 + "," + sip2.port() + ",20,0",
            "--srv-host=_sip._udp.second.alr.test," + SIP2 + "," + sip2.port() + ",10,0",
            "--host-record=" + SIP1 + "," + FIRST,
            "--host-record=" + SIP2 + "," + SECOND));
        opened.add(dns);
        AgentHarness agent = new AgentHarness(config(), new DnsConfig(
            new InetSocketAddress(DNS, dns.port), Duration.ofSeconds(1), false, 64));
        opened.add(agent);
        sip1.addUser(USER, PASSWORD);
        sip2.addUser(USER, PASSWORD);
        return new Topology(sip1, sip2, dns, agent);
      } catch (Exception | Error e) {
        for (int i = opened.size() - 1; i >= 0; i--) {
          try {
            opened.get(i).close();
          } catch (Exception suppressed) {
            e.addSuppressed(suppressed);
          }
        }
        throw e;
      }
    }

    private static KamailioRegistrar kamailio(String address, int flowTimer) {
      KamailioRegistrar.Builder b = KamailioRegistrar.builder().routing().listenAddress(address);
      if (flowTimer > 0) {
        b.flowTimer(flowTimer);
      }
      return b.start();
    }

    /** As DnsFailoverIT's, with this bench's REGISTER timeout and the product's keep-alive. */
    private static SipConfig config() {
      return new SipConfig(AGENT, 0, "sip-alr-agent-bench", REGISTER_TIMEOUT,
          new SipConfig.Backoff(Duration.ofSeconds(1), Duration.ofSeconds(1),
              Duration.ofSeconds(10)), KEEP_ALIVE_INTERVAL, 4, 2, Duration.ofSeconds(60));
    }

    SipProfile profile(String registrar) {
      SipProfileBuilder b = SipProfileBuilder.forId(USER)
          .aor("sip:" + USER + "@" + KamailioRegistrar.DEFAULT_REALM).registrar(registrar)
          .authUser(USER).password(PASSWORD).transport(Transport.UDP).expires(EXPIRES)
          .autoRegister(true);
      if (instanceId != null) {
        b.instanceId(instanceId).regId(1); // the same device: the same binding at sip1
      }
      return b.build();
    }

    Watch arm(String server) {
      Watch w = new Watch(server);
      watch.set(w);
      return w;
    }

    /** Creates the profile; awaits REGISTERED at {@code server}, then its one binding there. */
    void createAndAwait(String registrar, String server, KamailioRegistrar at, String what) {
      Watch w = arm(server);
      SipProfile stored = agent.registry.create(profile(registrar));
      if (instanceId == null) {
        instanceId = stored.instanceId();
      }
      w.await(what);
      awaitOneBinding(at, what);
      if (at == sip1) {
        List<Binding> none = sip2.lookup(USER);
        if (!none.isEmpty()) {
          throw new AssertionError(what + ": bindings left at sip2: " + none);
        }
      }
    }

    /** Where the registration is, and exactly one binding at sip2 (awaited, bounded). */
    void assertAtSip2(String what) {
      SipTarget server = agent.registry.info(USER).server();
      if (server == null || !SIP2.equals(server.name()) || !SECOND.equals(server.host())
          || server.port() != sip2.port()) {
        throw new AssertionError(what + ": registered with " + server + ", not sip2 at "
            + SECOND + ":" + sip2.port());
      }
      awaitOneBinding(sip2, what);
    }

    /** A keep-alive of the registration's flow was answered (bounded). */
    void awaitKeepAliveAnswered(String what) {
      long deadline = System.nanoTime() + STEP_TIMEOUT.toNanos();
      while (agent.registry.info(USER).lastKeepAlive() == null) { // bounded: STEP_TIMEOUT
        if (System.nanoTime() - deadline > 0) {
          throw new AssertionError(what + ": no keep-alive answered at sip1 within "
              + STEP_TIMEOUT.toSeconds() + " s: " + agent.registry.info(USER));
        }
        sleep(5);
      }
    }

    /** Removes the profile (its contact at sip2 with it); sip2 then holds none (bounded). */
    void destroy(String what) throws Exception {
      watch.set(null);
      agent.registry.destroy(USER).get(STEP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      long deadline = System.nanoTime() + STEP_TIMEOUT.toNanos();
      List<Binding> left = sip2.lookup(USER);
      while (!left.isEmpty()) { // bounded: STEP_TIMEOUT
        if (System.nanoTime() - deadline > 0) {
          throw new AssertionError(what + ": the profile destroyed, but sip2 still holds "
              + left);
        }
        sleep(10);
        left = sip2.lookup(USER);
      }
    }

    /** Exactly one binding of the agent's contact at {@code kamailio}, awaited (bounded). */
    void awaitOneBinding(KamailioRegistrar kamailio, String what) {
      long deadline = System.nanoTime() + STEP_TIMEOUT.toNanos();
      List<Binding> last = kamailio.lookup(USER);
      while (!(last.size() == 1
          && last.get(0).address().startsWith("sip:" + USER + "@" + AGENT + ":"))) {
        if (System.nanoTime() - deadline > 0) { // bounded: STEP_TIMEOUT
          throw new AssertionError(what + ": not exactly one binding of the agent at "
              + kamailio.host() + " within " + STEP_TIMEOUT.toSeconds() + " s: " + last);
        }
        sleep(10);
        last = kamailio.lookup(USER);
      }
    }

    @Override
    public void close() throws Exception {
      watch.set(null);
      // The agent first (its removals go nowhere: the registrars are dropped with their state).
      try {
        agent.close();
      } finally {
        try {
          dns.close();
        } finally {
          try {
            sip2.close();
          } finally {
            sip1.close(); // unpaused first if a run failed while it was paused
          }
        }
      }
    }
  }

  /**
   * One run's events, stamped on the registry's executor as they are emitted: when the status
   * left REGISTERED (the first DEREGISTERED) and when it was REGISTERED with {@code server}.
   */
  private static final class Watch {
    private final String server;
    private final CountDownLatch registered = new CountDownLatch(1);
    private final AtomicLong leftAt = new AtomicLong();
    private final AtomicLong registeredAt = new AtomicLong();

    Watch(String server) {
      this.server = server;
    }

    void heard(RegistryEvent e, Topology t) {
      long now = System.nanoTime();
      if (e.type() == RegistryEvent.Type.DEREGISTERED) {
        leftAt.compareAndSet(0, now);
      } else if (e.type() == RegistryEvent.Type.REGISTERED) {
        SipTarget s;
        try {
          s = t.agent.registry.info(USER).server();
        } catch (NoSuchElementException gone) {
          return;
        }
        if (s != null && server.equals(s.name()) && registeredAt.compareAndSet(0, now)) {
          registered.countDown();
        }
      }
    }

    /** When it was REGISTERED with the server wanted; fails after {@link #RUN_TIMEOUT}. */
    long await(String what) {
      try {
        if (!registered.await(RUN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
          throw new AssertionError(what + ": not within " + RUN_TIMEOUT.toSeconds() + " s");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
      return registeredAt.get();
    }

    long left() {
      return leftAt.get();
    }
  }

  // ---- report -----------------------------------------------------------------------------

  private void report() throws IOException {
    StringBuilder md = new StringBuilder();
    StringBuilder csv = new StringBuilder(
        "variant,measure,count,p50_ms,p99_ms,max_ms,registers_per_run\n");
    md.append("Failover to the second SRV target (dnsmasq, two routing Kamailios, sip1 frozen"
            + " by `docker pause`), ").append(LocalDate.now()).append(", ")
        .append(Runtime.getRuntime().availableProcessors()).append(" cores; ")
        .append(forced.ms().size()).append(" of ").append(runsWanted)
        .append(" refresh runs (each with a baseline), ").append(idle.ms().size())
        .append(" of ").append(idleRunsWanted).append(" idle runs (after ").append(WARMUP)
        .append(" warm-up runs each); `sip.register-timeout` ")
        .append(REGISTER_TIMEOUT.toMillis()).append(" ms (also the keep-alive's probe"
            + " timeout), `Flow-Timer` ").append(FLOW_TIMER).append(" s (idle), ")
        .append("`sip.keepalive-interval` ").append(KEEP_ALIVE_INTERVAL.toSeconds())
        .append(" s (refresh: no Flow-Timer), expires ").append(EXPIRES).append(" s, UDP\n\n")
        .append("| variant | measure | n | p50 ms | p99 ms | max ms | REGISTERs per run |\n")
        .append("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (Series s : List.of(baseline, forced, forcedTimedOut, forcedAfter, idle, idleDetected,
        idleAfter, pauseCommand)) {
      row(md, csv, s);
    }
    md.append("\nMethod\n\n")
        .append("- REGISTERED at sip2: the agent's REGISTERED event with the registration's")
        .append(" server sip2.alr.test (stamped as emitted), then exactly one binding of the")
        .append(" agent at sip2 (`ul.lookup`, not timed).\n")
        .append("- Refresh: t0 just before `registry.save` with another expires, which sends")
        .append(" the REGISTER (to sip1, sticky) at once; sip1 was paused just before. Expected:")
        .append(" `sip.register-timeout` plus one 401 and one 200 from sip2 (the baseline).\n")
        .append("- Idle: t0 = the return of `docker pause`, after a pause drawn from 0 to ")
        .append(FLOW_TIMER).append(" s (seed 10) from the first keep-alive answered at sip1")
        .append(" (an idle agent's flow). Expected: the")
        .append(" wait for the next STUN keep-alive (every 80-100 % of the Flow-Timer) +")
        .append(" its probe timeout (`sip.register-timeout`) + the REGISTER to sip1 timing out")
        .append(" (`sip.register-timeout`) + the baseline.\n")
        .append("- Between runs: sip1 unpaused, the profile destroyed (sip2 then holds no")
        .append(" binding) and created again with the same instance id: registered at sip1,")
        .append(" one binding there, none at sip2.\n")
        .append("- REGISTERs per run: what the agent sent (its stats; retransmissions not")
        .append(" counted).\n")
        .append("- Percentiles: nearest rank; below 100 runs p99 is the maximum.\n");
    for (String note : notes) {
      md.append("- ").append(note).append(".\n");
    }
    publish("dns-failover", md, csv, failures);
  }

  private static void row(StringBuilder md, StringBuilder csv, Series s) {
    if (s.ms().isEmpty()) {
      return;
    }
    double p50 = percentile(s.ms(), 50);
    double p99 = percentile(s.ms(), 99);
    double max = percentile(s.ms(), 100);
    String registers = s.registers().get() < 0 ? "" : String.format(Locale.ROOT, "%.2f",
        (double) s.registers().get() / s.ms().size());
    md.append(String.format(Locale.ROOT, "| %s | %s | %d | %.2f | %.2f | %.2f | %s |%n",
        s.variant(), s.measure(), s.ms().size(), p50, p99, max, registers));
    csv.append(String.format(Locale.ROOT, "%s,\"%s\",%d,%.3f,%.3f,%.3f,%s%n", s.variant(),
        s.measure().replace("\"", "\"\""), s.ms().size(), p50, p99, max, registers));
  }
}
