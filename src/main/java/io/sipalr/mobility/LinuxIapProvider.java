package io.sipalr.mobility;

import com.fasterxml.jackson.databind.JsonNode;
import io.sipalr.concurrent.DaemonThreads;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Availability from the host's real interfaces. An IAP is available when its interface is up
 * with carrier (IFF_UP and operstate UP, or UNKNOWN with LOWER_UP as loopback and dummy
 * interfaces report) and has a usable address: the IAP's fixed address when it names one,
 * otherwise any IPv4 address outside 169.254/16. An IAP that names only an address is
 * available when any usable interface has it.
 *
 * <p>Java has no netlink socket, so {@code ip -o monitor link address} runs as a child process
 * and one daemon thread reads it; any line it prints means "something changed": the thread
 * has every interface re-read ({@code ip -j addr show}, about 3 ms) and the differences
 * reported. The lines themselves are not parsed. A re-read every {@code rescanInterval} catches
 * anything the monitor missed: the moment between its start and its netlink subscription, or a
 * time it was down. A monitor that dies is restarted with a growing delay.
 *
 * <p>Re-reads run {@code ip} on an {@code iap-reader} thread of their own, outside the lock:
 * the shared timer (which also paces REGISTERs) only asks for one, and a slow or hung {@code
 * ip} holds up neither it nor {@link #snapshot()}. The result is applied under the lock. One
 * read at a time and at most one more waiting: a request while one waits is already served.
 */
public final class LinuxIapProvider implements IapProvider {
  private static final Logger log = LoggerFactory.getLogger(LinuxIapProvider.class);

  private static final List<String> MONITOR_COMMAND =
      List.of("ip", "-o", "monitor", "link", "address");
  private static final long FIRST_RESTART_DELAY_MS = 100;
  private static final long MAX_RESTART_DELAY_MS = 30_000;
  /** A monitor that ran this long was healthy: its death starts the delays afresh. */
  private static final long HEALTHY_RUN_NANOS = TimeUnit.SECONDS.toNanos(10);
  /** After this many quick deaths in a row the periodic re-read is left to do the work alone. */
  private static final int MAX_QUICK_FAILURES = 10;

  private final List<Iap> iaps;
  private final Map<Integer, InetAddress> fixedAddresses = new HashMap<>();
  private final Duration rescanInterval;
  private final ScheduledExecutorService timers;
  private final LinkReader linkReader;
  /** Whether {@code ip monitor} is followed (the agent); without it only re-reads (tests). */
  private final boolean followMonitor;
  private final ThreadPoolExecutor reads = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS,
      new ArrayBlockingQueue<>(1), DaemonThreads.named("iap-reader"),
      new ThreadPoolExecutor.DiscardPolicy());

  /** Reads every interface: {@code ip -j addr show} in the agent. */
  @FunctionalInterface
  interface LinkReader {
    Map<String, Link> read() throws IOException;
  }

  // Guarded by this. Reports are computed and delivered under the lock, so that they stay in
  // order whether the monitor thread or the periodic re-read found the change.
  private final Map<Integer, IapState> states = new LinkedHashMap<>();
  private Listener listener;
  private Thread monitorThread;
  private ScheduledFuture<?> periodic;

  private volatile boolean closed;
  private volatile Process monitor;

  /**
   * @param rescanInterval how often every interface is re-read in case an event was missed
   * @param timers runs that re-read; shared, not owned (close does not shut it down)
   */
  public LinuxIapProvider(List<Iap> iaps, Duration rescanInterval,
      ScheduledExecutorService timers) {
    this(iaps, rescanInterval, timers, LinuxIapProvider::readLinks, true);
  }

  /** With another way to read the interfaces, and without {@code ip monitor} if told so. */
  LinuxIapProvider(List<Iap> iaps, Duration rescanInterval, ScheduledExecutorService timers,
      LinkReader linkReader, boolean followMonitor) {
    this.linkReader = Objects.requireNonNull(linkReader, "linkReader");
    this.followMonitor = followMonitor;
    this.iaps = List.copyOf(iaps);
    this.rescanInterval = Objects.requireNonNull(rescanInterval, "rescanInterval");
    this.timers = Objects.requireNonNull(timers, "timers");
    for (Iap iap : this.iaps) {
      if (iap.address() != null) {
        fixedAddresses.put(iap.id(), IpLiterals.parse(iap.address()));
      }
    }
  }

  /**
   * Starts the monitor, then reads and reports every IAP's state.
   *
   * @throws UncheckedIOException when {@code ip} cannot be run (not installed, no permission)
   */
  @Override
  public synchronized void start(Listener newListener) {
    if (listener != null || closed) {
      throw new IllegalStateException(closed ? "closed" : "already started");
    }
    Process first = null;
    if (followMonitor) {
      try {
        first = spawnMonitor();
      } catch (IOException e) {
        throw new UncheckedIOException("cannot run " + String.join(" ", MONITOR_COMMAND), e);
      }
      monitor = first;
    }
    // Read after the monitor started: a change in between is then seen by one or the other.
    // (At start, on the caller's thread: nothing else can want the lock yet.)
    Map<String, Link> links;
    try {
      links = linkReader.read();
    } catch (IOException e) {
      if (first != null) {
        first.destroyForcibly();
      }
      throw new UncheckedIOException("cannot read the interfaces", e);
    }
    listener = newListener;
    report(links);
    if (first != null) {
      Process process = first;
      monitorThread = new Thread(() -> follow(process), "iap-monitor");
      monitorThread.setDaemon(true);
      monitorThread.start();
    }
    long every = rescanInterval.toMillis();
    periodic = timers.scheduleWithFixedDelay(this::rescan, every, every, TimeUnit.MILLISECONDS);
  }

  @Override
  public synchronized List<IapState> snapshot() {
    List<IapState> snapshot = new ArrayList<>();
    for (Iap iap : iaps) {
      snapshot.add(states.getOrDefault(iap.id(), IapState.down(iap)));
    }
    return List.copyOf(snapshot);
  }

  /**
   * One warning per available IAP whose address has no {@code ip rule from ADDR} leading to a
   * routing table with a default route (through the IAP's interface, when it names one).
   * Linux routes by destination, not by source address: without such a rule, traffic from the
   * cellular address leaves through whatever uplink the main table's default route names.
   * Loopback addresses need no table and are not checked.
   */
  @Override
  public List<String> routingWarnings() {
    List<String> warnings = new ArrayList<>();
    for (IapState state : snapshot()) {
      if (!state.available() || state.address().isLoopbackAddress()) {
        continue;
      }
      try {
        if (!routedBySource(state)) {
          String addr = state.address().getHostAddress();
          String dev = state.iap().interfaceName() != null ? state.iap().interfaceName() : "IF";
          warnings.add(state.iap() + " on " + addr + ": no routing table of its own (no `ip rule"
              + " from " + addr + "` leading to a table with a default route via " + dev
              + "), so its traffic may leave through another uplink; set one up with `ip rule"
              + " add from " + addr + " table N` and `ip route add default via GATEWAY dev "
              + dev + " table N`");
        }
      } catch (IOException e) {
        warnings.add(state.iap() + ": could not check its routing: " + e.getMessage());
      }
    }
    return List.copyOf(warnings);
  }

  @Override
  public void close() {
    Thread thread;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      listener = null;
      thread = monitorThread;
      if (periodic != null) {
        periodic.cancel(false);
      }
    }
    reads.shutdownNow(); // interrupts a read under way: ip is destroyed
    Process process = monitor;
    if (process != null) {
      process.destroy(); // its stdout closes, so the monitor thread's read ends
    }
    if (thread != null) {
      thread.interrupt(); // in case it waits to restart the monitor
      try {
        thread.join(2_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (process != null && process.isAlive()) {
      process.destroyForcibly();
    }
  }

  // ---- event source ----

  private static Process spawnMonitor() throws IOException {
    // stderr joins stdout: an error line triggers a harmless re-read and shows in the log.
    Process process = new ProcessBuilder(MONITOR_COMMAND).redirectErrorStream(true).start();
    process.getOutputStream().close();
    return process;
  }

  /** The monitor thread: reads events until close, restarting the monitor when it dies. */
  private void follow(Process first) {
    Process process = first;
    int quickFailures = 0;
    while (!closed) {
      long started = System.nanoTime();
      String lastLine = process == null ? null : readEvents(process);
      if (closed) {
        return;
      }
      String exit = process == null ? "could not be started" : "exited: " + exitOf(process);
      quickFailures = System.nanoTime() - started >= HEALTHY_RUN_NANOS ? 1 : quickFailures + 1;
      if (quickFailures > MAX_QUICK_FAILURES) {
        log.error("`{}` {}, {} times in a row: giving up; interface changes are now seen only"
            + " by the re-read every {} ms", String.join(" ", MONITOR_COMMAND), exit,
            MAX_QUICK_FAILURES, rescanInterval.toMillis());
        return;
      }
      long delay = Math.min(FIRST_RESTART_DELAY_MS << (quickFailures - 1), MAX_RESTART_DELAY_MS);
      log.warn("`{}` {}{}; restarting it in {} ms", String.join(" ", MONITOR_COMMAND), exit,
          lastLine == null ? "" : " (last line: " + lastLine + ")", delay);
      try {
        Thread.sleep(delay);
      } catch (InterruptedException e) {
        return; // close()
      }
      try {
        process = spawnMonitor();
        monitor = process;
        if (closed) { // close() may have looked at the previous process
          process.destroyForcibly();
          return;
        }
      } catch (IOException e) {
        log.warn("cannot restart `{}`: {}", String.join(" ", MONITOR_COMMAND), e.getMessage());
        process = null;
        continue;
      }
      rescan(); // changes while no monitor ran were not reported
    }
  }

  /** Re-reads the interfaces after each burst of monitor lines; returns the last line read. */
  private String readEvents(Process process) {
    String lastLine = null;
    try (BufferedReader lines = new BufferedReader(
        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = lines.readLine()) != null) {
        lastLine = line;
        // One change prints several lines (a link and its addresses): take those already
        // written, then re-read once.
        while (lines.ready() && (line = lines.readLine()) != null) {
          lastLine = line;
        }
        rescan();
      }
    } catch (IOException e) {
      if (!closed) {
        log.warn("reading `{}` failed: {}", String.join(" ", MONITOR_COMMAND), e.getMessage());
      }
    }
    return lastLine;
  }

  private static String exitOf(Process process) {
    try {
      return process.waitFor(1, TimeUnit.SECONDS) ? "status " + process.exitValue() : "hung";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "unknown";
    }
  }

  // ---- state ----

  /**
   * Has every interface re-read on the reader thread, then each IAP whose state differs from
   * the last report reported. Returns at once (timer and monitor threads call it).
   */
  private void rescan() {
    if (!closed) {
      reads.execute(this::readAndReport); // dropped when one already waits: it reads later
    }
  }

  /** On the reader thread: {@code ip} outside the lock, the result applied under it. */
  private void readAndReport() {
    Map<String, Link> links;
    try {
      links = linkReader.read();
    } catch (IOException | RuntimeException e) {
      if (!closed) {
        log.warn("re-reading the interfaces failed (state kept as it was): {}", e.toString());
      }
      return;
    }
    synchronized (this) {
      if (!closed && listener != null) {
        report(links);
      }
    }
  }

  private void report(Map<String, Link> links) {
    for (Iap iap : iaps) {
      IapState previous = states.get(iap.id());
      IapState current = stateOf(iap, links, previous);
      if (!current.equals(previous)) {
        states.put(iap.id(), current);
        listener.iapChanged(current);
      }
    }
  }

  private IapState stateOf(Iap iap, Map<String, Link> links, IapState previous) {
    List<InetAddress> addresses = new ArrayList<>();
    if (iap.interfaceName() != null) {
      Link link = links.get(iap.interfaceName());
      if (link != null && link.usable()) {
        addresses.addAll(link.addresses());
      }
    } else {
      links.values().stream().filter(Link::usable).forEach(l -> addresses.addAll(l.addresses()));
    }
    InetAddress fixed = fixedAddresses.get(iap.id());
    if (fixed != null) {
      return addresses.contains(fixed) ? IapState.up(iap, fixed) : IapState.down(iap);
    }
    // IPv4 when the uplink has it (dual stack: the family most registrars answer on), else a
    // global IPv6 address (an IPv6-only cellular uplink); the registrar is then resolved to
    // addresses of that family (RFC 3263, AAAA on IPv6).
    List<InetAddress> ipv4 = addresses.stream().filter(a -> a instanceof Inet4Address).toList();
    List<InetAddress> usable = ipv4.isEmpty() ? addresses : ipv4;
    if (usable.isEmpty()) {
      return IapState.down(iap);
    }
    // Keep the address in use while the interface still has it: a second address appearing
    // must not move every profile.
    if (previous != null && previous.available() && usable.contains(previous.address())) {
      return previous;
    }
    return IapState.up(iap, usable.get(0)); // the primary address: ip lists it first
  }

  /**
   * One interface as {@code ip -j addr show} describes it.
   *
   * @param usable up with carrier
   * @param addresses usable addresses in the kernel's order (primary first): no IPv4
   *     link-local; IPv6 only of global scope (or ::1), and none tentative, failed (DAD), deprecated
   *     (its preferred lifetime over) or temporary (RFC 8981 privacy addresses change every
   *     day or so: each change would be a move)
   */
  record Link(String name, boolean usable, List<InetAddress> addresses) {}

  static Map<String, Link> readLinks() throws IOException {
    return parseLinks(Ip.json("addr", "show"));
  }

  static Map<String, Link> parseLinks(JsonNode json) {
    Map<String, Link> links = new HashMap<>();
    for (JsonNode node : json) {
      String name = node.path("ifname").asText();
      Set<String> flags = new HashSet<>();
      node.path("flags").forEach(flag -> flags.add(flag.asText()));
      String operstate = node.path("operstate").asText("");
      boolean usable = flags.contains("UP") && ("UP".equals(operstate)
          || ("UNKNOWN".equals(operstate) && flags.contains("LOWER_UP")));
      List<InetAddress> addresses = new ArrayList<>();
      for (JsonNode info : node.path("addr_info")) {
        String family = info.path("family").asText();
        if (!family.equals("inet") && !family.equals("inet6")
            || info.path("tentative").asBoolean(false) || info.path("dadfailed").asBoolean(false)) {
          continue;
        }
        InetAddress address;
        try {
          address = IpLiterals.parse(info.path("local").asText());
        } catch (IllegalArgumentException e) {
          continue;
        }
        if (family.equals("inet6") && ((!"global".equals(info.path("scope").asText())
            && !address.isLoopbackAddress()) // ::1: loopback IAPs, as 127.0.0.1
            || info.path("deprecated").asBoolean(false)
            || info.path("temporary").asBoolean(false))) {
          continue;
        }
        if (!address.isLinkLocalAddress()) { // 169.254/16 and fe80::/10
          addresses.add(address);
        }
      }
      links.put(name, new Link(name, usable, List.copyOf(addresses)));
    }
    return links;
  }

  // ---- routing check ----

  /** Rule selectors that narrow a rule to part of the traffic from an address. */
  private static final Set<String> NARROWING_SELECTORS = Set.of("not", "dst", "iif", "oif",
      "fwmark", "tos", "dsfield", "ipproto", "sport", "dport", "uidrange", "l3mdev");

  private static boolean routedBySource(IapState state) throws IOException {
    InetAddress address = state.address();
    String family = address instanceof Inet4Address ? "-4" : "-6";
    for (JsonNode rule : Ip.json(family, "rule", "show")) {
      String src = rule.path("src").asText("all");
      String table = rule.path("table").asText("");
      if (src.equals("all") || table.isEmpty() || narrowed(rule)
          || !covers(src, rule.path("srclen").asInt(address.getAddress().length * 8), address)) {
        continue;
      }
      if (hasDefaultRoute(family, table, state.iap().interfaceName())) {
        return true;
      }
    }
    return false;
  }

  private static boolean narrowed(JsonNode rule) {
    for (String selector : NARROWING_SELECTORS) {
      if (rule.has(selector)) {
        return true;
      }
    }
    return false;
  }

  private static boolean hasDefaultRoute(String family, String table, String interfaceName) {
    JsonNode routes;
    try {
      routes = Ip.json(family, "route", "show", "table", table);
    } catch (IOException e) {
      return false; // "FIB table does not exist"
    }
    for (JsonNode route : routes) {
      if (route.path("dst").asText().equals("default")
          && (interfaceName == null || interfaceName.equals(route.path("dev").asText()))) {
        return true;
      }
    }
    return false;
  }

  /** Whether {@code prefix/length} contains {@code address}. */
  static boolean covers(String prefix, int length, InetAddress address) {
    byte[] network;
    try {
      network = IpLiterals.parse(prefix).getAddress();
    } catch (IllegalArgumentException e) {
      return false;
    }
    byte[] bytes = address.getAddress();
    if (network.length != bytes.length || length < 0 || length > bytes.length * 8) {
      return false;
    }
    for (int bit = 0; bit < length; bit++) {
      int mask = 0x80 >>> (bit % 8);
      if ((network[bit / 8] & mask) != (bytes[bit / 8] & mask)) {
        return false;
      }
    }
    return true;
  }
}
