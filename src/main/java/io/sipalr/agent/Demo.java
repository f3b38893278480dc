package io.sipalr.agent;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import io.sipalr.alr.AlrController;
import io.sipalr.alr.AlrError;
import io.sipalr.alr.AlrEvent;
import io.sipalr.alr.AlrObserver;
import io.sipalr.mobility.ScriptedIapProvider;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.SipProfileRegistry;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code sip-alr-agent demo}: the ALR flow, step by step, against a real registrar. Kamailio
 * runs in Docker on 127.0.0.1; the agent runs in this process with the scripted IAP provider on
 * two loopback IAPs (wlan 127.0.0.2, ranked first, and cellular 127.0.0.3), a temporary data
 * directory, no control API, and a controller of the demo's own that allows or refuses each
 * migration. A network that goes down is also blocked at the registrar, as a real one would be.
 * After each step it prints what happened as a sequence diagram and what the registrar holds,
 * and checks it: exactly one binding, received from the expected IAP's address. For the call
 * step a second agent in this process registers {@value #BUDDY} from its anchor address (no
 * SNAP) and answers calls by itself; the registrar routes the call to it.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = {
        "Shows SIP ALR at work against a real registrar (Kamailio in Docker): register, "
            + "upgrade, refusal, downgrade, a call that follows a move, shutdown.",
        "Needs a Docker engine; builds the registrar image from docker/kamailio/ when missing. "
            + "Exits 0 when every step held, 1 when one did not, 3 without Docker."})
final class Demo implements Callable<Integer> {
  static final String PASSED = "DEMO PASSED";
  static final String FAILED = "DEMO FAILED";
  private static final String PROFILE = "demo";
  static final String BUDDY = "buddy";
  /** RTP packets the call must receive on its new socket after the move. */
  private static final int PACKETS_AFTER_MOVE = 25;
  private static final int WLAN = 1;
  private static final int CELL = 2;
  private static final String WLAN_ADDRESS = "127.0.0.2";
  private static final String CELL_ADDRESS = "127.0.0.3";
  /** How long a step waits for what it expects: seconds are plenty on loopback. */
  private static final Duration STEP_BOUND = Duration.ofSeconds(20);

  @Spec
  private CommandSpec spec;
  private PrintWriter out;
  private DemoRegistrar registrar;
  private SipProfileRegistry registry;
  private ScriptedIapProvider iaps;
  private AlrController controller;
  private String password;
  private Agent agent;
  private final DemoTimeline timeline = new DemoTimeline(Demo::iapName);
  /** The demo controller's answer to the next IAP_AVAILABLE. */
  private volatile boolean allowMoves = true;

  @Override
  public Integer call() throws Exception {
    out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Optional<String> noDocker = DemoRegistrar.dockerUnavailable();
    if (noDocker.isPresent()) {
      err.println("sip-alr-agent demo: the demo runs its registrar (Kamailio) in Docker, but "
          + noDocker.get() + ". Install Docker or start its engine, then try again.");
      return Main.EXIT_NO_DOCKER;
    }
    quietLogs();
    Path dataDir = Files.createTempDirectory("sip-alr-demo");
    boolean passed;
    try (DemoRegistrar started = DemoRegistrar.start(err)) {
      registrar = started;
      String password = HexFormat.of().formatHex(new SecureRandom().generateSeed(12));
      registrar.addUser(PROFILE, password);
      registrar.addUser(BUDDY, password);
      this.password = password;
      out.printf("Registrar: Kamailio on %s (Docker). Agent: profile \"%s\" on SNAP 1 = "
          + "[wlan %s, cellular %s], UDP.%n", registrar.sipUri(), PROFILE, WLAN_ADDRESS,
          CELL_ADDRESS);
      agent = Agent.create(config(registrar.sipUri(), password, dataDir));
      try {
        wire();
        agent.start();
        passed = register() && upgrade() && refusal() && downgrade() && aCall() && shutdown();
      } finally {
        agent.close();
      }
    } finally {
      deleteRecursively(dataDir);
    }
    out.println();
    out.println(passed ? PASSED + ": every step held." : FAILED + ": see the step above.");
    return passed ? Main.EXIT_OK : Main.EXIT_FAILED;
  }

  // ---- the steps ---------------------------------------------------------------------------

  /** Only cellular is up: the profile registers through it without asking anyone (rule 1). */
  private boolean register() throws Exception {
    int mark = begin("1. register", "cellular comes up; the profile registers through it, "
        + "asking no one");
    network(CELL, true);
    boolean done = timeline.await(() -> registeredFrom(CELL_ADDRESS), STEP_BOUND);
    return end(mark, done, "registered from " + CELL_ADDRESS, CELL_ADDRESS);
  }

