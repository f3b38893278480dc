package io.sipalr.it;

import static io.sipalr.it.BenchMath.percentile;
import static io.sipalr.it.AlrHarness.CELL;
import static io.sipalr.it.AlrHarness.CELL_ADDRESS;
import static io.sipalr.it.AlrHarness.SNAP_WLAN_CELL;
import static io.sipalr.it.AlrHarness.WLAN;
import static io.sipalr.it.AlrHarness.WLAN_ADDRESS;

import ch.qos.logback.classic.Level;
import io.sipalr.alr.AlrError;
import io.sipalr.alr.AlrEvent;
import io.sipalr.alr.AlrObserver;
import io.sipalr.it.KamailioRegistrar.Binding;
import io.sipalr.profile.BearerFilter;
import io.sipalr.profile.Transport;
import io.sipalr.sip.MigrationOrder;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Scripted handover on loopback: an upgrade (cellular to wlan) triggered by the scripted
 * provider, timed from the trigger to MIGRATION_COMPLETED and to the moment Kamailio's location
 * table no longer holds the old binding, over 200 migrations per variant and measure, after 100
 * unreported ones (a running agent's JIT has long compiled the path). The agent's events are
 * timed while the bench thread only waits on a latch; the binding is timed in a second pass that
 * polls ul.lookup (which competes for the CPU). The baseline, measured in the same run, is one
 * bare UDP OPTIONS round trip to the same Kamailio: the floor that any REGISTER exchange stands
 * on. Prints a table and writes target/bench/handover.{md,csv}.
 */
class HandoverBench {
  private static final int MIGRATIONS = Integer.getInteger("bench.migrations", 200);
  private static final int WARM_UP = Integer.getInteger("bench.handover.warm-up", 100);

  private record Variant(String name, MigrationOrder order, boolean outbound) {}

  private record Result(Variant variant, long[] toStarted, long[] toCompleted, long[] toOldGone,
      double requestsPerMigration) {}

  @Test
  void scriptedHandoverOnLoopback() throws Exception {
    List<Variant> variants = List.of(
        new Variant("make-before-break, outbound", MigrationOrder.MAKE_BEFORE_BREAK, true),
        new Variant("break-before-make, outbound", MigrationOrder.BREAK_BEFORE_MAKE, true),
        new Variant("make-before-break, no outbound", MigrationOrder.MAKE_BEFORE_BREAK, false));
    List<Result> results = new ArrayList<>();
    long[] baseline;
    // The product's logging (conf/logback.xml: warnings only), not the tests' INFO to the
    // console, which would be what is measured.
    ch.qos.logback.classic.Logger agentLog =
        (ch.qos.logback.classic.Logger) LoggerFactory.getLogger("io.sipalr");
    Level previousLevel = agentLog.getLevel();
    agentLog.setLevel(Level.WARN);
    try {
      try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start()) {
        baseline = optionsRoundTrips(kamailio, 200);
      }
      for (Variant v : variants) {
        results.add(run(v));
      }
    } finally {
      agentLog.setLevel(previousLevel);
    }
    report(baseline, results);
  }

  private Result run(Variant variant) throws Exception {
    KamailioRegistrar.Builder builder = KamailioRegistrar.builder();
    if (!variant.outbound()) {
      builder.noOutbound();
    }
    try (KamailioRegistrar kamailio = builder.start();
         AlrHarness agent = new AlrHarness(variant.order())) {
      kamailio.addUser("bench", AgentHarness.REALM_PASSWORD);
      AtomicLong startedAt = new AtomicLong();
      AtomicReference<CountDownLatch> completed = new AtomicReference<>(new CountDownLatch(1));
      AtomicLong completedAt = new AtomicLong();
      agent.alr.addListener(new AlrObserver() {
        @Override
        public void alrEvent(AlrEvent event, String profileId, int snapId, int iapId) {
          if (event == AlrEvent.MIGRATION_STARTED) {
            startedAt.set(System.nanoTime());
          } else if (event == AlrEvent.MIGRATION_COMPLETED) {
            completedAt.set(System.nanoTime());
            completed.get().countDown();
          }
        }

        @Override
        public void alrError(AlrError error, String profileId, int snapId, int iapId) {}
      });
      agent.iaps.up(CELL);
      agent.registry.create(AlrHarness.profile("bench", kamailio, SNAP_WLAN_CELL,
          BearerFilter.ANY, Transport.UDP));
      agent.awaitRegisteredFrom("bench", CELL_ADDRESS);

      long[] toStarted = new long[MIGRATIONS];
      long[] toCompleted = new long[MIGRATIONS];
      long[] toOldGone = new long[MIGRATIONS];
      long requests = 0;
      // Pass 1, the agent's own figures: while the move runs, this thread only waits on a
      // latch, so that nothing else competes for the 2 cores with the agent and Kamailio. The
      // first WARM_UP moves are not reported (a roaming device's agent has long been running).
      for (int i = -WARM_UP; i < MIGRATIONS; i++) { // bounded: WARM_UP + MIGRATIONS moves
        awaitOnlyBindingFrom(kamailio, CELL_ADDRESS);
        CountDownLatch done = new CountDownLatch(1);
        completed.set(done);
        long before = kamailio.registerCount("bench");
        long trigger = System.nanoTime();
        agent.iaps.up(WLAN);
        if (!done.await(10, TimeUnit.SECONDS)) {
          throw new IllegalStateException("no MIGRATION_COMPLETED within 10 s");
        }
        awaitOnlyBindingFrom(kamailio, WLAN_ADDRESS); // the move really happened
        if (i >= 0) {
          toStarted[i] = startedAt.get() - trigger;
          toCompleted[i] = completedAt.get() - trigger;
          requests += kamailio.registerCount("bench") - before;
        }
        agent.iaps.down(WLAN); // back to cellular (a downgrade, not measured here)
        agent.awaitRegisteredFrom("bench", CELL_ADDRESS);
      }
      // Pass 2, the registrar's view: the location table polled without a pause from the
      // trigger on (each poll a JSON-RPC round trip, which competes with the move: an upper
      // bound of when the old binding went).
      for (int i = 0; i < MIGRATIONS; i++) { // bounded: MIGRATIONS moves
        awaitOnlyBindingFrom(kamailio, CELL_ADDRESS);
        CountDownLatch done = new CountDownLatch(1);
        completed.set(done);
        long trigger = System.nanoTime();
        agent.iaps.up(WLAN);
        toOldGone[i] = awaitOnlyBindingFrom(kamailio, WLAN_ADDRESS) - trigger;
        if (!done.await(10, TimeUnit.SECONDS)) {
          throw new IllegalStateException("no MIGRATION_COMPLETED within 10 s");
        }
        agent.iaps.down(WLAN);
        agent.awaitRegisteredFrom("bench", CELL_ADDRESS);
      }
      return new Result(variant, toStarted, toCompleted, toOldGone,
          (double) requests / MIGRATIONS);
    }
  }

  /** Polls the location table until its only binding came from {@code address}; when it did. */
  private static long awaitOnlyBindingFrom(KamailioRegistrar kamailio, String address) {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (System.nanoTime() < deadline) {
      List<Binding> b = kamailio.lookup("bench");
      if (b.size() == 1 && b.get(0).received().startsWith("sip:" + address + ":")) {
        return System.nanoTime();
      }
    }
    throw new IllegalStateException("the binding did not move to " + address + " in 10 s: "
        + kamailio.lookup("bench"));
  }

  private static long[] optionsRoundTrips(KamailioRegistrar kamailio, int count)
      throws IOException {
    long[] times = new long[count];
    try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0))) {
      socket.setSoTimeout(2000);
      InetAddress target = InetAddress.getByName(kamailio.host());
      for (int i = 0; i < count; i++) { // bounded by count and the socket timeout
        String request = "OPTIONS " + kamailio.sipUri() + " SIP/2.0\r\n"
            + "Via: SIP/2.0/UDP 127.0.0.1:" + socket.getLocalPort() + ";branch=z9hG4bKb" + i
            + "\r\nMax-Forwards: 70\r\nFrom: <sip:bench@127.0.0.1>;tag=b" + i
            + "\r\nTo: " + kamailio.sipUri() + "\r\nCall-ID: bench-" + i + "@127.0.0.1\r\n"
            + "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        byte[] bytes = request.getBytes(StandardCharsets.US_ASCII);
        DatagramPacket answer = new DatagramPacket(new byte[4096], 4096);
        long start = System.nanoTime();
        socket.send(new DatagramPacket(bytes, bytes.length, target, kamailio.port()));
        socket.receive(answer);
        times[i] = System.nanoTime() - start;
      }
    }
    return times;
  }

  private static void report(long[] baseline, List<Result> results) throws IOException {
    StringBuilder md = new StringBuilder();
    StringBuilder csv = new StringBuilder(
        "variant,measure,count,p50_ms,p95_ms,p99_ms,requests_per_migration\n");
    md.append("Scripted handover on loopback, ").append(LocalDate.now()).append(", ")
        .append(Runtime.getRuntime().availableProcessors()).append(" cores, ")
        .append(MIGRATIONS).append(" migrations per variant and measure (after ").append(WARM_UP)
        .append(" unreported); MIGRATION_STARTED and _COMPLETED with the bench thread only"
            + " waiting, old binding gone in a second pass polling ul.lookup without a pause;"
            + " the agent's logging at WARN as in conf/logback.xml\n\n")
        .append("| variant | measure | p50 ms | p95 ms | p99 ms | REGISTERs per migration |\n")
        .append("| --- | --- | ---: | ---: | ---: | ---: |\n");
    row(md, csv, "baseline", "UDP OPTIONS round trip to Kamailio", baseline, Double.NaN);
    for (Result r : results) {
      row(md, csv, r.variant().name(), "trigger to MIGRATION_STARTED (REGISTER sent)",
          r.toStarted(), r.requestsPerMigration());
      row(md, csv, r.variant().name(), "trigger to MIGRATION_COMPLETED", r.toCompleted(),
          r.requestsPerMigration());
      row(md, csv, r.variant().name(), "trigger to old binding gone", r.toOldGone(),
          r.requestsPerMigration());
    }
    System.out.println("\n" + md);
    Path dir = Path.of("target", "bench");
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("handover.md"), md);
    Files.writeString(dir.resolve("handover.csv"), csv);
  }

  private static void row(StringBuilder md, StringBuilder csv, String variant, String measure,
      long[] nanos, double requests) {
    String req = Double.isNaN(requests) ? "" : String.format(Locale.ROOT, "%.2f", requests);
    md.append(String.format(Locale.ROOT, "| %s | %s | %.2f | %.2f | %.2f | %s |%n", variant,
        measure, percentile(nanos, 50), percentile(nanos, 95), percentile(nanos, 99), req));
    csv.append(String.format(Locale.ROOT, "%s,%s,%d,%.3f,%.3f,%.3f,%s%n", variant, measure,
        nanos.length, percentile(nanos, 50), percentile(nanos, 95), percentile(nanos, 99), req));
  }
}
