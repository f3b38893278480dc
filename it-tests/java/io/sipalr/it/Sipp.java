package io.sipalr.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * SIPp (Debian's {@code sip-tester}) as the reference registering client of {@link MassBench}:
 * the scenario it-tests/resources/sipp/register-md5.xml (REGISTER, 401, REGISTER with MD5
 * digest, 200), one call per user of a generated injection file, a bounded number of calls
 * ({@code -m}), a high rate ({@code -r}/{@code -rp}) with a cap on calls in flight ({@code -l}),
 * from its own loopback address. The achieved rate comes from its {@code -trace_stat} file.
 */
final class Sipp {
  /** Where SIPp sends from: a loopback address no agent in the benchmarks uses. */
  static final String LOCAL_ADDRESS = "127.0.0.5";
  private static final Duration INSTALL_BOUND = Duration.ofMinutes(5);

  /** The outcome of one run; {@code rate} is successful calls per second of its run. */
  record Result(int calls, long successful, long failed, long retransmissions, double seconds,
      double rate, double sippCallRate, int exitCode, String commandLine,
      // CPU time (s) SIPp used (user + system), and Kamailio during the run; NaN: unknown
      double sippCpuSeconds, double kamailioCpuSeconds) {

    double sippCpuMsPerCall() {
      return sippCpuSeconds * 1000 / successful;
    }

    double kamailioCpuMsPerCall() {
      return kamailioCpuSeconds * 1000 / successful;
    }
  }

  private final Path executable;
  private final Path dir;

  private Sipp(Path executable, Path dir) {
    this.executable = executable;
    this.dir = dir;
  }

  /**
   * SIPp on this machine; when it is missing and we are root, {@code apt-get install -y
   * sip-tester} first (with an {@code apt-get update} if that alone fails). Null, with the
   * reason printed, when there is still none: the caller reports sipp as not measured.
   */
  static Sipp find(Path workDir) throws IOException, InterruptedException {
    Path found = onPath("sipp");
    if (found == null && "root".equals(System.getProperty("user.name"))) {
      System.out.println("MassBench: sipp not found; installing Debian's sip-tester"
          + " (apt-get install -y sip-tester)");
      if (run(List.of("apt-get", "install", "-y", "sip-tester")) != 0) {
        run(List.of("apt-get", "update"));
        run(List.of("apt-get", "install", "-y", "sip-tester"));
      }
      found = onPath("sipp");
    }
    if (found == null) {
      System.out.println("MassBench: sipp is not installed and could not be installed: the sipp"
          + " comparison is left out. Install it with `apt-get install -y sip-tester` (Debian,"
          + " as root) and run again.");
      return null;
    }
    Files.createDirectories(workDir);
    Path scenario = workDir.resolve("register-md5.xml");
    try (InputStream in = Sipp.class.getResourceAsStream("/sipp/register-md5.xml")) {
      if (in == null) {
        throw new IllegalStateException("sipp/register-md5.xml is not on the test class path");
      }
      Files.write(scenario, in.readAllBytes());
    }
    return new Sipp(found, workDir);
  }

  private static Path onPath(String name) {
    for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
      Path p = Path.of(d.isEmpty() ? "." : d, name);
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    for (String d : List.of("/usr/bin", "/usr/local/bin")) {
      Path p = Path.of(d, name);
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }

  private static int run(List<String> command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    p.getOutputStream().close();
    if (!p.waitFor(INSTALL_BOUND.toMillis(), TimeUnit.MILLISECONDS)) {
      p.destroyForcibly();
      return -1;
    }
    return p.exitValue();
  }

  /** Writes the injection file: one line {@code user;password;realm} per user. */
  Path usersFile(String name, List<String> users, String password, String realm)
      throws IOException {
    StringBuilder csv = new StringBuilder("SEQUENTIAL\n");
    for (String u : users) {
      csv.append(u).append(';').append(password).append(';').append(realm).append('\n');
    }
    Path file = dir.resolve(name);
    Files.writeString(file, csv, StandardCharsets.US_ASCII);
    return file;
  }

  /**
   * Registers every user of {@code users} once at {@code registrar}, at most {@code limit} in
   * flight, as fast as the registrar answers (-r 100000 per second); bounded by SIPp's own
   * global timeout and a wait of that plus 30 s here.
   */
  Result register(KamailioRegistrar registrar, Path users, int calls, int limit,
      Duration timeout, String tag) throws IOException, InterruptedException {
    Path stat = dir.resolve("stat-" + tag + ".csv");
    Path out = dir.resolve("screen-" + tag + ".txt");
    Files.deleteIfExists(stat);
    List<String> command = new ArrayList<>(List.of(
        executable.toString(), registrar.host() + ":" + registrar.port(),
        "-sf", dir.resolve("register-md5.xml").toString(),
        "-inf", users.toString(),
        "-i", LOCAL_ADDRESS, "-p", Integer.toString(freeUdpPort(LOCAL_ADDRESS)),
        "-m", Integer.toString(calls),
        "-r", "100000", "-rp", "1000",
        "-l", Integer.toString(limit),
        "-timeout", timeout.toSeconds() + "s",
        "-nostdin",
        "-trace_stat", "-fd", "1", "-stf", stat.toString()));
    // bash's "times" after SIPp exits: its CPU time (second line: children's user and system).
    Path cpu = dir.resolve("cpu-" + tag + ".txt");
    Files.deleteIfExists(cpu);
    List<String> timed = new ArrayList<>(List.of("bash", "-c",
        "\"$@\"; rc=$?; times > " + cpu + "; exit $rc", "sipp"));
    timed.addAll(command);
    long kamailioCpu0 = registrar.cpuNanos();
    Process p = new ProcessBuilder(timed).redirectErrorStream(true)
        .redirectOutput(out.toFile()).start();
    p.getOutputStream().close();
    if (!p.waitFor(timeout.plusSeconds(30).toMillis(), TimeUnit.MILLISECONDS)) {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    long kamailioCpu1 = registrar.cpuNanos();
    int exit = p.isAlive() ? -1 : p.exitValue();
    String commandLine = String.join(" ", command);
    if (!Files.exists(stat)) {
      throw new IllegalStateException("sipp wrote no statistics (exit " + exit + "): "
          + commandLine + "\n" + Files.readString(out));
    }
    Map<String, String> last = lastRow(stat);
    long ok = Long.parseLong(last.get("SuccessfulCall(C)"));
    double seconds = epoch(last.get("CurrentTime")) - epoch(last.get("StartTime"));
    return new Result(calls, ok, Long.parseLong(last.get("FailedCall(C)")),
        Long.parseLong(last.get("Retransmissions(C)")), seconds, ok / seconds,
        Double.parseDouble(last.get("CallRate(C)")), exit, commandLine, childrenCpu(cpu),
        kamailioCpu0 < 0 || kamailioCpu1 < 0 ? Double.NaN : (kamailioCpu1 - kamailioCpu0) / 1e9);
  }

  /** "0m0.001s 0m0.002s" then "0m1.234s 0m0.567s": the children's user + system seconds. */
  private static double childrenCpu(Path times) {
    try {
      List<String> lines = Files.readAllLines(times);
      double total = 0;
      for (String t : lines.get(1).trim().split("\\s+")) {
        int m = t.indexOf('m');
        total += Integer.parseInt(t.substring(0, m)) * 60
            + Double.parseDouble(t.substring(m + 1, t.length() - 1));
      }
      return total;
    } catch (IOException | RuntimeException e) {
      return Double.NaN;
    }
  }

  /** The last row of a -trace_stat file (';'-separated, header first) by column name. */
  private static Map<String, String> lastRow(Path stat) throws IOException {
    List<String> lines = Files.readAllLines(stat, StandardCharsets.ISO_8859_1).stream()
        .filter(l -> !l.isBlank()).toList();
    String[] header = lines.get(0).split(";");
    String[] values = lines.get(lines.size() - 1).split(";");
    Map<String, String> row = new HashMap<>();
    for (int i = 0; i < Math.min(header.length, values.length); i++) {
      row.put(header[i], values[i]);
    }
    return row;
  }

  /** "2026-11-21\t07:03:52.480125\t1795244632.480125": the last field, seconds since 1970. */
  private static double epoch(String time) {
    String[] parts = time.trim().split("\t");
    return Double.parseDouble(parts[parts.length - 1]);
  }

  private static int freeUdpPort(String address) {
    try (DatagramSocket s = new DatagramSocket(
        new InetSocketAddress(InetAddress.getByName(address), 0))) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
