package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.sip.ScriptedRegistrar.Answer;
import java.time.Duration;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;

/**
 * Self-healing as a property: whatever a registrar and the network do to a profile (any
 * sequence of answers, malformed or not, losses, delays, moves, profile changes, disables and
 * restarts of the registrar), the profile never has two REGISTERs in flight, never sends more
 * than the per-minute bound, and once the registrar behaves again it is REGISTERED within the
 * README's bound with exactly one binding.
 *
 * <p>The number of sequences is {@code jqwik.tries.default} (src/test/resources/
 * junit-platform.properties); a longer run: {@code -Djqwik.tries.default=200000}.
 */
class RegistrationProperties {

  /** One generated run: the rig and what the test knows of the profile's situation. */
  static final class Run {
    final RegistrationRig rig = new RegistrationRig();
    boolean enabled = true;
    SipEngine.Endpoint uplink = rig.wlan;
  }

  /** Something the registrar, the network or the user does. */
  sealed interface Step {
    void apply(Run run);
  }

  /** The registrar's answer to the oldest request in flight (nothing when none is). */
  record Answers(Answer answer) implements Step {
    @Override
    public void apply(Run run) {
      ScriptedRegistrar.Sent s = run.rig.registrar.nextPending();
      if (s != null) {
        run.rig.registrar.answer(s, answer);
      }
    }
  }

  /** Time passes without any answer. */
  record Waits(int seconds) implements Step {
    @Override
    public void apply(Run run) {
      run.rig.clock.advance(Duration.ofSeconds(seconds));
    }
  }

  /** The ALR layer moves the profile to the other uplink. */
  record Moves(MigrationOrder order) implements Step {
    @Override
    public void apply(Run run) {
      run.uplink = run.uplink == run.rig.wlan ? run.rig.cell : run.rig.wlan;
      run.rig.registration.migrate(run.uplink, order, () -> { });
    }
  }

  /** An uplink comes or goes: the profile is rebound to it, or to none (rules 7, 8). */
  record Rebinds(String uplink) implements Step {
    @Override
    public void apply(Run run) {
      run.uplink = switch (uplink) {
        case "wlan" -> run.rig.wlan;
        case "cell" -> run.rig.cell;
        default -> null;
      };
      run.rig.registration.rebind(run.uplink);
    }
  }

  /** Sends from the current uplink fail (the interface went away under the stack), or work. */
  record Unreachable(boolean on) implements Step {
    @Override
    public void apply(Run run) {
      run.rig.registrar.unreachableFrom.clear();
      if (on && run.uplink != null) {
        run.rig.registrar.unreachableFrom.add(run.uplink);
      }
    }
  }

  /** The user changes the profile's expiry. */
  record Updates(int expires) implements Step {
    @Override
    public void apply(Run run) {
      run.rig.registration.update(RegistrationRig.profile(expires, RegistrationRig.PASSWORD));
    }
  }

  record Disables() implements Step {
    @Override
    public void apply(Run run) {
      run.rig.registration.stop();
      run.enabled = false;
    }
  }

  record Enables() implements Step {
    @Override
    public void apply(Run run) {
      run.rig.registration.start();
      run.enabled = true;
    }
  }

  /** The registrar restarts empty, with a new nonce secret. */
  record RegistrarRestarts() implements Step {
    @Override
    public void apply(Run run) {
      run.rig.registrar.restart();
    }
  }

  /** A NAT in front of the wlan uplink appears or goes (its public address changes). */
  record Nat(int publicPort) implements Step {
    @Override
    public void apply(Run run) {
      if (publicPort == 0) {
        run.rig.registrar.nat.clear();
      } else {
        run.rig.registrar.nat.put(run.rig.wlan.address, "198.18.7.7:" + publicPort);
      }
    }
  }

  /** Whether the registrar supports outbound (and so whether flows are kept alive). */
  record Outbound(boolean on) implements Step {
    @Override
    public void apply(Run run) {
      run.rig.registrar.outbound = on;
    }
  }

