package io.sipalr.sip;

import io.sipalr.concurrent.SerialExecutor;
import io.sipalr.profile.SipProfile;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import javax.sip.ListeningPoint;
import javax.sip.SipException;
import javax.sip.header.MinExpiresHeader;
import javax.sip.header.RequireHeader;
import javax.sip.message.Request;
import javax.sip.message.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The registration state machine of one profile (RFC 3261 §10, RFC 5626). Every method that
 * reads or changes state runs on the profile's {@link SerialExecutor}: callers go through
 * {@link #start()}, {@link #stop()} and {@link #update(SipProfile)}, and the stack's and timers'
 * callbacks are re-posted there, so no field needs a lock. {@link #transition(State)} is the one
 * place where the state changes and where status events are derived.
 */
final class Registration implements SipWire.Handler, FlowKeepAlive.Member {
  private static final Logger log = LoggerFactory.getLogger(Registration.class);

  /** Internal states; {@link #status(State)} maps them to what clients see. */
  enum State {
    /** Not registered and not trying. */
    IDLE,
    /** A REGISTER is in flight and no binding is known to exist yet. */
    REGISTERING,
    /** Bound; a refresh is scheduled. */
    REGISTERED,
    /** Bound, and the refresh REGISTER is in flight. */
    REFRESHING,
    /**
     * Bound through the old address while the REGISTER through the new one is in flight
     * (make-before-break): clients still see REGISTERED, and a failure falls back.
     */
    MIGRATING,
    /** Wanted, but no network to register through (rule 8): nothing is sent until one comes. */
    WAITING_FOR_NETWORK,
    /** The last attempt failed; a retry is scheduled (RFC 5626 backoff). */
    BACKING_OFF,
    /** Our contact is being removed (expires=0). */
    DEREGISTERING,
    /**
     * Credentials refused (after a fresh challenge was answered once) or 403: the next attempt
     * waits {@code sip.auth-retry}, or for the profile to change or be enabled again (rule 16).
     */
    AUTH_FAILED
  }

  /** Where status changes and errors go (the registry). Called on this profile's executor. */
  interface Sink {
    void statusChanged(Registration registration, ProfileStatus from, ProfileStatus to);

    void failed(Registration registration, RegistrationError error);
  }

  /** The largest Min-Expires of a 423 we follow (a day); more is the registrar's error. */
  private static final int MAX_MIN_EXPIRES = 86_400;

  private final SipWire engine;
  private final SipConfig config;
  private final ScheduledExecutorService timers;
  private final Clock clock;
  /** The per-minute REGISTER bound. */
  private final RegisterRate rate;
  final SerialExecutor executor;
  private final Sink sink;

  private SipProfile profile;
  /**
   * The local endpoint (an IAP's address, or the anchor) REGISTERs go out from; {@code null}
   * while there is no network. This registration holds one reference to it (SipEngine.acquire).
   */
  private SipEngine.Endpoint endpoint;
  /** The move in progress, or {@code null}. */
  private Migration migration;
  /** A move waiting for the REGISTER in flight to be answered, or {@code null}. */
  private Migration.Pending pendingMove;
  /** A profile change that arrived during a migration, applied after it (rule 9). */
  private SipProfile pendingUpdate;
  /** Answers the registrar's 401 (Authorization) and a proxy's 407 (Proxy-Authorization). */
  private final RegisterCredentials credentials;
  /** The next hop's servers (RFC 3263) and the one in use; failover moves along them. */
  private final RegistrarTargets targets;
  private State state = State.IDLE;
  /**
   * Enabled: the profile should be registered. Written on the executor only; volatile so that
   * {@link #wanted()} can be read from any thread (readiness), without a lock.
   */
  private volatile boolean wanted;

  private String callId;
  private String callIdRegistrar;
  private long cseq;
  private int requestedExpires;

  /** The profile's REGISTERs, built from its URIs parsed once; renewed when it changes. */
  private RegisterRequests requests;
  private SipWire.Exchange inFlight;
  /** Renewed at every send and abandon: a deferred send or late timer of an older one is void. */
  private long attemptSeq;
  /** The profile changed while a REGISTER was in flight: refresh once it is answered. */
  private boolean resendWhenAnswered;
  private int intervalTooBriefThisAttempt;
  private ScheduledFuture<?> attemptTimer;
  private ScheduledFuture<?> nextAttempt;
  private int failures;

  /** The bound Contact, the stale ones to remove, the public address learned. */
  private final RegistrationContacts contacts;
  private Boolean outbound;
  /** The flow the last REGISTER went over. */
  private FlowKeepAlive.Flow flow;
  private final RegistrationKeepAlives keepAlives;
  private int grantedExpires;
  private Instant expiresAt;
  private RegistrationError lastError;
  private final List<CompletableFuture<Void>> stopWaiters = new ArrayList<>();
  /** Who waits for the REGISTER exchange in flight to be over (the ALR pacer's window). */
  private final List<CompletableFuture<Void>> exchangeWaiters = new ArrayList<>();

  private volatile RegistrationInfo info;

  /**
   * @param endpoint where to register from, or {@code null} to wait for {@link #rebind} (a
   *     profile whose network the mobility layer chooses)
   */
  Registration(SipProfile profile, SipWire engine, SipEngine.Endpoint endpoint,
      FlowKeepAlive keepAlive, SipConfig config, ScheduledExecutorService timers, Clock clock,
      SerialExecutor executor, Sink sink) {
    this(profile, engine, endpoint, keepAlive, config, timers, clock, executor, sink,
        new RegistrarTargets(RegistrarTargets.LITERALS_ONLY, false, clock));
  }

  /** @param targets where its REGISTERs go (RFC 3263), one per registration */
  Registration(SipProfile profile, SipWire engine, SipEngine.Endpoint endpoint,
      FlowKeepAlive keepAlive, SipConfig config, ScheduledExecutorService timers, Clock clock,
      SerialExecutor executor, Sink sink, RegistrarTargets targets) {
    this.targets = targets;
    this.profile = profile;
    this.engine = engine;
    this.contacts = new RegistrationContacts(profile.id());
    this.keepAlives = new RegistrationKeepAlives(keepAlive, this, config.nat());
    this.endpoint = endpoint;
    this.config = config;
    this.timers = timers;
    this.clock = clock;
    this.rate = new RegisterRate(config.limits().perMinute(), clock);
    this.executor = executor;
    this.sink = sink;
    this.credentials = new RegisterCredentials(profile);
    this.requestedExpires = profile.expires();
    publishInfo();
  }


  // ---------------------------------------------------------------- commands (any thread)

  /** Registers (enable). Ends a wrong-credentials wait at once (rule 16). */
  void start() {
    executor.execute(() -> {
      wanted = true;
      if (state == State.IDLE || state == State.AUTH_FAILED) {
        failures = 0;
        cancelTimers();
        registerNowOrWait();
      }
    });
  }

  /** Deregisters (disable): removes only this agent's own contact; completes when done. */
  CompletableFuture<Void> stop() {
    CompletableFuture<Void> done = new CompletableFuture<>();
    executor.execute(() -> {
      wanted = false;
      cancel(nextAttempt); // not the attempt timer: a removal in flight still needs its bound
      dropPendingMove("the profile was disabled");
      returnToFallback();
      abandonMigration("the profile was disabled");
      switch (state) {
        case IDLE, AUTH_FAILED, BACKING_OFF, WAITING_FOR_NETWORK -> {
          abandonInFlight();
          transition(State.IDLE);
          done.complete(null);
        }
        case DEREGISTERING -> stopWaiters.add(done);
        // A REGISTER in flight may already have created a binding: remove it too.
        case REGISTERING, REGISTERED, REFRESHING, MIGRATING -> {
          stopWaiters.add(done);
          transition(State.DEREGISTERING);
          sendRegister();
        }
      }
    });
    return done;
  }

  /**
   * Applies a changed profile. A new AOR or registrar means the old binding belongs elsewhere:
   * deregister it first, then register afresh. Anything else is a re-registration in which a
   * changed contact replaces the old one.
   */
  CompletableFuture<Void> update(SipProfile updated) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    executor.execute(() -> {
      if (migration != null) {
        pendingUpdate = updated; // rule 9: applied once the move has ended
        done.complete(null);
        return;
      }
      SipProfile old = profile;
      boolean elsewhere = !old.aor().equals(updated.aor())
          || !old.registrar().equals(updated.registrar())
          || !java.util.Objects.equals(old.outboundProxy(), updated.outboundProxy());
      if (elsewhere && isBoundOrTrying()) {
        boolean keep = wanted;
        stop().whenComplete((v, e) -> executor.execute(() -> {
          applyProfile(updated);
          if (keep) {
            start();
          }
          done.complete(null);
        }));
        return;
      }
      applyProfile(updated);
      if (wanted && state != State.DEREGISTERING && endpoint != null) {
        failures = 0;
        if (inFlight != null) {
          // One REGISTER at a time (RFC 3261 §10.2): a second one now could overtake it at the
          // registrar; send the new settings once this one is answered.
          resendWhenAnswered = true;
        } else {
          cancelTimers();
          transition(isBound() ? State.REFRESHING : State.REGISTERING);
          sendRegister();
        }
      }
      done.complete(null);
    });
    return done;
  }

  private void applyProfile(SipProfile updated) {
    boolean credentialsChanged = !updated.authUser().equals(profile.authUser())
        || !updated.password().equals(profile.password())
        || !java.util.Objects.equals(updated.realm(), profile.realm());
    profile = updated;
    requestedExpires = updated.expires();
    if (credentialsChanged) {
      credentials.renew(updated);
    }
    publishInfo();
  }

  /**
   * Moves this registration to {@code target}, whose reference passes to this registration. A
   * registered profile registers through it in {@code order}, calling {@code registerSent} once
   * the REGISTER through the new address is on its way (MIGRATION_STARTED). A profile that is
   * not registered just follows (rule 11). The outcome says which happened.
   */
  CompletableFuture<MigrationOutcome> migrate(SipEngine.Endpoint target, MigrationOrder order,
      Runnable registerSent) {
    CompletableFuture<MigrationOutcome> outcome = new CompletableFuture<>();
    executor.executeHere(
        () -> beginMigration(new Migration.Pending(target, order, registerSent, outcome)));
    return outcome;
  }

  private void beginMigration(Migration.Pending move) {
    if (pendingMove != null && pendingMove != move) {
      refuseMove(move, "a migration is already waiting");
      return;
    }
    if (inFlight != null && isBound() && migration == null) {
      // A refresh is on its way: a REGISTER through the new address now could be overtaken
      // at the registrar by that older one, which would win. Move once it is answered.
      pendingMove = move;
      return;
    }
    pendingMove = null;
    SipEngine.Endpoint target = move.target();
    if (migration != null) {
      refuseMove(move, "a migration is already in progress");
      return;
    }
    if (target == endpoint) {
      // Already there (a flapping IAP: this move was asked for again after the registration
      // had got there by another path). Refusing would make the SNAP reject the IAP it is on.
      engine.release(target); // the caller's reference; this registration holds one already
      move.outcome().complete(isBound() ? MigrationOutcome.MOVED : MigrationOutcome.FOLLOWED);
      return;
    }
    if (!isBound() || !wanted) {
      rebindNow(target);
      move.outcome().complete(MigrationOutcome.FOLLOWED);
      return;
    }
    cancelTimers();
    abandonInFlight();
    migration = new Migration(move, endpoint, contacts.current());
    if (move.order() == MigrationOrder.MAKE_BEFORE_BREAK) {
      endpoint = target;
      transition(State.MIGRATING);
    } else {
      transition(State.DEREGISTERING); // through the old address first
    }
    sendRegister();
  }

  /** Ends a move that will not happen: its endpoint given back, its outcome a failure. */
  private void refuseMove(Migration.Pending move, String why) {
    engine.release(move.target());
    move.outcome().complete(MigrationOutcome.failed(
        new RegistrationError(RegistrationError.Kind.TRANSPORT, 0, why, null)));
  }

  /** Starts a move that waited for a REGISTER's answer, once nothing is in flight. */
  private void startPendingMove() {
    if (pendingMove != null && inFlight == null) {
      beginMigration(pendingMove);
    }
  }

  /** A waiting move that can no longer happen (disable, carrier change). */
  private void dropPendingMove(String why) {
    Migration.Pending move = pendingMove;
    if (move != null) {
      pendingMove = null;
      refuseMove(move, why);
    }
  }

  /**
   * Registers through {@code target} (or waits, when {@code null}) without asking anyone: the
   * old address is gone (a lost carrier, rule 7) or changed (rule 15). Any REGISTER in flight
   * on the old address is abandoned at once (rule 13).
   */
  CompletableFuture<Void> rebind(SipEngine.Endpoint target) {
    CompletableFuture<Void> over = new CompletableFuture<>();
    executor.executeHere(() -> {
      rebindNow(target);
      whenExchangeOver(over);
    });
    return over;
  }

  /** Completes {@code over} once no REGISTER exchange is in flight (now, or at a transition). */
  private void whenExchangeOver(CompletableFuture<Void> over) {
    if (exchangeInFlight(state)) {
      exchangeWaiters.add(over);
    } else {
      over.complete(null);
    }
  }

  private static boolean exchangeInFlight(State s) {
    return s == State.REGISTERING || s == State.REFRESHING || s == State.MIGRATING
        || s == State.DEREGISTERING;
  }

  private void rebindNow(SipEngine.Endpoint target) {
    if (migration != null && target == migration.fallback
        && migration.order == MigrationOrder.MAKE_BEFORE_BREAK && state == State.MIGRATING) {
      // The new carrier went away mid-move and we are sent back: that is a failed move, which
      // keeps the old registration (rule 6) rather than a new registration.
      engine.release(target); // the caller's reference; the migration holds one already
      migrationFailed(new RegistrationError(RegistrationError.Kind.TRANSPORT, 0,
          "the new carrier was lost during the move", null));
      return;
    }
    dropPendingMove("the carrier changed");
    abandonMigration("the carrier changed");
    abandonInFlight();
    SipEngine.Endpoint old = endpoint;
    endpoint = target;
    if (old != null) {
      engine.release(old); // also when old == target: the caller's reference is a second one
    }
    keepAlives.stop(); // not bound any more: a 200 starts them again
    publishInfo();
    switch (state) {
      case IDLE, AUTH_FAILED -> { }
      case DEREGISTERING -> finishStop(); // the old network is gone; its binding expires there
      case BACKING_OFF -> {
        // A new network deserves an attempt now; the failure count keeps growing the backoff.
        cancelTimers();
        registerNowOrWait();
      }
      default -> {
        cancelTimers();
        expiresAt = null;
        registerNowOrWait();
      }
    }
  }

  /** REGISTER through the current endpoint, or wait for one (rule 8). */
  private void registerNowOrWait() {
    if (endpoint == null) {
      transition(State.WAITING_FOR_NETWORK);
    } else {
      transition(State.REGISTERING);
      sendRegister();
    }
  }

  /**
   * A disable during make-before-break: deregister through the old endpoint, which is known to
   * work, removing the new contact too in case its REGISTER got through.
   */
  private void returnToFallback() {
    Migration m = migration;
    if (m == null || state != State.MIGRATING || m.fallback == null) {
      return;
    }
    abandonInFlight();
    contacts.backTo(m.fallbackContact);
    endpoint = m.fallback;
    migration = null;
    engine.release(m.target);
    m.outcome.complete(MigrationOutcome.failed(new RegistrationError(
        RegistrationError.Kind.TRANSPORT, 0, "the profile was disabled", null)));
    applyPendingUpdate();
  }

  /** Ends a migration that can no longer finish (disable, carrier change). */
  private void abandonMigration(String why) {
    Migration m = migration;
    if (m == null) {
      return;
    }
    migration = null;
    if (endpoint == m.target) {
      // Registered (or registering) through the new address already: the old one is done with.
      if (state == State.MIGRATING && m.fallbackContact != null) {
        contacts.markStale(m.fallbackContact);
      }
      engine.release(m.fallback);
    } else {
      engine.release(m.target);
    }
    m.outcome.complete(MigrationOutcome.failed(
        new RegistrationError(RegistrationError.Kind.TRANSPORT, 0, why, null)));
    applyPendingUpdate();
  }

  /** The REGISTER through the new address succeeded: the move is done. */
  private void migrationSucceeded() {
    Migration m = migration;
    migration = null;
    if (m.fallback != null && m.fallback != endpoint) {
      engine.release(m.fallback);
    }
    m.outcome.complete(MigrationOutcome.MOVED);
    applyPendingUpdate();
  }

  /**
   * The REGISTER through the new address failed (rule 6): go back to the old one and refresh
   * through it at once, which also replaces (outbound) or removes (expires=0) whatever the
   * failed attempt may have left at the registrar.
   */
  private void migrationFailed(RegistrationError error) {
    Migration m = migration;
    migration = null;
    abandonInFlight();
    endpoint = m.fallback;
    engine.release(m.target);
    if (m.order == MigrationOrder.MAKE_BEFORE_BREAK) {
      contacts.backTo(m.fallbackContact);
      transition(State.REFRESHING);
    } else {
      transition(State.REGISTERING); // the old binding was removed first: register it again
    }
    m.outcome.complete(MigrationOutcome.failed(error));
    sendRegister();
    applyPendingUpdate();
  }

  private void applyPendingUpdate() {
    SipProfile next = pendingUpdate;
    pendingUpdate = null;
    if (next != null) {
      update(next);
    }
  }

  /** Gives back the endpoint reference once the profile is destroyed (after {@link #stop}). */
  void dispose() {
    executor.execute(() -> {
      if (endpoint != null) {
        engine.release(endpoint);
        endpoint = null;
        publishInfo();
      }
    });
  }

  /** Whether the profile is enabled (wants to be registered), from any thread. */
  boolean wanted() {
    return wanted;
  }

  RegistrationInfo info() {
    return info;
  }

  String profileId() {
    return profile.id();
  }

  // ---------------------------------------------------------------- stack callbacks

  @Override
  public void onResponse(SipWire.Exchange transaction, Response response) {
    executor.executeHere(() -> handleResponse(transaction, response));
  }

  @Override
  public void onTimeout(SipWire.Exchange transaction) {
    executor.execute(() -> {
      if (transaction == inFlight) {
        attemptFailed(new RegistrationError(RegistrationError.Kind.TIMEOUT, 0,
            "no response from the registrar", null), null);
        startPendingMove();
      }
    });
  }

  /**
   * The outbound flow we registered over stopped answering, or its keep-alive was answered in
   * a way that says the binding is gone: not REGISTERED any more; re-register at once.
   */
  @Override
  public void flowFailed(FlowKeepAlive.Flow failed, String why) {
    executor.execute(() -> {
      keepAlives.failed(failed);
      if ((state == State.REGISTERED || state == State.REFRESHING) && failed.equals(flow)
          && wanted) {
        lastError = new RegistrationError(RegistrationError.Kind.TRANSPORT, 0,
            "flow " + failed + " failed: " + why, Duration.ZERO);
        expiresAt = null;
        transition(State.REGISTERING);
        sink.failed(this, lastError);
        sendRegister();
      }
    });
  }

  /** A NAT ping (STUN, no outbound) saw the flow rebound: re-register at {@code mapped}. */
  @Override
  public void natRebound(FlowKeepAlive.Flow on, String mapped, String why) {
    executor.execute(() -> {
      if (on.equals(flow)) {
        // The contact-rewrite path: the REGISTER below binds it and removes the old one.
        contacts.rebound(endpoint, mapped, config.nat().contactRewrite());
      }
    });
    flowFailed(on, why);
  }

  // ---------------------------------------------------------------- the state machine

  private void transition(State next) {
    State previous = state;
    state = next;
    publishInfo();
    if (!exchangeInFlight(next)) {
      completeAll(exchangeWaiters);
    }
    ProfileStatus from = status(previous);
    ProfileStatus to = status(next);
    if (from != to) {
      sink.statusChanged(this, from, to);
    }
  }

  static ProfileStatus status(State s) {
    return switch (s) {
      case IDLE, AUTH_FAILED -> ProfileStatus.UNREGISTERED;
      case REGISTERING, BACKING_OFF, WAITING_FOR_NETWORK -> ProfileStatus.REGISTRATION_IN_PROGRESS;
      case REGISTERED, REFRESHING, MIGRATING -> ProfileStatus.REGISTERED;
      case DEREGISTERING -> ProfileStatus.UNREGISTRATION_IN_PROGRESS;
    };
  }

  private boolean isBound() {
    return state == State.REGISTERED || state == State.REFRESHING || state == State.MIGRATING;
  }

  private boolean isBoundOrTrying() {
    return isBound() || state == State.REGISTERING;
  }

  private void handleResponse(SipWire.Exchange transaction, Response response) {
    if (transaction != inFlight) {
      return; // an abandoned attempt's late answer
    }
    try {
      handleFinalResponse(response);
    } catch (RuntimeException unusable) {
      // An answer we cannot make sense of must not leave the profile without a next attempt.
      log.debug("{}: unusable response", profile.id(), unusable);
      attemptFailed(new RegistrationError(RegistrationError.Kind.REJECTED,
          response.getStatusCode(), "unusable response: " + unusable.getMessage(), null), null);
    } finally {
      startPendingMove();
    }
  }

  private void handleFinalResponse(Response response) {
    int code = response.getStatusCode();
    if (code < 200) {
      return;
    }
    inFlight = null;
    cancel(attemptTimer);
    if (code < 300) {
      succeeded(response);
    } else if (code == Response.UNAUTHORIZED || code == Response.PROXY_AUTHENTICATION_REQUIRED) {
      challenged(response);
    } else if (code == Response.FORBIDDEN) {
      authenticationFailed(code, response.getReasonPhrase());
    } else if (code == Response.INTERVAL_TOO_BRIEF) {
      intervalTooBrief(response);
    } else if (code == Response.SERVICE_UNAVAILABLE) {
      attemptFailed(new RegistrationError(RegistrationError.Kind.SERVICE_UNAVAILABLE, code,
          response.getReasonPhrase(), null), retryAfter(response));
    } else {
      attemptFailed(new RegistrationError(RegistrationError.Kind.REJECTED, code,
          response.getReasonPhrase(), null), null);
    }
  }

  private void succeeded(Response response) {
    if (state == State.DEREGISTERING) {
      endAttempt();
      failures = 0;
      contacts.clearStale();
      if (migration != null) {
        breakDone(true);
      } else {
        finishStop();
      }
      return;
    }
    int granted = requests.grantedExpires(response, contacts.current(), requestedExpires);
    if (granted < config.limits().minGrantedExpires().toSeconds()) {
      // Refreshing at once would be a storm (a refresh every 100 ms for expires=0): this is
      // the registrar's error, and it gets the backoff of any other error.
      attemptFailed(new RegistrationError(RegistrationError.Kind.REJECTED, response
          .getStatusCode(), "the registrar granted expires=" + granted + ", below "
          + "sip.min-granted-expires (" + config.limits().minGrantedExpires().toSeconds()
          + "s)", null), null);
      return;
    }
    endAttempt();
    failures = 0;
    outbound = RegisterRequests.hasOption(response, RequireHeader.NAME, "outbound");
    // Never more than we asked for: a registrar granting 68 years would stop our refreshes.
    grantedExpires = Math.min(granted, requestedExpires);
    expiresAt = clock.instant().plusSeconds(grantedExpires);
    boolean refreshNow = !outbound
        && contacts.removeStaleOnceMore(requests.listed(response, contacts.stale()));
    refreshNow |= learnPublicAddress(response);
    if (outbound) {
      contacts.clearStale(); // replaced atomically by instance and reg-id
      keepAlives.keep(flow, RegisterRequests.flowTimer(response),
          RegisterRequests.seenAt(response), null);
    } else {
      // No flow the registrar routes over: keep the NAT's mapping open, or a request to the
      // user finds it closed (30 s on many NATs) long before the next refresh.
      keepAlives.keep(null, 0, RegisterRequests.seenAt(response),
          config.nat().keepAlive() != SipConfig.NatKeepAlive.OFF ? flow : null);
    }
    lastError = null;
    transition(State.REGISTERED);
    if (migration != null && endpoint == migration.target) {
      migrationSucceeded();
    }
    if (resendWhenAnswered) {
      resendWhenAnswered = false;
      refreshNow = true; // the refresh below carries the changed profile
    }
    if (refreshNow) {
      transition(State.REFRESHING);
      sendRegister();
    } else {
      scheduleRefresh();
    }
  }

  /**
   * Reads where the registrar saw this REGISTER come from. Behind a NAT, and without outbound
   * (whose flow the registrar routes over), a Contact with the local address is unreachable:
   * re-register with the address seen, as pjsip's contact rewrite does; the old contact is
   * removed in that REGISTER (still one binding).
   *
   * @return whether to send that REGISTER now
   */
  private boolean learnPublicAddress(Response response) {
    ListeningPoint lp = endpoint == null ? null : endpoint.listeningPoint(requests.transport());
    String local = lp == null ? null : RegisterRequests.hostPort(lp.getIPAddress(), lp.getPort());
    boolean reRegister = contacts.learn(endpoint, RegisterRequests.seenAt(response), local,
        config.nat().contactRewrite() && !outbound);
    publishInfo();
    return reRegister;
  }

  /** Break-before-make: the old binding is gone (or given up on); register through the new. */
  private void breakDone(boolean oldRemoved) {
    // A removal that failed is asked again in the REGISTER through the new address (without
    // outbound; with it, instance and reg-id replace it there anyway).
    contacts.unbound(oldRemoved);
    expiresAt = null;
    grantedExpires = 0;
    keepAlives.stop();
    endpoint = migration.target;
    transition(State.REGISTERING);
    sendRegister();
  }

  private void challenged(Response response) {
    int code = response.getStatusCode();
    switch (credentials.challenged(response)) {
      case ANSWER -> sendRegister();
      case REFUSED -> authenticationFailed(code, response.getReasonPhrase());
      // Nothing we can answer: the registrar's error, not our credentials'. Back off.
      case UNUSABLE -> attemptFailed(new RegistrationError(RegistrationError.Kind.AUTHENTICATION,
          code, "no usable digest challenge in the " + code, null), null);
      case LOOP -> attemptFailed(new RegistrationError(RegistrationError.Kind.AUTHENTICATION,
          code, "challenged again and again (" + credentials.challengesThisAttempt()
              + " times in one attempt)", null), null);
    }
  }

  /** 423: ask again with the registrar's Min-Expires, or fail (one failure, one timer). */
  private void intervalTooBrief(Response response) {
    MinExpiresHeader min = (MinExpiresHeader) response.getHeader(MinExpiresHeader.NAME);
    if (min == null || ++intervalTooBriefThisAttempt > 2 || min.getExpires() <= requestedExpires
        || min.getExpires() > MAX_MIN_EXPIRES) {
      attemptFailed(new RegistrationError(RegistrationError.Kind.REJECTED,
          Response.INTERVAL_TOO_BRIEF, "Interval Too Brief without a usable Min-Expires", null),
          null);
      return;
    }
    requestedExpires = min.getExpires();
    log.debug("{}: 423, retrying with expires {}", profile.id(), requestedExpires);
    sendRegister();
  }

  /** A registrar's Retry-After, kept within [1 s, backoff.max]: a value of 49 days is a bug. */
  private Duration retryAfter(Response response) {
    Duration asked = RegisterRequests.retryAfter(response);
    if (asked == null) {
      return null;
    }
    Duration max = config.backoff().max();
    return asked.compareTo(max) > 0 ? max : asked.compareTo(Duration.ofSeconds(1)) < 0
        ? Duration.ofSeconds(1) : asked;
  }

  /** Forgets what the last attempt counted; the next REGISTER starts a new attempt. */
  private void endAttempt() {
    credentials.endAttempt();
    intervalTooBriefThisAttempt = 0;
  }

  private void authenticationFailed(int code, String reason) {
    refusedUntilRetry(RegistrationError.Kind.AUTHENTICATION, code, reason);
  }

  /** Refused in a way a quick retry cannot mend (credentials, a certificate): sip.auth-retry. */
  private void refusedUntilRetry(RegistrationError.Kind kind, int code, String reason) {
    endAttempt();
    credentials.forget();
    if (state == State.DEREGISTERING) {
      if (migration != null) {
        breakDone(false);
      } else {
        finishStop();
      }
      return;
    }
    if (migration != null && endpoint == migration.target) {
      migrationFailed(new RegistrationError(kind, code, reason, null));
      return;
    }
    keepAlives.stop();
    resendWhenAnswered = false;
    // Long, but never for ever: the registrar may have been the one in the wrong (rule 16).
    long retry = config.limits().authRetry().toMillis();
    Duration wait = Duration.ofMillis(
        retry - (long) (retry * 0.25 * ThreadLocalRandom.current().nextDouble()));
    lastError = new RegistrationError(kind, code, reason, wait);
    expiresAt = null;
    transition(State.AUTH_FAILED);
    sink.failed(this, lastError);
    nextAttempt = schedule(wait, () -> {
      if (state == State.AUTH_FAILED && wanted) {
        registerNowOrWait();
      }
    });
  }

  /** One attempt failed; back off (RFC 5626 §4.5) unless we were only deregistering. */
  private void attemptFailed(RegistrationError error, Duration retryAfter) {
    abandonInFlight();
    endAttempt();
    if (state == State.DEREGISTERING && migration != null) {
      breakDone(false);
      return;
    }
    if (state == State.DEREGISTERING || !wanted) {
      // The binding expires on its own; a dead registrar must not hold up a disable.
      finishStop();
      return;
    }
    if (migration != null && endpoint == migration.target) {
      migrationFailed(error);
      return;
    }
    if (failOver(error)) {
      return;
    }
    keepAlives.stop();
    resendWhenAnswered = false; // the retry carries the current profile anyway
    failures++;
    Duration wait = retryAfter != null ? retryAfter : backoff(failures);
    lastError = new RegistrationError(error.kind(), error.sipStatus(), error.reason(), wait);
    expiresAt = null;
    transition(State.BACKING_OFF);
    sink.failed(this, lastError);
    nextAttempt = schedule(wait, () -> {
      if (state == State.BACKING_OFF && wanted) {
        registerNowOrWait();
      }
    });
  }

  /**
   * RFC 3263 §4.3, RFC 5626 §4.5: a timeout, a 503 or a transport error on one server sends the
   * REGISTER to the next one at once; only when every server of the round failed does the
   * registration back off (and tell the sink: one server down is not this network's failure).
   */
  private boolean failOver(RegistrationError error) {
    boolean serverFault = error.kind() == RegistrationError.Kind.TIMEOUT
        || error.kind() == RegistrationError.Kind.TRANSPORT
        || error.kind() == RegistrationError.Kind.SERVICE_UNAVAILABLE;
    io.sipalr.dns.SipTarget failed = targets.sentTo();
    if (!serverFault || failed == null || !targets.failOver()) {
      return false;
    }
    log.info("{}: {} from {}; trying {}", profile.id(), error.kind(), failed, targets.next());
    keepAlives.stop();
    resendWhenAnswered = false;
    expiresAt = null;
    lastError = new RegistrationError(error.kind(), error.sipStatus(), error.reason() + " (from "
        + failed + "; trying " + targets.next() + ")", Duration.ZERO);
    transition(State.REGISTERING);
    sendRegister();
    return true;
  }

  private Duration backoff(int failureCount) {
    Duration upper = config.backoff().upperBound(failureCount, true);
    double share = 0.5 + 0.5 * ThreadLocalRandom.current().nextDouble();
    return Duration.ofMillis(Math.max(1, (long) (upper.toMillis() * share)));
  }

  private void finishStop() {
    keepAlives.stop();
    contacts.unbound(true);
    expiresAt = null;
    grantedExpires = 0;
    transition(State.IDLE);
    completeAll(stopWaiters);
    if (wanted) {
      registerNowOrWait(); // enabled again while the removal was on its way
    }
  }

  /** Completes and forgets every waiter (copied first: completing runs the waiters' code). */
  private static void completeAll(List<CompletableFuture<Void>> waiters) {
    if (waiters.isEmpty()) {
      return;
    }
    List<CompletableFuture<Void>> now = List.copyOf(waiters);
    waiters.clear();
    now.forEach(w -> w.complete(null));
  }

  private void scheduleRefresh() {
    // Refresh before the expiry the registrar granted; leave room for one whole attempt, and
    // spread refreshes a little so that profiles registered together do not refresh together.
    long granted = grantedExpires * 1000L;
    long margin = Math.max(config.registerTimeout().toMillis(), granted / 10);
    long delay = Math.max(granted / 2, granted - margin);
    delay -= (long) (delay * 0.05 * ThreadLocalRandom.current().nextDouble());
    nextAttempt = schedule(Duration.ofMillis(Math.max(delay, 100)), () -> {
      if (state == State.REGISTERED && wanted) {
        transition(State.REFRESHING);
        sendRegister();
      }
    });
  }

  // ---------------------------------------------------------------- requests

  private void sendRegister() {
    abandonInFlight();
    if (endpoint == null) {
      transition(State.WAITING_FOR_NETWORK);
      return;
    }
    long wait = rate.waitMillis();
    if (wait > 0) {
      // The per-minute bound: whatever the registrar answers, this profile does not storm.
      long deferred = attemptSeq;
      log.debug("{}: {} REGISTERs in the last minute; the next waits {} ms", profile.id(),
          rate.perMinute(), wait);
      attemptTimer = schedule(Duration.ofMillis(wait), () -> {
        if (attemptSeq == deferred && inFlight == null && endpoint != null) {
          sendRegister();
        }
      });
      return;
    }
    io.sipalr.dns.SipTarget target = nextTarget();
    if (target == null) {
      return; // resolving: sendRegister runs again when the answer is in
    }
    requests.sendingTo(target);
    if (!connected(target)) {
      return; // connecting: sendRegister runs again when that is over
    }
    boolean removing = state == State.DEREGISTERING;
    try {
      Request request = buildRegister(removing, target);
      credentials.authorize(request, engine.headers());
      rate.sent();
      inFlight = engine.send(endpoint, request, this, flow.transport(), flow.host(),
          flow.port());
      if (migration != null && endpoint == migration.target && !migration.announced) {
        migration.announced = true;
        migration.registerSent.run(); // MIGRATION_STARTED (rule 4)
      }
      SipWire.Exchange sent = inFlight;
      attemptTimer = schedule(config.registerTimeout(), () -> {
        if (inFlight == sent) {
          attemptFailed(new RegistrationError(RegistrationError.Kind.TIMEOUT, 0,
              "no final response within " + config.registerTimeout().toMillis() + " ms", null),
              null);
          startPendingMove();
        }
      });
    } catch (SipException | ParseException | javax.sip.InvalidArgumentException
        | RuntimeException e) {
      log.debug("{}: REGISTER not sent", profile.id(), e);
      inFlight = null;
      String refused = TlsRefusals.reason(profile.id(), e);
      if (refused != null) {
        executor.execute(() -> refusedUntilRetry(RegistrationError.Kind.TLS, 0, refused));
        return;
      }
      RegistrationError error = new RegistrationError(RegistrationError.Kind.TRANSPORT, 0,
          "cannot send REGISTER: " + e.getMessage(), null);
      // Post rather than recurse: a failure inside attemptFailed's own retry stays iterative.
      executor.execute(() -> attemptFailed(error, null));
    }
  }

  /**
   * Where this REGISTER goes (RFC 3263), or {@code null} when it cannot go now: its next hop's
   * name is being resolved (off this executor; the send is made again when the answer is in,
   * unless something else was sent or abandoned meanwhile), or did not resolve (a failed
   * attempt, backed off).
   */
  private io.sipalr.dns.SipTarget nextTarget() {
    long waiting = attemptSeq;
    try {
      if (requests == null || requests.profile() != profile) {
        requests = new RegisterRequests(profile, engine); // the profile's URIs, parsed once
      }
      return targets.target(requests.nextHop(), requests.fixedTransport(), endpoint,
          () -> executor.execute(() -> {
            if (attemptSeq == waiting && inFlight == null && endpoint != null) {
              sendRegister();
            }
          }));
    } catch (io.sipalr.dns.DnsException e) {
      RegistrationError error = new RegistrationError(RegistrationError.Kind.DNS, 0,
          (profile.outboundProxy() != null ? "outbound proxy " : "registrar ")
              + requests.nextHop() + ": " + e.getMessage(), null);
      executor.execute(() -> attemptFailed(error, null));
    } catch (ParseException | RuntimeException e) {
      RegistrationError error = new RegistrationError(RegistrationError.Kind.TRANSPORT, 0,
          "cannot send REGISTER: " + e.getMessage(), null);
      executor.execute(() -> attemptFailed(error, null));
    }
    return null;
  }

  /**
   * Whether the TCP or TLS connection to {@code target} from this endpoint is up (UDP: always).
   * If not, it is set up off this executor (SipWire#connect) and the REGISTER is sent once it
   * is, unless something else was sent or abandoned meanwhile; a failed connect is a transport
   * error (RFC 3263 §4.3: the next server), a refused certificate a TLS error.
   */
  private boolean connected(io.sipalr.dns.SipTarget target) {
    CompletableFuture<Void> up = engine.connect(endpoint, requests.transport(), target.host(),
        target.port(), requests.nextHop().getHost(), profile.id(),
        profile.tlsClientCertificate());
    if (up.isDone() && !up.isCompletedExceptionally()) {
      return true;
    }
    long waiting = attemptSeq;
    SipEngine.Endpoint from = endpoint;
    up.whenComplete((ok, failure) -> executor.execute(() -> {
      if (attemptSeq != waiting || inFlight != null || endpoint != from) {
        return; // moved on meanwhile: a later send connects for itself
      }
      if (failure == null) {
        sendRegister();
        return;
      }
      Throwable cause = failure instanceof java.util.concurrent.CompletionException
          && failure.getCause() != null ? failure.getCause() : failure;
      log.debug("{}: no {} connection to {}", profile.id(), requests.transport(), target, cause);
      String refused = TlsRefusals.reason(profile.id(), cause);
      if (refused != null) {
        refusedUntilRetry(RegistrationError.Kind.TLS, 0, refused);
        return;
      }
      attemptFailed(new RegistrationError(RegistrationError.Kind.TRANSPORT, 0, "cannot connect to "
          + target.hostPort() + " over " + requests.transport() + ": " + cause.getMessage(),
          null), null);
    }));
    return false;
  }

  private Request buildRegister(boolean removing, io.sipalr.dns.SipTarget target)
      throws ParseException, javax.sip.InvalidArgumentException, SipException {
    ListeningPoint lp = endpoint.listeningPoint(requests.transport());
    if (lp == null) {
      throw new SipException("no " + requests.transport() + " listening point");
    }
    if (callId == null || !profile.registrar().equals(callIdRegistrar)) {
      // One Call-ID per profile and registrar for the agent's boot; CSeq rises across it.
      callId = engine.newCallId();
      callIdRegistrar = profile.registrar();
      cseq = 0;
    }
    flow = requests.flow(endpoint, target);
    String current = contacts.next(endpoint, lp, requests, removing);
    int expires = removing ? 0 : requestedExpires;
    // The registrar without outbound keeps old contacts beside the new one: remove ours. Only
    // when it has said so (outbound == false): with outbound, instance and reg-id replace them.
    boolean removeStale = Boolean.FALSE.equals(outbound) || removing;
    Request request = requests.register(lp, callId, ++cseq, current, expires,
        removeStale ? contacts.stale() : List.of());
    publishInfo();
    return request;
  }

  // ---------------------------------------------------------------- helpers

  private void abandonInFlight() {
    attemptSeq++;
    if (inFlight != null) {
      inFlight.abandon(); // rule 13: an abandoned REGISTER never holds anything up
      inFlight = null;
    }
    cancel(attemptTimer);
  }

  private void cancelTimers() {
    cancel(nextAttempt);
    cancel(attemptTimer);
  }

  private static void cancel(ScheduledFuture<?> timer) {
    if (timer != null) {
      timer.cancel(false);
    }
  }

  /** A timer whose task runs on this profile's executor; {@code null} once the agent stops. */
  private ScheduledFuture<?> schedule(Duration delay, Runnable onExecutor) {
    try {
      return timers.schedule(() -> executor.execute(onExecutor), delay.toMillis(),
          TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException stopping) {
      return null; // the registry is closing: nothing more will be sent
    }
  }

  private void publishInfo() {
    info = new RegistrationInfo(profile.id(), status(state),
        endpoint == null ? null : endpoint.address, contacts.current(),
        isBound() ? expiresAt : null, isBound() ? grantedExpires : 0,
        Boolean.TRUE.equals(outbound), lastError, contacts.seenAt(endpoint),
        targets == null ? null : targets.sentTo());
  }
}
