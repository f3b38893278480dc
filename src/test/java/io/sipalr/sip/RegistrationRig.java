package io.sipalr.sip;

import io.sipalr.concurrent.SerialExecutor;
import io.sipalr.profile.SipProfile;
import io.sipalr.profile.Transport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One profile's {@link Registration} wired to a {@link ScriptedRegistrar} and a
 * {@link VirtualClock}: the whole SIP core of a profile, run on the test's thread. Two local
 * endpoints stand for two uplinks (198.18.0.10 "wlan", 198.18.1.10 "cell").
 */
final class RegistrationRig implements Registration.Sink {
  static final String AOR = "sip:alice@" + ScriptedRegistrar.REALM;
  static final String PASSWORD = "correct horse";

  /**
   * Short enough for tests to reach every bound quickly, long enough to mean something. Outbound
   * flows are kept alive with OPTIONS here (the rules most tests are about); {@link
   * #config(SipConfig.OutboundKeepAlive)} gives the RFC 5626 keep-alives.
   */
  static final SipConfig CONFIG = config(SipConfig.OutboundKeepAlive.OPTIONS);

  static SipConfig config(SipConfig.OutboundKeepAlive keepAlive) {
    return config(keepAlive, SipConfig.Nat.DEFAULTS);
  }

  /** As {@link #config(SipConfig.OutboundKeepAlive)}, with {@code nat} behind a NAT. */
  static SipConfig config(SipConfig.OutboundKeepAlive keepAlive, SipConfig.Nat nat) {
    return new SipConfig("127.0.0.1", 5070, "test",
        Duration.ofSeconds(5),
        new SipConfig.Backoff(Duration.ofSeconds(30), Duration.ofSeconds(90),
            Duration.ofSeconds(300)),
        Duration.ofSeconds(25), 1, 1, Duration.ofSeconds(1), SipConfig.RegisterLimits.DEFAULTS,
        SipConfig.DEFAULT_MAX_MESSAGE_BODY, nat,
        new SipConfig.Outbound(keepAlive, Duration.ofSeconds(10), Duration.ofSeconds(120)));
  }

  final VirtualClock clock = new VirtualClock();
  final ScriptedRegistrar registrar = new ScriptedRegistrar(clock).user("alice", PASSWORD);
  final SipEngine.Endpoint wlan = ScriptedRegistrar.endpoint("198.18.0.10");
  final SipEngine.Endpoint cell = ScriptedRegistrar.endpoint("198.18.1.10");
  final SipConfig config;
  final FlowKeepAlive keepAlive;
  final Registration registration;
  final List<ProfileStatus> statuses = new ArrayList<>();
  final List<RegistrationError> errors = new ArrayList<>();

  RegistrationRig() {
    this(CONFIG, profile(600, PASSWORD));
  }

  RegistrationRig(SipConfig config, SipProfile profile) {
    this(config, profile, RegistrarTargets.LITERALS_ONLY);
  }

  /** A rig whose registrar's name {@code resolver} resolves (RFC 3263). */
  RegistrationRig(SipConfig config, SipProfile profile, io.sipalr.dns.TargetResolver resolver) {
    this(config, profile, resolver, false);
  }

  /** The same, resolving again through the new uplink after a move when {@code afterMove}. */
  RegistrationRig(SipConfig config, SipProfile profile, io.sipalr.dns.TargetResolver resolver,
      boolean afterMove) {
    this.config = config;
    keepAlive = new FlowKeepAlive(registrar, clock, config.keepAliveInterval(),
        config.registerTimeout(), new SipStats(), config.outbound(), clock.clock);
    registration = new Registration(profile, registrar, wlan, keepAlive, config, clock,
        clock.clock, new SerialExecutor(clock), this,
        new RegistrarTargets(resolver, afterMove, clock.clock));
  }

  static SipProfile profile(int expires, String password) {
    return new SipProfile("alice", AOR, "sip:198.18.0.1", null, "alice", password, null,
        Transport.UDP, expires, true, 1, null, null,
        "urn:uuid:00000000-0000-4000-8000-000000000001", 1);
  }

  @Override
  public void statusChanged(Registration r, ProfileStatus from, ProfileStatus to) {
    statuses.add(to);
  }

  @Override
  public void failed(Registration r, RegistrationError error) {
    errors.add(error);
  }

  ProfileStatus status() {
    return registration.info().status();
  }

  void start() {
    registration.start();
    clock.runDue();
  }

  <T> T run(CompletableFuture<T> command) {
    clock.runDue();
    return command.getNow(null);
  }

  /** The next REGISTER in flight, answered with {@code answer}; fails when there is none. */
  ScriptedRegistrar.Sent answer(ScriptedRegistrar.Answer answer) {
    clock.runDue();
    ScriptedRegistrar.Sent s = registrar.nextPending();
    if (s == null) {
      throw new AssertionError("no request in flight at " + clock.now() + " ms; status "
          + status() + ", errors " + errors);
    }
    registrar.answer(s, answer);
    clock.runDue();
    return s;
  }

  /**
   * Lets time pass, answering every request at once as it comes, until {@code done}; fails
   * naming {@code what} when nothing is left to run or after 1000 steps.
   */
  void runUntil(java.util.function.BooleanSupplier done, String what) {
    for (int i = 0; i < 1000 && !done.getAsBoolean(); i++) {
      ScriptedRegistrar.Sent s = registrar.nextPending();
      if (s != null) {
        registrar.answer(s, ScriptedRegistrar.Answer.CORRECT);
        continue;
      }
      long due = clock.nextDue();
      if (due < 0) {
        throw new AssertionError("nothing scheduled: " + what);
      }
      clock.advance(Duration.ofMillis(Math.max(0, due - clock.now())));
    }
    if (!done.getAsBoolean()) {
      throw new AssertionError(what);
    }
  }

  /**
   * Lets time pass with a correct registrar, answering every request at once, until
   * {@code limit} has passed; returns when the profile first became REGISTERED (ms since the
   * call), or -1 when it never did.
   */
  long timeToRegistered(Duration limit) {
    long start = clock.now();
    long end = start + limit.toMillis();
    while (true) {
      clock.runDue();
      registrar.answerAllCorrectly();
      clock.runDue();
      if (status() == ProfileStatus.REGISTERED) {
        return clock.now() - start;
      }
      long due = clock.nextDue();
      if (due < 0 || due > end) {
        return -1;
      }
      clock.advance(Duration.ofMillis(due - clock.now()));
    }
  }

  /** Lets {@code d} pass with a correct registrar answering everything. */
  void runCorrectly(Duration d) {
    registrar.settle(d);
  }

  /** REGISTERs sent within the last {@code windowMillis} up to each send: the highest count. */
  int mostRegistersInAnyWindow(long windowMillis) {
    List<Long> times = registrar.sent.stream()
        .filter(s -> s.method().equals("REGISTER")).map(s -> s.at).toList();
    int most = 0;
    int first = 0;
    for (int i = 0; i < times.size(); i++) {
      while (times.get(i) - times.get(first) >= windowMillis) {
        first++;
      }
      most = Math.max(most, i - first + 1);
    }
    return most;
  }

  long registersSent() {
    return registrar.sent.stream().filter(s -> s.method().equals("REGISTER")).count();
  }
}
