package io.sipalr.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.sipalr.alr.AlrError;
import io.sipalr.alr.AlrEvent;
import io.sipalr.alr.AlrObserver;
import io.sipalr.alr.SipAlr;
import io.sipalr.profile.ProfileStore;
import io.sipalr.profile.SipProfile;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.RegistrationError;
import io.sipalr.sip.RegistryEvent;
import io.sipalr.sip.RegistryListener;
import io.sipalr.sip.SipProfileRegistry;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;

/**
 * The agent's meters (README "Metrics") on any Micrometer {@link MeterRegistry}: the agent's own
 * Prometheus registry behind {@code GET /metrics}, or one an embedder passes in. Everything is
 * bound through the parts' listener seams (registry events, ALR events, store write observers)
 * and read-only gauges over their counts: the state machines hold no meter and take no lock
 * for it.
 *
 * <pre>{@code
 * AgentMetrics metrics = AgentMetrics.bind(meterRegistry, store, registry, alr, false);
 * ...
 * metrics.close(); // listeners removed, meters removed from meterRegistry
 * }</pre>
 *
 * <p>Names are Micrometer's dotted ones; the Prometheus registry writes them with units and
 * {@code _total} as Prometheus expects, e.g. {@code sipalr.registrations} becomes {@code
 * sipalr_registrations_total} and the timer {@code sipalr.handover} becomes the histogram
 * {@code sipalr_handover_seconds}.
 */
public final class AgentMetrics implements AutoCloseable {
  /** Buckets of the handover histogram: a move is expected within a few seconds. */
  static final Duration[] HANDOVER_BUCKETS = {Duration.ofMillis(50), Duration.ofMillis(100),
      Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(2),
      Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(30),
      Duration.ofSeconds(60)};

  private final MeterRegistry meters;
  private final ProfileStore store;
  private final SipProfileRegistry registry;
  private final SipAlr alr;
  private final boolean perProfile;
  /** Every meter registered here, removed again by {@link #close()}. */
  private final java.util.Set<Meter> bound = ConcurrentHashMap.newKeySet();
  private final Counter registrations;
  private final Map<RegistrationError.Kind, Counter> failures =
      new EnumMap<>(RegistrationError.Kind.class);
  private final Timer handover;
  private final Timer storeWrite;
  /** When each profile's move began (IAP_AVAILABLE or MIGRATION_STARTED), monotonic nanos. */
  private final Map<String, Long> moveBegan = new ConcurrentHashMap<>();
  private final RegistryListener registryListener = this::registryEvent;
  private final AlrObserver alrObserver = new AlrObserver() {
    @Override
    public void alrEvent(AlrEvent event, String profileId, int snapId, int iapId) {
      AgentMetrics.this.alrEvent(event, profileId);
    }

    @Override
    public void alrError(AlrError error, String profileId, int snapId, int iapId) {
      AgentMetrics.this.alrError(error, profileId);
    }
  };
  private final LongConsumer storeObserver;

  /** How many profiles have each status, and how many are enabled, at one moment. */
  private record ProfileCounts(Map<ProfileStatus, Long> byStatus, long enabled) {}

  /**
   * Registers the meters on {@code meters} and starts listening.
   *
   * @param store the profile store, for the write time; {@code null}: no store meter
   * @param alr SIP ALR, for migrations, handovers and the pacer; {@code null} without it
   * @param perProfileLabels whether the registration, failure and migration counters carry a
   *     {@code profile} label, and a {@code sipalr_profile_registered} gauge exists per profile
   *     ({@code metrics.per-profile-labels}; README "Metrics" says what it costs)
   */
  public static AgentMetrics bind(MeterRegistry meters, ProfileStore store,
      SipProfileRegistry registry, SipAlr alr, boolean perProfileLabels) {
    return new AgentMetrics(meters, store, registry, alr, perProfileLabels);
  }

  /** The registry the meters are on. */
  public MeterRegistry meterRegistry() {
    return meters;
  }

