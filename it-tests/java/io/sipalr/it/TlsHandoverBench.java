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
import io.sipalr.profile.SipProfileBuilder;
import io.sipalr.profile.Transport;
import io.sipalr.sip.MigrationOrder;
import io.sipalr.sip.SipConfig;
import io.sipalr.sip.TestPki;
import io.sipalr.sip.TlsSettings;
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
 * What a move costs over TLS against UDP and TCP (issue 10): one profile, scripted upgrades
 * cellular → wlan (make-before-break, outbound) on loopback, timed from the trigger to
 * MIGRATION_COMPLETED while the bench thread only waits on a latch; per variant the same
 * number of moves after unreported warm-up ones. The UDP row is the baseline of the same run.
 * TLS runs twice: as the agent runs it (one SSLContext per stack: a new connection from the new
 * uplink resumes the session of the old one), and with every handshake a full one
 * ({@code sip.tls.session-resumption = false}), which is what resumption saves. Reports TLS
 * connections set up per move and the share of resumed handshakes. Prints a table and writes
 * target/bench/tls-handover.{md,csv}.
 */
class TlsHandoverBench {
  private static final int MOVES = Integer.getInteger("bench.tls.moves", 100);
  private static final int WARM_UP = Integer.getInteger("bench.tls.warm-up", 50);
  private static final char[] PASSWORD = "bench".toCharArray();

  private record Variant(String name, Transport transport, boolean resumption) {}

  private record Result(Variant variant, long[] toCompleted, double connectionsPerMove,
      double resumedShare, double registersPerMove) {}

  @Test
  void tlsMoveAgainstUdpAndTcp() throws Exception {
    Path dir = Files.createTempDirectory("sipalr-tls-bench");
    TestPki pki = TestPki.newCa("bench CA");
    Path trust = pki.writeTrustStore(dir.resolve("trust.p12"), PASSWORD);
    Path kamailioFiles = Files.createDirectories(dir.resolve("kamailio"));
    TestPki.Issued cert = pki.server(TestPki.Names.sans("127.0.0.1", List.of(), List.of(),
        List.of("127.0.0.1")));
    cert.writeChainPem(kamailioFiles.resolve("server.pem"));
    cert.writeKeyPem(kamailioFiles.resolve("server.key"));

    List<Variant> variants = List.of(
        new Variant("UDP (baseline)", Transport.UDP, false),
        new Variant("TCP", Transport.TCP, false),
        new Variant("TLS, session resumed", Transport.TLS, true),
        new Variant("TLS, full handshake", Transport.TLS, false));
    List<Result> results = new ArrayList<>();
    ch.qos.logback.classic.Logger agentLog =
        (ch.qos.logback.classic.Logger) LoggerFactory.getLogger("io.sipalr");
    Level previousLevel = agentLog.getLevel();
    agentLog.setLevel(Level.WARN);
    try {
      for (Variant v : variants) {
        results.add(run(v, kamailioFiles, trust));
      }
    } finally {
      agentLog.setLevel(previousLevel);
      AgentHarness.deleteTree(dir);
    }
    report(results);
  }

  private static SipConfig config(Path trust, boolean resumption) {
    return new SipConfig("127.0.0.1", 0, "sip-alr-agent-bench", Duration.ofSeconds(1),
        new SipConfig.Backoff(Duration.ofMillis(300), Duration.ofMillis(300),
            Duration.ofSeconds(2)), Duration.ofSeconds(30), 4, 2, Duration.ofSeconds(60),
        new SipConfig.RegisterLimits(Duration.ofMinutes(5), Duration.ofSeconds(1), 1000))
        .withTls(TlsSettings.trusting(trust, PASSWORD).withSessionResumption(resumption));
  }

