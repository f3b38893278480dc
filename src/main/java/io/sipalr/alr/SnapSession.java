package io.sipalr.alr;

import io.sipalr.concurrent.SerialExecutor;
import io.sipalr.mobility.Iap;
import io.sipalr.mobility.MobilityError;
import io.sipalr.mobility.MobilityListener;
import io.sipalr.mobility.SnapConnection;
import io.sipalr.profile.BearerFilter;
import io.sipalr.sip.MigrationOutcome;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.RegistryEvent;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ALR flow of the profiles sharing one SNAP connection (one SNAP and bearer filter): it
 * answers the mobility layer, collects the controllers' votes, moves every profile's
 * registration and decides whether the new carrier is accepted (docs/alr-rules.md, rules 1-16).
 *
 * <p>Everything runs on the session's {@link SerialExecutor}; the mobility callbacks already
 * arrive on the connection's own, and are re-posted here, so no field needs a lock. The phase
 * changes only in {@link #enter}.
 */
final class SnapSession implements MobilityListener {
  private static final Logger log = LoggerFactory.getLogger(SnapSession.class);

  /** Where the session is. */
  enum Phase {
    /** No carrier: profiles wait (rule 8) until the mobility layer makes one active. */
    WAITING,
    /** On an accepted carrier; nothing pending. */
    SETTLED,
    /** An upgrade is offered and the controllers' votes are being collected. */
    VOTING,
    /** Migration decided; waiting for the mobility layer to make the new carrier active. */
    AWAITING_CARRIER,
    /** The new carrier is active and profiles are registering through it. */
    TRYING
  }

  /** One vote owed: a controller's, for one registered profile. */
  private record Vote(AlrController controller, String profileId) {}

  final int snapId;
  final BearerFilter filter;
  private final SipAlr alr;
  private final AlrProfiles registry;
  final SerialExecutor executor;
  /** Set right after the connection opens, which may already be reporting by then. */
  private final java.util.concurrent.CompletableFuture<SnapConnection> connection =
      new java.util.concurrent.CompletableFuture<>();

  private final Set<String> members = new LinkedHashSet<>();
  private Phase phase = Phase.WAITING;
  private Iap carrier;
  private String carrierAddress;

  // VOTING and AWAITING_CARRIER
  private Iap offered;
  private boolean upgrade;
  private final Set<Vote> pendingVotes = new HashSet<>();
  /** Profile id → IAP offered to it, readable from any thread to refuse out-of-place votes. */
  private final Map<String, Integer> openOffers = new ConcurrentHashMap<>();

  /** The look at rejected IAPs scheduled while waiting, or {@code null}. */
  private java.util.concurrent.ScheduledFuture<?> retryRejected;

  // TRYING
  private Iap trying;
  private String tryingAddress;
  /** Counts attempts, so that a late outcome of an abandoned one is recognised and ignored. */
  private int attempt;
  /** True when profiles were moved with {@code migrate} (an upgrade with votes or fallbacks). */
  private boolean migrating;
  /**
   * Whether a first carrier's trial waits for its members' registrations ({@code TRYING}, not
   * migrating): readable from any thread, so that the registry's events, thousands in a storm,
   * need no hop to this session's executor when nothing here waits for them.
   */
  private volatile boolean trialListening;
  private int outstanding;
  private int moved;
  private final Set<String> registeredAtStart = new HashSet<>();
  private final List<String> failedOnTrial = new ArrayList<>();
  /** Rebind trials: members whose first attempt through the new carrier has not ended yet. */
  private final Set<String> untried = new HashSet<>();

  SnapSession(int snapId, BearerFilter filter, SipAlr alr, AlrProfiles registry,
      SerialExecutor executor) {
    this.snapId = snapId;
    this.filter = filter;
    this.alr = alr;
    this.registry = registry;
    this.executor = executor;
  }

  void attach(SnapConnection snapConnection) {
    connection.complete(snapConnection);
  }

  private SnapConnection connection() {
    return connection.join(); // waits only for the instant between open() and attach()
  }

  // ------------------------------------------------------------ from SipAlr (any thread)

  void join(String profileId) {
    executor.execute(() -> {
      if (!members.add(profileId)) {
        return;
      }
      String address = switch (phase) {
        case SETTLED, VOTING, AWAITING_CARRIER -> carrierAddress;
        case TRYING -> tryingAddress;
        case WAITING -> null;
      };
      if (address != null) {
        rebind(profileId, address);
      }
    });
  }

  void leave(String profileId) {
    executor.execute(() -> {
      members.remove(profileId);
      untried.remove(profileId);
      openOffers.remove(profileId);
      if (pendingVotes.removeIf(v -> v.profileId().equals(profileId))) {
        votesChanged();
      }
    });
  }

  boolean isEmpty() {
    return members.isEmpty();
  }

  /** @throws IllegalStateException when no offer of {@code iapId} is pending for the profile */
  void vote(AlrController controller, String profileId, int iapId, boolean allow) {
    Integer open = openOffers.get(profileId);
    if (open == null || open != iapId) {
      throw new IllegalStateException("no migration of profile \"" + profileId + "\" to IAP "
          + iapId + " is waiting for a decision"
          + (open == null ? "" : " (IAP " + open + " is)"));
    }
    executor.execute(() -> {
      if (phase != Phase.VOTING || offered.id() != iapId) {
        return; // raced with a withdrawal or another controller's refusal
      }
      if (!allow) {
        refuse();
      } else if (pendingVotes.remove(new Vote(controller, profileId))) {
        votesChanged();
      }
    });
  }

  /** Whether an offer of {@code iapId} to the profile waits for votes now (any thread). */
  boolean offerOpen(String profileId, int iapId) {
    Integer open = openOffers.get(profileId);
    return open != null && open == iapId;
  }

  void controllerRemoved(AlrController controller) {
    executor.execute(() -> {
      if (pendingVotes.removeIf(v -> v.controller() == controller)) {
        votesChanged();
      }
    });
  }

  void refresh() {
    connection().refresh();
  }

  void registryEvent(RegistryEvent event) {
    if (!trialListening) {
      return; // set on this executor before the trial's first REGISTER can leave
    }
    executor.execute(() -> {
      if (phase != Phase.TRYING || migrating || !untried.contains(event.profileId())
          || !tryingAddress.equals(registry.localAddressOf(event.profileId()).orElse(null))) {
        return;
      }
      switch (event.type()) {
        case REGISTERED -> {
          untried.remove(event.profileId());
          accept();
        }
        case REGISTRATION_FAILED -> {
          untried.remove(event.profileId());
          // A SIP answer proves the network reaches the registrar; only silence condemns it.
          if (event.error().isNetworkFailure()) {
            failedOnTrial.add(event.profileId());
            if (untried.isEmpty()) {
              reject();
            }
          } else {
            accept();
          }
        }
        default -> { }
      }
    });
  }

  // ------------------------------------------------------------ MobilityListener
  // Told on the connection's executor, which holds no lock: run here when this session is idle
  // (a thread hop less on the way from the trigger to the REGISTER).

  @Override
  public void preferredCarrierAvailable(Iap oldIap, Iap newIap, boolean isUpgrade,
      boolean isSeamless) {
    executor.executeHere(() -> offer(newIap, isUpgrade));
  }

  @Override
  public void newCarrierActive(Iap newIap, InetAddress address, boolean isSeamless) {
    executor.executeHere(() -> carrierActive(newIap, address.getHostAddress()));
  }

  @Override
  public void carrierAddressChanged(Iap iap, InetAddress newAddress) {
    executor.executeHere(() -> addressChanged(iap, newAddress.getHostAddress()));
  }

  @Override
  public void carrierLost(Iap iap) {
    executor.executeHere(() -> lost(iap));
  }

  @Override
  public void error(MobilityError code) {
    executor.execute(() -> {
      if (code == MobilityError.NOT_FOUND) {
        log.info("SNAP {}: no usable IAP; profiles wait", snapId);
        members.forEach(id -> rebind(id, null));
        carrier = null;
        carrierAddress = null;
        enter(Phase.WAITING);
        retryRejectedLater();
      } else if (code == MobilityError.OFFER_WITHDRAWN && phase == Phase.VOTING) {
        enter(carrier == null ? Phase.WAITING : Phase.SETTLED);
      }
    });
  }

  // ------------------------------------------------------------ the flow

  private void enter(Phase next) {
    if (next != Phase.VOTING) {
      pendingVotes.clear();
      openOffers.clear();
    }
    if (next != Phase.TRYING) {
      untried.clear();
      failedOnTrial.clear();
      registeredAtStart.clear();
    }
    log.debug("SNAP {} ({}): {} -> {}", snapId, filter, phase, next);
    phase = next;
    trialListening = phase == Phase.TRYING && !migrating;
  }

  private void offer(Iap newIap, boolean isUpgrade) {
    offered = newIap;
    upgrade = isUpgrade;
    List<String> registered = registeredMembers();
    // Rule 7: a downgrade is not asked about. Rule 2: nobody registered, nobody to ask; no
    // controller installed, every migration is allowed.
    if (!isUpgrade || registered.isEmpty() || alr.controllers().isEmpty()) {
      enter(Phase.AWAITING_CARRIER);
      connection().migrateToPreferredCarrier(newIap.id());
      return;
    }
    enter(Phase.VOTING);
    for (String id : registered) {
      openOffers.put(id, newIap.id());
      for (AlrController c : alr.controllers()) {
        pendingVotes.add(new Vote(c, id));
      }
    }
    for (String id : registered) {
      alr.notify(AlrEvent.IAP_AVAILABLE, id, snapId, newIap.id());
    }
  }

  private void votesChanged() {
    if (phase == Phase.VOTING && pendingVotes.isEmpty()) {
      enter(Phase.AWAITING_CARRIER);
      connection().migrateToPreferredCarrier(offered.id());
    }
  }

  /** Rule 5: refused at once; the profiles stay where they are. */
  private void refuse() {
    Iap refused = offered;
    List<String> registered = List.copyOf(openOffers.keySet());
    enter(carrier == null ? Phase.WAITING : Phase.SETTLED);
    connection().ignorePreferredCarrier(refused.id());
    for (String id : registered) {
      alr.notifyError(AlrError.ACCESS_DENIED, id, snapId, refused.id());
    }
  }

  private void carrierActive(Iap iap, String address) {
    attempt++;
    trying = iap;
    tryingAddress = address;
    outstanding = 0;
    moved = 0;
    // An upgrade moves registered profiles make-before-break (or in the configured order) and
    // can fall back; the first carrier, a downgrade, or a return from no network registers
    // everyone through it at once (rules 1 and 7).
    migrating = phase == Phase.AWAITING_CARRIER && upgrade && carrier != null;
    enter(Phase.TRYING);
    if (migrating) {
      registeredAtStart.addAll(registeredMembers());
      int thisAttempt = attempt;
      List<String> all = List.copyOf(members);
      outstanding = all.size();
      if (all.isEmpty()) {
        accept();
        return;
      }
      int iapId = iap.id();
      for (String id : all) {
        // MIGRATION_STARTED is told on the profile's own executor, the moment its REGISTER
        // leaves: before that REGISTER's answer can be told (REGISTERED in break-before-make).
        boolean announce = registeredAtStart.contains(id);
        Runnable started = announce
            ? () -> alr.notify(AlrEvent.MIGRATION_STARTED, id, snapId, iapId) : () -> { };
        alr.pace(() -> migrate(id, address, started)
            .whenComplete((outcome, e) -> executor.executeHere(
                () -> migrationEnded(thisAttempt, id, outcome))));
      }
    } else {
      for (String id : members) {
        if (wantsRegistration(id)) {
          untried.add(id);
        }
        rebind(id, address);
      }
      if (untried.isEmpty()) {
        accept(); // nobody wants to register: nothing to judge the carrier by
      }
    }
  }

  private void migrationEnded(int thisAttempt, String id, MigrationOutcome outcome) {
    if (thisAttempt != attempt || phase != Phase.TRYING || !migrating) {
      return;
    }
    if (outcome != null && outcome.moved()) {
      moved++;
      alr.notify(AlrEvent.MIGRATION_COMPLETED, id, snapId, trying.id());
    } else if (outcome != null && outcome.result() == MigrationOutcome.Result.FAILED) {
      failedOnTrial.add(id);
      alr.notifyError(AlrError.registrationFailed(outcome.error()), id, snapId, trying.id());
    }
    if (--outstanding > 0) {
      return;
    }
    // Rule 3: one profile registered through the new carrier accepts it; only when every
    // registered profile failed is it rejected.
    if (moved > 0 || registeredAtStart.isEmpty() || failedOnTrial.isEmpty()) {
      List<String> retry = List.copyOf(failedOnTrial);
      accept();
      // Rule 12: those that failed follow the accepted carrier and retry with backoff.
      retry.forEach(pid -> rebind(pid, carrierAddress));
    } else {
      reject();
    }
  }

  private void accept() {
    if (phase != Phase.TRYING) {
      return;
    }
    carrier = trying;
    carrierAddress = tryingAddress;
    enter(Phase.SETTLED);
    connection().newCarrierAccepted(carrier.id());
  }

  private void reject() {
    Iap rejected = trying;
    String rejectedAddress = tryingAddress;
    log.info("SNAP {}: {} rejected: no profile could register through it", snapId, rejected);
    enter(carrier == null ? Phase.WAITING : Phase.SETTLED);
    connection().newCarrierRejected(rejected.id());
    if (carrier != null && rejectedAddress != null && !rejectedAddress.equals(carrierAddress)) {
      // Members that were not registered when the trial began followed it (rule 11): back to
      // the carrier the SNAP stays on, or they would be left on an IAP nobody watches for them.
      rebindFrom(rejectedAddress, carrierAddress);
    }
  }

  private void addressChanged(Iap iap, String address) {
    if (carrier != null && iap.id() == carrier.id()) {
      String old = carrierAddress;
      carrierAddress = address;
      rebindFrom(old, address);
    }
    if (phase == Phase.TRYING && iap.id() == trying.id()) {
      String old = tryingAddress;
      tryingAddress = address;
      rebindFrom(old, address);
    }
  }

  private void lost(Iap iap) {
    boolean carrierLost = carrier != null && iap.id() == carrier.id();
    if (phase == Phase.TRYING && iap.id() == trying.id()) {
      // The new carrier went away mid-trial: back to the old one, if any (the mobility layer
      // stays on it), else wait for what it offers next.
      attempt++;
      String gone = tryingAddress;
      enter(carrier == null || carrierLost ? Phase.WAITING : Phase.SETTLED);
      rebindFrom(gone, carrier == null || carrierLost ? null : carrierAddress);
      return;
    }
    if (!carrierLost) {
      return;
    }
    String gone = carrierAddress;
    carrier = null;
    carrierAddress = null;
    if (phase == Phase.TRYING && migrating) {
      // The old carrier went away while moving to the new one, which stays: everyone
      // registers through the new one now, and the trial is judged as a first carrier's.
      migrating = false;
      trialListening = true;
      attempt++;
      for (String id : members) {
        if (wantsRegistration(id)) {
          untried.add(id);
        }
        rebind(id, tryingAddress);
      }
      return;
    }
    // Rule 7: the registration through the lost IAP is gone; a downgrade offer or NOT_FOUND
    // follows at once from the mobility layer.
    enter(Phase.WAITING);
    rebindFrom(gone, null);
  }

  // ------------------------------------------------------------ helpers

  /**
   * While waiting with no usable IAP, look again at the rejected and refused ones after a
   * while: one failed trial (a registrar slow for a moment) must not keep a working uplink out
   * for the connection's whole life. Once per wait; a new NOT_FOUND schedules the next.
   */
  private void retryRejectedLater() {
    if (retryRejected != null) {
      retryRejected.cancel(false);
    }
    retryRejected = alr.timers().schedule(() -> executor.execute(() -> {
      if (phase == Phase.WAITING && !members.isEmpty()) {
        log.info("SNAP {}: still no usable IAP; trying the rejected ones again", snapId);
        connection().refresh();
      }
    }), alr.config().retryRejectedAfter().toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  private List<String> registeredMembers() {
    // Rule 11: only registered profiles vote.
    return members.stream()
        .filter(id -> registry.statusIfPresent(id).orElse(null) == ProfileStatus.REGISTERED)
        .toList();
  }

  /** Registered or on its way there; false for a member that is gone (being destroyed). */
  private boolean wantsRegistration(String id) {
    return registry.statusIfPresent(id).filter(s -> s != ProfileStatus.UNREGISTERED).isPresent();
  }

  /**
   * Moves one member; its stage completes however the move ends. A member destroyed while its
   * move waited in the pacer has no registration left: its move is over (outcome {@code null},
   * neither moved nor failed), so that the trial is still judged by the others.
   */
  private java.util.concurrent.CompletionStage<MigrationOutcome> migrate(String id,
      String address, Runnable started) {
    try {
      return registry.migrate(id, address, alr.config().order(), started);
    } catch (RuntimeException e) {
      log.info("profile {}: not moved to {}: {}", id, address, e.toString());
      return CompletableFuture.completedFuture(null);
    }
  }

  /** Every member now registered from {@code from} registers from {@code to} instead. */
  private void rebindFrom(String from, String to) {
    for (String id : members) {
      String at = registry.localAddressOf(id).orElse(null);
      if (from == null || from.equals(at)) {
        rebind(id, to);
      }
    }
  }

  private void rebind(String id, String address) {
    alr.pace(() -> {
      try {
        return registry.rebind(id, address);
      } catch (Exception e) {
        log.warn("profile {}: cannot bind to {}: {}", id, address, e.getMessage());
        return CompletableFuture.completedFuture(null);
      }
    });
  }

  @Override
  public String toString() {
    return "SNAP " + snapId + " (" + filter + ")";
  }
}
