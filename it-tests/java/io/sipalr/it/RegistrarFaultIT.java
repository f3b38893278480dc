package io.sipalr.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.it.KamailioRegistrar.Binding;
import io.sipalr.profile.SipProfile;
import io.sipalr.profile.SipProfileBuilder;
import io.sipalr.profile.Transport;
import io.sipalr.sip.MigrationOrder;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.RegistrationError;
import io.sipalr.sip.RegistryEvent;
import io.sipalr.sip.SipConfig;
import io.sipalr.sip.SipProfileRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The registrar misbehaves, then behaves again (issue 11): every test asserts Kamailio's
 * location table (one binding per profile, from the address the profile registers from) and
 * that every profile ends REGISTERED by itself within a stated bound, without any hand of the
 * test on the agent.
 *
 * <p>Short settings so that each fault heals within seconds: REGISTER timeout 2 s, RFC 5626
 * backoff base 1 s and max 10 s, {@code sip.auth-retry} 3 s, expires 20 s. The bound once the
 * registrar behaves again is {@link #HEAL}: the longest wait a failure may have scheduled
 * (backoff max, which is longer than auth-retry), then one attempt (a REGISTER answered by one
 * fresh challenge, then the REGISTER with credentials, each within the REGISTER timeout), and
 * 3 s for the test's polling on a shared machine. A registrar that restarts unnoticed is found
 * at the next refresh, which comes before the granted expiry: {@link #RESTART_HEAL}.
 *
 * <p>Registrar addresses: 127.0.0.51 with a fixed port where a registrar must come back at the
 * same place, challenging as a stock Kamailio does ({@link #registrarAt}); the agent on
 * 127.0.0.2 (or the scripted IAPs of {@link AlrHarness}); the loss test in
 * {@link NetnsTopology}'s namespace.
 */
class RegistrarFaultIT {
  private static final String AGENT = "127.0.0.2";
  private static final String REGISTRAR = "127.0.0.51";
  private static final String PASSWORD = AgentHarness.REALM_PASSWORD;
  private static final int EXPIRES = 20;
  private static final int NONCE_EXPIRE = 10;
  private static final Duration REGISTER_TIMEOUT = Duration.ofSeconds(2);
  private static final Duration BACKOFF_BASE = Duration.ofSeconds(1);
  private static final Duration BACKOFF_MAX = Duration.ofSeconds(10);
  private static final Duration AUTH_RETRY = Duration.ofSeconds(3);
  /** Registered again once the registrar behaves: backoff max (≥ auth-retry) + one attempt. */
  private static final Duration HEAL = BACKOFF_MAX.plus(REGISTER_TIMEOUT.multipliedBy(2))
      .plusSeconds(3);
  /** A restart unnoticed until the next refresh: the granted expiry, then {@link #HEAL}. */
  private static final Duration RESTART_HEAL = HEAL.plusSeconds(EXPIRES);
  /** First registration of a handful of profiles on loopback. */
  private static final Duration FIRST_REGISTRATION = Duration.ofSeconds(30);
  private static final Duration POLL = Duration.ofMillis(200);

  /** The agent's SIP settings of these tests: short, as said above. */
  static SipConfig config(String localAddress, Duration keepAlive) {
    return new SipConfig(localAddress, 0, "sip-alr-agent-it", REGISTER_TIMEOUT,
        new SipConfig.Backoff(BACKOFF_BASE, BACKOFF_BASE, BACKOFF_MAX), keepAlive, 4, 2,
        Duration.ofSeconds(60),
        new SipConfig.RegisterLimits(AUTH_RETRY, Duration.ofSeconds(10), 20));
  }

  private static List<String> users(String prefix, int count) {
    return IntStream.range(0, count).mapToObj(i -> String.format("%s%02d", prefix, i)).toList();
  }

  /** Profile id, AOR user and authentication user alike; expires {@link #EXPIRES}. */
  private static SipProfile profile(String user, String registrarUri, Integer snapId) {
    return SipProfileBuilder.forId(user).aor("sip:" + user + "@" + KamailioRegistrar.DEFAULT_REALM)
        .registrar(registrarUri).authUser(user).password(PASSWORD).transport(Transport.UDP)
        .expires(EXPIRES).snapId(snapId).autoRegister(true).build();
  }

  // ---- (a) stock challenge, short nonces, refreshes and moves ------------------------------

  /**
   * A Kamailio that never says stale=true, with nonces living 10 s and profiles registered for
   * 20 s: every refresh carries credentials for an expired nonce and gets the same 401 that
   * wrong credentials would get. Through three refreshes and two moves between two local
   * addresses (wlan 127.0.0.2, cellular 127.0.0.3), at every look at the location table each
   * profile has exactly one binding: never lost, never doubled.
   */
  @Test
  void stockChallengeWithShortNoncesKeepsOneBindingPerProfileThroughRefreshesAndMoves()
      throws Exception {
    List<String> users = users("stock", 10);
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().routing().stockChallenge()
            .nonceExpire(NONCE_EXPIRE).start();
        AlrHarness agent = new AlrHarness(MigrationOrder.MAKE_BEFORE_BREAK,
            config("127.0.0.1", Duration.ofSeconds(30)), 2000)) {
      users.forEach(u -> kamailio.addUser(u, PASSWORD));
      agent.iaps.up(AlrHarness.CELL);
      agent.iaps.up(AlrHarness.WLAN);
      for (String user : users) {
        agent.registry.create(profile(user, kamailio.sipUri(), AlrHarness.SNAP_WLAN_CELL));
      }
      Table table = new Table(kamailio, agent.registry, users);
      table.awaitAll("first registration through wlan", AlrHarness.WLAN_ADDRESS,
          FIRST_REGISTRATION, false);

      // Each phase: every binding renewed once more (a refresh: nothing else sends), with the
      // invariant checked at every look; then a move.
      Duration refresh = RESTART_HEAL;
      table.awaitRenewedByAll("refresh 1", refresh);
      agent.iaps.down(AlrHarness.WLAN);
      table.awaitAll("move to cellular (wlan lost)", AlrHarness.CELL_ADDRESS, HEAL, true);
      table.awaitRenewedByAll("refresh 2", refresh);
      agent.iaps.up(AlrHarness.WLAN);
      table.awaitAll("move back to wlan", AlrHarness.WLAN_ADDRESS, HEAL, true);
      table.awaitRenewedByAll("refresh 3", refresh);

      for (String user : users) {
        assertEquals(ProfileStatus.REGISTERED, agent.registry.status(user), user);
        // The first registration's 401, then one for every refresh: the stock challenge of an
        // expired nonce was met and answered each time.
        long challenges = kamailio.challengeCount(user);
        assertTrue(challenges >= 4, user + ": " + challenges + " challenges, expected one per"
            + " refresh after the first registration's");
      }
      table.assertOneBindingEach(AlrHarness.WLAN_ADDRESS, "at the end");
    }
  }

  // ---- (b) registrar killed and restarted empty -------------------------------------------

  /**
   * Kamailio killed (docker kill) and a new one started at the same address and port: its
   * location table is empty and its nonce secret new, so the agent's pre-emptive credentials
   * are refused with a plain 401 (a stock challenge, see {@link #registrarAt}). The agent is
   * told nothing: at its next refresh each profile answers that fresh challenge and is
   * registered again, within {@link #RESTART_HEAL}.
   */
  @Test
  void registrarKilledAndRestartedEmptyHasEveryProfileAgainAfterTheNextRefresh()
      throws Exception {
    List<String> users = users("restart", 10);
    int port = KamailioRegistrar.freeUdpAndTcpPort(REGISTRAR);
    try (AgentHarness agent = new AgentHarness(config(AGENT, Duration.ofSeconds(30)))) {
      String uri;
      try (KamailioRegistrar first = registrarAt(port).start()) {
        uri = first.sipUri();
        users.forEach(u -> first.addUser(u, PASSWORD));
        for (String user : users) {
          agent.registry.create(profile(user, uri, null));
        }
        new Table(first, agent.registry, users)
            .awaitAll("first registration", AGENT, FIRST_REGISTRATION, false);
      } // killed: its bindings and nonce secret are gone with it

      try (KamailioRegistrar second = registrarAt(port).start()) {
        assertEquals(uri, second.sipUri());
        assertTrue(second.dump().isEmpty(), "the new registrar starts empty");
        users.forEach(u -> second.addUser(u, PASSWORD));
        Table table = new Table(second, agent.registry, users);
        table.awaitAll("after the restart", AGENT, RESTART_HEAL, false);
        table.assertOneBindingEach(AGENT, "after the restart");
        for (String user : users) {
          assertTrue(second.challengeCount(user) >= 1,
              user + ": the old credentials met a fresh challenge");
        }
      }
    }
  }

  // ---- (c) 20 % packet loss in a network namespace ----------------------------------------

  private static final int LOSSY_PROFILES = 50;
  private static final int LOSS_PERCENT = 20;
  /** Per REGISTER: T1 retransmissions at 0.5, 1.5 and 3.5 s fit in, so one loss is no failure. */
  private static final Duration LOSSY_REGISTER_TIMEOUT = Duration.ofSeconds(4);
  /** The child JVM starts, finds its uplinks and registers 50 profiles through the loss. */
  private static final Duration LOSSY_FIRST_REGISTRATION = Duration.ofSeconds(90);
  /** Every profile moved: a failed REGISTER waits at most the backoff max of 4 s. */
  private static final Duration LOSSY_MOVE = Duration.ofSeconds(60);
  private static final Path LOSS_LOG_COPY = Path.of("target", "RegistrarFaultIT-loss-agent.log");
  private static final String LOSS_LOGBACK = """
      <configuration>
        <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
          <encoder><pattern>%d{HH:mm:ss.SSS} [%thread] %-5level %logger{30} - %msg%n</pattern></encoder>
        </appender>
        <logger name="gov.nist" level="WARN"/>
        <logger name="io.sipalr" level="INFO"/>
        <root level="INFO"><appender-ref ref="OUT"/></root>
      </configuration>
      """;

  /**
   * The agent as users run it, in {@link NetnsTopology}'s namespace with uplinks wlan0 and cell0,
   * 50 profiles in one SNAP, and nftables in the namespace dropping 20 % of the UDP datagrams to
   * the registrar and, independently, 20 % of those from it. All 50 register through wlan0, move
   * to cell0 when wlan0 goes down and back when it returns: one binding each, received from the
   * uplink's address, after each step, and every profile REGISTERED in the agent's own view
   * ({@code Main status}, run in the namespace).
   */
  @Test
  void twentyPercentLossInANamespaceFiftyProfilesRegisterAndMoveWithOneBindingEach(
      @TempDir Path dir) throws Exception {
    NetnsTopology.assumeUsable();
    NetnsTopology.assumeNftables();
    List<String> users = users("lossy", LOSSY_PROFILES);
    try (NetnsTopology net = NetnsTopology.create();
        KamailioRegistrar kamailio = KamailioRegistrar.builder().routing()
            .listenAddress(NetnsTopology.REGISTRAR_ADDRESS).start()) {
      users.forEach(u -> kamailio.addUser(u, PASSWORD));
      net.randomLoss(LOSS_PERCENT);
      AgentProcess agent = NetnsTopology.startAgent(dir,
          NetnsTopology.agentConfig(dir.resolve("data"), kamailio, users, PASSWORD,
              LOSSY_REGISTER_TIMEOUT, 600, LOSSY_CONTROL_PORT),
          LOSS_LOGBACK, List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
      try (agent) {
        Table table = new Table(kamailio, null, users)
            .diagnostics(() -> "\n---- network namespace ----\n" + net.describe()
                + "---- agent log " + agent.outputFile() + " (tail) ----\n"
                + agent.outputTail(80))
            .check(() -> agent.requireAlive(() -> ""));
        table.awaitAll("first registration through wlan0", NetnsTopology.WLAN_ADDRESS,
            LOSSY_FIRST_REGISTRATION, false);
        awaitAgentSaysRegistered(dir, users, "after the first registration");
        net.wlanDown();
        table.awaitAll("after wlan0 went down", NetnsTopology.CELL_ADDRESS, LOSSY_MOVE, false);
        awaitAgentSaysRegistered(dir, users, "after wlan0 went down");
        net.wlanUp();
        table.awaitAll("after wlan0 came back", NetnsTopology.WLAN_ADDRESS, LOSSY_MOVE, false);
        awaitAgentSaysRegistered(dir, users, "after wlan0 came back");
        table.assertBindings(NetnsTopology.WLAN_ADDRESS, "at the end");
        long dropped = net.droppedPackets();
        assertTrue(dropped > 0, "the loss rules dropped datagrams: " + dropped);
        // And once the fault is gone (each phase above already checked it under the loss).
        net.noLoss();
        table.assertReachable("once the loss stopped");
        System.out.printf("RegistrarFaultIT: %d%% loss dropped %d datagrams%n", LOSS_PERCENT,
            dropped);
      } finally {
        copyLog(agent.outputFile());
      }
    }
  }

  /** The agent's control API in the namespace (its own loopback: no other process uses it). */
  private static final int LOSSY_CONTROL_PORT = 8470;
  /** The agent's own view, once the bindings are right: its 200s may still be on their way. */
  private static final Duration LOSSY_STATUS = Duration.ofSeconds(30);

  /**
   * Waits until the agent in the namespace says REGISTERED for every profile: its own
   * {@code status} command, run in the namespace (the control API listens on its loopback).
   */
  private static void awaitAgentSaysRegistered(Path dir, List<String> users, String when) {
    AtomicReference<Map<String, String>> last = new AtomicReference<>(Map.of());
    try {
      await("the agent says REGISTERED " + when).atMost(LOSSY_STATUS).pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(500)).until(() -> {
            last.set(agentStatuses(dir));
            return users.stream().allMatch(u -> "REGISTERED".equals(last.get().get(u)));
          });
    } catch (ConditionTimeoutException e) {
      throw new AssertionError("Not every profile REGISTERED in the agent's own view " + when
          + " within " + LOSSY_STATUS.toSeconds() + " s: " + last.get(), e);
    }
  }

  /** Profile id to status, from {@code Main status --config <dir>/agent.conf} in the namespace. */
  private static Map<String, String> agentStatuses(Path dir) throws Exception {
    Path out = Files.createTempFile(dir, "status", ".out");
    try (AgentProcess status = AgentProcess.start(out, Map.of(), NetnsTopology.NAMESPACE,
        List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"), "status", "--config",
        dir.resolve("agent.conf").toString())) {
      int exit = status.awaitExit(Duration.ofSeconds(20));
      String text = status.output();
      assertEquals(0, exit, () -> "`status` exited with " + exit + ": " + text);
      Map<String, String> statuses = new HashMap<>();
      for (String line : text.lines().skip(1).toList()) {
        String[] columns = line.trim().split("\\s+");
        if (columns.length >= 2) {
          statuses.put(columns[0], columns[1]);
        }
      }
      return statuses;
    } finally {
      Files.deleteIfExists(out);
    }
  }

  // ---- (d) registrar port closed, then open again -----------------------------------------

  /**
   * Nothing listens at the registrar's address and port any more (its container killed: ICMP
   * port unreachable), long enough for every profile to fail twice; then Kamailio listens there
   * again, new and empty, refusing the old nonce with a plain 401 (see {@link #registrarAt}).
   * Keep-alives every second notice the closed port without waiting for a refresh. Every
   * profile is registered again within {@link #HEAL}.
   */
  @Test
  void registrarPortClosedThenOpenAgainHasEveryProfileRegisteredWithinTheBackoffBound()
      throws Exception {
    List<String> users = users("closed", 10);
    int port = KamailioRegistrar.freeUdpAndTcpPort(REGISTRAR);
    try (AgentHarness agent = new AgentHarness(config(AGENT, Duration.ofSeconds(1)))) {
      try (KamailioRegistrar first = registrarAt(port).start()) {
        users.forEach(u -> first.addUser(u, PASSWORD));
        for (String user : users) {
          agent.registry.create(profile(user, first.sipUri(), null));
        }
        new Table(first, agent.registry, users)
            .awaitAll("first registration", AGENT, FIRST_REGISTRATION, false);
      }

      // Port closed: each profile notices (keep-alive, refresh) and keeps trying, backing off.
      Map<String, Integer> before = failures(agent, users);
      await("every profile failed twice against the closed port").atMost(RESTART_HEAL)
          .pollInterval(POLL).until(() -> users.stream().allMatch(
              u -> agent.registry.status(u) != ProfileStatus.REGISTERED
                  && failures(agent, List.of(u)).get(u) >= before.get(u) + 2));
      for (String user : users) {
        for (RegistryEvent e : agent.events(user, RegistryEvent.Type.REGISTRATION_FAILED)) {
          RegistrationError.Kind kind = e.error().kind();
          assertTrue(kind == RegistrationError.Kind.TIMEOUT
              || kind == RegistrationError.Kind.TRANSPORT, user + ": " + e.error());
          // A dead keep-alive re-registers at once; a REGISTER left unanswered backs off.
          assertTrue(kind != RegistrationError.Kind.TIMEOUT || e.error().retryIn() != null,
              user + ": a retry is scheduled: " + e.error());
        }
      }

      try (KamailioRegistrar second = registrarAt(port).start()) {
        users.forEach(u -> second.addUser(u, PASSWORD));
        Table table = new Table(second, agent.registry, users);
        table.awaitAll("after the port opened again", AGENT, HEAL, false);
        table.assertOneBindingEach(AGENT, "after the port opened again");
      }
    }
  }

  private static Map<String, Integer> failures(AgentHarness agent, List<String> users) {
    Map<String, Integer> n = new HashMap<>();
    for (String user : users) {
      n.put(user, agent.events(user, RegistryEvent.Type.REGISTRATION_FAILED).size());
    }
    return n;
  }

  // ---- (e) malformed answers, then Kamailio at the same address ---------------------------

  /**
   * A peer in the test answers every REGISTER at the registrar's address wrongly (garbage,
   * truncated, a missing CSeq, 401s without a nonce, with broken quoting, without a challenge,
   * a plausible 401 followed by more nonsense, 407 without a challenge, 302, 423 without
   * Min-Expires, 200 with expires=0, 403, 500, 503 for 49 days, 100 alone) until every profile
   * has had three such answers, none of which may make a profile give up; then Kamailio listens
   * at that address and port. Every profile is registered within {@link #HEAL}.
   */
  @Test
  void malformedAnswersThenKamailioAtTheSameAddressHasEveryProfileRegisteredWithinTheBound()
      throws Exception {
    int kinds = MalformedRegistrar.Answer.values().length;
    List<String> users = users("odd", kinds);
    int port = KamailioRegistrar.freeUdpAndTcpPort(REGISTRAR);
    String uri = "sip:" + REGISTRAR + ":" + port;
    try (AgentHarness agent = new AgentHarness(config(AGENT, Duration.ofSeconds(30)))) {
      try (MalformedRegistrar peer = MalformedRegistrar.start(REGISTRAR, port)) {
        for (String user : users) {
          agent.registry.create(profile(user, uri, null));
        }
        // Three wrong answers for each profile, or (as before the fix) one that gave up.
        Duration phase = Duration.ofSeconds(45);
        try {
          await("every profile answered wrongly three times").atMost(phase)
              .pollInterval(POLL).until(() -> {
                Map<String, Integer> answers = peer.answersPerProfile();
                return answers.size() == users.size() && users.stream().allMatch(
                    u -> gaveUp(agent, u) || answers.getOrDefault(u, 0) >= 3);
              });
        } catch (ConditionTimeoutException e) {
          throw new AssertionError("Not every profile kept asking the malformed peer (three"
              + " REGISTERs each within " + phase.toSeconds() + " s):\n" + users.stream()
              .map(u -> u + " got " + peer.answersOf(u) + ": " + agent.registry.info(u))
              .collect(Collectors.joining("\n")), e);
        }
        System.out.println("RegistrarFaultIT: wrong answers given " + peer.given());
        for (String user : users) {
          assertTrue(!gaveUp(agent, user), () -> user + " gave up: no retry after "
              + agent.registry.info(user).lastError() + "; the wrong answers it got: "
              + peer.answersOf(user));
          assertTrue(agent.registry.status(user) != ProfileStatus.REGISTERED,
              () -> user + " is not registered by a wrong answer: " + agent.registry.info(user));
        }
      }

      try (KamailioRegistrar kamailio = registrarAt(port).start()) {
        assertEquals(uri, kamailio.sipUri());
        users.forEach(u -> kamailio.addUser(u, PASSWORD));
        Table table = new Table(kamailio, agent.registry, users);
        table.awaitAll("once Kamailio answers", AGENT, HEAL, false);
        table.assertOneBindingEach(AGENT, "once Kamailio answers");
      }
    }
  }

  /** Not registered, and no attempt scheduled: only a change or an enable would help. */
  private static boolean gaveUp(AgentHarness agent, String user) {
    io.sipalr.sip.RegistrationInfo info = agent.registry.info(user);
    return info.status() == ProfileStatus.UNREGISTERED && info.lastError() != null
        && info.lastError().retryIn() == null;
  }

  // ---- helpers ----------------------------------------------------------------------------

  /**
   * A registrar at {@link #REGISTRAR} and {@code port} that challenges as a stock configuration
   * does, never with stale=true. The default variant of the test registrar says stale=true when
   * credentials carry a nonce made before it started (Kamailio counts such a nonce as stale), but
   * only when the restart took longer than about a second: tried, a REGISTER with the old nonce
   * got 401 with stale=true after a 6 s gap and a plain 401 after an immediate restart. A stock
   * one never says it, so the agent meets the hard case every time.
   */
  private static KamailioRegistrar.Builder registrarAt(int port) {
    return KamailioRegistrar.builder().listenAddress(REGISTRAR).port(port).stockChallenge()
        .routing();
  }

  /**
   * Looks at the location table (and the agent's status, when it runs in this JVM) for a set of
   * users; every look may also check an invariant: exactly one binding each, never none.
   */
  private static final class Table {
    private final KamailioRegistrar kamailio;
    private final SipProfileRegistry registry;
    private final List<String> users;
    private final Map<String, Long> cseqAtPhaseStart = new HashMap<>();
    private java.util.function.Supplier<String> diagnostics = () -> "";
    private Runnable check = () -> { };
    private final AtomicReference<Map<String, List<Binding>>> last =
        new AtomicReference<>(Map.of());

    Table(KamailioRegistrar kamailio, SipProfileRegistry registry, List<String> users) {
      this.kamailio = kamailio;
      this.registry = registry;
      this.users = users;
    }

    Table diagnostics(java.util.function.Supplier<String> more) {
      this.diagnostics = more;
      return this;
    }

    /** Run at every look (e.g. the agent process is still alive). */
    Table check(Runnable everyLook) {
      this.check = everyLook;
      return this;
    }

    private Map<String, List<Binding>> look(boolean oneBindingEach) {
      check.run();
      Map<String, List<Binding>> dump = kamailio.dump();
      last.set(dump);
      if (oneBindingEach) {
        for (String user : users) {
          List<Binding> b = dump.getOrDefault(user, List.of());
          assertEquals(1, b.size(), () -> user + " must keep exactly one binding at every look,"
              + " has " + b + state());
        }
      }
      return dump;
    }

    /**
     * Waits until every profile is REGISTERED (in-JVM agents) with exactly one binding,
     * received from {@code address}; with {@code oneBindingEach} every look in between must
     * show one binding per profile.
     */
    void awaitAll(String when, String address, Duration bound, boolean oneBindingEach) {
      long start = System.nanoTime();
      try {
        await(when).atMost(bound).pollDelay(Duration.ZERO).pollInterval(POLL).until(() -> {
          Map<String, List<Binding>> dump = look(oneBindingEach);
          return users.stream().allMatch(u -> (registry == null
              || registry.status(u) == ProfileStatus.REGISTERED)
              && dump.getOrDefault(u, List.of()).size() == 1
              && isFrom(dump.get(u).get(0), address));
        });
      } catch (ConditionTimeoutException e) {
        throw new AssertionError("Not every profile registered from " + address + " " + when
            + " within " + bound.toSeconds() + " s" + state(), e);
      }
      System.out.printf("RegistrarFaultIT: %d profiles registered from %s %s after %d ms"
          + " (bound %d s)%n", users.size(), address, when,
          (System.nanoTime() - start) / 1_000_000, bound.toSeconds());
      assertOneBindingEach(address, when);
      markPhase();
    }

    /** Every binding renewed (its CSeq rose) since the last phase, one binding each throughout. */
    void awaitRenewedByAll(String what, Duration bound) {
      try {
        await(what).atMost(bound).pollDelay(Duration.ZERO).pollInterval(POLL).until(() -> {
          Map<String, List<Binding>> dump = look(true);
          return users.stream().allMatch(
              u -> dump.get(u).get(0).cseq() > cseqAtPhaseStart.get(u));
        });
      } catch (ConditionTimeoutException e) {
        throw new AssertionError("Not every binding renewed (" + what + ") within "
            + bound.toSeconds() + " s" + state(), e);
      }
      markPhase();
    }

    void assertOneBindingEach(String address, String when) {
      assertBindings(address, when);
      assertReachable(when);
    }

    /** One binding per user, from {@code address}, and (in process) REGISTERED in the agent. */
    void assertBindings(String address, String when) {
      Map<String, List<Binding>> dump = kamailio.dump();
      last.set(dump);
      for (String user : users) {
        List<Binding> b = dump.getOrDefault(user, List.of());
        assertEquals(1, b.size(), () -> user + " " + when + ": " + b + state());
        assertTrue(isFrom(b.get(0), address), () -> user + " " + when + " registered from "
            + b.get(0).received() + ", expected " + address + state());
        assertTrue(b.get(0).address().startsWith("sip:" + user + "@" + address + ":"),
            () -> user + " " + when + ": contact " + b.get(0).address());
        if (registry != null) {
          assertEquals(ProfileStatus.REGISTERED, registry.status(user), () -> user + state());
        }
      }
      assertEquals(users.size(), dump.keySet().stream().filter(users::contains).count());
    }

    /**
     * A binding is only worth something if a request to the user reaches the agent through it:
     * an OPTIONS to each AOR, through the (routing) registrar, answered 200 by the agent itself
     * (its User-Agent). A few tries, each bounded: on the lossy path of (c) each relayed
     * OPTIONS and each answer is lost one time in five, so a try of 4 s (Kamailio's
     * retransmissions at 0.5, 1.5 and 3.5 s) fails about one time in thirty, five in a row
     * about once in 10^7 (with three tries of 3 s, CI saw one profile of 150 checks fail).
     */
    void assertReachable(String when) {
      for (String user : users) {
        SipCaller.assertReachesAgent(kamailio, user, when, 5, 4000, this::state);
      }
    }


    private void markPhase() {
      Map<String, List<Binding>> dump = last.get();
      for (String user : users) {
        cseqAtPhaseStart.put(user, dump.get(user).get(0).cseq());
      }
    }

    private static boolean isFrom(Binding b, String address) {
      return b.received() != null && b.received().startsWith("sip:" + address + ":");
    }

    private String state() {
      StringBuilder s = new StringBuilder("\n---- location table (last look) ----\n");
      Map<String, List<Binding>> dump = last.get();
      for (String user : users) {
        s.append(user).append(": ");
        if (registry != null) {
          s.append(registry.info(user)).append(" | ");
        }
        s.append(dump.getOrDefault(user, List.of()).stream()
            .map(b -> b.received() + " cseq " + b.cseq() + " expires " + b.expires())
            .collect(Collectors.joining(", ", "[", "]"))).append('\n');
      }
      s.append("---- Kamailio log (tail) ----\n").append(AgentProcess.tail(
          LinuxRoamingIT.withoutRpcNoise(kamailio.logs()), 30)).append('\n');
      return s + diagnostics.get();
    }
  }

  private static void copyLog(Path log) {
    try {
      if (Files.isDirectory(LOSS_LOG_COPY.getParent())) {
        Files.copy(log, LOSS_LOG_COPY, StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot copy the agent's log to " + LOSS_LOG_COPY, e);
    }
  }
}
