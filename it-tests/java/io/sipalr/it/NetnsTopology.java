package io.sipalr.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.slf4j.LoggerFactory;

/**
 * Real interfaces for the linux IAP provider (docs/testing.md, "Real interfaces: network
 * namespaces"): a network namespace {@value #NAMESPACE} with two veth uplinks to this machine's
 * root namespace, and the registrar's address on the root namespace's {@code lo}:
 *
 * <pre>
 *   namespace sipalr-ue                          root namespace
 *   wlan0 198.19.10.2/24  ---- veth ----  sipalrw 198.19.10.1/24
 *   cell0 198.19.20.2/24  ---- veth ----  sipalrc 198.19.20.1/24
 *   lo    127.0.0.1 (the agent's anchor)         lo  198.19.30.1/32 (the registrar)
 * </pre>
 *
 * <p>Routing in the namespace, one table per uplink (docs/architecture.md, "Linux networking"):
 * {@code from 198.19.10.2 lookup 101} and {@code from 198.19.20.2 lookup 102}, each table with
 * {@code default via GATEWAY dev UPLINK} and, below it, an {@code unreachable default}: traffic
 * from an uplink's address leaves through that uplink or not at all, never through the other
 * one by falling through to the main table. So a binding whose Received is 198.19.20.2 proves
 * that the REGISTER left through cell0. The main table reaches 198.19.30.1 via wlan0 (metric
 * 100) and via cell0 (metric 200), for sockets bound to no uplink address. The root namespace
 * needs nothing but its connected routes: it delivers to its own {@code lo} address and answers
 * through the veth the request came from.
 *
 * <p>rp_filter: the namespace's is set to 0 (it goes with the namespace); the strict tables
 * would pass even a strict filter, as the reverse path of every reply is the uplink it came in
 * on. The root namespace's settings are not touched.
 *
 * <p>Everything created is deleted by {@link #close()}, also when creation fails half-way, and
 * by a shutdown hook if the JVM is stopped before close. Names and addresses are fixed, so two
 * runs cannot share a machine: a leftover (or a concurrent run) fails creation, saying how to
 * remove it.
 */
final class NetnsTopology implements AutoCloseable {
  static final String NAMESPACE = "sipalr-ue";
  /**
   * The logging of an agent in the namespace: the agent's decisions and every SIP message
   * (io.sipalr.sip.trace), for the diagnostics a failing test prints.
   */
  static final String TRACE_LOGBACK = """
      <configuration>
        <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
          <encoder><pattern>%d{HH:mm:ss.SSS} [%thread] %-5level %logger{30} - %msg%n</pattern></encoder>
        </appender>
        <logger name="gov.nist" level="WARN"/>
        <logger name="io.sipalr" level="DEBUG"/>
        <logger name="io.sipalr.sip.trace" level="DEBUG"/>
        <root level="INFO"><appender-ref ref="OUT"/></root>
      </configuration>
      """;
  static final String WLAN = "wlan0";
  static final String CELL = "cell0";
  static final String WLAN_PEER = "sipalrw";
  static final String CELL_PEER = "sipalrc";
  static final String WLAN_ADDRESS = "198.19.10.2";
  static final String WLAN_GATEWAY = "198.19.10.1";
  static final String CELL_ADDRESS = "198.19.20.2";
  static final String CELL_GATEWAY = "198.19.20.1";
  static final String REGISTRAR_ADDRESS = "198.19.30.1";
  static final int WLAN_TABLE = 101;
  static final int CELL_TABLE = 102;

  // ---- the NAT variant ({@link #createWithNat()}) ----------------------------------------
  static final String WLAN_NAT = "sipalr-natw";
  static final String CELL_NAT = "sipalr-natc";
  /** Each NAT namespace's inside interface (the far end of wlan0 or cell0) and outside one. */
  static final String NAT_INSIDE = "lan0";
  static final String NAT_OUTSIDE = "wan0";
  /** The wlan NAT's public address (masquerade, ports preserved where free). */
  static final String WLAN_PUBLIC = "198.19.11.2";
  static final String WLAN_PUBLIC_GATEWAY = "198.19.11.1";
  /** The cell NAT's public address ({@code masquerade random}: ports randomised). */
  static final String CELL_PUBLIC = "198.19.21.2";
  static final String CELL_PUBLIC_GATEWAY = "198.19.21.1";
  /** The NATs' nftables table (in each NAT namespace, gone with it). */
  static final String NAT_TABLE = "sipalr_nat";
  /**
   * What both NATs set {@code nf_conntrack_udp_timeout} and {@code _stream} to (per network
   * namespace since Linux 4.x): an idle UDP mapping is forgotten after this long, replied or not.
   */
  static final int NAT_UDP_TIMEOUT_SECONDS = 20;

