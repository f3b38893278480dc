package io.sipalr.control;

import io.sipalr.alr.SipAlr;
import io.sipalr.mobility.IapState;
import io.sipalr.mobility.MobilityManager;
import io.sipalr.profile.SipProfile;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.SipProfileRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * What the health endpoints say (README "Control API", health): liveness, whether the agent's
 * threads still turn, and readiness, whether it does its job. Reads only: no lock of the
 * state machines is taken, nothing waits on the caller's thread.
 *
 * <p>Readiness is <em>down</em> when the profile store is closed, the SIP stack is not bound,
 * the mobility layer is in use (an enabled profile names a SNAP or IAP) and no IAP is up, or
 * fewer than {@code control.ready-registered-share} of the enabled profiles are REGISTERED; it
 * is <em>degraded</em> when some enabled profiles are not REGISTERED but enough are; otherwise
 * <em>ok</em>. Each reason not to be ok is one sentence in {@code reasons}.
 */
final class Health {
  /** A liveness probe's threads must each answer within this long. */
  static final Duration LIVE_BOUND = Duration.ofSeconds(2);

  enum Status {
    OK, DEGRADED, DOWN;

    String json() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** A verdict with its reasons (empty when ok). */
  record Report(Status status, List<String> reasons, int enabled, int registered) {}

  private final SipProfileRegistry registry;
  private final MobilityManager mobility;
  private final SipAlr alr;
  private final double readyShare;
  /** The control server's own event loops, each answering a no-op: their futures. */
  private final Supplier<List<CompletableFuture<?>>> loops;

  Health(SipProfileRegistry registry, MobilityManager mobility, SipAlr alr, double readyShare,
      Supplier<List<CompletableFuture<?>>> loops) {
    this.registry = registry;
    this.mobility = mobility;
    this.alr = alr;
    this.readyShare = readyShare;
    this.loops = loops;
  }

  /** Readiness now. */
  Report ready() {
    List<String> down = new ArrayList<>();
    List<String> degraded = new ArrayList<>();
    if (!registry.isStoreOpen()) {
      down.add("the profile store is closed");
    }
    if (!registry.isStackBound()) {
      down.add("the SIP stack is not bound (stopped)");
    }
    int enabled = 0;
    int registered = 0;
    boolean roaming = false;
    for (SipProfile p : registry.profiles()) {
      if (!registry.isWanted(p.id())) {
        continue;
      }
      enabled++;
      if (registry.statusIfPresent(p.id()).orElse(null) == ProfileStatus.REGISTERED) {
        registered++;
      }
      roaming |= p.snapId() != null || p.iapId() != null;
    }
    if (roaming) {
      List<IapState> iaps = mobility.iaps();
      if (iaps.stream().noneMatch(IapState::available)) {
        down.add("no IAP is up (" + iaps.size() + " configured) and enabled profiles roam"
            + " with a SNAP or IAP");
      }
    }
    if (registered < enabled) {
      String text = (enabled - registered) + " of " + enabled + " enabled profiles are not"
          + " registered";
      if (registered < readyShare * enabled) {
        down.add(text + " (below control.ready-registered-share = " + readyShare + ")");
      } else {
        degraded.add(text);
      }
    }
    List<String> reasons = new ArrayList<>(down);
    reasons.addAll(degraded);
    Status status = !down.isEmpty() ? Status.DOWN
        : !degraded.isEmpty() ? Status.DEGRADED : Status.OK;
    return new Report(status, List.copyOf(reasons), enabled, registered);
  }

  /**
   * Liveness: completes within {@link #LIVE_BOUND} (never exceptionally), ok when the SIP timer
   * and workers, the ALR timer and workers, and the control server's event loops each ran a
   * task within it; down, naming those that did not, otherwise.
   */
  CompletableFuture<Report> live() {
    List<CompletableFuture<?>> probes = new ArrayList<>();
    List<String> names = new ArrayList<>();
    probes.add(registry.ping());
    names.add("the SIP timer and worker threads");
    if (alr != null) {
      probes.add(alr.ping());
      names.add("the ALR timer and worker threads");
    }
    for (CompletableFuture<?> loop : loops.get()) {
      probes.add(loop);
      names.add("a control API event loop");
    }
    List<CompletableFuture<Boolean>> bounded = probes.stream()
        .map(f -> f.handle((v, e) -> e == null)
            .completeOnTimeout(false, LIVE_BOUND.toMillis(), TimeUnit.MILLISECONDS))
        .toList();
    return CompletableFuture.allOf(bounded.toArray(CompletableFuture[]::new)).thenApply(v -> {
      List<String> reasons = new ArrayList<>();
      for (int i = 0; i < bounded.size(); i++) {
        if (!bounded.get(i).join()) {
          reasons.add(names.get(i) + " did not run a task within " + LIVE_BOUND.toMillis()
              + " ms");
        }
      }
      return new Report(reasons.isEmpty() ? Status.OK : Status.DOWN, List.copyOf(reasons), 0, 0);
    });
  }
}
