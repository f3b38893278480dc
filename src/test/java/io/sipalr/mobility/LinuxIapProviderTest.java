package io.sipalr.mobility;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.sipalr.profile.BearerFilter;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The linux provider on real interfaces: two veth pairs, {@code sipalrv0}/{@code sipalrv1} and
 * {@code sipalrv2}/{@code sipalrv3}, in this network namespace, with addresses in
 * 198.19.0.0/28 (veth rather than dummy: container kernels often lack the dummy module). Needs
 * root and iproute2; skipped without them, except in CI ({@code CI=true}), where that fails.
 *
 * <p>The re-read interval is long (60 s), so every change seen here came through {@code ip
 * monitor}; the detection latency (from the {@code ip} command's return to the report) is
 * printed, not asserted.
 */
class LinuxIapProviderTest {
  private static final String V0 = "sipalrv0";
  private static final String V1 = "sipalrv1";
  private static final String V2 = "sipalrv2";
  private static final String V3 = "sipalrv3";
  private static final String TABLE = "151";

  private final List<Iap> configured = new ArrayList<>();
  private final BlockingQueue<Report> reports = new LinkedBlockingQueue<>();
  private final List<String> latencies = new ArrayList<>();
  private ScheduledExecutorService timers;
  private LinuxIapProvider provider;

  /** One report and when it arrived. */
  private record Report(long nanos, IapState state) {}

  /** When an {@code ip} command started and returned (nanos). */
  private record Timing(long started, long returned) {}

  @BeforeEach
  void createInterfaces() throws Exception {
    requireRootAndIp();
    removeInterfaces(); // left over by a run that was killed
    ip("link", "add", V0, "type", "veth", "peer", "name", V1);
    ip("link", "add", V2, "type", "veth", "peer", "name", V3);
    timers = Executors.newSingleThreadScheduledExecutor();
  }

  @AfterEach
  void removeEverything() throws Exception {
    if (provider != null) {
      provider.close();
    }
    if (timers != null) {
      timers.shutdownNow();
    }
    ipQuietly("rule", "del", "from", "198.19.0.1", "table", TABLE);
    removeInterfaces(); // takes their addresses and routes along
    if (!latencies.isEmpty()) {
      System.out.println("[LinuxIapProviderTest] detection latency, from the ip command's"
          + " return to the report:\n  " + String.join("\n  ", latencies));
    }
  }

  @Test
  void anUplinkWithOnlyAGlobalIpv6AddressIsUpWithIt() throws Exception {
    Iap cell = new Iap(2, "cell", V2, null, Bearer.CELLULAR, 5);
    Iap fixed = new Iap(3, "fixed6", V0, "2001:2:0:1::10", Bearer.WLAN, 1);
    start(cell, fixed);
    expect(IapState.down(cell));
    expect(IapState.down(fixed));
    ip("link", "set", V1, "up");
    ip("link", "set", V3, "up");
    ip("link", "set", V2, "up");
    ip("link", "set", V0, "up"); // up: only a link-local fe80:: address, which does not count
    Timing added = ip("addr", "add", "2001:2::10/64", "dev", V2, "nodad");
    expectWithin("global IPv6 address added", added, IapState.up(cell, addr("2001:2::10")));
    added = ip("addr", "add", "2001:2:0:1::10/64", "dev", V0, "nodad");
    expectWithin("fixed IPv6 address added", added,
        IapState.up(fixed, addr("2001:2:0:1::10")));
    Timing deleted = ip("addr", "del", "2001:2::10/64", "dev", V2);
    expectWithin("global IPv6 address gone", deleted, IapState.down(cell));
  }

  @Test
  void followsLinkStateAndAddresses() throws Exception {
    Iap wlan = new Iap(1, "wlan", V0, null, Bearer.WLAN, 1);
    Iap cell = new Iap(2, "cell", V2, "198.19.0.6", Bearer.CELLULAR, 5);
    start(wlan, cell);
    expect(IapState.down(wlan));
    expect(IapState.down(cell));

    ip("link", "set", V1, "up");
    ip("link", "set", V0, "up");
    ip("link", "set", V3, "up");
    ip("link", "set", V2, "up"); // up with carrier, but no address yet
    ip("addr", "add", "198.19.0.5/30", "dev", V2); // not the cell IAP's fixed address
    Timing added = ip("addr", "add", "198.19.0.1/30", "dev", V0);
    expectWithin("address added", added, IapState.up(wlan, addr("198.19.0.1")));

    added = ip("addr", "add", "198.19.0.6/30", "dev", V2);
    expectWithin("fixed address added", added, IapState.up(cell, addr("198.19.0.6")));

    Timing down = ip("link", "set", V0, "down");
    expectWithin("link down", down, IapState.down(wlan));

    Timing up = ip("link", "set", V0, "up");
    expectWithin("link up", up, IapState.up(wlan, addr("198.19.0.1")));

    // A second address does not move the IAP; losing the one in use does, in one report.
    ip("addr", "add", "198.19.0.9/30", "dev", V0);
    Timing deleted = ip("addr", "del", "198.19.0.1/30", "dev", V0);
    expectWithin("address changed", deleted, IapState.up(wlan, addr("198.19.0.9")));

    Timing peerDown = ip("link", "set", V1, "down"); // V0 stays up but loses its carrier
    expectWithin("carrier lost", peerDown, IapState.down(wlan));

    Timing fixedGone = ip("addr", "del", "198.19.0.6/30", "dev", V2);
    expectWithin("fixed address deleted", fixedGone, IapState.down(cell));
    assertEquals(List.of(IapState.down(wlan), IapState.down(cell)), provider.snapshot());

    provider.close();
    await().atMost(Duration.ofSeconds(5)).until(() -> monitors().isEmpty());
  }

  @Test
  void snapConnectionFollowsRealInterfaces() throws Exception {
    Iap wlan = new Iap(1, "wlan", V0, null, Bearer.WLAN, 1);
    Iap cell = new Iap(2, "cell", V2, null, Bearer.CELLULAR, 5);
    for (String link : List.of(V1, V0, V3, V2)) {
      ip("link", "set", link, "up");
    }
    ip("addr", "add", "198.19.0.1/30", "dev", V0);
    ip("addr", "add", "198.19.0.5/30", "dev", V2);
    configured.addAll(List.of(wlan, cell));
    MobilityConfig config = new MobilityConfig(MobilityConfig.Provider.LINUX,
        Duration.ofSeconds(60), configured, List.of(new Snap(1, "internet", List.of(1, 2))));
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try (MobilityManager mobility = new MobilityManager(config,
        IapProvider.create(config, timers), pool)) {
      SnapConnectionTest.Recorder recorder = new SnapConnectionTest.Recorder();
      SnapConnection connection = mobility.open(1, BearerFilter.ANY, recorder);
      recorder.expect("active 1 198.19.0.1");
      connection.newCarrierAccepted();
      ip("link", "set", V0, "down");
      recorder.expect("lost 1", "offer 1->2 downgrade");
      connection.migrateToPreferredCarrier();
      recorder.expect("active 2 198.19.0.5");
      connection.newCarrierAccepted();
      ip("addr", "add", "198.19.0.13/30", "dev", V2);
      ip("addr", "del", "198.19.0.5/30", "dev", V2);
      recorder.expect("address 2 198.19.0.13");
      ip("link", "set", V0, "up");
      recorder.expect("offer 2->1 upgrade");
    } finally {
      pool.shutdownNow();
    }
    assertTrue(monitors().isEmpty(), "the manager closed its provider");
  }

  @Test
  void restartsTheMonitorWhenItDies() throws Exception {
    Iap wlan = new Iap(1, "wlan", V0, null, Bearer.WLAN, 1);
    ip("link", "set", V1, "up");
    ip("link", "set", V0, "up");
    start(wlan);
    expect(IapState.down(wlan));

    List<ProcessHandle> monitors = monitors();
    assertEquals(1, monitors.size(), "one `ip monitor` child");
    monitors.get(0).destroyForcibly();
    await().atMost(Duration.ofSeconds(5)).until(() -> monitors().stream()
        .anyMatch(p -> p.pid() != monitors.get(0).pid()));

    Timing added = ip("addr", "add", "198.19.0.1/30", "dev", V0);
    expectWithin("after a monitor restart", added, IapState.up(wlan, addr("198.19.0.1")));
  }

  @Test
  void warnsAboutAnAddressWithoutItsOwnRoutingTable() throws Exception {
    Iap wlan = new Iap(1, "wlan", V0, null, Bearer.WLAN, 1);
    ip("addr", "add", "198.19.0.1/30", "dev", V0);
    ip("addr", "add", "198.19.0.2/30", "dev", V1);
    ip("link", "set", V1, "up");
    ip("link", "set", V0, "up");
    start(wlan);
    expect(IapState.up(wlan, addr("198.19.0.1")));

    List<String> warnings = provider.routingWarnings();
    assertEquals(1, warnings.size(), warnings.toString());
    assertTrue(warnings.get(0).contains("IAP 1 (wlan)"), warnings.get(0));
    assertTrue(warnings.get(0).contains("198.19.0.1"), warnings.get(0));

    ip("rule", "add", "from", "198.19.0.1", "table", TABLE);
    assertEquals(1, provider.routingWarnings().size(), "a rule to an empty table is no help");
    ip("route", "add", "default", "via", "198.19.0.2", "dev", V0, "table", TABLE);
    assertEquals(List.of(), provider.routingWarnings());
  }

  // ---- helpers ----

  private void start(Iap... iaps) {
    configured.addAll(List.of(iaps));
    provider = new LinuxIapProvider(configured, Duration.ofSeconds(60), timers);
    provider.start(state -> reports.add(new Report(System.nanoTime(), state)));
  }

  /** This JVM's live {@code ip monitor} children. */
  private static List<ProcessHandle> monitors() {
    return ProcessHandle.current().children()
        .filter(p -> p.isAlive() && p.info().commandLine().orElse("").contains("monitor"))
        .toList();
  }

  private Report next() throws InterruptedException {
    Report report = reports.poll(5, TimeUnit.SECONDS);
    if (report == null) {
      fail("no report within 5 s; state now " + provider.snapshot());
    }
    return report;
  }

  private void expect(IapState expected) throws InterruptedException {
    assertEquals(expected, next().state());
  }

  /**
   * The next report is {@code expected}; records how long after the command it came. The
   * monitor may report before the JVM has seen the command exit: hence both times.
   */
  private void expectWithin(String what, Timing command, IapState expected)
      throws InterruptedException {
    Report report = next();
    assertEquals(expected, report.state(), what);
    latencies.add(String.format("%s %.1f ms (%.1f ms after the command started)", what,
        (report.nanos() - command.returned()) / 1e6, (report.nanos() - command.started()) / 1e6));
  }

  private static InetAddress addr(String text) {
    return IpLiterals.parse(text);
  }

  private static void requireRootAndIp() throws Exception {
    String why = null;
    try {
      if (!run("id", "-u").trim().equals("0")) {
        why = "needs root to create veth interfaces";
      }
      run("ip", "-V");
    } catch (IOException e) {
      why = "needs iproute2's `ip`: " + e.getMessage();
    }
    if (why != null) {
      if ("true".equals(System.getenv("CI"))) {
        fail("LinuxIapProviderTest " + why + " (CI=true: not skipped)");
      }
      Assumptions.assumeTrue(false, "LinuxIapProviderTest skipped: " + why);
    }
  }

  private static void removeInterfaces() throws Exception {
    ipQuietly("link", "del", V0); // takes its peer along
    ipQuietly("link", "del", V2);
  }

  /** Runs {@code ip ARGS}, failing the test if it fails. */
  private static Timing ip(String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of("ip"));
    command.addAll(List.of(args));
    long started = System.nanoTime();
    run(command.toArray(String[]::new));
    return new Timing(started, System.nanoTime());
  }

  private static void ipQuietly(String... args) {
    List<String> command = new ArrayList<>(List.of("ip"));
    command.addAll(List.of(args));
    try {
      run(command.toArray(String[]::new));
    } catch (IOException | InterruptedException e) {
      // nothing to remove
    }
  }

  private static String run(String... command) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (process.waitFor() != 0) {
      throw new IOException(String.join(" ", command) + ": " + output.trim());
    }
    return output;
  }
}