  private Result run(Variant variant, Path kamailioFiles, Path trust) throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().tls(kamailioFiles)
             .oneTcpWorker().start();
         AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK,
             config(trust, variant.transport() != Transport.TLS || variant.resumption()),
             2000)) {
      kamailio.addUser("bench", AgentHarness.REALM_PASSWORD);
      AtomicReference<CountDownLatch> completed = new AtomicReference<>(new CountDownLatch(1));
      AtomicLong completedAt = new AtomicLong();
      agent.alr.addListener(new AlrObserver() {
        @Override
        public void alrEvent(AlrEvent event, String profileId, int snapId, int iapId) {
          if (event == AlrEvent.MIGRATION_COMPLETED) {
            completedAt.set(System.nanoTime());
            completed.get().countDown();
          }
        }

        @Override
        public void alrError(AlrError error, String profileId, int snapId, int iapId) {}
      });
      agent.iaps.up(CELL);
      String registrar = variant.transport() == Transport.TLS
          ? "sip:127.0.0.1:" + kamailio.tlsPort() : kamailio.sipUri();
      agent.registry.create(SipProfileBuilder.copyOf(AlrHarness.profile("bench", kamailio,
          SNAP_WLAN_CELL, BearerFilter.ANY, variant.transport())).registrar(registrar).build());
      agent.awaitRegisteredFrom("bench", CELL_ADDRESS);

      long[] toCompleted = new long[MOVES];
      long connections = 0;
      long resumed = 0;
      long registers = 0;
      for (int i = -WARM_UP; i < MOVES; i++) { // bounded: WARM_UP + MOVES moves
        awaitOnlyBindingFrom(kamailio, CELL_ADDRESS);
        CountDownLatch done = new CountDownLatch(1);
        completed.set(done);
        long connectionsBefore = agent.registry.stats().tlsConnections();
        long resumedBefore = agent.registry.stats().tlsResumedSessions();
        long registersBefore = kamailio.registerCount("bench");
        long trigger = System.nanoTime();
        agent.iaps.up(WLAN);
        if (!done.await(10, TimeUnit.SECONDS)) {
          throw new IllegalStateException("no MIGRATION_COMPLETED within 10 s");
        }
        awaitOnlyBindingFrom(kamailio, WLAN_ADDRESS);
        if (i >= 0) {
          toCompleted[i] = completedAt.get() - trigger;
          connections += agent.registry.stats().tlsConnections() - connectionsBefore;
          resumed += agent.registry.stats().tlsResumedSessions() - resumedBefore;
          registers += kamailio.registerCount("bench") - registersBefore;
        }
        agent.iaps.down(WLAN);
        agent.awaitRegisteredFrom("bench", CELL_ADDRESS);
      }
      return new Result(variant, toCompleted, (double) connections / MOVES,
          connections == 0 ? Double.NaN : (double) resumed / connections,
          (double) registers / MOVES);
    }
  }

  private static void awaitOnlyBindingFrom(KamailioRegistrar kamailio, String address) {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (System.nanoTime() < deadline) { // bounded: 10 s
      List<Binding> b = kamailio.lookup("bench");
      if (b.size() == 1 && b.get(0).received().startsWith("sip:" + address + ":")) {
        return;
      }
    }
    throw new IllegalStateException("the binding did not move to " + address + " in 10 s: "
        + kamailio.lookup("bench"));
  }

  private static void report(List<Result> results) throws Exception {
    StringBuilder md = new StringBuilder();
    StringBuilder csv = new StringBuilder("variant,moves,p50_ms,p95_ms,p99_ms,"
        + "tls_connections_per_move,resumed_share,registers_per_move\n");
    md.append("Scripted move cellular → wlan on loopback over UDP, TCP and TLS, ")
        .append(LocalDate.now()).append(", ").append(Runtime.getRuntime().availableProcessors())
        .append(" cores, ").append(MOVES).append(" moves per variant (after ").append(WARM_UP)
        .append(" unreported), make-before-break with outbound; trigger to"
            + " MIGRATION_COMPLETED\n\n")
        .append("| variant | p50 ms | p95 ms | p99 ms | TLS connections per move"
            + " | resumed | REGISTERs per move |\n")
        .append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (Result r : results) {
      md.append(String.format(Locale.ROOT, "| %s | %.2f | %.2f | %.2f | %.2f | %s | %.2f |%n",
          r.variant().name(), percentile(r.toCompleted(), 50), percentile(r.toCompleted(), 95),
          percentile(r.toCompleted(), 99), r.connectionsPerMove(),
          Double.isNaN(r.resumedShare()) ? "" : String.format(Locale.ROOT, "%.0f %%",
              100 * r.resumedShare()), r.registersPerMove()));
      csv.append(String.format(Locale.ROOT, "%s,%d,%.3f,%.3f,%.3f,%.2f,%.3f,%.2f%n",
          r.variant().name(), MOVES, percentile(r.toCompleted(), 50),
          percentile(r.toCompleted(), 95), percentile(r.toCompleted(), 99),
          r.connectionsPerMove(), r.resumedShare(), r.registersPerMove()));
    }
    System.out.println("\n" + md);
    Path out = Path.of("target", "bench");
    Files.createDirectories(out);
    Files.writeString(out.resolve("tls-handover.md"), md);
    Files.writeString(out.resolve("tls-handover.csv"), csv);
  }
}