  /** wlan comes up and the controller allows the move: make-before-break to wlan. */
  private boolean upgrade() throws Exception {
    int mark = begin("2. upgrade", "wlan comes up; the demo controller allows the move");
    allowMoves = true;
    network(WLAN, true);
    boolean done = timeline.await(() -> timeline.seenSince(mark, "MIGRATION_COMPLETED", WLAN)
        && registeredFrom(WLAN_ADDRESS), STEP_BOUND);
    return end(mark, done, "MIGRATION_COMPLETED, bound from " + WLAN_ADDRESS, WLAN_ADDRESS);
  }

  /**
   * wlan is lost: back to cellular without a vote (rule 7). wlan returns, but the controller
   * refuses it now: ACCESS_DENIED, and the profile stays on cellular (rule 5).
   */
  private boolean refusal() throws Exception {
    int mark = begin("3. refusal", "wlan is lost (downgrade: no vote); wlan returns and the "
        + "demo controller refuses it");
    network(WLAN, false);
    boolean back = timeline.await(() -> registeredFrom(CELL_ADDRESS), STEP_BOUND);
    allowMoves = false;
    network(WLAN, true);
    boolean denied = back && timeline.await(
        () -> timeline.seenSince(mark, "ACCESS_DENIED", WLAN), STEP_BOUND);
    return end(mark, denied && registeredFrom(CELL_ADDRESS),
        "back on cellular, then ACCESS_DENIED for wlan", CELL_ADDRESS);
  }

  /**
   * Cellular is lost too. wlan is up, but refused a moment ago it is not offered again: no IAP
   * is left, so the profile waits, sending nothing (rule 8). The controller asks for a fresh
   * look (refreshIapAvailability): wlan becomes the carrier at once, without a vote, as a first
   * carrier always does.
   */
  private boolean downgrade() throws Exception {
    int mark = begin("4. downgrade", "cellular is lost too; wlan, refused before, is not "
        + "offered: the profile waits until the controller refreshes");
    network(CELL, false);
    boolean waiting = timeline.await(() -> registry.status(PROFILE)
        == ProfileStatus.REGISTRATION_IN_PROGRESS
        && registry.localAddressOf(PROFILE).isEmpty(), STEP_BOUND);
    if (waiting) {
      timeline.action("demo controller: refreshIapAvailability(" + PROFILE
          + "): refusals are forgotten");
      controller.refreshIapAvailability(PROFILE);
    }
    boolean done = waiting && timeline.await(() -> registeredFrom(WLAN_ADDRESS), STEP_BOUND);
    return end(mark, done, "waited with no network, then registered from " + WLAN_ADDRESS,
        WLAN_ADDRESS);
  }

  /**
   * The profile (on wlan) calls buddy through the registrar; RTP flows both ways. Cellular
   * comes back and wlan is lost: the profile moves to cellular and the call follows it (a
   * re-INVITE from there, RTP from a socket there), the same call, its RTP going on. Then the
   * demo hangs up (BYE).
   */
  private boolean aCall() throws Exception {
    int mark = begin("5. call", "the profile calls " + BUDDY + " through the registrar; "
        + "cellular returns and wlan is lost: the call follows the profile");
    Path buddyDir = Files.createTempDirectory("sip-alr-demo-buddy");
    try (Agent buddy = Agent.create(buddyConfig(registrar.sipUri(), password, buddyDir))) {
      buddy.registry().addListener(event -> {
        if (event.type() == io.sipalr.sip.RegistryEvent.Type.REGISTERED) {
          timeline.action(BUDDY + " (a second agent, answering by itself) registered from "
              + buddy.registry().localAddressOf(BUDDY).orElse("?"));
        }
      });
      buddy.start();
      boolean ready = timeline.await(() -> buddy.registry().status(BUDDY)
          == ProfileStatus.REGISTERED, STEP_BOUND);
      return ready && callBuddy(mark);
    } finally {
      deleteRecursively(buddyDir);
    }
  }

