package io.sipalr.mobility;

import io.sipalr.concurrent.SerialExecutor;
import io.sipalr.profile.BearerFilter;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The socket-level mobility API for one SNAP and bearer filter (Symbian's
 * CActiveCommsMobilityApiExt): picks the IAP to use and asks its application, through a
 * {@link MobilityListener}, before every move. Opened with {@link MobilityManager#open}.
 *
 * <p>The best IAP is the first, in the SNAP's priority order, that is available, allowed by the
 * bearer filter and not blacklisted. An IAP the application ignored or rejected is blacklisted
 * for the connection's lifetime, or until {@link #refresh()}, or until it goes away (it comes
 * back as a new attachment).
 *
 * <ul>
 *   <li>No carrier (at open, or after {@link MobilityError#NOT_FOUND}): the best IAP is made
 *       active at once, without an offer ({@code newCarrierActive}); like every new carrier it
 *       is then accepted or rejected. A rejected first IAP is followed by a downgrade offer of
 *       the next one, as a lost carrier is.
 *   <li>A better IAP appears: {@code preferredCarrierAvailable(carrier, better, true, false)}.
 *       Migrate: {@code newCarrierActive(better)}; accept: it is the carrier; reject: it is
 *       blacklisted, the connection stays on the old carrier and offers the next better one.
 *       Ignore: blacklisted, the next better one is offered.
 *   <li>The carrier is lost: {@code carrierLost}, then a downgrade offer of the best IAP left,
 *       or {@code error(NOT_FOUND)} and a wait.
 *   <li>The carrier's address changes: {@code carrierAddressChanged}.
 *   <li>While an offer or a migration is outstanding, other availability changes wait: they
 *       are looked at when it is answered. If the offered IAP goes away, the offer is withdrawn
 *       ({@code error(OFFER_WITHDRAWN)}); if a migration's new IAP goes away, {@code
 *       carrierLost} says so and the connection stays on the old carrier.
 * </ul>
 *
 * <p>Decisions may be called from any thread; they are processed in order on the connection's
 * serial executor, where a decision that does not fit the state (an offer withdrawn meanwhile,
 * a second answer) is logged and ignored. The overloads naming an IAP id apply only while that
 * IAP is the one offered or being migrated to, so a decision made late, on another thread, can
 * never be taken for an answer to a newer offer.
 */
public final class SnapConnection implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SnapConnection.class);

  /** The carrier as used: an IAP and the address it had when last reported. */
  private record Carrier(Iap iap, InetAddress address) {}

  /** Where the connection is. Every change happens in {@link #next}. */
  private sealed interface State {}

  /** No usable IAP: NOT_FOUND was reported (or the connection is just opening). */
  private record Waiting() implements State {}

  /** On an accepted carrier; nothing asked. */
  private record Settled(Carrier carrier) implements State {}

  /**
   * {@code preferredCarrierAvailable(from, offered, ...)} is outstanding.
   *
   * @param current the working carrier for an upgrade; null for a downgrade (from is gone)
   */
  private record Offered(Iap from, Carrier current, Iap offered) implements State {}

  /**
   * {@code newCarrierActive(to)} is outstanding.
   *
   * @param from the carrier to stay on if {@code to} is rejected; null when there is none
   */
  private record Migrating(Carrier from, Carrier to) implements State {}

  private record Closed() implements State {}

  private static final State WAITING = new Waiting();

  /** What can happen to a connection. */
  private sealed interface Event {}

  private record Opened() implements Event {}

  private record Availability(IapState iap) implements Event {}

  private enum Answer { MIGRATE, IGNORE, ACCEPT, REJECT }

  /** @param iapId the IAP the answer is about, or null for "whichever is outstanding" */
  private record Decision(Answer answer, Integer iapId) implements Event {}

  private record Refresh() implements Event {}

  private record Close() implements Event {}

  private final Snap snap;
  private final BearerFilter filter;
  private final MobilityListener listener;
  private final SerialExecutor executor;
  private final Consumer<SnapConnection> onClose;

  // Touched only on the executor.
  private final Map<Integer, IapState> view = new HashMap<>();
  private final Set<Integer> blacklist = new HashSet<>();
  private final List<Consumer<MobilityListener>> notices = new ArrayList<>();
  private State state = WAITING;

  private volatile Optional<Iap> carrier = Optional.empty();
  private volatile boolean closed;

  SnapConnection(Snap snap, BearerFilter filter, MobilityListener listener,
      SerialExecutor executor, List<IapState> iaps, Consumer<SnapConnection> onClose) {
    this.snap = snap;
    this.filter = Objects.requireNonNull(filter, "filter");
    this.listener = Objects.requireNonNull(listener, "listener");
    this.executor = executor;
    this.onClose = onClose;
    for (IapState iap : iaps) {
      if (snap.rank(iap.iap().id()) >= 0) {
        view.put(iap.iap().id(), iap);
      }
    }
  }

  /** From the manager, once: the first look at the view (initial carrier, or NOT_FOUND). */
  void start() {
    submit(new Opened());
  }

  public Snap snap() {
    return snap;
  }

  public BearerFilter filter() {
    return filter;
  }

  /** Moves to the offered IAP: {@code newCarrierActive} follows. */
  public void migrateToPreferredCarrier() {
    submit(new Decision(Answer.MIGRATE, null));
  }

  /** As {@link #migrateToPreferredCarrier()}, if IAP {@code iapId} is the one offered. */
  public void migrateToPreferredCarrier(int iapId) {
    submit(new Decision(Answer.MIGRATE, iapId));
  }

  /** Declines the offered IAP: it is blacklisted, and the next one that qualifies offered. */
  public void ignorePreferredCarrier() {
    submit(new Decision(Answer.IGNORE, null));
  }

  public void ignorePreferredCarrier(int iapId) {
    submit(new Decision(Answer.IGNORE, iapId));
  }

  /** The new carrier works (point of no return): it is the carrier, the old one is released. */
  public void newCarrierAccepted() {
    submit(new Decision(Answer.ACCEPT, null));
  }

  public void newCarrierAccepted(int iapId) {
    submit(new Decision(Answer.ACCEPT, iapId));
  }

  /**
   * The new carrier does not work: it is blacklisted; the connection stays on the old carrier
   * and offers the next better IAP, or, with no old carrier, offers the best IAP left as a
   * downgrade (or reports NOT_FOUND).
   */
  public void newCarrierRejected() {
    submit(new Decision(Answer.REJECT, null));
  }

  public void newCarrierRejected(int iapId) {
    submit(new Decision(Answer.REJECT, iapId));
  }

  /**
   * Starts afresh: the blacklist is cleared and the best IAP is offered again if it beats the
   * carrier (or made active, when there is no carrier). During an outstanding offer or
   * migration that happens once it is answered.
   */
  public void refresh() {
    submit(new Refresh());
  }

  /**
   * The IAP traffic belongs on now: the accepted carrier; during a migration the old one until
   * the new one is accepted, or the new one when there is no old one left; empty when there is
   * none (waiting, or a downgrade offer outstanding). Changes before the listener hears why.
   */
  public Optional<Iap> carrier() {
    return carrier;
  }

  /** Stops the connection: no call reaches the listener once this returns (but one running). */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      submit(new Close());
      onClose.accept(this);
    }
  }

  /** From the manager: one IAP's new state (any IAP; those outside the SNAP are ignored). */
  void iapChanged(IapState state) {
    if (snap.rank(state.iap().id()) >= 0) {
      submit(new Availability(state));
    }
  }

  @Override
  public String toString() {
    return snap + "/" + filter.name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  private void submit(Event event) {
    executor.execute(() -> handle(event));
  }

  /** On the executor: the transition, then the notices it produced, in order. */
  private void handle(Event event) {
    State before = state;
    State after = next(before, event);
    state = after;
    carrier = carrierOf(after);
    if (!after.equals(before)) {
      log.debug("{}: {} -> {} on {}", this, before, after, event);
    }
    List<Consumer<MobilityListener>> toDeliver = List.copyOf(notices);
    notices.clear();
    for (Consumer<MobilityListener> notice : toDeliver) {
      if (closed) {
        return;
      }
      try {
        notice.accept(listener);
      } catch (RuntimeException e) {
        log.error("{}: mobility listener failed", this, e);
      }
    }
  }

  // ---- the state machine ----

  /** The one place where the state changes. Notices go to {@link #notices}. */
  private State next(State state, Event event) {
    if (state instanceof Closed || event instanceof Close) {
      return new Closed();
    }
    if (event instanceof Opened) {
      return activateBest(true);
    }
    if (event instanceof Refresh) {
      blacklist.clear();
      if (state instanceof Waiting) {
        return activateBest(false);
      }
      if (state instanceof Settled settled) {
        return settle(settled.carrier());
      }
      return state; // looked at when the outstanding offer or migration is answered
    }
    if (event instanceof Availability availability) {
      return onAvailability(state, availability.iap());
    }
    return onDecision(state, (Decision) event);
  }

  private State onAvailability(State state, IapState now) {
    Iap iap = now.iap();
    IapState before = view.put(iap.id(), now);
    if (now.equals(before)) {
      return state;
    }
    boolean wasUp = before != null && before.available();
    boolean lost = wasUp && !now.available();
    if (!now.available()) {
      // An IAP that went away comes back as a new attachment: whatever got it ignored or
      // rejected (a slow registrar, a dead gateway) is not held against it for ever.
      blacklist.remove(iap.id());
    }
    boolean moved = wasUp && now.available() && !now.address().equals(before.address());

    if (state instanceof Waiting) {
      return activateBest(false);
    }
    if (state instanceof Settled settled) {
      Carrier c = settled.carrier();
      if (c.iap().equals(iap) && lost) {
        tell(l -> l.carrierLost(iap));
        return downgrade(iap);
      }
      if (c.iap().equals(iap) && moved) {
        tell(l -> l.carrierAddressChanged(iap, now.address()));
        return settle(new Carrier(iap, now.address()));
      }
      return settle(c);
    }
    if (state instanceof Offered offered) {
      Carrier current = offered.current();
      if (current != null && current.iap().equals(iap) && lost) {
        tell(l -> l.carrierLost(iap));
        return downgrade(iap); // replaces the upgrade offer
      }
      if (current != null && current.iap().equals(iap) && moved) {
        tell(l -> l.carrierAddressChanged(iap, now.address()));
        return new Offered(offered.from(), new Carrier(iap, now.address()), offered.offered());
      }
      if (offered.offered().equals(iap) && lost) {
        tell(l -> l.error(MobilityError.OFFER_WITHDRAWN));
        return current != null ? settle(current) : downgrade(offered.from());
      }
      return state;
    }
    if (state instanceof Migrating migrating) {
      Carrier from = migrating.from();
      Carrier to = migrating.to();
      if (from != null && from.iap().equals(iap) && lost) {
        tell(l -> l.carrierLost(iap));
        return new Migrating(null, to); // no way back: the new carrier is all there is
      }
      if (from != null && from.iap().equals(iap) && moved) {
        tell(l -> l.carrierAddressChanged(iap, now.address()));
        return new Migrating(new Carrier(iap, now.address()), to);
      }
      if (to.iap().equals(iap) && lost) {
        tell(l -> l.carrierLost(iap));
        return from != null ? settle(from) : downgrade(iap);
      }
      if (to.iap().equals(iap) && moved) {
        tell(l -> l.carrierAddressChanged(iap, now.address()));
        return new Migrating(from, new Carrier(iap, now.address()));
      }
      return state;
    }
    throw new IllegalStateException("unhandled state " + state);
  }

  private State onDecision(State state, Decision decision) {
    Answer answer = decision.answer();
    if (answer == Answer.MIGRATE || answer == Answer.IGNORE) {
      if (!(state instanceof Offered offered) || !about(decision, offered.offered())) {
        return ignored(state, decision);
      }
      if (answer == Answer.MIGRATE) {
        Carrier to = carrierOn(offered.offered());
        tell(l -> l.newCarrierActive(to.iap(), to.address(), false));
        return new Migrating(offered.current(), to);
      }
      blacklist.add(offered.offered().id());
      return offered.current() != null ? settle(offered.current()) : downgrade(offered.from());
    }
    if (answer == Answer.ACCEPT && state instanceof Settled settled && decision.iapId() != null
        && decision.iapId() != settled.carrier().iap().id()) {
      // The listener accepted a new carrier that went away before its answer got here: it is
      // told carrierLost after its accept, so it now has no carrier and waits for a downgrade
      // (rule 7). The old carrier this connection stayed on is that downgrade.
      IapState lost = view.get(decision.iapId());
      return downgrade(lost != null ? lost.iap() : settled.carrier().iap());
    }
    if (!(state instanceof Migrating migrating) || !about(decision, migrating.to().iap())) {
      return ignored(state, decision);
    }
    if (answer == Answer.ACCEPT) {
      return settle(migrating.to()); // the old carrier is released: the application lets go
    }
    blacklist.add(migrating.to().iap().id());
    return migrating.from() != null ? settle(migrating.from()) : downgrade(migrating.to().iap());
  }

  private static boolean about(Decision decision, Iap iap) {
    return decision.iapId() == null || decision.iapId() == iap.id();
  }

  private State ignored(State state, Decision decision) {
    log.info("{}: {} ignored: nothing of the kind is outstanding ({})", this, decision, state);
    return state;
  }

  /** With no carrier: the best IAP becomes active without an offer (rule 1), or NOT_FOUND. */
  private State activateBest(boolean reportNotFound) {
    Iap best = best(snap.iapIds().size());
    if (best == null) {
      if (reportNotFound) {
        tell(l -> l.error(MobilityError.NOT_FOUND));
      }
      return WAITING;
    }
    Carrier to = carrierOn(best);
    tell(l -> l.newCarrierActive(to.iap(), to.address(), false));
    return new Migrating(null, to);
  }

  /** On {@code carrier}: offers an upgrade if a usable IAP ranks above it. */
  private State settle(Carrier carrier) {
    Iap better = best(snap.rank(carrier.iap().id()));
    if (better == null) {
      return new Settled(carrier);
    }
    tell(l -> l.preferredCarrierAvailable(carrier.iap(), better, true, false));
    return new Offered(carrier.iap(), carrier, better);
  }

  /** {@code previous} is gone (lost or rejected) and nothing else works: offer what is left. */
  private State downgrade(Iap previous) {
    Iap next = best(snap.iapIds().size());
    if (next == null) {
      tell(l -> l.error(MobilityError.NOT_FOUND));
      return WAITING;
    }
    tell(l -> l.preferredCarrierAvailable(previous, next, false, false));
    return new Offered(previous, null, next);
  }

  /** The usable IAP ranked best among those above {@code rank}, or null. */
  private Iap best(int rank) {
    for (int i = 0; i < rank; i++) {
      IapState candidate = view.get(snap.iapIds().get(i));
      if (candidate != null && candidate.available()
          && Bearer.allows(filter, candidate.iap().bearer())
          && !blacklist.contains(candidate.iap().id())) {
        return candidate.iap();
      }
    }
    return null;
  }

  private Carrier carrierOn(Iap iap) {
    return new Carrier(iap, view.get(iap.id()).address());
  }

  private void tell(Consumer<MobilityListener> notice) {
    notices.add(notice);
  }

  private static Optional<Iap> carrierOf(State state) {
    if (state instanceof Settled settled) {
      return Optional.of(settled.carrier().iap());
    }
    if (state instanceof Offered offered && offered.current() != null) {
      return Optional.of(offered.current().iap());
    }
    if (state instanceof Migrating migrating) {
      return Optional.of((migrating.from() != null ? migrating.from() : migrating.to()).iap());
    }
    return Optional.empty();
  }
}
