package io.sipalr.alr;

import io.sipalr.concurrent.SerialExecutor;
import io.sipalr.mobility.MobilityManager;
import io.sipalr.mobility.SnapConnection;
import io.sipalr.profile.BearerFilter;
import io.sipalr.profile.SipProfile;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.RegistryEvent;
import io.sipalr.sip.SipProfileRegistry;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SIP profile ALR, the package's entry point: keeps every profile that names a SNAP (or one
 * IAP) registered through the carrier the mobility layer picks, and gives each client a say
 * through its {@link AlrController}. One {@link SnapSession} per SNAP connection (SNAP and
 * bearer filter) runs the flow; profiles join and leave sessions as they are created, changed
 * and destroyed.
 */
public final class SipAlr implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SipAlr.class);

  /** A SNAP connection's identity: profiles sharing both share the flow. */
  private record SessionKey(int snapId, boolean fixedIap, BearerFilter filter) {}

  private final AlrProfiles registry;
  private final MobilityManager mobility;
  private final AlrConfig config;
  private final Executor pool;
  private final RegisterPacer pacer;
  private final ScheduledExecutorService timers;
  private final List<AlrController> controllers = new CopyOnWriteArrayList<>();
  private final List<AlrObserver> listeners = new CopyOnWriteArrayList<>();
  private final Map<SessionKey, SnapSession> sessions = new ConcurrentHashMap<>();
  private final Map<SessionKey, SnapConnection> connections = new ConcurrentHashMap<>();
  private final Map<String, SessionKey> membership = new ConcurrentHashMap<>();
  /** Membership changes happen in registry order, one at a time, off the registry's threads. */
  private final SerialExecutor membershipExecutor;
  private volatile boolean closed;
  /** Who knows the profiles' calls; none until the agent wires calls in. */
  private volatile CallsOnProfiles calls = CallsOnProfiles.NONE;

  public SipAlr(SipProfileRegistry registry, MobilityManager mobility, AlrConfig config,
      Executor pool, ScheduledExecutorService timers) {
    this(AlrProfiles.of(registry), mobility, config, pool, timers, System::nanoTime);
  }

  /** Over any registry and time source: the unit tests' fakes and virtual clock. */
  SipAlr(AlrProfiles registry, MobilityManager mobility, AlrConfig config, Executor pool,
      ScheduledExecutorService timers, java.util.function.LongSupplier nanoTime) {
    this.registry = registry;
    this.mobility = mobility;
    this.config = config;
    this.pool = pool;
    this.pacer = new RegisterPacer(config.registerRate(), config.registerBurst(),
        config.registerWindow(), timers, nanoTime);
    this.timers = timers;
    this.membershipExecutor = new SerialExecutor(pool);
  }

  /**
   * Opens a SNAP connection for every stored profile that needs one and follows the registry
   * from now on. Call before {@link SipProfileRegistry#start()}: profiles then register as soon
   * as their first carrier is active (and wait while there is none).
   */
  public void start() {
    registry.addListener(this::registryEvent);
    for (SipProfile p : registry.profiles()) {
      membershipExecutor.execute(() -> place(p.id(), keyOf(p)));
    }
  }

  /** A new controller: from now on every migration of a registered profile needs its vote. */
  public AlrController newController(AlrObserver observer) {
    AlrController c = new AlrController(this, observer);
    controllers.add(c);
    return c;
  }

  /** From now on events carry the calls of their profile as {@code calls} tells them. */
  public void callsOn(CallsOnProfiles calls) {
    this.calls = calls == null ? CallsOnProfiles.NONE : calls;
  }

  /** An observer without a vote (an event stream, a log). */
  public void addListener(AlrObserver observer) {
    listeners.add(observer);
  }

  public void removeListener(AlrObserver observer) {
    listeners.remove(observer);
  }

  /** REGISTER exchanges the pacer has started and that are not over yet (its window in use). */
  public int pacerInFlight() {
    return pacer.inFlight();
  }

  /** REGISTER work waiting in the pacer's queue for the window or the rate. */
  public int pacerWaiting() {
    return pacer.waiting();
  }

  /** The pacer's window: REGISTER exchanges in flight at most ({@code alr.register-window}). */
  public int pacerWindow() {
    return config.registerWindow();
  }

  /**
   * Completes once a task has run on the ALR timer and then on its worker pool: that they still
   * turn (liveness). Never completes when one is stuck; the caller bounds the wait.
   */
  public CompletableFuture<Void> ping() {
    return io.sipalr.concurrent.Liveness.ping(timers, pool);
  }

  // ------------------------------------------------------------ for controllers and sessions

  void vote(AlrController controller, String profileId, int iapId, boolean allow) {
    session(profileId).vote(controller, profileId, iapId, allow);
  }

  void refresh(String profileId) {
    SipProfile p = registry.profile(profileId).orElseThrow(
        () -> new NoSuchElementException("no profile with id \"" + profileId + "\""));
    if (p.snapId() == null) {
      throw new IllegalArgumentException("profile \"" + profileId + "\" has no SNAP: "
          + "there is nothing to refresh");
    }
    session(profileId).refresh();
  }

  /**
   * Whether an offer of {@code iapId} to the profile still waits for votes: an offer can also
   * end without an event (the mobility layer withdrew it), which a controller keeping offers
   * for later decisions must notice.
   */
  boolean offerOpen(String profileId, int iapId) {
    SessionKey key = membership.get(profileId);
    SnapSession s = key == null ? null : sessions.get(key);
    return s != null && s.offerOpen(profileId, iapId);
  }

  AlrProfiles registry() {
    return registry;
  }

  /**
   * The carrier of the profile's SNAP connection (see {@link SnapConnection#carrier()}); empty
   * when it has none or the profile is in no session.
   */
  Optional<io.sipalr.mobility.Iap> carrierOf(String profileId) {
    SessionKey key = membership.get(profileId);
    SnapConnection c = key == null ? null : connections.get(key);
    return c == null ? Optional.empty() : c.carrier();
  }

  void remove(AlrController controller) {
    if (controllers.remove(controller)) {
      sessions.values().forEach(s -> s.controllerRemoved(controller));
    }
  }

  List<AlrController> controllers() {
    return controllers;
  }

  AlrConfig config() {
    return config;
  }

  ScheduledExecutorService timers() {
    return timers;
  }

  /** {@code registerWork}'s stage completes when its REGISTER exchange is over. */
  void pace(Supplier<? extends CompletionStage<?>> registerWork) {
    pacer.submit(registerWork);
  }

  void notify(AlrEvent event, String profileId, int snapId, int iapId) {
    MigrationCalls touched = callsOf(profileId);
    if (touched.count() == 0) {
      log.info("profile {}: {} (SNAP {}, IAP {})", profileId, event, snapId, iapId);
    } else {
      log.info("profile {}: {} (SNAP {}, IAP {}, calls {})", profileId, event, snapId, iapId,
          touched.callIds());
    }
    for (AlrController c : controllers) {
      safely(() -> c.observer.alrEvent(event, profileId, snapId, iapId, touched));
    }
    for (AlrObserver o : listeners) {
      safely(() -> o.alrEvent(event, profileId, snapId, iapId, touched));
    }
  }

  private MigrationCalls callsOf(String profileId) {
    try {
      return new MigrationCalls(calls.callIdsOf(profileId));
    } catch (RuntimeException e) {
      log.warn("profile {}: its calls could not be counted", profileId, e);
      return MigrationCalls.NONE;
    }
  }

  void notifyError(AlrError error, String profileId, int snapId, int iapId) {
    log.info("profile {}: {} (SNAP {}, IAP {})", profileId, error, snapId, iapId);
    for (AlrController c : controllers) {
      safely(() -> c.observer.alrError(error, profileId, snapId, iapId));
    }
    for (AlrObserver o : listeners) {
      safely(() -> o.alrError(error, profileId, snapId, iapId));
    }
  }

  private static void safely(Runnable call) {
    try {
      call.run();
    } catch (RuntimeException e) {
      log.warn("ALR observer failed", e);
    }
  }

  // ------------------------------------------------------------ membership

  private void registryEvent(RegistryEvent event) {
    switch (event.type()) {
      case CREATED, UPDATED -> membershipExecutor.execute(() -> registry.profile(event.profileId())
          .ifPresent(p -> place(p.id(), keyOf(p))));
      case DESTROYED -> membershipExecutor.execute(() -> place(event.profileId(), null));
      default -> {
        SessionKey key = membership.get(event.profileId());
        SnapSession s = key == null ? null : sessions.get(key);
        if (s != null) {
          s.registryEvent(event);
        }
      }
    }
  }

  private static SessionKey keyOf(SipProfile p) {
    if (p.snapId() != null) {
      return new SessionKey(p.snapId(), false, p.bearerFilter());
    }
    if (p.iapId() != null) {
      return new SessionKey(p.iapId(), true, p.bearerFilter());
    }
    return null;
  }

  /**
   * Puts a profile in the session of {@code key} (none: it leaves ALR). A SNAP change means
   * deregister, then register through the new SNAP (rule 9).
   */
  private void place(String profileId, SessionKey key) {
    if (closed) {
      return; // stopping (e.g. closed right after start): no profile joins any more
    }
    SessionKey old = membership.get(profileId);
    if (java.util.Objects.equals(old, key)) {
      return;
    }
    if (old != null) {
      membership.remove(profileId);
      SnapSession s = sessions.get(old);
      if (s != null) {
        s.leave(profileId);
      }
    }
    if (key == null) {
      return;
    }
    membership.put(profileId, key);
    SnapSession target = sessions.computeIfAbsent(key, this::openSession);
    if (old == null) {
      target.join(profileId);
      return;
    }
    Optional<ProfileStatus> status = registry.statusIfPresent(profileId);
    if (status.isEmpty()) {
      return; // being destroyed: its DESTROYED event takes it out of ALR
    }
    boolean wasWanted = status.get() != ProfileStatus.UNREGISTERED;
    CompletableFuture<Void> stopped;
    try {
      stopped = registry.disable(profileId);
    } catch (NoSuchElementException gone) {
      return;
    }
    stopped.thenRun(() -> {
      try {
        registry.rebind(profileId, null);
      } catch (Exception e) {
        log.warn("profile {}: {}", profileId, e.getMessage());
      }
      target.join(profileId);
      if (wasWanted) {
        try {
          registry.enable(profileId);
        } catch (NoSuchElementException gone) {
          log.debug("profile {}: destroyed while changing SNAP", profileId);
        }
      }
    });
  }

  private SnapSession openSession(SessionKey key) {
    SnapSession session = new SnapSession(key.snapId(), key.filter(), this, registry,
        new SerialExecutor(pool));
    SnapConnection connection = key.fixedIap()
        ? mobility.openIap(key.snapId(), key.filter(), session)
        : mobility.open(key.snapId(), key.filter(), session);
    session.attach(connection);
    connections.put(key, connection);
    log.info("{}: connection open", session);
    return session;
  }

  private SnapSession session(String profileId) {
    SessionKey key = membership.get(profileId);
    SnapSession s = key == null ? null : sessions.get(key);
    if (s == null) {
      if (registry.profile(profileId).isEmpty()) {
        throw new NoSuchElementException("no profile with id \"" + profileId + "\"");
      }
      throw new IllegalStateException("profile \"" + profileId + "\" names no SNAP or IAP");
    }
    return s;
  }

  @Override
  public void close() {
    closed = true;
    connections.values().forEach(SnapConnection::close);
    connections.clear();
    sessions.clear();
  }
}