  private boolean callBuddy(int mark) throws Exception {
    io.sipalr.calls.Calls calls = agent.calls();
    String to = "sip:" + BUDDY + "@" + DemoRegistrar.REALM;
    timeline.action("agent.calls().dial(" + PROFILE + ", " + to + ")");
    String id = calls.dial(PROFILE, to).id();
    boolean established = timeline.await(() -> timeline.seenSince(mark,
        "CALL_ESTABLISHED", 0), STEP_BOUND) && receives(calls, id, WLAN_ADDRESS, 1);
    boolean moved = false;
    boolean flowing = false;
    if (established) {
      network(CELL, true);
      network(WLAN, false);
      moved = timeline.await(() -> timeline.seenSince(mark, "CALL_MOVED", 0), STEP_BOUND);
      long atMove = calls.get(id).map(c -> c.media().received()).orElse(0L);
      flowing = moved && receives(calls, id, CELL_ADDRESS, atMove + PACKETS_AFTER_MOVE);
      calls.get(id).ifPresent(c -> timeline.action("call " + id + ": " + c.state() + " on "
          + c.localAddress() + ", RTP " + c.media().sent() + " sent, " + c.media().received()
          + " received, the last from " + c.media().lastSource()));
      timeline.action("agent.calls().hangUp(" + id + ")");
      calls.hangUp(id);
    }
    boolean ended = timeline.await(() -> timeline.seenSince(mark, "CALL_ENDED", 0),
        STEP_BOUND);
    return end(mark, established && moved && flowing && ended, "the same call on "
        + CELL_ADDRESS + ", " + PACKETS_AFTER_MOVE + " RTP packets received there, then ended",
        CELL_ADDRESS);
  }

  /**
   * Whether call {@code id} is on {@code address} and has received {@code packets} RTP packets,
   * looking every 50 ms (packets are no timeline events) for at most a step's bound.
   */
  private boolean receives(io.sipalr.calls.Calls calls, String id, String address,
      long packets) throws InterruptedException {
    long deadline = System.nanoTime() + STEP_BOUND.toNanos();
    while (System.nanoTime() < deadline) {
      var c = calls.get(id);
      if (c.isPresent() && c.get().media() != null
          && address.equals(c.get().media().localAddress())
          && c.get().media().received() >= packets) {
        return true;
      }
      timeline.await(() -> false, Duration.ofMillis(50));
    }
    return false;
  }

  /** The agent stops: every profile deregisters, and the registrar holds nothing. */
  private boolean shutdown() throws Exception {
    int mark = begin("6. shutdown", "the agent stops, as on SIGTERM: it deregisters first");
    timeline.action("agent.shutdown()");
    agent.close();
    boolean done = timeline.seenSince(mark, "DEREGISTERED", 0);
    return end(mark, done, "DEREGISTERED", null);
  }

  // ---- helpers -----------------------------------------------------------------------------

  private void wire() {
    registry = agent.registry();
    iaps = agent.scriptedIaps().orElseThrow();
    registry.addListener(event -> {
      if (event.profileId().equals(PROFILE)) {
        timeline.registry(event, registry.localAddressOf(PROFILE).orElse("nowhere"));
      }
    });
    // The controller records the events itself, before voting, so that the timeline keeps
    // their order: a vote can be answered (ACCESS_DENIED) before any other observer is told.
    agent.calls().addListener(event -> {
      if (event.profileId().equals(PROFILE)) {
        timeline.call(event);
      }
    });
    controller = agent.alr().newController(new AlrObserver() {
      @Override
      public void alrEvent(AlrEvent event, String profileId, int snapId, int iapId) {
        timeline.alrEvent(event, iapId);
        if (event == AlrEvent.IAP_AVAILABLE) {
          boolean allow = allowMoves;
          timeline.action("demo controller: " + (allow ? "allowMigration" : "disallowMigration")
              + "(" + profileId + ", " + iapName(iapId) + ")");
          if (allow) {
            controller.allowMigration(profileId, iapId);
          } else {
            controller.disallowMigration(profileId, iapId);
          }
        }
      }

      @Override
      public void alrError(AlrError error, String profileId, int snapId, int iapId) {
        timeline.alrError(error, iapId);
      }
    });
  }

  /** Brings an IAP up or down; a network that is down is unreachable at the registrar too. */
  private void network(int iapId, boolean up) throws IOException, InterruptedException {
    String address = iapId == WLAN ? WLAN_ADDRESS : CELL_ADDRESS;
    timeline.action(iapName(iapId) + (up ? " up" : " down"));
    if (up) {
      registrar.unblock(address);
      iaps.up(iapId);
    } else {
      registrar.block(address);
      iaps.down(iapId);
    }
  }

  private boolean registeredFrom(String address) {
    return registry.status(PROFILE) == ProfileStatus.REGISTERED
        && address.equals(registry.localAddressOf(PROFILE).orElse(null));
  }