  private static final long COMMAND_TIMEOUT_SECONDS = 10;
  /** CAP_NET_ADMIN and CAP_SYS_ADMIN (setns, mounts of ip netns exec): capability bits. */
  private static final int CAP_NET_ADMIN = 12;
  private static final int CAP_SYS_ADMIN = 21;

  private final Thread shutdownHook = new Thread(this::cleanUp, "netns-topology-cleanup");
  private final boolean nat;
  private boolean namespaceCreated;
  private final List<String> natNamespacesCreated = new ArrayList<>();
  private boolean registrarAddressAdded;
  private boolean registrar6AddressAdded;
  private boolean closed;

  private NetnsTopology(boolean nat) {
    this.nat = nat;
  }

  /**
   * Aborts the test (skip) when this machine cannot build the topology: not Linux, no
   * CAP_NET_ADMIN and CAP_SYS_ADMIN (not root), or no iproute2. With {@code CI=true} it fails
   * instead, as {@link KamailioRegistrar} does for a missing Docker engine: CI runs as root.
   */
  static void assumeUsable() {
    String problem = missingRequirement();
    if (problem == null) {
      return;
    }
    String message = "Cannot build the network namespace topology: " + problem + ".";
    if ("true".equals(System.getenv("CI"))) {
      throw new IllegalStateException(message + " CI=true: failing instead of skipping.");
    }
    message += " Skipping; run as root on Linux with iproute2 (CI=true makes this fail).";
    // Surefire does not show why a test was skipped: say it here.
    LoggerFactory.getLogger(NetnsTopology.class).warn(message);
    Assumptions.abort(message);
  }