  /** Whether the registrar says stale=true on an expired nonce. */
  record StaleAware(boolean on) implements Step {
    @Override
    public void apply(Run run) {
      run.rig.registrar.staleAware = on;
    }
  }

  @Property
  void registrationHealsWithoutStorming(@ForAll("steps") List<Step> steps) {
    Run run = new Run();
    RegistrationRig rig = run.rig;
    rig.start();
    for (Step step : steps) {
      rig.clock.runDue();
      step.apply(run);
      rig.clock.runDue();
      assertTrue(rig.registrar.inFlight("REGISTER") <= 1,
          "two REGISTERs in flight after " + step);
    }
    Statistics.label("ended").collect(rig.status());
    Statistics.label("keep-alives").collect(
        rig.registrar.sent.stream().anyMatch(s -> s.method().equals("OPTIONS")) ? "some" : "none");

    // The fault is gone: a correct registrar, a working uplink, the profile wanted.
    rig.registrar.unreachableFrom.clear();
    if (run.uplink == null) {
      rig.registration.rebind(rig.wlan);
    }
    if (!run.enabled) {
      rig.registration.start();
    }
    long took = rig.timeToRegistered(RegistrationTest.RECOVERY_BOUND);
    assertTrue(took >= 0, "not REGISTERED within " + RegistrationTest.RECOVERY_BOUND
        + ": " + rig.status() + ", last error " + rig.registration.info().lastError());
    Statistics.label("recovery").collect(took < 10_000 ? "within 10 s" : "later");

    // Anything left by an attempt whose answer was lost expires; ours is refreshed.
    int longest = rig.registrar.sent.stream()
        .filter(s -> s.request.getExpires() != null)
        .mapToInt(s -> s.request.getExpires().getExpires()).max().orElse(0);
    rig.runCorrectly(Duration.ofSeconds(longest + 100));
    assertEquals(ProfileStatus.REGISTERED, rig.status());
    assertEquals(List.of(rig.registration.info().contact()),
        rig.registrar.bindings(RegistrationRig.AOR), "exactly one binding, ours");
    int most = rig.mostRegistersInAnyWindow(60_000);
    assertTrue(most <= rig.config.limits().perMinute(), most + " REGISTERs in one minute");
  }

  @Provide
  Arbitrary<List<Step>> steps() {
    Arbitrary<Step> answers = Arbitraries.of(Answer.class).map(Answers::new);
    Arbitrary<Step> step = Arbitraries.frequencyOf(
        net.jqwik.api.Tuple.of(12, answers),
        net.jqwik.api.Tuple.of(4, Arbitraries.integers().between(1, 900).map(Waits::new)),
        net.jqwik.api.Tuple.of(2, Arbitraries.of(MigrationOrder.class).map(Moves::new)),
        net.jqwik.api.Tuple.of(1, Arbitraries.of("wlan", "cell", "none").map(Rebinds::new)),
        net.jqwik.api.Tuple.of(1, Arbitraries.of(true, false).map(Unreachable::new)),
        net.jqwik.api.Tuple.of(1, Arbitraries.of(60, 600, 3600).map(Updates::new)),
        net.jqwik.api.Tuple.of(1, Arbitraries.just(new Disables())),
        net.jqwik.api.Tuple.of(1, Arbitraries.just(new Enables())),
        net.jqwik.api.Tuple.of(1, Arbitraries.just(new RegistrarRestarts())),
        net.jqwik.api.Tuple.of(1, Arbitraries.of(true, false).map(StaleAware::new)),
        net.jqwik.api.Tuple.of(1, Arbitraries.of(true, false).map(Outbound::new)),
        net.jqwik.api.Tuple.of(1, Arbitraries.of(0, 40001, 40002).map(Nat::new)));
    return step.list().ofMinSize(1).ofMaxSize(60);
  }
}