  private int begin(String title, String what) {
    out.printf("%n== %s: %s%n", title, what);
    return timeline.mark();
  }

  /**
   * Prints the step's timeline and the registrar's bindings, and checks that the step reached
   * {@code outcome} and the registrar holds one binding received from {@code expectedSource}
   * (none when it is null).
   */
  private boolean end(int mark, boolean reached, String outcome, String expectedSource)
      throws IOException, InterruptedException {
    out.print(timeline.render(mark, "registrar " + registrar.sipUri()));
    List<DemoRegistrar.Binding> bindings = registrar.lookup(PROFILE);
    out.println("  registrar bindings of " + PROFILE + ":" + (bindings.isEmpty() ? " none" : ""));
    for (DemoRegistrar.Binding b : bindings) {
      out.printf("    %s  received %s  expires %d s%n", b.address(), b.received(), b.expires());
    }
    boolean held = check(reached, outcome + (reached ? "" : ": not within "
        + STEP_BOUND.toSeconds() + " s"));
    if (expectedSource == null) {
      held &= check(bindings.isEmpty(), "no binding left at the registrar");
    } else {
      held &= check(bindings.size() == 1, "exactly one binding at the registrar");
      held &= check(bindings.size() == 1
              && bindings.get(0).received().startsWith("sip:" + expectedSource + ":"),
          "received from " + expectedSource);
    }
    out.flush();
    return held;
  }

  private boolean check(boolean holds, String what) {
    out.println("  " + (holds ? "ok    " : "FAILED") + "  " + what);
    return holds;
  }

  private static String iapName(int iapId) {
    return switch (iapId) {
      case WLAN -> "wlan (" + WLAN_ADDRESS + ")";
      case CELL -> "cellular (" + CELL_ADDRESS + ")";
      default -> "IAP " + iapId;
    };
  }

  /** The agent as the demo runs it: see the class comment. */
  static Config config(String registrarUri, String password, Path dataDir) {
    // Only values the demo makes itself go into the text: a URI and a hex password.
    return agentConfig("""
        { id = demo, aor = "sip:demo@%s", registrar = "%s", password = "%s", transport = udp,
          expires = 600, snap = 1, auto-register = true }
        """.formatted(DemoRegistrar.REALM, registrarUri, password), "reject", dataDir);
  }

  /**
   * The other party of the call step: a second agent in this process (its own SIP stack and
   * data directory), one profile on its anchor address (no SNAP), answering calls by itself.
   */
  static Config buddyConfig(String registrarUri, String password, Path dataDir) {
    return agentConfig("""
        { id = %s, aor = "sip:%s@%s", registrar = "%s", password = "%s", transport = udp,
          expires = 600, auto-register = true }
        """.formatted(BUDDY, BUDDY, DemoRegistrar.REALM, registrarUri, password), "auto-answer",
        dataDir);
  }

  private static Config agentConfig(String profile, String callPolicy, Path dataDir) {
    String hocon = """
        sip {
          local-address = "127.0.0.1"
          port = 0
          register-timeout = 2s
          backoff { base-all-failed = 1s, base-some-failed = 1s, max = 4s }
        }
        mobility {
          provider = scripted
          iaps = [
            { id = 1, name = wlan, address = "127.0.0.2", bearer = wlan, cost = 1 }
            { id = 2, name = cellular, address = "127.0.0.3", bearer = cellular, cost = 10 }
          ]
          snaps = [ { id = 1, name = internet, iaps = [1, 2] } ]
        }
        control.enabled = false
        calls { policy = %s, answer-delay = 0s }
        profiles = [
        %s]
        """.formatted(callPolicy, profile);
    return ConfigFactory.parseString(hocon)
        .withValue("agent.data-dir", ConfigValueFactory.fromAnyRef(dataDir.toString()))
        .withFallback(ConfigFactory.defaultReference())
        .resolve(); // alr.policy stays auto: the demo controller's vote decides
  }

  /** The demo tells its own story on stdout; the agent's INFO log would tell it twice. */
  private static void quietLogs() {
    if (LoggerFactory.getILoggerFactory() instanceof LoggerContext logback) {
      // Every configured logger of the project, the agent's own (INFO by default) included.
      logback.getLoggerList().stream().filter(l -> l.getName().startsWith("io.sipalr"))
          .forEach(l -> l.setLevel(Level.WARN));
      logback.getLogger("io.sipalr").setLevel(Level.WARN);
    }
  }

  private static void deleteRecursively(Path dir) throws IOException {
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
