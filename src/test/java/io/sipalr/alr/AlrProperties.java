package io.sipalr.alr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.sip.MigrationOrder;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.ScriptedSip;
import java.time.Duration;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.statistics.Statistics;

/**
 * The ALR session as a property: three profiles on one SNAP, uplinks coming and going, a
 * registrar answering anything (malformed or not), time passing, controllers refusing, profiles
 * disabled and enabled. After every step no profile has two REGISTERs in flight; once the
 * uplinks and the registrar behave, every profile is REGISTERED within the README's bound, the
 * loss of its carrier then moves it to the other uplink (no session is left waiting), and it
 * has exactly one binding.
 */
class AlrProperties {
  /** RegistrationTest.RECOVERY_BOUND, plus the mobility layer's own waits. */
  static final Duration BOUND = Duration.ofSeconds(300 + 60 + 10 + 30);

  sealed interface Step {
    void apply(ScriptedAlr s);
  }

  record Answers(String answer) implements Step {
    @Override
    public void apply(ScriptedAlr s) {
      s.sip.answerNext(answer);
    }
  }

  record Waits(int millis) implements Step {
    @Override
    public void apply(ScriptedAlr s) {
      s.sip.clock.advance(Duration.ofMillis(millis));
    }
  }

  record Uplink(int iap, boolean up) implements Step {
    @Override
    public void apply(ScriptedAlr s) {
      if (up) {
        s.iaps.up(iap);
      } else {
        s.iaps.down(iap);
      }
    }
  }

  /** The interface is gone under the stack before the mobility layer noticed. */
  record Unreachable(String address, boolean on) implements Step {
    @Override
    public void apply(ScriptedAlr s) {
      s.sip.unreachableFrom(address, on);
    }
  }

  record Disables(String user) implements Step {
    @Override
    public void apply(ScriptedAlr s) {
      s.sip.registry.disable(user);
    }
  }

  record Enables(String user) implements Step {
    @Override
    public void apply(ScriptedAlr s) {
      s.sip.registry.enable(user);
    }
  }

  record RegistrarRestarts() implements Step {
    @Override
    public void apply(ScriptedAlr s) {
      s.sip.restartRegistrar();
    }
  }

  @Property
  void everySessionHealsAndStillFollowsTheNextLoss(
      @ForAll("orders") MigrationOrder order, @ForAll("steps") List<Step> steps)
      throws Exception {
    try (ScriptedAlr s = new ScriptedAlr(order)) {
      for (Step step : steps) {
        step.apply(s);
        s.sip.clock.runDue();
        assertTrue(s.sip.mostRegistersInFlightPerUser() <= 1,
            "two REGISTERs of one profile in flight after " + step);
      }
      // The faults are gone: both uplinks up and working, a correct registrar, all enabled.
      s.sip.unreachableFrom(ScriptedAlr.WLAN_ADDRESS, false);
      s.sip.unreachableFrom(ScriptedAlr.CELL_ADDRESS, false);
      s.iaps.up(ScriptedAlr.WLAN);
      s.iaps.up(ScriptedAlr.CELL);
      for (String user : ScriptedAlr.USERS) {
        s.sip.registry.enable(user);
      }
      s.sip.settle(BOUND);
      assertAllRegistered(s, "after the faults");
      // Liveness: a session left waiting would not follow this loss. Rejected IAPs stay
      // rejected for the connection's life (rule 10), so the carrier may be either uplink.
      String carrier = s.sip.registry.localAddressOf(ScriptedAlr.USERS.get(0)).orElseThrow();
      boolean onWlan = carrier.equals(ScriptedAlr.WLAN_ADDRESS);
      s.iaps.down(onWlan ? ScriptedAlr.WLAN : ScriptedAlr.CELL);
      s.sip.settle(BOUND);
      String other = onWlan ? ScriptedAlr.CELL_ADDRESS : ScriptedAlr.WLAN_ADDRESS;
      assertAllRegistered(s, "after losing " + carrier);
      for (String user : ScriptedAlr.USERS) {
        assertEquals(other, s.sip.registry.localAddressOf(user).orElse(null), user);
      }
      s.sip.settle(Duration.ofSeconds(3700)); // what a lost answer left behind expires
      for (String user : ScriptedAlr.USERS) {
        List<String> bound = s.sip.bindings(ScriptedAlr.aor(user));
        assertEquals(1, bound.size(), user + ": " + bound);
        assertTrue(bound.get(0).contains(other), user + ": " + bound);
      }
      Statistics.label("REGISTERs").collect(s.sip.registersSent() < 20 ? "<20" : ">=20");
    }
  }

  private static void assertAllRegistered(ScriptedAlr s, String when) {
    for (String user : ScriptedAlr.USERS) {
      assertEquals(ProfileStatus.REGISTERED, s.sip.registry.status(user), user + " " + when
          + ": " + s.sip.registry.info(user).lastError());
    }
  }

  @Provide
  Arbitrary<MigrationOrder> orders() {
    return Arbitraries.of(MigrationOrder.class);
  }

  @Provide
  Arbitrary<List<Step>> steps() {
    Arbitrary<String> users = Arbitraries.of(ScriptedAlr.USERS);
    Arbitrary<Step> step = Arbitraries.frequencyOf(
        Tuple.of(10, Arbitraries.of(ScriptedSip.answers()).<Step>map(Answers::new)),
        Tuple.of(3, Arbitraries.integers().between(1, 400_000).<Step>map(Waits::new)),
        Tuple.of(4, Arbitraries.of(ScriptedAlr.WLAN, ScriptedAlr.CELL).flatMap(iap ->
            Arbitraries.of(true, false).<Step>map(up -> new Uplink(iap, up)))),
        Tuple.of(1, Arbitraries.of(ScriptedAlr.WLAN_ADDRESS, ScriptedAlr.CELL_ADDRESS)
            .flatMap(a -> Arbitraries.of(true, false).<Step>map(on -> new Unreachable(a, on)))),
        Tuple.of(1, users.<Step>map(Disables::new)),
        Tuple.of(1, users.<Step>map(Enables::new)),
        Tuple.of(1, Arbitraries.<Step>just(new RegistrarRestarts())));
    return step.list().ofMinSize(1).ofMaxSize(40);
  }
}
