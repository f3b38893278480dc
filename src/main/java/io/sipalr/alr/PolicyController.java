package io.sipalr.alr;

import io.sipalr.mobility.Bearer;
import io.sipalr.mobility.Iap;
import io.sipalr.mobility.MobilityManager;
import io.sipalr.mobility.Snap;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's own controller (one {@link AlrController}): votes by its {@link AlrPolicy}; with
 * the manual policy, keeps the offers waiting for a decision through the control API.
 *
 * <p>Votes are cast on IAP_AVAILABLE, which comes for upgrades only (rule 7); the bearer filter
 * was applied by the mobility layer before. A waiting offer ends with a decision, with its
 * timeout (one timer each on the shared scheduler, cancelled by a decision), or when the ALR
 * flow moves on without it: another controller refused (ACCESS_DENIED), a migration started,
 * a new offer replaced it, or the mobility layer withdrew it (no event: checked on reading).
 *
 * <p>Thread-safe: one lock guards the waiting offers; votes are cast outside it.
 */
public final class PolicyController implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PolicyController.class);

  /** An offer waiting for a decision, and the timer that applies the default. */
  private record Waiting(PendingDecision decision, ScheduledFuture<?> timer) {}

  private final AlrPolicy policy;
  private final MobilityManager mobility;
  private final ScheduledExecutorService timers;
  private final Clock clock;
  /** Set once the controller exists; its observer can be called before that (other threads). */
  private final CompletableFuture<MigrationVoter> voter = new CompletableFuture<>();

  private final Object lock = new Object();
  /** Profile id → its waiting offer: a SNAP offers one IAP at a time to a profile. */
  private final Map<String, Waiting> waiting = new HashMap<>();
  /** Profiles whose move the rules refused for their calls: offered again once they end. */
  private final java.util.Set<String> deferred = new java.util.HashSet<>();
  private boolean closed;

  public PolicyController(SipAlr alr, AlrPolicy policy, MobilityManager mobility,
      ScheduledExecutorService timers, Clock clock) {
    this(observer -> MigrationVoter.of(Objects.requireNonNull(alr, "alr"), observer), policy,
        mobility, timers, clock);
  }

  /** @param connect creates this controller's voter, reporting to the given observer */
  PolicyController(Function<AlrObserver, MigrationVoter> connect, AlrPolicy policy,
      MobilityManager mobility, ScheduledExecutorService timers, Clock clock) {
    this.policy = Objects.requireNonNull(policy, "policy");
    this.mobility = Objects.requireNonNull(mobility, "mobility");
    this.timers = Objects.requireNonNull(timers, "timers");
    this.clock = Objects.requireNonNull(clock, "clock");
    voter.complete(connect.apply(new AlrObserver() {
      @Override
      public void alrEvent(AlrEvent event, String profileId, int snapId, int iapId) {
        alrEvent(event, profileId, snapId, iapId, MigrationCalls.NONE);
      }

      @Override
      public void alrEvent(AlrEvent event, String profileId, int snapId, int iapId,
          MigrationCalls calls) {
        if (event == AlrEvent.IAP_AVAILABLE) {
          offered(profileId, snapId, iapId, calls);
        } else {
          ended(profileId); // the flow moved on: any offer to the profile is over
          if (event == AlrEvent.MIGRATION_STARTED) {
            forget(profileId); // moved anyway (the IAP was lost): nothing waits any more
          }
        }
      }

      @Override
      public void alrError(AlrError error, String profileId, int snapId, int iapId) {
        ended(profileId);
      }
    }));
    log.info("ALR policy: {}", policy);
  }

  public AlrPolicy policy() {
    return policy;
  }

  /** Offers waiting for a decision (manual policy), oldest first. */
  public List<PendingDecision> pending() {
    List<PendingDecision> list = new ArrayList<>();
    synchronized (lock) {
      for (Iterator<Waiting> it = waiting.values().iterator(); it.hasNext(); ) {
        Waiting w = it.next();
        if (voter().offerOpen(w.decision().profileId(), w.decision().iapId())) {
          list.add(w.decision());
        } else {
          // Withdrawn by the mobility layer, or the profile left: nothing to decide any more.
          w.timer().cancel(false);
          it.remove();
        }
      }
    }
    list.sort(Comparator.comparing(PendingDecision::since));
    return list;
  }

  /** @throws IllegalStateException when no offer of {@code iapId} waits for the profile */
  public void allow(String profileId, int iapId) {
    take(profileId, iapId);
    log.info("profile {}: move to IAP {} allowed through the control API", profileId, iapId);
    voter().allow(profileId, iapId);
  }

  /** @throws IllegalStateException when no offer of {@code iapId} waits for the profile */
  public void disallow(String profileId, int iapId) {
    take(profileId, iapId);
    log.info("profile {}: move to IAP {} refused through the control API", profileId, iapId);
    voter().disallow(profileId, iapId);
  }

  /**
   * Offers the best IAP of the profile's SNAP again if it beats the current one, refused ones
   * included.
   *
   * @throws IllegalArgumentException when the profile has no SNAP
   * @throws java.util.NoSuchElementException when there is no such profile
   */
  public void refresh(String profileId) {
    voter().refresh(profileId);
  }

  /**
   * The profile's last call has ended: a move the rules refused for its calls
   * ({@code defer-while-calls}) is offered again now (the best IAP, refused ones included).
   */
  public void callsEnded(String profileId) {
    if (!forget(profileId)) {
      return;
    }
    log.info("profile {}: its calls have ended; the move they held back is offered again",
        profileId);
    try {
      voter().refresh(profileId);
    } catch (IllegalArgumentException | java.util.NoSuchElementException e) {
      log.debug("profile {}: nothing to offer again: {}", profileId, e.getMessage());
    }
  }

  /** Whether a move of the profile waits for its calls to end. */
  public boolean deferred(String profileId) {
    synchronized (lock) {
      return deferred.contains(profileId);
    }
  }

  private boolean forget(String profileId) {
    synchronized (lock) {
      return deferred.remove(profileId);
    }
  }

  /** Removes the controller from the flow: offers no longer wait for its votes. */
  @Override
  public void close() {
    synchronized (lock) {
      if (closed) {
        return;
      }
      closed = true;
      waiting.values().forEach(w -> w.timer().cancel(false));
      waiting.clear();
      deferred.clear();
    }
    voter().close();
  }

  // ------------------------------------------------------------ the votes

  private void offered(String profileId, int snapId, int iapId, MigrationCalls calls) {
    if (policy instanceof AlrPolicy.Auto) {
      vote(profileId, iapId, true);
    } else if (policy instanceof AlrPolicy.Rules rules) {
      // Only the upgrades-only rule reads the rank: no lookups per vote when it is off.
      boolean upgrade = rules.upgradesOnly() && isUpgrade(profileId, snapId, iapId);
      Bearer bearer = bearerOf(iapId);
      LocalTime now = LocalTime.now(clock);
      AlrPolicy.Verdict verdict = rules.decide(bearer, upgrade, now, calls);
      // held back by its calls alone: allowed without them
      boolean heldByCalls = !verdict.allow() && calls.count() > 0
          && rules.decide(bearer, upgrade, now, MigrationCalls.NONE).allow();
      log.info("profile {}: move to IAP {} {} by the rules: {}", profileId, iapId,
          verdict.allow() ? "allowed" : "refused", verdict.reason());
      synchronized (lock) {
        if (heldByCalls && !closed) {
          deferred.add(profileId); // offered again by callsEnded
        } else {
          deferred.remove(profileId);
        }
      }
      vote(profileId, iapId, verdict.allow());
    } else if (policy instanceof AlrPolicy.Manual manual) {
      await(profileId, snapId, iapId, manual);
    }
  }

  private void await(String profileId, int snapId, int iapId, AlrPolicy.Manual manual) {
    Instant since = clock.instant();
    PendingDecision decision = new PendingDecision(profileId, snapId, iapId, since,
        since.plus(manual.timeout()));
    synchronized (lock) {
      if (closed) {
        return;
      }
      ended(profileId); // a newer offer replaces a waiting one
      ScheduledFuture<?> timer = timers.schedule(() -> decideByDefault(decision, manual),
          manual.timeout().toNanos(), TimeUnit.NANOSECONDS);
      waiting.put(profileId, new Waiting(decision, timer));
    }
    log.info("profile {}: move to IAP {} waits for a decision through the control API until {}"
        + " (then {} by default)", profileId, iapId, decision.decidedByDefaultAt(),
        manual.defaultAllow() ? "allowed" : "refused");
  }

  private void decideByDefault(PendingDecision decision, AlrPolicy.Manual manual) {
    synchronized (lock) {
      Waiting w = waiting.get(decision.profileId());
      if (w == null || !w.decision().equals(decision)) {
        return; // decided, replaced or ended meanwhile
      }
      waiting.remove(decision.profileId());
    }
    log.info("profile {}: no decision on the move to IAP {} within {}; {} by default",
        decision.profileId(), decision.iapId(), manual.timeout(),
        manual.defaultAllow() ? "allowed" : "refused");
    vote(decision.profileId(), decision.iapId(), manual.defaultAllow());
  }

  /** Removes the waiting offer that a decision through the API answers. */
  private void take(String profileId, int iapId) {
    synchronized (lock) {
      Waiting w = waiting.get(profileId);
      if (w != null && !voter().offerOpen(profileId, w.decision().iapId())) {
        ended(profileId); // withdrawn meanwhile
        w = null;
      }
      if (w == null || w.decision().iapId() != iapId) {
        throw new IllegalStateException("no migration of profile \"" + profileId + "\" to IAP "
            + iapId + " is waiting for a decision" + (w != null
                ? " (its move to IAP " + w.decision().iapId() + " is)"
                : policy instanceof AlrPolicy.Manual ? ""
                    : " (the " + policy.mode() + " policy decides by itself)"));
      }
      ended(profileId);
    }
  }

  /** Forgets the offer waiting for the profile's decision, if any, and its default's timer. */
  private void ended(String profileId) {
    synchronized (lock) {
      Waiting w = waiting.remove(profileId);
      if (w != null) {
        w.timer().cancel(false);
      }
    }
  }

  private void vote(String profileId, int iapId, boolean allow) {
    try {
      if (allow) {
        voter().allow(profileId, iapId);
      } else {
        voter().disallow(profileId, iapId);
      }
    } catch (IllegalStateException | java.util.NoSuchElementException e) {
      // The offer ended before the vote (withdrawn, refused by another controller, destroyed).
      log.debug("profile {}: vote on IAP {} not needed any more: {}", profileId, iapId,
          e.getMessage());
    }
  }

  private MigrationVoter voter() {
    return voter.join(); // waits only for the instant between newController() and complete()
  }

  // ------------------------------------------------------------ what the rules look at

  private Bearer bearerOf(int iapId) {
    return mobility.config().iap(iapId).map(Iap::bearer).orElse(Bearer.OTHER);
  }

  /**
   * Whether the offered IAP ranks better in the SNAP than the one the profile registers
   * through now; the mobility layer offers upgrades only, so when that is unknown, it is one.
   */
  private boolean isUpgrade(String profileId, int snapId, int iapId) {
    Optional<Snap> snap = mobility.config().snap(snapId);
    Optional<Integer> current = voter().localAddressOf(profileId).flatMap(mobility::iapAt);
    if (snap.isEmpty() || current.isEmpty() || snap.get().rank(current.get()) < 0) {
      return true;
    }
    int offered = snap.get().rank(iapId);
    return offered >= 0 && offered < snap.get().rank(current.get());
  }
}
