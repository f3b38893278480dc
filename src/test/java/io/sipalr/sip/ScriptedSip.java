package io.sipalr.sip;

import io.sipalr.profile.ProfileStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A {@link SipProfileRegistry} on the scripted registrar and a virtual clock, for tests outside
 * this package (the ALR session's): the whole SIP core, no socket, no thread. Everything runs
 * when the test moves the clock or answers; {@link #settle} does both until nothing is left.
 */
public final class ScriptedSip implements AutoCloseable {
  public final VirtualClock clock = new VirtualClock();
  final ScriptedRegistrar registrar = new ScriptedRegistrar(clock);
  public final SipProfileRegistry registry;
  /** The registry's store (a temporary directory). */
  public final ProfileStore store;
  private final Path dataDir;

  public ScriptedSip(SipConfig config, String... users) throws IOException {
    for (String user : users) {
      registrar.user(user, RegistrationRig.PASSWORD);
    }
    Path shm = Path.of("/dev/shm");
    dataDir = Files.isDirectory(shm) && Files.isWritable(shm)
        ? Files.createTempDirectory(shm, "sipalr-scripted") // fsync there costs nothing
        : Files.createTempDirectory("sipalr-scripted");
    store = ProfileStore.open(dataDir);
    registry = new SipProfileRegistry(store, config, registrar, clock, clock, clock.clock());
  }

  /** The default test configuration (RegistrationRig.CONFIG). */
  public ScriptedSip(String... users) throws IOException {
    this(RegistrationRig.CONFIG, users);
  }

  public static String password() {
    return RegistrationRig.PASSWORD;
  }

  /** Answers every request correctly and lets due work run, for at most {@code d}. */
  public void settle(Duration d) {
    registrar.settle(d);
  }

  /** Answers the oldest request in flight with {@code answer} (a ScriptedRegistrar.Answer). */
  public boolean answerNext(String answer) {
    clock.runDue();
    ScriptedRegistrar.Sent s = registrar.nextPending();
    if (s == null) {
      return false;
    }
    registrar.answer(s, ScriptedRegistrar.Answer.valueOf(answer));
    clock.runDue();
    return true;
  }

  /** The user of the oldest REGISTER in flight, or null. */
  public String nextUser() {
    clock.runDue();
    ScriptedRegistrar.Sent s = registrar.nextPending();
    return s == null ? null : ScriptedRegistrar.userOf(s.request);
  }

  /** The local address the oldest request in flight was sent from, or null. */
  public String nextFrom() {
    ScriptedRegistrar.Sent s = registrar.nextPending();
    return s == null ? null : s.from.address;
  }

  /** Every answer kind, for generators. */
  public static List<String> answers() {
    return java.util.Arrays.stream(ScriptedRegistrar.Answer.values()).map(Enum::name).toList();
  }

  public List<String> bindings(String aor) {
    return registrar.bindings(aor);
  }

  public void restartRegistrar() {
    registrar.restart();
  }

  /** REGISTERs sent so far. */
  public long registersSent() {
    return registrar.sent.stream().filter(s -> s.method().equals("REGISTER")).count();
  }

  /** REGISTERs in flight now (sent, neither answered nor abandoned). */
  public long registersInFlight() {
    return registrar.inFlight("REGISTER");
  }

  /** The most REGISTERs in flight for any one user now. */
  public long mostRegistersInFlightPerUser() {
    return registrar.inFlightByUser("REGISTER");
  }

  /** Sends from {@code address} fail at once (the interface went away under the stack). */
  public void unreachableFrom(String address, boolean on) {
    SipEngine.Endpoint e = registrar.acquire(address);
    registrar.release(e);
    if (on) {
      registrar.unreachableFrom.add(e);
    } else {
      registrar.unreachableFrom.remove(e);
    }
  }

  @Override
  public void close() throws IOException {
    registry.close();
    try (var files = Files.walk(dataDir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
