package io.sipalr.it;

import static io.sipalr.it.BenchMath.percentile;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import com.fasterxml.jackson.databind.JsonNode;
import io.sipalr.alr.AlrConfig;
import io.sipalr.alr.AlrError;
import io.sipalr.alr.AlrEvent;
import io.sipalr.alr.AlrObserver;
import io.sipalr.it.KamailioRegistrar.Binding;
import io.sipalr.profile.BearerFilter;
import io.sipalr.profile.ProfileStore;
import io.sipalr.profile.SipProfile;
import io.sipalr.profile.SipProfileBuilder;
import io.sipalr.profile.Transport;
import io.sipalr.sip.RegistryEvent;
import io.sipalr.sip.SipProfileRegistry;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.IntSupplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Mass registration and mass migration on loopback, with SIPp as the reference client, and what
 * 10,000 registered profiles cost. Writes target/bench/mass.{md,csv} and prints the Markdown.
 *
 * <p>After an unreported warm-up round (N = 2,000, {@code -Dbench.mass.warm-up=0} to skip: a
 * running agent's JIT has long compiled the REGISTER path), for each N (1,000, 5,000, 10,000;
 * {@code -Dbench.mass.sizes=1000,5000} to choose) and each pacing ({@code -Dbench.mass.pacings}:
 * the product's default {@code alr} pacing, and the window alone with no rate limit, which is
 * the registrar's own pace; {@code unpaced}, with no window either, on request), on a fresh
 * Kamailio ({@code largeMemory()}):
 * <ol>
 *   <li>N users are added over JSON-RPC ({@code htable.sets creds}, a bounded loop over 4
 *       connections: about 3 s for 10,000, so no wildcard credential rule is needed), timed;
 *   <li><b>registration</b>: the agent ({@link MassAgent}: product SIP defaults, one SNAP,
 *       cellular 127.0.0.3 up) creates N roaming profiles in batches of 500 ({@code
 *       registry.createAll}, one durable store write per batch); timed from the first batch
 *       to the last REGISTERED event. A SNAP profile's first REGISTER goes through the ALR
 *       pacer (its session rebinds it when it joins), so this phase is paced. Then {@code
 *       ul.dump} must show every profile bound once, from 127.0.0.3;
 *   <li><b>migration</b>: wlan 127.0.0.2 comes up (an upgrade; no controller, so every move is
 *       allowed): timed until every profile is registered through wlan, by MIGRATION_COMPLETED
 *       or, for a move that failed (ALR error; docs/alr-rules.md, rule 12: the carrier is
 *       accepted and the profile retries through it), by the REGISTERED of that retry, with
 *       nothing else running in this JVM meanwhile. Then {@code ul.dump} must show every
 *       binding received from 127.0.0.2: lost (0 bindings) and duplicate (more than 1)
 *       bindings are counted from that dump, expired entries filtered;
 *   <li><b>restart</b>: the same store in a new agent (the first one stopped without
 *       deregistering, as after a crash), no IAP up, then cellular up: timed to the last
 *       REGISTERED. The REGISTER path alone (401 + 200 per profile, no store writes), paced:
 *       the figure to hold against SIPp's;
 *   <li>with the default pacing only: SIPp registers N other users with MD5 digest against the
 *       same Kamailio ({@link Sipp}), for the achieved rate to compare with.
 * </ol>
 * Per phase also: this JVM's and Kamailio's CPU time per profile (Kamailio's from its
 * container's cgroup; SIPp's own and Kamailio's during the SIPp run too: with both clients
 * bound by the machine's cores, these explain the rates), REGISTERs and 401s per profile from
 * Kamailio's counters, registration failures and ALR errors, the datagrams the kernel dropped on
 * the agent's and Kamailio's UDP sockets ({@link UdpDrops}), Kamailio's ERROR lines. A phase
 * waits at most 90 s (a failed REGISTER's first backoff is 30-60 s with the product defaults);
 * one that took longer is reported as incomplete.
 *
 * <p>The cost section is measured in each default-pacing run (10,000 profiles is the figure
 * asked for; the smaller N show how it scales): heap after GC, threads (with their names) and
 * file descriptors (the agent's: those that did not exist before it was wired),
 * 6 s after the last REGISTERED (so that the stack's completed transactions are gone, Timer
 * K), against the same wiring with 0 profiles measured right before. Cold start: a child JVM
 * ({@code Main run --config}, one profile) from launch to its binding at Kamailio, and
 * in-process (warm JVM) from opening the store to REGISTERED.
 *
 * <p>The agent's INFO logging (several lines per profile and move) is lowered to WARN for the
 * runs, as the product's own conf/logback.xml has it; the test configuration's INFO to the
 * console would otherwise be what is measured. Never fails on time; fails only when a binding
 * was lost or duplicated, after writing the report.
 */
class MassBench {
  private static final String PASSWORD = AgentHarness.REALM_PASSWORD;
  private static final String SIPP_PASSWORD = "sipp-pw";
  private static final int RPC_CONNECTIONS = 4;
  private static final int SIPP_LIMIT = Integer.getInteger("bench.sipp.limit",
      AlrConfig.DEFAULT_REGISTER_WINDOW); // as many in flight as the agent's window
  private static final int COLD_STARTS = 3;
  private static final int CREATE_BATCH = 500;
  private static final int SIPP_RUNS = Integer.getInteger("bench.sipp.runs", 3);
  /** Every SIPp run's rate by N, for the report (the median run is the one compared). */
  private static final Map<Integer, double[]> sippRates = new java.util.concurrent.ConcurrentHashMap<>();

  private record Pacing(String key, String name, int rate, int burst, int window) {}

  private static final Pacing DEFAULT = new Pacing("default",
      String.format(Locale.ROOT, "default (%d/s, burst %d, window %d)",
          AlrConfig.DEFAULT_REGISTER_RATE, AlrConfig.DEFAULT_REGISTER_BURST,
          AlrConfig.DEFAULT_REGISTER_WINDOW), AlrConfig.DEFAULT_REGISTER_RATE,
      AlrConfig.DEFAULT_REGISTER_BURST, AlrConfig.DEFAULT_REGISTER_WINDOW);
  /** The registrar's own pace: only the window holds REGISTERs back (SIPp's -l). */
  private static final Pacing WINDOW_ONLY = new Pacing("window",
      "window " + AlrConfig.DEFAULT_REGISTER_WINDOW + " only (no rate limit)", 10_000_000,
      10_000_000, AlrConfig.DEFAULT_REGISTER_WINDOW);
  /** Nothing holds REGISTERs back (the window as large as N): what the window prevents. */
  private static final Pacing UNPACED = new Pacing("unpaced",
      "unpaced (no rate limit, no window)", 10_000_000, 10_000_000, 10_000_000);

  /** What one ul.dump said about the profiles {@code ids}: bound once from the address, etc. */
  private record DumpCheck(int onAddress, int lost, int duplicate, int elsewhere, long nanos) {}

  private record Run(int n, Pacing pacing, double usersSeconds,
      // registration, as the brief has it: cellular up, then N creates
      double createSeconds, double toRegistered, int registered, double p50RegMs,
      double p99RegMs, DumpCheck afterReg, double registersPerReg,
      // migration: wlan up
      double toCompleted, int completed, int recovered,
      DumpCheck afterMove, double registersPerMove, double challengesPerMove,
      // restart: the same store in a new agent, no IAP; then cellular up
      double toRestartRegistered, int restartRegistered, DumpCheck afterRestart,
      double registersPerRestart,
      // datagrams the kernel dropped (full receive buffer): agent's sockets, Kamailio's
      long[] dropsReg, long[] dropsMove, long[] dropsRestart,
      // CPU time of this JVM per profile (ms): create phase, migration (without the main
      // thread, the bench's), restart
      double cpuReg, double cpuMove, double cpuRestart,
      // Kamailio's CPU time per profile (ms), same phases
      double kamCpuReg, double kamCpuMove, double kamCpuRestart,
      Map<String, Integer> agentErrors, int alrErrors, int deregisteredInMove,
      long kamailioErrors, Sipp.Result sipp, Cost cost) {

    double registrationRate() {
      return registered / toRegistered;
    }

    double migrationRate() {
      return (completed + recovered) / toCompleted;
    }

    double restartRate() {
      return restartRegistered / toRestartRegistered;
    }

    boolean bindingsIntact() {
      return Stream.of(afterReg, afterMove, afterRestart)
          .allMatch(c -> c.lost() == 0 && c.duplicate() == 0);
    }
  }

  /**
   * Heap used after GC; live threads and open file descriptors of the whole JVM, and those of
   * them that did not exist before the agent was wired ({@link #beforeAgent}): the agent's own.
   */
  private record Snapshot(long heapBytes, int threads, int agentThreads, long fds,
      long agentFds, String agentThreadNames) {}

  /** Threads and descriptors alive before the agent is wired; dying ones count as not ours. */
  private record BeforeAgent(Set<Thread> threads, Set<String> fds) {}

  private record Cost(int n, Snapshot baseline, Snapshot loaded) {}

  private record ColdStarts(long[] childNanos, long[] inProcessNanos, String childCommand) {}

  @Test
  void massRegistrationAndMigration() throws Exception {
    long benchStart = System.nanoTime();
    int[] sizes = Arrays.stream(System.getProperty("bench.mass.sizes", "1000,5000,10000")
        .split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
    // default and window always (the report compares them); unpaced on request, as it only
    // shows what the window prevents (timeouts and backoffs: a minute or more per run).
    List<Pacing> pacings = Arrays.stream(System.getProperty("bench.mass.pacings",
        "default,window").split(",")).map(String::trim)
        .map(k -> Stream.of(DEFAULT, WINDOW_ONLY, UNPACED).filter(p -> p.key().equals(k))
            .findFirst().orElseThrow(() -> new IllegalArgumentException(
                "bench.mass.pacings: unknown pacing \"" + k + "\" (default, window, unpaced)")))
        .toList();
    ch.qos.logback.classic.Logger agentLog =
        (ch.qos.logback.classic.Logger) LoggerFactory.getLogger("io.sipalr");
    Level previousLevel = agentLog.getLevel();
    agentLog.setLevel(Level.WARN);
    List<Run> runs = new ArrayList<>();
    ColdStarts cold;
    try {
      Sipp sipp = Sipp.find(Path.of("target", "bench", "sipp"));
      // A gateway's agent runs for days: its JIT has compiled the REGISTER path long before a
      // storm. One unreported round first, so that the figures are not the compiler's.
      int warmUp = Integer.getInteger("bench.mass.warm-up", 2000);
      if (warmUp > 0) {
        run(warmUp, WINDOW_ONLY, null, false);
        System.out.printf(Locale.ROOT, "MassBench: warm-up with N=%d done (%.0f s)%n", warmUp,
            (System.nanoTime() - benchStart) / 1e9);
      }
      for (int n : sizes) {
        for (Pacing pacing : pacings) {
          Run r = run(n, pacing, pacing == DEFAULT ? sipp : null, pacing == DEFAULT);
          runs.add(r);
          System.out.printf(Locale.ROOT, "MassBench: N=%d %s done: registered in %.2f s,"
              + " migrated in %.2f s, lost %d, duplicate %d (%.0f s since start)%n", n,
              pacing.name(), r.toRegistered(), r.toCompleted(), r.afterMove().lost(),
              r.afterMove().duplicate(), (System.nanoTime() - benchStart) / 1e9);
        }
      }
      cold = coldStarts();
    } finally {
      agentLog.setLevel(previousLevel);
    }
    double total = (System.nanoTime() - benchStart) / 1e9;
    report(runs, cold, total);
    for (Run r : runs) {
      assertTrue(r.bindingsIntact(), "bindings lost or duplicated with N=" + r.n() + ", "
          + r.pacing().name() + ": after registration " + r.afterReg() + ", after migration "
          + r.afterMove() + ", after restart " + r.afterRestart());
    }
  }

  // ---------------------------------------------------------------- one N, one pacing

  private Run run(int n, Pacing pacing, Sipp sipp, boolean measureCost) throws Exception {
    List<String> ids = ids("a", n);
    // Enough for a failed REGISTER's first RFC 5626 backoff (30-60 s with the product's
    // defaults) and the retry; a phase that takes longer is reported as incomplete.
    Duration bound = Duration.ofSeconds(90);
    Path data = Files.createTempDirectory("sipalr-mass");
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().largeMemory().start()) {
      double usersSeconds = addUsers(kamailio, ids, PASSWORD);
      Probe probe = new Probe(n);
      Snapshot baseline = null;
      Snapshot loaded = null;
      double createSeconds;
      double toRegistered;
      DumpCheck afterReg;
      long[] countsAfterReg;
      double toCompleted;
      DumpCheck afterMove;
      long[] countsAfterMove;
      long[] dropsReg;
      long[] dropsMove;
      double cpuReg;
      double kamCpuReg;
      double kamCpuMove;
      double cpuMove;
      BeforeAgent before = measureCost ? beforeAgent() : null;
      try (MassAgent agent = new MassAgent(data, pacing.rate(), pacing.burst(), pacing.window())) {
        agent.registry.addListener(probe::registryEvent);
        agent.alr.addListener(probe);
        agent.iaps.up(MassAgent.CELL);
        if (measureCost) {
          baseline = snapshot(before);
        }
        // Registration: from the first create to the last REGISTERED.
        phase(n, pacing, "registration (create)");
        long cpu0 = processCpu();
        long kam0 = kamailio.cpuNanos();
        long t0 = System.nanoTime();
        // As a gateway provisions its lines: in batches (registry.createAll, one durable store
        // write per batch), so that registrations start while later batches are written.
        for (int from = 0; from < n; from += CREATE_BATCH) { // bounded: n / CREATE_BATCH
          List<SipProfile> batch = new ArrayList<>();
          for (int i = from; i < Math.min(n, from + CREATE_BATCH); i++) {
            batch.add(AlrHarness.profile(ids.get(i), kamailio, MassAgent.SNAP, BearerFilter.ANY,
                Transport.UDP));
          }
          long at = System.nanoTime();
          for (int i = from; i < from + batch.size(); i++) {
            probe.createdAt.set(i, at);
          }
          agent.registry.createAll(batch);
        }
        createSeconds = (System.nanoTime() - t0) / 1e9;
        awaitCount(probe.registered::get, n, bound);
        toRegistered = (probe.last(probe.registeredAt) - t0) / 1e9;
        cpuReg = (processCpu() - cpu0) / 1e6 / n;
        kamCpuReg = (kamailio.cpuNanos() - kam0) / 1e6 / n;
        afterReg = awaitDump(kamailio, ids, MassAgent.CELL_ADDRESS, 10);
        countsAfterReg = kamailioCounts(kamailio);
        dropsReg = drops(kamailio, MassAgent.CELL_ADDRESS);
        if (measureCost) {
          Thread.sleep(6000); // Timer K (5 s) of the last client transactions
          loaded = snapshot(before);
        }

        // Migration: wlan comes up.
        probe.migrating = true;
        phase(n, pacing, "migration");
        long cpu1 = processCpu() - mainCpu();
        long kam1 = kamailio.cpuNanos();
        long trigger = System.nanoTime();
        agent.iaps.up(MassAgent.WLAN);
        // Nothing else runs in this JVM while the moves do (an ul.dump of 10,000 entries,
        // parsed here, would compete for the 2 cores, and its parser for the JIT): the events
        // time the moves, the dump checks them afterwards.
        awaitCount(probe::settled, n, bound);
        toCompleted = probe.settled() >= n ? (Math.max(probe.last(probe.completedAt),
            probe.last(probe.recoveredAt)) - trigger) / 1e9 : Double.NaN;
        cpuMove = (processCpu() - mainCpu() - cpu1) / 1e6 / n;
        kamCpuMove = (kamailio.cpuNanos() - kam1) / 1e6 / n;
        afterMove = awaitDump(kamailio, ids, MassAgent.WLAN_ADDRESS, 10);
        countsAfterMove = kamailioCounts(kamailio);
        dropsMove = drops(kamailio, MassAgent.WLAN_ADDRESS);
      }

      // Restart: the same store in a new agent (no deregistration before: as after a crash or
      // a power cut), no IAP up, so every profile waits; then cellular comes up. This is the
      // REGISTER path alone (401 + 200 per profile, no store writes), paced.
      Probe restart = new Probe(n);
      double toRestartRegistered;
      DumpCheck afterRestart;
      long[] countsAfterRestart;
      long[] dropsRestart;
      double cpuRestart;
      double kamCpuRestart;
      try (MassAgent again = new MassAgent(data, pacing.rate(), pacing.burst(), pacing.window())) {
        again.registry.addListener(restart::registryEvent);
        again.alr.addListener(restart);
        Thread.sleep(500 + n / 20); // every profile joins its SNAP session first (bounded)
        phase(n, pacing, "restart");
        long cpu2 = processCpu();
        long kam2 = kamailio.cpuNanos();
        long up = System.nanoTime();
        again.iaps.up(MassAgent.CELL);
        awaitCount(restart.registered::get, n, bound);
        cpuRestart = (processCpu() - cpu2) / 1e6 / n;
        kamCpuRestart = (kamailio.cpuNanos() - kam2) / 1e6 / n;
        toRestartRegistered = (restart.last(restart.registeredAt) - up) / 1e9;
        afterRestart = awaitDump(kamailio, ids, MassAgent.CELL_ADDRESS, 10);
        countsAfterRestart = kamailioCounts(kamailio);
        dropsRestart = drops(kamailio, MassAgent.CELL_ADDRESS);
      }

      Sipp.Result sippResult = null;
      if (sipp != null) {
        phase(n, pacing, "sipp");
        List<String> users = ids("s", n);
        addUsers(kamailio, users, SIPP_PASSWORD);
        Path csv = sipp.usersFile("users-" + n + ".csv", users, SIPP_PASSWORD, kamailio.realm());
        // SIPp's rate varies from run to run (a run of N is short): the median of SIPP_RUNS
        // runs over the same users (each a fresh REGISTER / 401 / REGISTER / 200 per user).
        List<Sipp.Result> sippRuns = new ArrayList<>();
        for (int k = 0; k < SIPP_RUNS; k++) { // bounded: SIPP_RUNS runs of at most 2.5 min
          sippRuns.add(sipp.register(kamailio, csv, n, SIPP_LIMIT, Duration.ofSeconds(120),
              n + "-" + k));
        }
        sippRuns.sort(java.util.Comparator.comparingDouble(Sipp.Result::rate));
        sippResult = sippRuns.get(sippRuns.size() / 2);
        sippRates.put(n, sippRuns.stream().mapToDouble(Sipp.Result::rate).toArray());
      }
      long kamailioErrors = kamailio.logs().lines().filter(l -> l.contains(" ERROR: ")).count();
      double[] latencies = IntStream.range(0, n)
          .mapToDouble(i -> (probe.registeredAt.get(i) - probe.createdAt.get(i)) / 1e6)
          .filter(ms -> ms > 0).sorted().toArray();
      Map<String, Integer> errors = new TreeMap<>();
      probe.failures.forEach((k, v) -> errors.merge(k, v.get(), Integer::sum));
      restart.failures.forEach((k, v) -> errors.merge("restart " + k.substring(4), v.get(),
          Integer::sum));
      return new Run(n, pacing, usersSeconds,
          createSeconds, toRegistered, probe.registered.get(), percentile(latencies, 50),
          percentile(latencies, 99), afterReg, (double) countsAfterReg[0] / n,
          toCompleted, probe.completed.get(), probe.recovered.get(), afterMove,
          (double) (countsAfterMove[0] - countsAfterReg[0]) / n,
          (double) (countsAfterMove[1] - countsAfterReg[1]) / n,
          toRestartRegistered, restart.registered.get(), afterRestart,
          (double) (countsAfterRestart[0] - countsAfterMove[0]) / n,
          dropsReg, dropsMove, dropsRestart, cpuReg, cpuMove, cpuRestart,
          kamCpuReg, kamCpuMove, kamCpuRestart,
          errors, probe.alrErrors.get() + restart.alrErrors.get(), probe.deregistered.get(),
          kamailioErrors, sippResult, measureCost ? new Cost(n, baseline, loaded) : null);
    } finally {
      AgentHarness.deleteTree(data);
    }
  }

  /** A progress line with the wall-clock time, to find the phases in a flight recording. */
  private static void phase(int n, Pacing pacing, String what) {
    System.out.printf(Locale.ROOT, "MassBench: %s N=%d %s: %s%n", LocalTime.now(), n,
        pacing.name(), what);
  }

  /** Every registry and ALR event of interest, by profile index; no lists, no locks. */
  private static final class Probe implements AlrObserver {
    final AtomicLongArray createdAt;
    final AtomicLongArray registeredAt;
    final AtomicLongArray completedAt;
    /** A move that failed (ALR error), then REGISTERED through the new IAP (rule 12). */
    final AtomicLongArray recoveredAt;
    final AtomicLongArray moveFailedAt;
    final AtomicInteger registered = new AtomicInteger();
    final AtomicInteger completed = new AtomicInteger();
    final AtomicInteger recovered = new AtomicInteger();
    final AtomicInteger deregistered = new AtomicInteger();
    final AtomicInteger alrErrors = new AtomicInteger();
    final Map<String, AtomicInteger> failures = new ConcurrentHashMap<>();
    volatile boolean migrating;

    Probe(int n) {
      createdAt = new AtomicLongArray(n);
      registeredAt = new AtomicLongArray(n);
      completedAt = new AtomicLongArray(n);
      recoveredAt = new AtomicLongArray(n);
      moveFailedAt = new AtomicLongArray(n);
    }

    void registryEvent(RegistryEvent e) {
      int i = index(e.profileId());
      switch (e.type()) {
        case REGISTERED -> {
          if (i < 0) {
            return;
          }
          if (registeredAt.compareAndSet(i, 0, System.nanoTime())) {
            registered.incrementAndGet();
          } else if (migrating && moveFailedAt.get(i) != 0 && completedAt.get(i) == 0
              && recoveredAt.compareAndSet(i, 0, System.nanoTime())) {
            recovered.incrementAndGet();
          }
        }
        case DEREGISTERED -> {
          if (migrating) {
            deregistered.incrementAndGet(); // make-before-break: only after a failed move
          }
        }
        case REGISTRATION_FAILED -> failures.computeIfAbsent(
            (migrating ? "move " : "reg ") + e.error().kind(), k -> new AtomicInteger())
            .incrementAndGet();
        default -> { }
      }
    }

    @Override
    public void alrEvent(AlrEvent event, String profileId, int snapId, int iapId) {
      int i = index(profileId);
      if (event == AlrEvent.MIGRATION_COMPLETED && i >= 0
          && completedAt.compareAndSet(i, 0, System.nanoTime())) {
        completed.incrementAndGet();
      }
    }

    @Override
    public void alrError(AlrError error, String profileId, int snapId, int iapId) {
      alrErrors.incrementAndGet();
      int i = index(profileId);
      if (i >= 0 && migrating) {
        moveFailedAt.compareAndSet(i, 0, System.nanoTime());
        failures.computeIfAbsent("move " + (error.registrationError() == null ? error.kind()
            : error.registrationError().kind()), k -> new AtomicInteger())
            .incrementAndGet();
      }
    }

    /** Profiles registered through the new IAP: moved, or failed and recovered there. */
    int settled() {
      return completed.get() + recovered.get();
    }

    long last(AtomicLongArray times) {
      long max = 0;
      for (int i = 0; i < times.length(); i++) {
        max = Math.max(max, times.get(i));
      }
      return max;
    }

    private int index(String id) {
      return id.startsWith("a") ? Integer.parseInt(id.substring(1)) : -1;
    }
  }

  private static List<String> ids(String prefix, int n) {
    return IntStream.range(0, n).mapToObj(i -> String.format(Locale.ROOT, "%s%05d", prefix, i))
        .toList();
  }

  /** {@code htable.sets creds user password} for each user on a few connections; seconds. */
  private static double addUsers(KamailioRegistrar kamailio, List<String> users, String password)
      throws Exception {
    long start = System.nanoTime();
    ExecutorService rpc = Executors.newFixedThreadPool(RPC_CONNECTIONS);
    try {
      List<Future<?>> parts = new ArrayList<>();
      for (int c = 0; c < RPC_CONNECTIONS; c++) {
        int first = c;
        parts.add(rpc.submit(() -> {
          for (int i = first; i < users.size(); i += RPC_CONNECTIONS) { // bounded by the list
            kamailio.addUser(users.get(i), password);
          }
        }));
      }
      for (Future<?> f : parts) {
        f.get(5, TimeUnit.MINUTES);
      }
    } finally {
      rpc.shutdownNow();
    }
    return (System.nanoTime() - start) / 1e9;
  }

  private static void awaitCount(IntSupplier count, int target, Duration bound)
      throws InterruptedException {
    long deadline = System.nanoTime() + bound.toNanos();
    while (count.getAsInt() < target && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
  }

  /** CPU time of this JVM, all threads, in ns. */
  private static long processCpu() {
    return ((com.sun.management.OperatingSystemMXBean)
        ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  /** CPU time of the calling (main) thread, in ns. */
  private static long mainCpu() {
    return ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
  }

  /**
   * Datagrams dropped so far on the agent's sockets on {@code agentAddress} (a socket per IAP
   * endpoint, so per phase) and on Kamailio's SIP socket (cumulative for its container).
   */
  private static long[] drops(KamailioRegistrar kamailio, String agentAddress) {
    Map<String, Long> d = UdpDrops.read();
    return new long[] {UdpDrops.onAddress(d, agentAddress),
        d.getOrDefault(kamailio.host() + ":" + kamailio.port(), 0L)};
  }

  /** Dumps until every profile is bound once from {@code address}, at most {@code tries}. */
  private static DumpCheck awaitDump(KamailioRegistrar kamailio, List<String> ids,
      String address, int tries) throws InterruptedException {
    DumpCheck c = check(kamailio, ids, address);
    for (int i = 1; i < tries && c.onAddress() < ids.size(); i++) {
      Thread.sleep(500);
      c = check(kamailio, ids, address);
    }
    return c;
  }

  private static DumpCheck check(KamailioRegistrar kamailio, List<String> ids, String address) {
    long start = System.nanoTime();
    Map<String, List<Binding>> dump = kamailio.dump(); // expired entries filtered
    long nanos = System.nanoTime() - start;
    String from = "sip:" + address + ":";
    int on = 0;
    int lost = 0;
    int dup = 0;
    int elsewhere = 0;
    for (String id : ids) {
      List<Binding> b = dump.getOrDefault(id, List.of());
      if (b.isEmpty()) {
        lost++;
      } else if (b.size() > 1) {
        dup++;
      } else if (b.get(0).received() != null && b.get(0).received().startsWith(from)) {
        on++;
      } else {
        elsewhere++;
      }
    }
    return new DumpCheck(on, lost, dup, elsewhere, nanos);
  }

  /** REGISTERs received and 401s sent for the agent's users ("a…"), from the stats htable. */
  private static long[] kamailioCounts(KamailioRegistrar kamailio) {
    long registers = 0;
    long challenges = 0;
    for (JsonNode entry : kamailio.rpc("htable.dump", "stats")) {
      for (JsonNode slot : entry.path("slot")) {
        String name = slot.path("name").asText();
        if (name.startsWith("reg::a")) {
          registers += slot.path("value").asLong();
        } else if (name.startsWith("401::a")) {
          challenges += slot.path("value").asLong();
        }
      }
    }
    return new long[] {registers, challenges};
  }

  // ---------------------------------------------------------------- cost

  private static BeforeAgent beforeAgent() throws IOException {
    return new BeforeAgent(Set.copyOf(Thread.getAllStackTraces().keySet()), openFds());
  }

  private static Snapshot snapshot(BeforeAgent before) throws Exception {
    for (int i = 0; i < 4; i++) { // bounded: a few full collections settle the heap
      System.gc();
      Thread.sleep(200);
    }
    long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    Set<Thread> threads = Thread.getAllStackTraces().keySet();
    Set<String> fds = openFds();
    List<Thread> ours = threads.stream().filter(t -> !before.threads().contains(t)).toList();
    // "sip-worker-2" and "sip-worker-1" are "sip-worker ×2"
    String names = ours.stream()
        .collect(Collectors.groupingBy(t -> t.getName().replaceAll("[-_]?\\d+$", ""),
            TreeMap::new, Collectors.counting()))
        .entrySet().stream().map(e -> e.getKey() + (e.getValue() > 1 ? " ×" + e.getValue() : ""))
        .collect(Collectors.joining(", "));
    return new Snapshot(heap, threads.size(), ours.size(), fds.size(),
        fds.stream().filter(fd -> !before.fds().contains(fd)).count(), names);
  }

  /** "fd -> target" of /proc/self/fd (e.g. "57 -> socket:[123]"); empty when not Linux. */
  private static Set<String> openFds() throws IOException {
    Path dir = Path.of("/proc/self/fd");
    if (!Files.isDirectory(dir)) {
      return Set.of();
    }
    Set<String> fds = new HashSet<>();
    try (Stream<Path> s = Files.list(dir)) {
      for (Path fd : (Iterable<Path>) s::iterator) {
        try {
          fds.add(fd.getFileName() + " -> " + Files.readSymbolicLink(fd));
        } catch (IOException gone) {
          // closed meanwhile (e.g. the directory listing's own descriptor)
        }
      }
    }
    return fds;
  }

  /**
   * Cold start to the first registration: a child JVM running the agent's executable with one
   * profile (no SNAP: it registers from 127.0.0.1 at once), from launch until Kamailio holds
   * its binding; and the same in this (warm) JVM, from opening the store to REGISTERED.
   */
  private ColdStarts coldStarts() throws Exception {
    long[] child = new long[COLD_STARTS];
    long[] inProcess = new long[COLD_STARTS];
    String command = null;
    Path dir = Path.of("target", "bench", "cold-start").toAbsolutePath();
    Files.createDirectories(dir);
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start()) {
      for (int i = 0; i < COLD_STARTS; i++) {
        String user = "cold" + i;
        kamailio.addUser(user, PASSWORD);
        Path data = Files.createTempDirectory("sipalr-cold");
        Path conf = dir.resolve("agent-" + i + ".conf");
        Files.writeString(conf, String.join("\n",
            "agent.data-dir = \"" + data + "\"",
            "control.enabled = false",
            "sip { local-address = \"127.0.0.1\", port = 0 }",
            "profiles = [ { id = " + user + ", aor = \"sip:" + user + "@" + kamailio.realm()
                + "\", registrar = \"" + kamailio.sipUri() + "\", password = \"" + PASSWORD
                + "\", transport = udp, expires = 600, auto-register = true } ]", ""));
        command = "java -cp <test class path> io.sipalr.agent.Main run --config " + conf;
        long start = System.nanoTime();
        try (AgentProcess agent = AgentProcess.start(dir.resolve("agent-" + i + ".log"),
            "run", "--config", conf.toString())) {
          long deadline = start + Duration.ofSeconds(60).toNanos();
          while (kamailio.lookup(user).isEmpty() && System.nanoTime() < deadline
              && agent.isAlive()) {
            Thread.sleep(2);
          }
          child[i] = kamailio.lookup(user).isEmpty() ? -1 : System.nanoTime() - start;
          agent.terminate(Duration.ofSeconds(20));
        }
        AgentHarness.deleteTree(data);
      }
      for (int i = 0; i < COLD_STARTS; i++) {
        String user = "warm" + i;
        kamailio.addUser(user, PASSWORD);
        Path data = Files.createTempDirectory("sipalr-warm");
        CountDownLatch registered = new CountDownLatch(1);
        long start = System.nanoTime();
        try (ProfileStore store = ProfileStore.open(data);
             SipProfileRegistry registry = new SipProfileRegistry(store,
                 MassAgent.productSipConfig())) {
          registry.addListener(e -> {
            if (e.type() == RegistryEvent.Type.REGISTERED) {
              registered.countDown();
            }
          });
          registry.start();
          registry.create(SipProfileBuilder.forId(user).aor("sip:" + user + "@"
              + kamailio.realm()).registrar(kamailio.sipUri()).authUser(user).password(PASSWORD)
              .transport(Transport.UDP).expires(600).autoRegister(true).build());
          inProcess[i] = registered.await(30, TimeUnit.SECONDS) ? System.nanoTime() - start : -1;
        }
        AgentHarness.deleteTree(data);
      }
    }
    return new ColdStarts(child, inProcess, command);
  }

  // ---------------------------------------------------------------- report

  private static String f(double v, int decimals) {
    return Double.isNaN(v) ? "–" : String.format(Locale.ROOT, "%." + decimals + "f", v);
  }

  private static void report(List<Run> runs, ColdStarts cold, double totalSeconds)
      throws IOException {
    StringBuilder md = new StringBuilder();
    StringBuilder csv = new StringBuilder("section,profiles,variant,measure,value,unit\n");
    md.append("Mass registration and migration on loopback, ").append(LocalDate.now())
        .append(", ").append(Runtime.getRuntime().availableProcessors())
        .append(" cores; one SNAP (cellular 127.0.0.3, wlan 127.0.0.2), UDP, make-before-break,"
            + " no ALR controller, product SIP defaults; a fresh Kamailio (-m 256 -M 32) per"
            + " row; whole run ").append(f(totalSeconds, 0)).append(" s\n\n")
        .append("Registration. Create: cellular up, then N profiles created in batches of ")
        .append(CREATE_BATCH).append(" (registry.createAll: one durable store write per batch)"
            + " while registrations run. Restart: the same store in a new agent with no IAP up,"
            + " then cellular up (the REGISTER path without store writes).\n\n")
        .append("| profiles | pacing | users over RPC s | createAll loop s | create → last"
            + " REGISTERED s | registrations/s | create→REGISTERED p50 / p99 ms | REGISTERs per"
            + " profile | restart: cellular up → last REGISTERED s | registrations/s (restart) |"
            + " REGISTERs per profile (restart) | CPU ms per profile, agent JVM / Kamailio: create,"
            + " restart |"
            + " UDP drops agent / Kamailio: create, restart | lost / duplicate |\n")
        .append("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
            + " ---: | ---: | ---: |\n");
    for (Run r : runs) {
      md.append(String.format(Locale.ROOT,
          "| %,d | %s | %s | %s | %s%s | %s | %s / %s | %s | %s%s | %s | %s | %s / %s, %s / %s"
              + " | %d / %d, %d / %d | %d / %d |%n",
          r.n(), r.pacing().name(), f(r.usersSeconds(), 2), f(r.createSeconds(), 2),
          f(r.toRegistered(), 2), partial(r.registered(), r.n()), f(r.registrationRate(), 0),
          f(r.p50RegMs(), 0), f(r.p99RegMs(), 0), f(r.registersPerReg(), 2),
          f(r.toRestartRegistered(), 2), partial(r.restartRegistered(), r.n()),
          f(r.restartRate(), 0), f(r.registersPerRestart(), 2), f(r.cpuReg(), 2),
          f(r.kamCpuReg(), 2), f(r.cpuRestart(), 2), f(r.kamCpuRestart(), 2), r.dropsReg()[0],
          r.dropsReg()[1], r.dropsRestart()[0], r.dropsRestart()[1] - r.dropsMove()[1],
          r.afterReg().lost() + r.afterRestart().lost(),
          r.afterReg().duplicate() + r.afterRestart().duplicate()));
    }
    md.append("\nMigration: wlan comes up (an upgrade), every profile moves, timed by the"
            + " agent's events; Kamailio's ul.dump checks the bindings afterwards.\n\n")
        .append("| profiles | pacing | wlan up → all registered through wlan (events) s |"
            + " MIGRATION_COMPLETED / failed, then REGISTERED through wlan | ul.dump afterwards:"
            + " bound through wlan (dump s) | migrations/s | REGISTERs per move (401s) | CPU ms"
            + " per move, agent JVM / Kamailio | UDP drops agent / Kamailio | lost | duplicate |"
            + " DEREGISTERED events | agent errors (whole row) | Kamailio ERROR lines |\n")
        .append("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---:"
            + " | --- | ---: |\n");
    for (Run r : runs) {
      String errors = r.agentErrors().isEmpty() && r.alrErrors() == 0 ? "0"
          : r.agentErrors().entrySet().stream().map(e -> e.getKey() + " " + e.getValue())
              .collect(Collectors.joining(", "))
          + (r.alrErrors() == 0 ? "" : (r.agentErrors().isEmpty() ? "" : ", ") + "ALR errors "
              + r.alrErrors());
      md.append(String.format(Locale.ROOT,
          "| %,d | %s | %s%s | %d / %d | %,d (%s) | %s | %s (%s) | %s | %d / %d | %d | %d | %d |"
              + " %s | %d |%n",
          r.n(), r.pacing().name(), f(r.toCompleted(), 2),
          partial(r.completed() + r.recovered(), r.n()), r.completed(), r.recovered(),
          r.afterMove().onAddress(), f(r.afterMove().nanos() / 1e9, 2), f(r.migrationRate(), 0),
          f(r.registersPerMove(), 2), f(r.challengesPerMove(), 2),
          f(r.cpuMove(), 2) + " / " + f(r.kamCpuMove(), 2),
          r.dropsMove()[0],
          r.dropsMove()[1] - r.dropsReg()[1], r.afterMove().lost(),
          r.afterMove().duplicate(), r.deregisteredInMove(), errors, r.kamailioErrors()));
    }
    for (Run r : runs) {
      String v = r.pacing().key();
      String s = "mass";
      csvRow(csv, s, r.n(), v, "users_rpc", r.usersSeconds(), "s");
      csvRow(csv, s, r.n(), v, "create_loop", r.createSeconds(), "s");
      csvRow(csv, s, r.n(), v, "create_to_last_registered", r.toRegistered(), "s");
      csvRow(csv, s, r.n(), v, "registered", r.registered(), "profiles");
      csvRow(csv, s, r.n(), v, "registrations_per_s", r.registrationRate(), "1/s");
      csvRow(csv, s, r.n(), v, "cpu_per_profile_registration", r.cpuReg(), "ms");
      csvRow(csv, s, r.n(), v, "cpu_per_profile_migration_without_main", r.cpuMove(), "ms");
      csvRow(csv, s, r.n(), v, "cpu_per_profile_restart", r.cpuRestart(), "ms");
      csvRow(csv, s, r.n(), v, "kamailio_cpu_per_profile_registration", r.kamCpuReg(), "ms");
      csvRow(csv, s, r.n(), v, "kamailio_cpu_per_profile_migration", r.kamCpuMove(), "ms");
      csvRow(csv, s, r.n(), v, "kamailio_cpu_per_profile_restart", r.kamCpuRestart(), "ms");
      csvRow(csv, s, r.n(), v, "create_to_registered_p50", r.p50RegMs(), "ms");
      csvRow(csv, s, r.n(), v, "create_to_registered_p99", r.p99RegMs(), "ms");
      csvRow(csv, s, r.n(), v, "registers_per_profile_registration", r.registersPerReg(),
          "requests");
      csvRow(csv, s, r.n(), v, "after_registration_on_cellular", r.afterReg().onAddress(),
          "profiles");
      csvRow(csv, s, r.n(), v, "after_registration_lost", r.afterReg().lost(), "profiles");
      csvRow(csv, s, r.n(), v, "after_registration_duplicate", r.afterReg().duplicate(),
          "profiles");
      csvRow(csv, s, r.n(), v, "wlan_up_to_all_registered_through_wlan", r.toCompleted(), "s");
      csvRow(csv, s, r.n(), v, "migration_completed", r.completed(), "profiles");
      csvRow(csv, s, r.n(), v, "migration_failed_then_registered", r.recovered(), "profiles");
      csvRow(csv, s, r.n(), v, "udp_drops_agent_registration", r.dropsReg()[0], "datagrams");
      csvRow(csv, s, r.n(), v, "udp_drops_kamailio_registration", r.dropsReg()[1],
          "datagrams");
      csvRow(csv, s, r.n(), v, "udp_drops_agent_migration", r.dropsMove()[0], "datagrams");
      csvRow(csv, s, r.n(), v, "udp_drops_kamailio_migration",
          r.dropsMove()[1] - r.dropsReg()[1], "datagrams");
      csvRow(csv, s, r.n(), v, "udp_drops_agent_restart", r.dropsRestart()[0], "datagrams");
      csvRow(csv, s, r.n(), v, "udp_drops_kamailio_restart",
          r.dropsRestart()[1] - r.dropsMove()[1], "datagrams");
      csvRow(csv, s, r.n(), v, "after_migration_on_wlan", r.afterMove().onAddress(), "profiles");
      csvRow(csv, s, r.n(), v, "dump_duration", r.afterMove().nanos() / 1e9, "s");
      csvRow(csv, s, r.n(), v, "migrations_per_s", r.migrationRate(), "1/s");
      csvRow(csv, s, r.n(), v, "registers_per_profile_migration", r.registersPerMove(),
          "requests");
      csvRow(csv, s, r.n(), v, "challenges_per_profile_migration", r.challengesPerMove(),
          "responses");
      csvRow(csv, s, r.n(), v, "lost", r.afterMove().lost(), "profiles");
      csvRow(csv, s, r.n(), v, "duplicate", r.afterMove().duplicate(), "profiles");
      csvRow(csv, s, r.n(), v, "bound_elsewhere", r.afterMove().elsewhere(), "profiles");
      csvRow(csv, s, r.n(), v, "deregistered_events_in_migration", r.deregisteredInMove(),
          "events");
      csvRow(csv, s, r.n(), v, "restart_cellular_up_to_last_registered",
          r.toRestartRegistered(), "s");
      csvRow(csv, s, r.n(), v, "restart_registered", r.restartRegistered(), "profiles");
      csvRow(csv, s, r.n(), v, "restart_registrations_per_s", r.restartRate(), "1/s");
      csvRow(csv, s, r.n(), v, "registers_per_profile_restart", r.registersPerRestart(),
          "requests");
      csvRow(csv, s, r.n(), v, "after_restart_lost", r.afterRestart().lost(), "profiles");
      csvRow(csv, s, r.n(), v, "after_restart_duplicate", r.afterRestart().duplicate(),
          "profiles");
      csvRow(csv, s, r.n(), v, "registration_failed_events",
          r.agentErrors().values().stream().mapToInt(Integer::intValue).sum(), "events");
      csvRow(csv, s, r.n(), v, "alr_errors", r.alrErrors(), "events");
      csvRow(csv, s, r.n(), v, "kamailio_error_lines", r.kamailioErrors(), "lines");
    }

    md.append("\nSIPp: MD5 digest, REGISTER / 401 / REGISTER / 200 per user (as the agent's"
            + " first registration), other users on the same Kamailio right after the"
            + " default-pacing row, -r 100000 -rp 1000 -l ").append(SIPP_LIMIT)
        .append(", ").append(SIPP_RUNS).append(" runs over the same users: the median run"
            + " (all runs' rates in brackets) is the one compared. Ours: registrations/s from the"
            + " tables above.\n\n")
        .append("| profiles | sipp registrations/s (runs) | sipp failed | sipp retransmissions | CPU ms"
            + " per registration, sipp / Kamailio | ours"
            + " create, default / window only | ours restart, default / window only | ours/sipp"
            + " create, default / window only | ours/sipp restart, default / window only |\n")
        .append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    String sippCommand = null;
    for (Run r : runs) {
      if (r.sipp() == null) {
        continue;
      }
      Sipp.Result s = r.sipp();
      sippCommand = s.commandLine();
      Run u = runs.stream().filter(x -> x.n() == r.n() && x.pacing() == WINDOW_ONLY).findFirst()
          .orElse(null);
      double createU = u == null ? Double.NaN : u.registrationRate();
      double restartU = u == null ? Double.NaN : u.restartRate();
      md.append(String.format(Locale.ROOT,
          "| %,d | %s (%s) | %d | %d | %s / %s | %s / %s | %s / %s | %s / %s | %s / %s |%n",
          r.n(), f(s.rate(), 0), Arrays.stream(sippRates.getOrDefault(r.n(), new double[0]))
              .mapToObj(v -> f(v, 0)).collect(Collectors.joining(", ")), s.failed(), s.retransmissions(), f(s.sippCpuMsPerCall(), 3),
          f(s.kamailioCpuMsPerCall(), 3),
          f(r.registrationRate(), 0), f(createU, 0), f(r.restartRate(), 0), f(restartU, 0),
          f(r.registrationRate() / s.rate(), 2), f(createU / s.rate(), 2),
          f(r.restartRate() / s.rate(), 2), f(restartU / s.rate(), 2)));
      csvRow(csv, "sipp", r.n(), "sipp", "registrations_per_s", s.rate(), "1/s");
      csvRow(csv, "sipp", r.n(), "sipp", "call_rate_reported", s.sippCallRate(), "1/s");
      csvRow(csv, "sipp", r.n(), "sipp", "successful", s.successful(), "calls");
      csvRow(csv, "sipp", r.n(), "sipp", "failed", s.failed(), "calls");
      csvRow(csv, "sipp", r.n(), "sipp", "retransmissions", s.retransmissions(), "messages");
      csvRow(csv, "sipp", r.n(), "sipp", "duration", s.seconds(), "s");
      csvRow(csv, "sipp", r.n(), "sipp", "exit_code", s.exitCode(), "");
      csvRow(csv, "sipp", r.n(), "sipp", "sipp_cpu_per_registration", s.sippCpuMsPerCall(), "ms");
      csvRow(csv, "sipp", r.n(), "sipp", "kamailio_cpu_per_registration",
          s.kamailioCpuMsPerCall(), "ms");
      csvRow(csv, "sipp", r.n(), "default", "ours_create_over_sipp",
          r.registrationRate() / s.rate(), "ratio");
      csvRow(csv, "sipp", r.n(), "window", "ours_create_over_sipp", createU / s.rate(),
          "ratio");
      csvRow(csv, "sipp", r.n(), "default", "ours_restart_over_sipp",
          r.restartRate() / s.rate(), "ratio");
      csvRow(csv, "sipp", r.n(), "window", "ours_restart_over_sipp", restartU / s.rate(),
          "ratio");
    }
    if (sippCommand == null) {
      md.append("| – | sipp not available | | | | | | |\n");
    } else {
      md.append("\n`").append(sippCommand).append("`\n");
    }

    md.append("\nCost (default pacing; after GC, 6 s after the last REGISTERED, against the"
            + " same wiring with 0 profiles; threads and descriptors: the agent's, with the whole"
            + " test JVM's in parentheses)\n\n")
        .append("| measure | baseline (0 profiles) | registered | per profile |\n")
        .append("| --- | ---: | ---: | ---: |\n");
    String threadNames = null;
    for (Run r : runs) {
      Cost c = r.cost();
      if (c == null) {
        continue;
      }
      double perProfile = (c.loaded().heapBytes() - c.baseline().heapBytes())
          / (double) c.n();
      md.append(String.format(Locale.ROOT, "| heap used, %,d profiles | %s MiB | %s MiB | %s"
              + " KiB |%n", c.n(), f(c.baseline().heapBytes() / 1048576.0, 1),
          f(c.loaded().heapBytes() / 1048576.0, 1), f(perProfile / 1024, 2)));
      md.append(String.format(Locale.ROOT, "| live threads, %,d profiles | %d (%d) | %d (%d) |"
              + " |%n", c.n(), c.baseline().agentThreads(), c.baseline().threads(),
          c.loaded().agentThreads(), c.loaded().threads()));
      md.append(String.format(Locale.ROOT, "| open file descriptors, %,d profiles | %d (%d) |"
              + " %d (%d) | |%n", c.n(), c.baseline().agentFds(), c.baseline().fds(),
          c.loaded().agentFds(), c.loaded().fds()));
      threadNames = String.format(Locale.ROOT, "The agent's threads with %,d profiles: %s.",
          c.n(), c.loaded().agentThreadNames());
      csvRow(csv, "cost", c.n(), "baseline", "heap_used_after_gc", c.baseline().heapBytes(), "B");
      csvRow(csv, "cost", c.n(), "registered", "heap_used_after_gc", c.loaded().heapBytes(), "B");
      csvRow(csv, "cost", c.n(), "per_profile", "heap", perProfile, "B");
      csvRow(csv, "cost", c.n(), "baseline", "agent_threads", c.baseline().agentThreads(),
          "threads");
      csvRow(csv, "cost", c.n(), "registered", "agent_threads", c.loaded().agentThreads(),
          "threads");
      csvRow(csv, "cost", c.n(), "baseline", "jvm_threads", c.baseline().threads(), "threads");
      csvRow(csv, "cost", c.n(), "registered", "jvm_threads", c.loaded().threads(), "threads");
      csvRow(csv, "cost", c.n(), "baseline", "agent_open_fds", c.baseline().agentFds(), "fds");
      csvRow(csv, "cost", c.n(), "registered", "agent_open_fds", c.loaded().agentFds(), "fds");
      csvRow(csv, "cost", c.n(), "baseline", "jvm_open_fds", c.baseline().fds(), "fds");
      csvRow(csv, "cost", c.n(), "registered", "jvm_open_fds", c.loaded().fds(), "fds");
    }
    md.append(String.format(Locale.ROOT, "| cold start to first registration, child JVM (launch"
        + " → binding at Kamailio), %d runs | | median %s ms (%s) | |%n", COLD_STARTS,
        f(median(cold.childNanos()), 0), joinMillis(cold.childNanos())));
    md.append(String.format(Locale.ROOT, "| start to REGISTERED in-process (warm JVM: store"
        + " open, registry, create), %d runs | | median %s ms (%s) | |%n", COLD_STARTS,
        f(median(cold.inProcessNanos()), 1), joinMillis(cold.inProcessNanos())));
    for (int i = 0; i < COLD_STARTS; i++) {
      csvRow(csv, "cold_start", 1, "child_jvm", "launch_to_binding_" + i,
          cold.childNanos()[i] / 1e6, "ms");
      csvRow(csv, "cold_start", 1, "in_process", "open_to_registered_" + i,
          cold.inProcessNanos()[i] / 1e6, "ms");
    }
    if (threadNames != null) {
      md.append("\n").append(threadNames).append("\n");
    }
    md.append("\nChild JVM: `").append(cold.childCommand()).append("`\n");
    csvRow(csv, "total", 0, "all", "duration", totalSeconds, "s");

    System.out.println("\n" + md);
    Path dir = Path.of("target", "bench");
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("mass.md"), md);
    Files.writeString(dir.resolve("mass.csv"), csv);
  }

  private static String partial(int done, int n) {
    return done == n ? "" : " (" + done + " of " + n + " in time)";
  }

  private static double median(long[] nanos) {
    long[] ok = Arrays.stream(nanos).filter(x -> x > 0).sorted().toArray();
    return ok.length == 0 ? Double.NaN : ok[(ok.length - 1) / 2] / 1e6;
  }

  private static String joinMillis(long[] nanos) {
    return Arrays.stream(nanos).mapToObj(x -> x < 0 ? "timeout" : f(x / 1e6, 0))
        .collect(Collectors.joining(", "));
  }

  private static void csvRow(StringBuilder csv, String section, int n, String variant,
      String measure, double value, String unit) {
    csv.append(section).append(',').append(n).append(',').append(variant).append(',')
        .append(measure).append(',')
        .append(Double.isNaN(value) ? "" : String.format(Locale.ROOT, "%.4f", value))
        .append(',').append(unit).append('\n');
  }
}
