package io.sipalr.it;

import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Assumptions;
import org.xbill.DNS.Lookup;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/**
 * A real nameserver for the tests: Debian's dnsmasq serving only the records a test gives
 * (NAPTR, SRV, A/AAAA for names under {@code alr.test}), on one loopback address and a free port,
 * answering nothing else ({@code --no-resolv --no-hosts}: it never forwards a query anywhere).
 * Without dnsmasq the test is skipped, except in CI ({@code CI=true}), where that fails
 * (.ci/run installs dnsmasq-base).
 */
final class TestDns implements AutoCloseable {
  private final Process process;
  private final Path log;
  final String address;
  final int port;

  private TestDns(Process process, Path log, String address, int port) {
    this.process = process;
    this.log = log;
    this.address = address;
    this.port = port;
  }

  /** dnsmasq options, one record each ("--srv-host=...", "--host-record=..."). */
  static TestDns start(String address, List<String> records) throws Exception {
    Path dnsmasq = Path.of("/usr/sbin/dnsmasq");
    if (!Files.isExecutable(dnsmasq)) {
      if ("true".equals(System.getenv("CI"))) {
        throw new IllegalStateException("dnsmasq missing: .ci/run installs dnsmasq-base");
      }
      Assumptions.abort("dnsmasq not installed (apt-get install dnsmasq-base)");
    }
    int port;
    try (DatagramSocket probe = new DatagramSocket(new InetSocketAddress(address, 0))) {
      port = probe.getLocalPort();
    }
    List<String> command = new ArrayList<>(List.of(dnsmasq.toString(), "--keep-in-foreground",
        "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll", "--bind-interfaces",
        "--listen-address=" + address, "--port=" + port, "--pid-file=", "--user=root",
        "--local-ttl=30", "--log-queries", "--log-facility=-",
        // The test domain is answered from the records given alone: NXDOMAIN for any other
        // name in it (without this, dnsmasq with no upstream says REFUSED).
        "--local=/alr.test/"));
    command.addAll(records);
    Path log = Files.createTempFile("dnsmasq", ".log");
    Process p = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(log.toFile()).start();
    TestDns dns = new TestDns(p, log, address, port);
    try {
      SimpleResolver resolver = new SimpleResolver(new InetSocketAddress(address, port));
      resolver.setTimeout(Duration.ofMillis(500));
      Awaitility.await("dnsmasq answering on " + address + ":" + port)
          .atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
          .until(() -> {
            if (!p.isAlive()) {
              throw new IllegalStateException("dnsmasq exited: " + dns.log());
            }
            Lookup l = new Lookup("probe.alr.test.", Type.A);
            l.setResolver(resolver);
            l.setCache(null);
            l.run();
            // NXDOMAIN (HOST_NOT_FOUND) is an answer: dnsmasq is up.
            return l.getResult() == Lookup.HOST_NOT_FOUND || l.getResult() == Lookup.SUCCESSFUL;
          });
    } catch (RuntimeException e) {
      dns.close();
      throw e;
    }
    return dns;
  }

  String log() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return e.toString();
    }
  }

  /** Queries dnsmasq logged for {@code name} (its --log-queries lines). */
  long queriesFor(String name) {
    return log().lines().filter(l -> l.contains("query[") && l.contains(" " + name + " "))
        .count();
  }

  InetAddress inet() throws IOException {
    return InetAddress.getByName(address); // a literal: no DNS
  }

  @Override
  public void close() {
    process.destroy();
    try {
      process.waitFor(5, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    process.destroyForcibly();
    try {
      Files.deleteIfExists(log);
    } catch (IOException e) {
      // a temp file left behind
    }
  }
}