  private static String missingRequirement() {
    if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
      return "not Linux (" + System.getProperty("os.name") + ")";
    }
    long caps;
    try {
      caps = effectiveCapabilities();
    } catch (IOException | RuntimeException e) {
      return "cannot read the process's capabilities from /proc/self/status (" + e + ")";
    }
    if ((caps & (1L << CAP_NET_ADMIN)) == 0 || (caps & (1L << CAP_SYS_ADMIN)) == 0) {
      return "not root: CAP_NET_ADMIN and CAP_SYS_ADMIN are needed (effective capabilities 0x"
          + Long.toHexString(caps) + ")";
    }
    try {
      Result version = run(List.of("ip", "-V"));
      if (version.exit != 0) {
        return "`ip -V` exited with " + version.exit + ": " + version.output.strip();
      }
    } catch (IOException e) {
      return "iproute2's `ip` cannot be run (" + e.getMessage() + ")";
    }
    return null;
  }

  private static long effectiveCapabilities() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("CapEff:")) {
        return Long.parseUnsignedLong(line.substring("CapEff:".length()).trim(), 16);
      }
    }
    throw new IOException("no CapEff line");
  }

  /** Builds the whole topology; on any failure removes what it created and rethrows. */
  static NetnsTopology create() {
    return create(false);
  }

  /**
   * The same with a real NAT on each uplink: wlan0 and cell0 keep their addresses and gateways,
   * but each gateway is the inside of a NAT namespace that masquerades what it forwards to the
   * root namespace, so the registrar sees the NAT's public address, never 198.19.10.2 or
   * 198.19.20.2, and reaches the agent only through a live conntrack mapping:
   *
   * <pre>
   *   sipalr-ue                     sipalr-natw                               root namespace
   *   wlan0 198.19.10.2 -- veth -- lan0 198.19.10.1 | wan0 198.19.11.2 -- veth -- sipalrw 198.19.11.1
   *   cell0 198.19.20.2 -- veth -- lan0 198.19.20.1 | wan0 198.19.21.2 -- veth -- sipalrc 198.19.21.1
   *                                 sipalr-natc
   * </pre>
   *
   * <p>sipalr-natw masquerades on wan0 as a home router does (source ports kept where free);
   * sipalr-natc with {@code masquerade random}, as a carrier-grade NAT, randomising them. Both
   * forward (ip_forward=1 in their namespace) and forget an idle UDP mapping after
   * {@value #NAT_UDP_TIMEOUT_SECONDS} s ({@code net.netfilter.nf_conntrack_udp_timeout} and
   * {@code _stream}, set in each NAT namespace: per namespace on this kernel; creation fails if
   * not). The root namespace needs no route to the inside networks: it answers the public
   * addresses, which are on its connected veth networks. Needs nftables ({@link
   * #assumeNftables()}).
   */
  static NetnsTopology createWithNat() {
    return create(true);
  }

  private static NetnsTopology create(boolean nat) {
    NetnsTopology topology = new NetnsTopology(nat);
    Runtime.getRuntime().addShutdownHook(topology.shutdownHook);
    try {
      topology.build();
      return topology;
    } catch (RuntimeException | Error e) {
      try {
        topology.close();
      } catch (RuntimeException cleanUp) {
        e.addSuppressed(cleanUp);
      }
      throw e;
    }
  }

  private void build() {
    refuseLeftovers();
    ip("netns", "add", NAMESPACE);
    namespaceCreated = true;
    // Created with the uplink end inside the namespace at once: no wlan0 or cell0 ever exists
    // in the root namespace. Deleting the namespace deletes both veth pairs.
    if (nat) {
      buildNat(WLAN_NAT, WLAN, WLAN_GATEWAY, WLAN_PEER, WLAN_PUBLIC, WLAN_PUBLIC_GATEWAY,
          "masquerade");
      buildNat(CELL_NAT, CELL, CELL_GATEWAY, CELL_PEER, CELL_PUBLIC, CELL_PUBLIC_GATEWAY,
          "masquerade random");
    } else {
      ip("link", "add", WLAN_PEER, "type", "veth", "peer", "name", WLAN, "netns", NAMESPACE);
      ip("link", "add", CELL_PEER, "type", "veth", "peer", "name", CELL, "netns", NAMESPACE);
      ip("addr", "add", WLAN_GATEWAY + "/24", "dev", WLAN_PEER);
      ip("addr", "add", CELL_GATEWAY + "/24", "dev", CELL_PEER);
      ip("link", "set", WLAN_PEER, "up");
      ip("link", "set", CELL_PEER, "up");
    }
    ip("addr", "add", REGISTRAR_ADDRESS + "/32", "dev", "lo");
    registrarAddressAdded = true;

    inNamespace("sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=0",
        "net.ipv4.conf.default.rp_filter=0");
    ipNs("link", "set", "lo", "up");
    ipNs("addr", "add", WLAN_ADDRESS + "/24", "dev", WLAN);
    ipNs("addr", "add", CELL_ADDRESS + "/24", "dev", CELL);
    inNamespace("sysctl", "-q", "-w", "net.ipv4.conf." + WLAN + ".rp_filter=0",
        "net.ipv4.conf." + CELL + ".rp_filter=0");
    ipNs("link", "set", WLAN, "up");
    ipNs("link", "set", CELL, "up");
    ipNs("rule", "add", "from", WLAN_ADDRESS, "table", String.valueOf(WLAN_TABLE));
    ipNs("rule", "add", "from", CELL_ADDRESS, "table", String.valueOf(CELL_TABLE));
    ipNs("route", "add", "unreachable", "default", "metric", "4294967295",
        "table", String.valueOf(WLAN_TABLE));
    ipNs("route", "add", "unreachable", "default", "metric", "4294967295",
        "table", String.valueOf(CELL_TABLE));
    addWlanGatewayRoutes();
    ipNs("route", "add", "default", "via", CELL_GATEWAY, "dev", CELL,
        "table", String.valueOf(CELL_TABLE));
    ipNs("route", "add", REGISTRAR_ADDRESS + "/32", "via", CELL_GATEWAY, "dev", CELL,
        "metric", "200");

    // The routing the test relies on, checked rather than assumed.
    expectRoute(CELL_ADDRESS, "dev " + CELL);
    expectRoute(WLAN_ADDRESS, "dev " + WLAN);
  }

  /**
   * NAT namespace {@code natNs} between the ue namespace's {@code uplink} (inside, gateway
   * {@code gateway}) and the root namespace's {@code rootPeer} (outside: the NAT's
   * {@code publicAddress}, its default route via {@code publicGateway}), with nftables
   * {@code masquerade} (the statement given) on its outside interface.
   */
  private void buildNat(String natNs, String uplink, String gateway, String rootPeer,
      String publicAddress, String publicGateway, String masquerade) {
    ip("netns", "add", natNs);
    natNamespacesCreated.add(natNs);
    // Both veth pairs are created inside the NAT namespace, their other ends moved at once:
    // deleting the NAT namespace deletes them.
    ipIn(natNs, "link", "add", NAT_INSIDE, "type", "veth", "peer", "name", uplink, "netns",
        NAMESPACE);
    ip("link", "add", rootPeer, "type", "veth", "peer", "name", NAT_OUTSIDE, "netns", natNs);
    ip("addr", "add", publicGateway + "/24", "dev", rootPeer);
    ip("link", "set", rootPeer, "up");
    in(natNs, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1",
        "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0");
    ipIn(natNs, "link", "set", "lo", "up");
    ipIn(natNs, "addr", "add", gateway + "/24", "dev", NAT_INSIDE);
    ipIn(natNs, "addr", "add", publicAddress + "/24", "dev", NAT_OUTSIDE);
    ipIn(natNs, "link", "set", NAT_INSIDE, "up");
    ipIn(natNs, "link", "set", NAT_OUTSIDE, "up");
    ipIn(natNs, "route", "add", "default", "via", publicGateway, "dev", NAT_OUTSIDE);
    String rules = """
        table ip %1$s {
          chain postrouting {
            type nat hook postrouting priority srcnat; policy accept;
            oifname "%2$s" %3$s
          }
          chain forward {
            type filter hook forward priority filter; policy accept;
            iifname "%4$s" oifname "%2$s" meta l4proto udp counter
            iifname "%2$s" oifname "%4$s" meta l4proto udp counter
          }
        }
        """.formatted(NAT_TABLE, NAT_OUTSIDE, masquerade, NAT_INSIDE);
    nftIn(natNs, rules);
    // The conntrack sysctls exist once the NAT rule has loaded nf_conntrack.
    String timeout = String.valueOf(NAT_UDP_TIMEOUT_SECONDS);
    in(natNs, "sysctl", "-q", "-w", "net.netfilter.nf_conntrack_udp_timeout=" + timeout,
        "net.netfilter.nf_conntrack_udp_timeout_stream=" + timeout);
    String set = in(natNs, "sysctl", "-n", "net.netfilter.nf_conntrack_udp_timeout",
        "net.netfilter.nf_conntrack_udp_timeout_stream");
    if (!set.lines().allMatch(timeout::equals)) {
      throw new IllegalStateException("the UDP conntrack timeouts of " + natNs + " are "
          + set.strip().replace('\n', ' ') + ", not " + timeout + " s");
    }
  }

  /** UDP datagrams the NAT {@code natNs} forwarded so far: {outbound, inbound}. */
  long[] natForwarded(String natNs) {
    String table = in(natNs, "nft", "list", "table", "ip", NAT_TABLE);
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("counter packets (\\d+)")
        .matcher(table);
    long[] counts = new long[2];
    for (int i = 0; i < 2 && m.find(); i++) {
      counts[i] = Long.parseLong(m.group(1));
    }
    return counts;
  }

  /** The nftables table of {@link #dropFirstAnswer}, in the NAT namespace. */
  static final String FIRST_ANSWER_TABLE = "sipalr_first";

  /**
   * From now on the NAT {@code natNs} drops the first SIP response (a UDP payload starting
   * {@code "SIP/2.0 "}) the agent sends from each address and port, and forwards the later ones:
   * the agent's answer to a request is lost once, so the request is retransmitted to it.
   */
  void dropFirstAnswer(String natNs) {
    nftIn(natNs, """
        table ip %1$s {
          set answered {
            type ipv4_addr . inet_service
            flags dynamic,timeout
            timeout 5m
          }
          chain forward {
            type filter hook forward priority filter - 10; policy accept;
            iifname "%2$s" meta l4proto udp @ih,0,64 0x5349502f322e3020 ip saddr . udp sport @answered accept
            iifname "%2$s" meta l4proto udp @ih,0,64 0x5349502f322e3020 add @answered { ip saddr . udp sport } counter drop
          }
        }
        """.formatted(FIRST_ANSWER_TABLE, NAT_INSIDE));
  }

  /** The responses {@link #dropFirstAnswer} dropped so far. */
  long firstAnswersDropped(String natNs) {
    return firstCounter(natNs, FIRST_ANSWER_TABLE);
  }

  /** The packets the first counter of nftables table {@code table} in {@code natNs} counted. */
  private static long firstCounter(String natNs, String table) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("counter packets (\\d+)")
        .matcher(in(natNs, "nft", "list", "table", "ip", table));
    return m.find() ? Long.parseLong(m.group(1)) : 0;
  }

  /** The nftables table of {@link #dropPongs}, in the NAT namespace. */
  static final String PONG_TABLE = "sipalr_pongs";

  /**
   * From now on the NAT {@code natNs} drops every TCP segment from the registrar ({@code
   * registrarPort}) whose payload is a lone CRLF, an RFC 5626 pong (an IP packet under 64
   * bytes: 20 + a TCP header of 20-40 + 2); every other segment, REGISTERs and their answers
   * included, passes.
   */
  void dropPongs(String natNs, int registrarPort) {
    nftIn(natNs, """
        table ip %1$s {
          chain forward {
            type filter hook forward priority filter - 10; policy accept;
            iifname "%2$s" ip saddr %3$s tcp sport %4$d ip length < 64 @ih,0,16 0x0d0a counter drop
          }
        }
        """.formatted(PONG_TABLE, NAT_OUTSIDE, REGISTRAR_ADDRESS, registrarPort));
  }

  /** The pongs {@link #dropPongs} dropped so far. */
  long pongsDropped(String natNs) {
    return firstCounter(natNs, PONG_TABLE);
  }

  /** The NAT {@code natNs} forwards pongs again. */
  void passPongs(String natNs) {
    in(natNs, "nft", "delete", "table", "ip", PONG_TABLE);
  }

  /** The nftables table of {@link #blockNat}, in the NAT namespace. */
  static final String BLOCK_TABLE = "sipalr_block";

  /** From now on the NAT {@code natNs} drops every UDP datagram it would forward, both ways. */
  void blockNat(String natNs) {
    nftIn(natNs, """
        table ip %1$s {
          chain forward {
            type filter hook forward priority filter - 10; policy accept;
            meta l4proto udp counter drop
          }
        }
        """.formatted(BLOCK_TABLE));
  }

  /** The NAT {@code natNs} forwards again what {@link #blockNat} dropped. */
  void unblockNat(String natNs) {
    in(natNs, "nft", "delete", "table", "ip", BLOCK_TABLE);
  }

  /**
   * The NAT {@code natNs} forgets every mapping at once ({@code conntrack -F} in its namespace),
   * as a carrier-grade NAT that lost its state: the next datagram from the agent gets a new
   * public port (at random on the cell NAT). Needs conntrack-tools' {@code conntrack}.
   */
  void flushNatMappings(String natNs) {
    in(natNs, "conntrack", "-F");
  }

  /**
   * Aborts the test (skip) when conntrack-tools' {@code conntrack} cannot be run; with
   * {@code CI=true} it fails instead ({@code .ci/run} installs it).
   */
  static void assumeConntrack() {
    Result version = run0("conntrack", "--version");
    if (version.exit == 0) {
      return;
    }
    String message = "conntrack-tools' conntrack cannot be run (" + version.output.strip()
        + "), so no NAT mapping can be flushed.";
    if ("true".equals(System.getenv("CI"))) {
      throw new IllegalStateException(message + " CI=true: failing instead of skipping.");
    }
    message += " Skipping; install conntrack (CI=true makes this fail).";
    LoggerFactory.getLogger(NetnsTopology.class).warn(message);
    Assumptions.abort(message);
  }

  /** The gateway routes through wlan0; the kernel flushes them whenever wlan0 goes down. */
  private void addWlanGatewayRoutes() {
    ipNs("route", "add", "default", "via", WLAN_GATEWAY, "dev", WLAN,
        "table", String.valueOf(WLAN_TABLE));
    ipNs("route", "add", REGISTRAR_ADDRESS + "/32", "via", WLAN_GATEWAY, "dev", WLAN,
        "metric", "100");
  }

  private void expectRoute(String from, String expected) {
    String route = ipNs("route", "get", REGISTRAR_ADDRESS, "from", from);
    if (!route.contains(expected)) {
      throw new IllegalStateException("in " + NAMESPACE + ", traffic from " + from + " to "
          + REGISTRAR_ADDRESS + " should leave by " + expected + ", but `ip route get` says: "
          + route.strip());
    }
  }

  private static void refuseLeftovers() {
    List<String> found = new ArrayList<>();
    List<String> namespaces = ip("netns", "list").lines().map(l -> l.split("\\s+")[0])
        .toList();
    for (String ns : List.of(NAMESPACE, WLAN_NAT, CELL_NAT)) {
      if (namespaces.contains(ns)) {
        found.add("namespace " + ns + " (ip netns del " + ns + ")");
      }
    }
    for (String link : List.of(WLAN_PEER, CELL_PEER)) {
      if (run0("ip", "link", "show", "dev", link).exit == 0) {
        found.add("interface " + link + " (ip link del " + link + ")");
      }
    }
    if (ip("-o", "addr", "show", "dev", "lo").contains(" " + REGISTRAR_ADDRESS + "/")) {
      found.add("address " + REGISTRAR_ADDRESS + " on lo (ip addr del " + REGISTRAR_ADDRESS
          + "/32 dev lo)");
    }
    if (!found.isEmpty()) {
      throw new IllegalStateException("Another run of this test is in progress, or one left"
          + " behind: " + String.join(", ", found) + ". Remove them when no run is in progress.");
    }
  }

  /**
   * Aborts the test (skip) when nftables' {@code nft} cannot be run; with {@code CI=true} it
   * fails instead ({@code .ci/run} installs it). Call after {@link #assumeUsable()}.
   */
  static void assumeNftables() {
    Result version = run0("nft", "--version");
    if (version.exit == 0) {
      return;
    }
    String message = "nftables' nft cannot be run (" + version.output.strip() + "), so no"
        + " packet loss can be made in the namespace.";
    if ("true".equals(System.getenv("CI"))) {
      throw new IllegalStateException(message + " CI=true: failing instead of skipping.");
    }
    message += " Skipping; install nftables (CI=true makes this fail).";
    LoggerFactory.getLogger(NetnsTopology.class).warn(message);
    Assumptions.abort(message);
  }

  // ---- what the test does to the uplinks --------------------------------------------------

  /** The nftables table of {@link #randomLoss}, in the namespace (gone with it). */
  static final String LOSS_TABLE = "sipalr_loss";

  /**
   * From now on the namespace drops {@code percent} % of the UDP datagrams it sends to the
   * registrar ({@value #REGISTRAR_ADDRESS}) and, independently, of those it receives from it,
   * whichever uplink they use: nftables {@code numgen random mod 100 < percent} on the output and
   * input hooks (this kernel has no tc netem). Only UDP: the test's JSON-RPC to the registrar
   * does not cross the namespace anyway. Calling it again replaces the rate.
   */
  void randomLoss(int percent) {
    if (percent < 0 || percent > 100) {
      throw new IllegalArgumentException("percent must be 0..100, was " + percent);
    }
    String rules = """
        table inet %1$s
        delete table inet %1$s
        table inet %1$s {
          chain out {
            type filter hook output priority filter; policy accept;
            ip daddr %2$s meta l4proto udp numgen random mod 100 < %3$d counter drop
          }
          chain in {
            type filter hook input priority filter; policy accept;
            ip saddr %2$s meta l4proto udp numgen random mod 100 < %3$d counter drop
          }
        }
        """.formatted(LOSS_TABLE, REGISTRAR_ADDRESS, percent);
    Path file;
    try {
      file = Files.createTempFile("sipalr-loss", ".nft");
      Files.writeString(file, rules, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the nftables rules", e);
    }
    try {
      inNamespace("nft", "-f", file.toString());
    } finally {
      file.toFile().delete();
    }
  }

  /** Stops dropping: the loss table's rules go, its counters with them. */
  void noLoss() {
    inNamespace("nft", "delete", "table", "inet", LOSS_TABLE);
  }

  /** Datagrams {@link #randomLoss} dropped so far, both directions together. */
  long droppedPackets() {
    String table = inNamespace("nft", "list", "table", "inet", LOSS_TABLE);
    long dropped = 0;
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("counter packets (\\d+)")
        .matcher(table);
    while (m.find()) {
      dropped += Long.parseLong(m.group(1));
    }
    return dropped;
  }

  /** {@code ip link set wlan0 down} in the namespace: the Wi-Fi uplink is gone for real. */
  /** cell0's address when {@link #cellIpv6Only()} made it an IPv6-only uplink. */
  static final String CELL6_ADDRESS = "2001:2:20::2";
  static final String CELL6_GATEWAY = "2001:2:20::1";
  /** The registrar's IPv6 address, on the root namespace's lo beside 198.19.30.1. */
  static final String REGISTRAR6_ADDRESS = "2001:2:30::1";

  /**
   * Makes cell0 an IPv6-only uplink (a cellular network without IPv4): its IPv4 address gone,
   * 2001:2:20::2/64 instead (no DAD: usable at once), the root end 2001:2:20::1/64, and
   * 2001:2:30::1 on the root namespace's lo, reached through cell0. wlan0 stays IPv4-only.
   */
  void cellIpv6Only() {
    ipNs("addr", "del", CELL_ADDRESS + "/24", "dev", CELL);
    ipNs("addr", "add", CELL6_ADDRESS + "/64", "dev", CELL, "nodad");
    ip("addr", "add", CELL6_GATEWAY + "/64", "dev", CELL_PEER, "nodad");
    ip("addr", "add", REGISTRAR6_ADDRESS + "/128", "dev", "lo");
    registrar6AddressAdded = true;
    ipNs("-6", "route", "add", REGISTRAR6_ADDRESS + "/128", "via", CELL6_GATEWAY, "dev", CELL);
  }

  void wlanDown() {
    ipNs("link", "set", WLAN, "down");
  }

  /**
   * Brings wlan0 back as a DHCP client would: up, then its gateway routes (the kernel flushed
   * them when it went down). The far end stays down meanwhile, so wlan0 has no carrier and the
   * agent cannot see it usable before its routes exist: with the unreachable fallback a
   * REGISTER sent in between would fail and the IAP would be rejected (rule 10).
   */
  void wlanUp() {
    if (nat) {
      ipIn(WLAN_NAT, "link", "set", NAT_INSIDE, "down");
    } else {
      ip("link", "set", WLAN_PEER, "down");
    }
    ipNs("link", "set", WLAN, "up");
    addWlanGatewayRoutes();
    if (nat) {
      ipIn(WLAN_NAT, "link", "set", NAT_INSIDE, "up");
    } else {
      ip("link", "set", WLAN_PEER, "up");
    }
  }

  /** The namespace's interfaces, addresses, rules and routes, for a failure message. */
  String describe() {
    StringBuilder out = new StringBuilder();
    for (List<String> args : List.of(List.of("-br", "addr"), List.of("rule"),
        List.of("route", "show", "table", "all"))) {
      List<String> command = new ArrayList<>(List.of("ip", "-n", NAMESPACE));
      command.addAll(args);
      Result r = run0(command.toArray(String[]::new));
      out.append("$ ").append(String.join(" ", command)).append('\n').append(r.output);
    }
    for (String natNs : natNamespacesCreated) {
      for (String[] command : List.of(new String[] {"ip", "-n", natNs, "-br", "addr"},
          new String[] {"ip", "netns", "exec", natNs, "nft", "list", "table", "ip", NAT_TABLE},
          new String[] {"ip", "netns", "exec", natNs, "cat", "/proc/net/nf_conntrack"})) {
        Result r = run0(command);
        out.append("$ ").append(String.join(" ", command)).append('\n').append(r.output);
      }
    }
    return out.toString();
  }

  // ---- clean-up ---------------------------------------------------------------------------

  /** Deletes the namespace (with both veth pairs) and the registrar's address; idempotent. */
  @Override
  public void close() {
    cleanUp();
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException shuttingDown) {
      // the hook runs or ran: nothing to remove
    }
  }

  private synchronized void cleanUp() {
    if (closed) {
      return;
    }
    closed = true;
    List<String> failures = new ArrayList<>();
    if (namespaceCreated || !natNamespacesCreated.isEmpty()) {
      // The root ends first: deleting one end of a veth pair deletes both at once, whereas
      // `ip netns del` lets the kernel remove a namespace's devices later.
      for (String link : List.of(WLAN_PEER, CELL_PEER)) {
        if (run0("ip", "link", "show", "dev", link).exit == 0) {
          Result del = run0("ip", "link", "del", link);
          if (del.exit != 0 && !del.output.contains("Cannot find device")
              && !del.output.contains("No such device")) {
            failures.add("ip link del " + link + ": " + del.output.strip());
          }
        }
      }
    }
    for (String natNs : natNamespacesCreated) {
      Result r = run0("ip", "netns", "del", natNs);
      if (r.exit != 0) {
        failures.add("ip netns del " + natNs + ": " + r.output.strip());
      }
    }
    if (namespaceCreated) {
      Result r = run0("ip", "netns", "del", NAMESPACE);
      if (r.exit != 0) {
        failures.add("ip netns del " + NAMESPACE + ": " + r.output.strip());
      }
    }
    if (registrar6AddressAdded) {
      Result r = run0("ip", "addr", "del", REGISTRAR6_ADDRESS + "/128", "dev", "lo");
      if (r.exit != 0) {
        failures.add("ip addr del " + REGISTRAR6_ADDRESS + "/128 dev lo: " + r.output.strip());
      }
    }
    if (registrarAddressAdded) {
      Result r = run0("ip", "addr", "del", REGISTRAR_ADDRESS + "/32", "dev", "lo");
      if (r.exit != 0) {
        failures.add("ip addr del " + REGISTRAR_ADDRESS + "/32 dev lo: " + r.output.strip());
      }
    }
    if (!failures.isEmpty()) {
      throw new IllegalStateException("Could not remove the test topology: "
          + String.join("; ", failures));
    }
  }

  // ---- running ip -------------------------------------------------------------------------

  private record Result(int exit, String output) {}

  /** {@code ip ARGS} in the root namespace; fails unless it exits 0. */
  private static String ip(String... args) {
    List<String> command = new ArrayList<>(List.of("ip"));
    command.addAll(List.of(args));
    return checked(command);
  }

  /** {@code ip -n sipalr-ue ARGS}: in the namespace. */
  private static String ipNs(String... args) {
    List<String> command = new ArrayList<>(List.of("ip", "-n", NAMESPACE));
    command.addAll(List.of(args));
    return checked(command);
  }

  /** Any command in the namespace ({@code ip netns exec}). */
  private static String inNamespace(String... command) {
    return in(NAMESPACE, command);
  }

  /** {@code ip -n NS ARGS}. */
  private static String ipIn(String namespace, String... args) {
    List<String> command = new ArrayList<>(List.of("ip", "-n", namespace));
    command.addAll(List.of(args));
    return checked(command);
  }

  /** Any command in namespace {@code namespace}. */
  private static String in(String namespace, String... command) {
    List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", namespace));
    full.addAll(List.of(command));
    return checked(full);
  }

  /** Loads nftables {@code rules} in namespace {@code namespace}. */
  private static void nftIn(String namespace, String rules) {
    Path file;
    try {
      file = Files.createTempFile("sipalr-nft", ".nft");
      Files.writeString(file, rules, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the nftables rules", e);
    }
    try {
      in(namespace, "nft", "-f", file.toString());
    } finally {
      file.toFile().delete();
    }
  }

  private static String checked(List<String> command) {
    Result r;
    try {
      r = run(command);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run " + String.join(" ", command), e);
    }
    if (r.exit != 0) {
      throw new IllegalStateException("`" + String.join(" ", command) + "` exited with "
          + r.exit + ": " + r.output.strip());
    }
    return r.output;
  }

  /** Runs a command for clean-up or probing: never throws, exit -1 when it cannot run. */
  private static Result run0(String... command) {
    try {
      return run(List.of(command));
    } catch (IOException | RuntimeException e) {
      return new Result(-1, e.toString());
    }
  }

  /** Runs {@code command}, stdout and stderr together, bounded by a timeout. */
  private static Result run(List<String> command) throws IOException {
    Path output = Files.createTempFile("sipalr-ip", ".out");
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(output.toFile()).start();
      process.getOutputStream().close();
      try {
        if (!process.waitFor(COMMAND_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
          process.destroyForcibly();
          throw new IOException("`" + String.join(" ", command) + "` did not end within "
              + COMMAND_TIMEOUT_SECONDS + " s");
        }
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while running " + String.join(" ", command), e);
      }
      return new Result(process.exitValue(), Files.readString(output, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(output);
    }
  }

  /**
   * The agent as users run it ({@code Main run --config <dir>/agent.conf}), a child JVM in the
   * namespace: {@link #agentConfig} with its data under {@code <dir>/data}, {@code logback} as its
   * logging configuration, its output in {@code <dir>/agent.log}.
   */
  static AgentProcess startAgent(Path dir, KamailioRegistrar kamailio, String user,
      String password, String logback, List<String> jvmOptions) throws IOException {
    return startAgent(dir, agentConfig(dir.resolve("data"), kamailio, user, password), logback,
        jvmOptions);
  }

  /** The same with this configuration (see {@link #agentConfig}); data under {@code <dir>/data}. */
  static AgentProcess startAgent(Path dir, String agentConfig, String logback,
      List<String> jvmOptions) throws IOException {
    Path conf = dir.resolve("agent.conf");
    Path logbackFile = dir.resolve("logback.xml");
    Files.writeString(conf, agentConfig, StandardCharsets.UTF_8);
    Files.writeString(logbackFile, logback, StandardCharsets.UTF_8);
    List<String> options = new ArrayList<>(jvmOptions);
    options.add("-Dlogback.configurationFile=" + logbackFile);
    return AgentProcess.start(dir.resolve("agent.log"), java.util.Map.of(), NAMESPACE, options,
        "run", "--config", conf.toString());
  }

  /**
   * The agent's configuration inside the namespace: the linux provider on wlan0 and cell0, one
   * SNAP preferring wlan, one profile; fast failure and backoff so that a failed move recovers.
   */
  static String agentConfig(java.nio.file.Path dataDir, KamailioRegistrar kamailio, String user,
      String password) {
    return agentConfig(dataDir, kamailio, List.of(user), password, Duration.ofSeconds(2), 600, 0);
  }

  /**
   * The same with one profile per user (id, AOR user and authentication user alike), all in the
   * one SNAP, each with {@code expires}; {@code registerTimeout} bounds one REGISTER attempt. The
   * control API listens on the namespace's 127.0.0.1 and {@code controlPort} (0: a free one),
   * which only a process in the namespace reaches (e.g. {@code Main status} there).
   */
  static String agentConfig(java.nio.file.Path dataDir, KamailioRegistrar kamailio,
      List<String> users, String password, Duration registerTimeout, int expires,
      int controlPort) {
    return agentConfig(dataDir, kamailio, users, password, registerTimeout, expires, controlPort,
        "udp");
  }

  /** The same with the profiles' {@code transport} ({@code udp} or {@code tcp}). */
  static String agentConfig(java.nio.file.Path dataDir, KamailioRegistrar kamailio,
      List<String> users, String password, Duration registerTimeout, int expires,
      int controlPort, String transport) {
    StringBuilder profiles = new StringBuilder();
    for (String user : users) {
      profiles.append("""
            { id = %s, aor = "sip:%s@%s", registrar = "%s", password = "%s",
              transport = %s, expires = %d, snap = 1, auto-register = true }
          """.formatted(user, user, kamailio.realm(), kamailio.sipUri(), password, transport,
              expires));
    }
    return """
        agent.data-dir = "%s"
        control { address = "127.0.0.1", port = %d }
        sip {
          local-address = "127.0.0.1"   # the anchor, on the namespace's loopback
          port = 0
          register-timeout = %dms
          backoff { base-all-failed = 1s, base-some-failed = 1s, max = 4s }
          register-limit-per-minute = 1000   # benchmarks move one profile hundreds of times
        }
        mobility {
          provider = linux
          rescan-interval = 1s
          iaps = [
            { id = 1, name = wlan, interface = wlan0, bearer = wlan }
            { id = 2, name = cell, interface = cell0, bearer = cellular }
          ]
          snaps = [ { id = 1, name = internet, iaps = [1, 2] } ]
        }
        profiles = [
        %s]
        """.formatted(dataDir, controlPort, registerTimeout.toMillis(), profiles);
  }
}