  private AgentMetrics(MeterRegistry meters, ProfileStore store, SipProfileRegistry registry,
      SipAlr alr, boolean perProfile) {
    this.meters = Objects.requireNonNull(meters, "meters");
    this.registry = Objects.requireNonNull(registry, "registry");
    this.store = store;
    this.alr = alr;
    this.perProfile = perProfile;

    for (ProfileStatus status : ProfileStatus.values()) {
      bound.add(Gauge.builder("sipalr.profiles", this,
              m -> m.profileCounts().byStatus().getOrDefault(status, 0L))
          .tag("status", status.name().toLowerCase(Locale.ROOT))
          .description("Profiles by registration status").strongReference(true)
          .register(meters));
    }
    bound.add(Gauge.builder("sipalr.profiles.enabled", this, m -> m.profileCounts().enabled())
        .description("Profiles enabled (that should be registered)").strongReference(true)
        .register(meters));
    // Prometheus wants one set of labels per name: with per-profile labels, only labelled
    // counters exist (sum them for the totals), created as profiles first count.
    if (!perProfile) {
      registrations = keep(registrationCounter(null));
      for (RegistrationError.Kind kind : RegistrationError.Kind.values()) {
        failures.put(kind, keep(failureCounter(kind, null)));
      }
    } else {
      registrations = null;
    }
    bound.add(FunctionCounter.builder("sipalr.registers.sent", registry.stats(),
            s -> s.registersSent())
        .description("REGISTER requests sent (the stack's retransmissions not counted)")
        .register(meters));
    bound.add(FunctionCounter.builder("sipalr.keepalives.sent", registry.stats(),
            s -> s.keepAlivesSent())
        .description("Keep-alives sent on outbound flows (OPTIONS probes; STUN requests, each retransmission counted)")
        .register(meters));
    bound.add(FunctionCounter.builder("sipalr.retransmissions", registry.stats(),
            s -> s.retransmissions())
        .description("Requests the SIP stack sent again for want of an answer (UDP Timer E/A)")
        .register(meters));
    bound.add(FunctionCounter.builder("sipalr.keepalive.failures", registry.stats(),
            s -> s.keepAliveFailures())
        .description("Outbound flows found dead by their keep-alive")
        .register(meters));
    bound.add(Gauge.builder("sipalr.flows", registry, SipProfileRegistry::flowCount)
        .description("Outbound flows kept alive").strongReference(true)
        .register(meters));

    handover = keep(Timer.builder("sipalr.handover")
        .description("From an upgrade's offer (IAP_AVAILABLE, or MIGRATION_STARTED when nobody"
            + " was asked) to MIGRATION_COMPLETED")
        .serviceLevelObjectives(HANDOVER_BUCKETS)
        .register(meters));
    if (!perProfile) {
      for (String outcome : List.of("completed", "failed", "denied")) {
        keep(migrationCounter(outcome, null));
      }
    }
    if (alr != null) {
      bound.add(Gauge.builder("sipalr.pacer.window.used", alr, SipAlr::pacerInFlight)
          .description("REGISTER exchanges in flight in the ALR pacer's window")
          .strongReference(true).register(meters));
      bound.add(Gauge.builder("sipalr.pacer.window.size", alr, SipAlr::pacerWindow)
          .description("The ALR pacer's window (alr.register-window)")
          .strongReference(true).register(meters));
      bound.add(Gauge.builder("sipalr.pacer.queued", alr, SipAlr::pacerWaiting)
          .description("REGISTER work waiting in the ALR pacer's queue")
          .strongReference(true).register(meters));
    }
    if (store != null) {
      storeWrite = keep(Timer.builder("sipalr.store.write")
          .description("Durable writes of profile files (fsync included)").register(meters));
      storeObserver = nanos -> storeWrite.record(nanos, TimeUnit.NANOSECONDS);
      store.addWriteObserver(storeObserver);
    } else {
      storeWrite = null;
      storeObserver = null;
    }

    registry.addListener(registryListener);
    if (alr != null) {
      alr.addListener(alrObserver);
    }
    if (perProfile) {
      registry.profiles().forEach(p -> profileGauge(p.id()));
    }
  }

  private <M extends Meter> M keep(M meter) {
    bound.add(meter);
    return meter;
  }

  private Counter registrationCounter(String profile) {
    Counter.Builder b = Counter.builder("sipalr.registrations")
        .description("Times a profile became registered");
    return (profile == null ? b : b.tag("profile", profile)).register(meters);
  }

