package io.sipalr.sip;

import io.sipalr.concurrent.DaemonThreads;
import io.sipalr.concurrent.SerialExecutor;
import io.sipalr.profile.ProfileStore;
import io.sipalr.profile.SipProfile;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.sip.SipException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The profile registry: the store's profiles, each with its registration, and the events that
 * clients observe. This is the SIP package's entry point; a gateway reaches it through the
 * façade {@link io.sipalr.SipAlrAgent#registry()}, which also wires ALR over it. Moving a
 * binding between local addresses is ALR's alone ({@link #claimMoves()}).
 *
 * <p>Threads: one SIP stack, a small shared pool running every profile's state machine through
 * its own {@link SerialExecutor}, and one timer thread. None of them is per profile.
 */
public final class SipProfileRegistry implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SipProfileRegistry.class);

  private final ProfileStore store;
  private final SipConfig config;
  private final SipWire engine;
  private final FlowKeepAlive keepAlive;
  private final ExecutorService pool;
  private final ScheduledExecutorService timers;
  private final Clock clock;
  /** Resolves registrars given by name (RFC 3263), shared by every profile. */
  private final io.sipalr.dns.TargetResolver resolver;
  private final boolean resolveAfterMove;
  /** Where DNS answers are read: one thread, never a SIP or timer thread; null without DNS. */
  private final ExecutorService dnsThread;
  private final SipStats stats = new SipStats();
  private volatile boolean closed;
  private final Map<String, Registration> registrations = new ConcurrentHashMap<>();
  private final List<RegistryListener> listeners = new CopyOnWriteArrayList<>();
  private final List<MessageListener> messageListeners = new CopyOnWriteArrayList<>();
  /** Registrations whose destroy has begun: a change (save) must not revive them. */
  private final java.util.Set<Registration> destroying = ConcurrentHashMap.newKeySet();
  /** Whether {@link #claimMoves()} handed the moves out. */
  private final java.util.concurrent.atomic.AtomicBoolean movesClaimed =
      new java.util.concurrent.atomic.AtomicBoolean();
  private final Registration.Sink sink = new Registration.Sink() {
    @Override
    public void statusChanged(Registration r, ProfileStatus from, ProfileStatus to) {
      if (to == ProfileStatus.REGISTERED) {
        emit(RegistryEvent.Type.REGISTERED, r.profileId(), to, null);
      } else if (from == ProfileStatus.REGISTERED) {
        emit(RegistryEvent.Type.DEREGISTERED, r.profileId(), to, null);
      }
    }

    @Override
    public void failed(Registration r, RegistrationError error) {
      log.info("profile {}: registration failed: {}", r.profileId(), error);
      emit(RegistryEvent.Type.REGISTRATION_FAILED, r.profileId(), r.info().status(), error);
    }
  };

  /** Starts the SIP stack and loads every stored profile; nothing registers until {@link #start()}. */
  public SipProfileRegistry(ProfileStore store, SipConfig config) throws SipException {
    this(store, config, io.sipalr.dns.DnsConfig.DEFAULTS);
  }

  /** @param dns how registrars given by name are resolved ({@code sip.dns}) */
  public SipProfileRegistry(ProfileStore store, SipConfig config, io.sipalr.dns.DnsConfig dns)
      throws SipException {
    this(store, config, dns, newTimers(), newDnsThread());
  }

  private SipProfileRegistry(ProfileStore store, SipConfig config, io.sipalr.dns.DnsConfig dns,
      ScheduledThreadPoolExecutor timers, ExecutorService dnsThread) throws SipException {
    // Bounded: at most one drain task per profile is ever queued (see SerialExecutor).
    this(store, config, new SipEngine(config, timers), timers,
        new ThreadPoolExecutor(config.workerThreads(), config.workerThreads(), 0,
            TimeUnit.SECONDS, new ArrayBlockingQueue<>(1 << 16),
            DaemonThreads.named("sip-worker"), new ThreadPoolExecutor.CallerRunsPolicy()),
        Clock.systemUTC(), io.sipalr.dns.SipResolver.system(dns, List.of("udp", "tcp", "tls"),
            dnsThread), dns.resolveAfterMove(), dnsThread);
  }

  /** One thread reads every DNS answer; a full queue makes dnsjava's own thread read it. */
  private static ExecutorService newDnsThread() {
    return new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(1 << 14),
        DaemonThreads.named("sip-dns"), new ThreadPoolExecutor.CallerRunsPolicy());
  }

  /**
   * The registry on any transport, timers, pool and clock: the unit tests' scripted registrar
   * and virtual clock (ScriptedSip), without sockets or threads.
   */
  SipProfileRegistry(ProfileStore store, SipConfig config, SipWire wire,
      ScheduledExecutorService timers, ExecutorService pool, Clock clock) {
    this(store, config, wire, timers, pool, clock, RegistrarTargets.LITERALS_ONLY, false, null);
  }

  /** As above, registrars resolved by {@code resolver} (a scripted nameserver in tests). */
  SipProfileRegistry(ProfileStore store, SipConfig config, SipWire wire,
      ScheduledExecutorService timers, ExecutorService pool, Clock clock,
      io.sipalr.dns.TargetResolver resolver, boolean resolveAfterMove, ExecutorService dnsThread) {
    this.resolver = resolver;
    this.resolveAfterMove = resolveAfterMove;
    this.dnsThread = dnsThread;
    this.store = store;
    this.config = config;
    this.engine = new CountingWire(wire, stats);
    if (wire instanceof SipEngine sip) {
      stats.tlsFrom(sip::tlsConnections, sip::tlsResumedSessions);
    }
    this.timers = timers;
    this.pool = pool;
    this.clock = clock;
    this.keepAlive = new FlowKeepAlive(engine, timers, config.keepAliveInterval(),
        config.registerTimeout(), stats, config.outbound(), clock);
    engine.inbound(new SipWire.Inbound() {
      @Override
      public boolean knows(String profileId) {
        return registrations.containsKey(profileId);
      }

      @Override
      public void message(IncomingMessage message) {
        for (MessageListener l : messageListeners) {
          try {
            l.onMessage(message);
          } catch (RuntimeException e) {
            log.warn("message listener failed on a MESSAGE for {}", message.profileId(), e);
          }
        }
      }
    });
    for (SipProfile p : store.list()) {
      registrations.put(p.id(), newRegistration(p));
    }
  }

  private static ScheduledThreadPoolExecutor newTimers() {
    ScheduledThreadPoolExecutor timers =
        new ScheduledThreadPoolExecutor(1, DaemonThreads.named("sip-timer"));
    timers.setRemoveOnCancelPolicy(true); // cancelled refresh timers must not pile up
    return timers;
  }

  /** Registers every profile whose auto-register flag is set. */
  public void start() {
    for (SipProfile p : store.list()) {
      if (p.autoRegister()) {
        registration(p.id()).start();
      }
    }
  }

  public void addListener(RegistryListener listener) {
    listeners.add(listener);
  }

  /** Hears every MESSAGE that reaches a profile (answered 200 already). */
  public void addMessageListener(MessageListener listener) {
    messageListeners.add(listener);
  }

  public void removeMessageListener(MessageListener listener) {
    messageListeners.remove(listener);
  }

  public void removeListener(RegistryListener listener) {
    listeners.remove(listener);
  }

  public List<SipProfile> profiles() {
    return store.list();
  }

  public Optional<SipProfile> profile(String id) {
    return store.get(id);
  }

  /** Stores a new profile (CREATED) and registers it if it is auto-register. */
  public SipProfile create(SipProfile profile) {
    SipProfile stored = store.create(knownCertificate(profile));
    added(stored);
    return stored;
  }

  /**
   * Stores new profiles in one batch ({@link ProfileStore#createAll}: all or, on a conflict or
   * an invalid profile, none), then for each, in order, does what {@link #create} does: CREATED,
   * and registers it if it is auto-register. Returns them as stored, in order.
   */
  public List<SipProfile> createAll(List<SipProfile> profiles) {
    profiles.forEach(this::knownCertificate);
    List<SipProfile> stored = store.createAll(profiles);
    stored.forEach(this::added);
    return stored;
  }

  /**
   * Stores a changed profile (UPDATED). A registered profile whose registration-relevant fields
   * changed registers again; an auto-register profile that was not registered starts. Never
   * creates one: use {@link #create}.
   *
   * @throws NoSuchElementException when there is no such profile, also when it was destroyed
   *     (or its destroy began) while the change was on its way: it is not brought back
   */
  public SipProfile save(SipProfile profile) {
    Registration r = registration(profile.id());
    knownCertificate(profile);
    // One at a time with the start of a destroy of the same profile (see destroy): a change
    // either comes before it, or finds the profile going and changes nothing, never
    // restarting a registration that is being stopped for good.
    synchronized (r) {
      if (destroying.contains(r)) {
        throw new NoSuchElementException("profile \"" + profile.id() + "\" is being deleted");
      }
      SipProfile before = store.get(profile.id()).orElseThrow(() -> new NoSuchElementException(
          "no profile with id \"" + profile.id() + "\""));
      // Replace-only: a profile destroyed meanwhile is not brought back.
      SipProfile stored = store.update(profile);
      r.executor.execute(
          () -> emit(RegistryEvent.Type.UPDATED, stored.id(), r.info().status(), null));
      if (stored.registrationDiffers(before)) {
        r.update(stored);
      }
      if (stored.autoRegister() && r.info().status() == ProfileStatus.UNREGISTERED) {
        r.start();
      }
      return stored;
    }
  }

  /**
   * Deregisters the profile if needed, then removes it from the store (DESTROYED). The store
   * removal (a file delete and a directory fsync) runs on the thread that ends the
   * deregistration, one of the SIP workers: a caller that can, passes an executor of its own.
   */
  public CompletableFuture<Void> destroy(String id) {
    return destroy(id, Runnable::run);
  }

  /**
   * As {@link #destroy(String)}, the store removal on {@code storeWork}: off the SIP workers,
   * which must not wait for a disk.
   */
  public CompletableFuture<Void> destroy(String id, java.util.concurrent.Executor storeWork) {
    Registration r = registration(id);
    CompletableFuture<Void> stopped;
    synchronized (r) {
      destroying.add(r);
      stopped = r.stop();
    }
    return stopped.thenRunAsync(() -> {
      try {
        r.dispose();
        engine.releaseClientCertificate(id);
        store.destroy(id);
        registrations.remove(id, r);
      } finally {
        destroying.remove(r); // also when the store failed: the profile can be changed again
      }
      emit(RegistryEvent.Type.DESTROYED, id, ProfileStatus.UNREGISTERED, null);
    }, storeWork);
  }

  /** Registers the profile; also the way out of a wrong-credentials stop or a force-disable. */
  public void enable(String id) {
    registration(id).start();
  }

  /** Deregisters the profile (removing only this agent's contact); completes when done. */
  public CompletableFuture<Void> disable(String id) {
    return registration(id).stop().thenRun(() -> engine.releaseClientCertificate(id));
  }

  /** An operator's disable, which overrides every user until the profile is enabled again. */
  public CompletableFuture<Void> forceDisable(String id) {
    Registration r = registration(id);
    return r.stop().thenRun(() -> {
      engine.releaseClientCertificate(id);
      emit(RegistryEvent.Type.FORCIBLY_DISABLED, id, ProfileStatus.UNREGISTERED, null);
    });
  }

  /**
   * {@code profile}, whose tlsClientCertificate (if any) is one of sip.tls.client-certificates;
   * else a validation error on that field naming the ones there are.
   */
  private SipProfile knownCertificate(SipProfile profile) {
    String name = profile.tlsClientCertificate();
    java.util.Set<String> known = config.tls().clientCertificates().keySet();
    if (name != null && !known.contains(name)) {
      throw new io.sipalr.profile.ProfileValidationException(profile.id(),
          "tlsClientCertificate", "names \"" + name + "\", which the agent's"
              + " sip.tls.client-certificates does not define ("
              + (known.isEmpty() ? "it defines none" : "it defines " + String.join(", ", known))
              + ")");
    }
    return profile;
  }

  /**
   * SIP ALR's commands over this registry's profiles ({@link ProfileMoves}): handed out once,
   * to the SIP ALR built over this registry, so that nothing else moves the bindings it keeps.
   *
   * @throws IllegalStateException when they were claimed already
   */
  public ProfileMoves claimMoves() {
    if (!movesClaimed.compareAndSet(false, true)) {
      throw new IllegalStateException("this registry's moves are claimed already: one SIP ALR "
          + "moves a registry's profiles");
    }
    return new ProfileMoves() {
      @Override
      public CompletableFuture<MigrationOutcome> migrate(String id, String address,
          MigrationOrder order, Runnable registerSent) {
        return SipProfileRegistry.this.migrate(id, address, order, registerSent);
      }

      @Override
      public CompletableFuture<Void> rebind(String id, String address) throws SipException {
        return SipProfileRegistry.this.rebind(id, address);
      }
    };
  }

  /** See {@link ProfileMoves#migrate}. */
  CompletableFuture<MigrationOutcome> migrate(String id, String address,
      MigrationOrder order, Runnable registerSent) {
    Registration r = registration(id);
    SipEngine.Endpoint target;
    try {
      target = engine.acquire(address);
    } catch (SipException e) {
      return CompletableFuture.completedFuture(MigrationOutcome.failed(new RegistrationError(
          RegistrationError.Kind.TRANSPORT, 0, e.getMessage(), null)));
    }
    return r.migrate(target, order, registerSent);
  }

  /** See {@link ProfileMoves#rebind}. */
  CompletableFuture<Void> rebind(String id, String address) throws SipException {
    Registration r = registration(id);
    return r.rebind(address == null ? null : engine.acquire(address));
  }

  /** The SIP core as the calls layer (io.sipalr.calls) uses it; see {@link CallSignalling}. */
  public CallSignalling callSignalling() {
    return new RegistryCallSignalling(engine, this::localAddressOf, this::profile,
        id -> {
          Registration r = registrations.get(id);
          return r != null && destroying.contains(r);
        }, id -> {
          Registration r = registrations.get(id);
          return r == null || !r.wanted();
        }, new CallHops(resolver, pool));
  }

  /** The local address a profile registers from now; empty when none, or when it is gone. */
  public Optional<String> localAddressOf(String id) {
    Registration r = registrations.get(id);
    return r == null ? Optional.empty() : Optional.ofNullable(r.info().localAddress());
  }

  /** Local endpoints (SipProviders) in use, the anchor included: for leak checks. */
  public int endpointCount() {
    return engine.endpointCount();
  }

  /** Local endpoints bound, idle ones within {@code sip.endpoint-linger} included. */
  public int boundEndpointCount() {
    return engine.boundEndpointCount();
  }

  /** What the SIP core sent and what failed, counted since the start (for the metrics). */
  public SipStats stats() {
    return stats;
  }

  /** Outbound flows kept alive now (RFC 5626 keep-alives; one per transport and far end). */
  public int flowCount() {
    return keepAlive.flowCount();
  }

  /**
   * Whether the profile is enabled (started and not disabled: it should be registered, also
   * while it backs off or waits out wrong credentials); false when it is gone.
   */
  public boolean isWanted(String id) {
    Registration r = registrations.get(id);
    return r != null && r.wanted();
  }

  /** True from construction (the SIP stack bound) until {@link #close()}. */
  public boolean isStackBound() {
    return !closed;
  }

  /** Whether the profile store is open (readiness). */
  public boolean isStoreOpen() {
    return store.isOpen();
  }

  /**
   * Completes once a task has run on the timer thread and then on the worker pool that run
   * every profile's state machine: that they still turn (liveness). Never completes when one
   * is stuck or stopped; the caller bounds the wait.
   */
  public CompletableFuture<Void> ping() {
    return io.sipalr.concurrent.Liveness.ping(timers, pool);
  }

  /** @throws NoSuchElementException when there is no such profile (or it is being destroyed) */
  public ProfileStatus status(String id) {
    return registration(id).info().status();
  }

  /**
   * The profile's status, or empty when it is gone: destroyed, or being destroyed, though a
   * listener may not have heard so yet (for loops over members that must not stop half-way).
   */
  public Optional<ProfileStatus> statusIfPresent(String id) {
    Registration r = registrations.get(id);
    return r == null ? Optional.empty() : Optional.of(r.info().status());
  }

  public RegistrationInfo info(String id) {
    Registration r = registration(id);
    FlowKeepAlive.View flow = keepAlive.view(r);
    return flow == null ? r.info() : r.info().withKeepAlive(flow.kind(), flow.lastAnswered());
  }

  public String localAddress() {
    return engine.localAddress();
  }

  public int port() {
    return engine.port();
  }

  /**
   * Deregisters every profile, waiting at most {@code bound}, then stops the stack. Profiles
   * whose registrar does not answer in time simply expire there.
   */
  public void shutdown(Duration bound) {
    CompletableFuture<?>[] stops = registrations.values().stream()
        .map(Registration::stop).toArray(CompletableFuture[]::new);
    try {
      CompletableFuture.allOf(stops).get(bound.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      log.warn("shutdown: not every profile deregistered within {} ms", bound.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException e) {
      log.warn("shutdown: deregistration failed", e.getCause());
    }
    close();
  }

  @Override
  public void close() {
    closed = true;
    keepAlive.close();
    timers.shutdownNow();
    pool.shutdown();
    if (dnsThread != null) {
      dnsThread.shutdownNow();
    }
    engine.close();
  }

  private Registration registration(String id) {
    Registration r = registrations.get(id);
    if (r == null) {
      throw new NoSuchElementException("no profile with id \"" + id + "\"");
    }
    return r;
  }

  /** A profile the store has just created: its registration, CREATED, its start. */
  private void added(SipProfile stored) {
    Registration r = newRegistration(stored);
    registrations.put(stored.id(), r);
    r.executor.execute(() -> emit(RegistryEvent.Type.CREATED, stored.id(), r.info().status(), null));
    if (stored.autoRegister()) {
      r.start();
    }
  }

  private Registration newRegistration(SipProfile p) {
    // A profile that names a SNAP or an IAP registers only where the mobility layer puts it
    // (rebind); the others use the configured local address.
    SipEngine.Endpoint initial = p.snapId() == null && p.iapId() == null ? engine.anchor() : null;
    return new Registration(p, engine, initial, keepAlive, config, timers, clock,
        new SerialExecutor(pool), sink, new RegistrarTargets(resolver, resolveAfterMove, clock));
  }

  private void emit(RegistryEvent.Type type, String id, ProfileStatus status,
      RegistrationError error) {
    RegistryEvent event = new RegistryEvent(type, id, status, error, clock.instant());
    for (RegistryListener l : listeners) {
      try {
        l.onEvent(event);
      } catch (RuntimeException e) {
        log.warn("registry listener failed on {}", event, e);
      }
    }
  }
}