  private Counter failureCounter(RegistrationError.Kind kind, String profile) {
    Counter.Builder b = Counter.builder("sipalr.registration.failures")
        .description("Failed registration attempts, by kind")
        .tag("kind", kind.name().toLowerCase(Locale.ROOT));
    return (profile == null ? b : b.tag("profile", profile)).register(meters);
  }

  private Counter migrationCounter(String outcome, String profile) {
    Counter.Builder b = Counter.builder("sipalr.migrations")
        .description("ALR migrations of registered profiles, by outcome (completed; failed:"
            + " the REGISTER through the new IAP failed; denied: a controller disallowed it)")
        .tag("outcome", outcome);
    return (profile == null ? b : b.tag("profile", profile)).register(meters);
  }

  private void profileGauge(String id) {
    keep(Gauge.builder("sipalr.profile.registered", registry,
            r -> r.statusIfPresent(id).orElse(null) == ProfileStatus.REGISTERED ? 1 : 0)
        .description("1 while the profile is registered").strongReference(true).tag("profile", id)
        .register(meters));
  }

  // ------------------------------------------------------------ listeners

  private void registryEvent(RegistryEvent event) {
    switch (event.type()) {
      case REGISTERED -> {
        if (perProfile) {
          keep(registrationCounter(event.profileId())).increment();
        } else {
          registrations.increment();
        }
      }
      case REGISTRATION_FAILED -> {
        if (event.error() == null) {
          return;
        }
        if (perProfile) {
          keep(failureCounter(event.error().kind(), event.profileId())).increment();
        } else {
          failures.get(event.error().kind()).increment();
        }
      }
      case CREATED -> {
        if (perProfile) {
          profileGauge(event.profileId());
        }
      }
      case DESTROYED -> {
        moveBegan.remove(event.profileId());
        if (perProfile) {
          forget(event.profileId());
        }
      }
      default -> { }
    }
  }

  /** A destroyed profile's series go, so that they do not pile up. */
  private void forget(String profileId) {
    for (Meter m : List.copyOf(bound)) {
      if (profileId.equals(m.getId().getTag("profile"))) {
        bound.remove(m);
        meters.remove(m);
      }
    }
  }

  private void alrEvent(AlrEvent event, String profileId) {
    long now = meters.config().clock().monotonicTime();
    switch (event) {
      case IAP_AVAILABLE -> moveBegan.put(profileId, now);
      case MIGRATION_STARTED -> moveBegan.putIfAbsent(profileId, now);
      case MIGRATION_COMPLETED -> {
        Long began = moveBegan.remove(profileId);
        if (began != null) {
          handover.record(now - began, TimeUnit.NANOSECONDS);
        }
        migrated("completed", profileId);
      }
      default -> { }
    }
  }

  private void alrError(AlrError error, String profileId) {
    moveBegan.remove(profileId);
    migrated(error.kind() == AlrError.Kind.ACCESS_DENIED ? "denied" : "failed", profileId);
  }

  private void migrated(String outcome, String profileId) {
    if (perProfile) {
      keep(migrationCounter(outcome, profileId)).increment();
    } else {
      migrationCounter(outcome, null).increment();
    }
  }

  // ------------------------------------------------------------ gauges

  /**
   * Counted afresh at each read: one pass over the profiles (map look-ups, no lock of theirs),
   * a few milliseconds for ten thousand.
   */
  private ProfileCounts profileCounts() {
    Map<ProfileStatus, Long> byStatus = new EnumMap<>(ProfileStatus.class);
    long enabled = 0;
    for (SipProfile p : registry.profiles()) {
      ProfileStatus status = registry.statusIfPresent(p.id()).orElse(null);
      if (status != null) {
        byStatus.merge(status, 1L, Long::sum);
      }
      if (registry.isWanted(p.id())) {
        enabled++;
      }
    }
    return new ProfileCounts(byStatus, enabled);
  }

  /** Stops listening and removes every meter it registered from the registry. */
  @Override
  public void close() {
    registry.removeListener(registryListener);
    if (alr != null) {
      alr.removeListener(alrObserver);
    }
    if (store != null) {
      store.removeWriteObserver(storeObserver);
    }
    for (Meter m : List.copyOf(bound)) {
      bound.remove(m);
      meters.remove(m);
    }
  }
}
