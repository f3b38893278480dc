package io.sipalr.calls;

import io.sipalr.calls.CallInfo.Direction;
import io.sipalr.calls.CallInfo.State;
import io.sipalr.media.MediaChannel;
import io.sipalr.media.MediaStats;
import io.sipalr.media.SdpNegotiator;
import io.sipalr.sip.CallRequest;
import io.sipalr.sip.CallSignalling;
import io.sipalr.sip.InboundCalls;
import java.io.IOException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import javax.sip.address.Address;
import javax.sip.address.URI;
import javax.sip.header.CallIdHeader;
import javax.sip.header.ToHeader;
import javax.sip.message.Request;
import javax.sip.message.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The calls of every profile (docs/calls.md): incoming INVITEs answered by each profile's
 * {@link CallPolicy}, outgoing calls ({@link #dial}), hang-up, and a re-INVITE for every
 * established call of a profile that has moved ({@link #profileMoved}). Takes the INVITE
 * dialogs' requests from the SIP core through its {@link InboundCalls} hook; at most
 * {@code maxCalls} calls at once (more INVITEs are answered 486, more dials refused).
 *
 * <pre>{@code
 * Calls calls = agent.calls();
 * calls.addListener(e -> { if (e.type() == CALL_INCOMING) calls.answer(e.callId()); });
 * CallInfo c = calls.dial("alice", "sip:bob@example.test");
 * calls.hangUp(c.id());
 * }</pre>
 */
public final class Calls implements InboundCalls, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Calls.class);
  static final SecureRandom RANDOM = new SecureRandom();
  /** Ended calls kept for {@link #get} (their final media counts), the newest first. */
  static final int HISTORY = 100;
  /** The methods of a call's dialog we take, in Allow of our INVITEs, UPDATEs and 2xx. */
  static final String ALLOW = "INVITE, ACK, BYE, CANCEL, UPDATE, OPTIONS, MESSAGE";

  /** Opens a call's RTP socket on an address ({@link io.sipalr.media.RtpMedia#open}). */
  @FunctionalInterface
  public interface MediaOpener {
    MediaChannel open(String address, String name) throws IOException;
  }

  final CallSignalling sip;
  final MediaOpener media;
  final SdpNegotiator sdp = new SdpNegotiator();
  final CallSettings settings;
  private final Function<String, CallPolicy> policies;
  private final int maxCalls;
  private final ScheduledExecutorService scheduler;
  private final Clock clock;
  private final Map<String, Call> byId = new ConcurrentHashMap<>();
  private final Map<String, Call> byCallId = new ConcurrentHashMap<>();
  private final Map<String, MediaStats> finalMedia = new ConcurrentHashMap<>();
  private final ArrayDeque<CallInfo> history = new ArrayDeque<>();
  private final List<CallListener> listeners = new CopyOnWriteArrayList<>();

  public Calls(CallSignalling sip, Function<String, CallPolicy> policies, int maxCalls,
      MediaOpener media, ScheduledExecutorService scheduler, Clock clock) {
    this(sip, policies, maxCalls, media, scheduler, clock, CallSettings.DEFAULTS);
  }

  public Calls(CallSignalling sip, Function<String, CallPolicy> policies, int maxCalls,
      MediaOpener media, ScheduledExecutorService scheduler, Clock clock,
      CallSettings settings) {
    this.settings = settings;
    this.sip = sip;
    this.policies = policies;
    this.maxCalls = maxCalls;
    this.media = media;
    this.scheduler = scheduler;
    this.clock = clock;
  }

  /** From now on the SIP core hands INVITE dialogs to these calls. */
  public void start() {
    sip.inboundCalls(this);
  }

  public void addListener(CallListener l) {
    listeners.add(l);
  }

  public void removeListener(CallListener l) {
    listeners.remove(l);
  }

  /** Calls not yet ended, oldest first. */
  public List<CallInfo> list() {
    List<CallInfo> all = new ArrayList<>();
    byId.values().forEach(c -> all.add(c.info()));
    all.sort(Comparator.comparing(CallInfo::started).thenComparing(CallInfo::id));
    return all;
  }

  /** A call, also one of the last {@value #HISTORY} ended (with its final media counts). */
  public Optional<CallInfo> get(String id) {
    Call c = byId.get(id);
    if (c != null) {
      return Optional.of(c.info());
    }
    synchronized (history) {
      return history.stream().filter(i -> i.id().equals(id)).findFirst();
    }
  }

  public int activeCount() {
    return byId.size();
  }

  /** The ids of {@code profileId}'s calls under way, oldest first: what a move would touch. */
  public List<String> callIdsOf(String profileId) {
    return byId.values().stream().filter(c -> c.profileId.equals(profileId))
        .sorted(Comparator.comparing((Call c) -> c.started).thenComparing(c -> c.id))
        .map(c -> c.id).toList();
  }

  /** How many calls of {@code profileId} a move would touch (established or being set up). */
  public int callsOf(String profileId) {
    return (int) byId.values().stream().filter(c -> c.profileId.equals(profileId)).count();
  }

  // ------------------------------------------------------------------ the API

  /**
   * Calls {@code to} from {@code profileId}: an INVITE with an SDP offer from the profile's
   * current address, through its outbound proxy or registrar.
   *
   * @throws CallException when the profile is unknown or not registered, {@code to} is not a SIP
   *     URI, the limit is reached, or the INVITE cannot be sent
   */
  public CallInfo dial(String profileId, String to) throws CallException {
    String aor = sip.aorOf(profileId).orElseThrow(() -> new CallException(
        CallException.Kind.NOT_FOUND, "no profile " + profileId));
    String address = sip.localAddressOf(profileId).orElseThrow(() -> new CallException(
        CallException.Kind.NOT_REGISTERED, "profile " + profileId
            + " has no local address: it is not registered (a call goes from where it is)"));
    String hop = sip.firstHopOf(profileId).orElseThrow();
    if (byId.size() >= maxCalls) {
      throw new CallException(CallException.Kind.LIMIT, maxCalls
          + " calls are under way already (calls.max-calls)");
    }
    Call call;
    try {
      URI target = sip.addresses().createURI(to);
      if (!target.isSipURI()) {
        throw new CallException(CallException.Kind.INVALID, "not a SIP URI: " + to);
      }
      Address local = sip.addresses().createAddress(aor);
      Address remote = sip.addresses().createAddress(target);
      Dialog dialog = new Dialog(sip.newCallId(), tag(), local, remote, target);
      dialog.transport = sip.transportOf(profileId);
      call = new Call(this, newId(), profileId, Direction.OUTGOING, dialog, State.CALLING);
    } catch (java.text.ParseException e) {
      throw new CallException(CallException.Kind.INVALID, "not a SIP URI: " + to + " ("
          + e.getMessage() + ")");
    }
    byId.put(call.id, call);
    byCallId.put(call.dialog.callId, call);
    CallSignalling.Leg leg = null;
    try {
      leg = sip.acquire(address);
      call.dial(leg, hop);
    } catch (Exception e) {
      synchronized (call) {
        if (call.localAddress() == null && leg != null) {
          leg.release();
        }
        call.end("the INVITE could not be sent: " + e.getMessage());
      }
      throw new CallException(CallException.Kind.FAILED, "profile " + profileId + ": call to "
          + to + " failed: " + e.getMessage());
    }
    log.info("call {} ({}): calling {} from {}", call.id, profileId, to, address);
    return call.info();
  }

  /** Ends a call: CANCEL, BYE or 603 as its state needs. False when there is none. */
  public boolean hangUp(String id) {
    Call c = byId.get(id);
    return c != null && c.hangUp("hung up here");
  }

  /** Answers a ringing incoming call (policy {@code application}). */
  public boolean answer(String id) {
    Call c = byId.get(id);
    return c != null && c.answer();
  }

  /**
   * Sends DTMF {@code digits} (0-9, *, #, A-D) on an established call as telephone-events
   * (RFC 4733), 100 ms each; false when there is no such call or it is not established.
   *
   * @throws IllegalArgumentException a character that is no digit, or too many waiting
   * @throws IllegalStateException the peer did not accept telephone-event
   */
  public boolean sendDtmf(String id, String digits) {
    Call c = byId.get(id);
    return c != null && c.sendDtmf(digits);
  }

  /** Rejects a ringing incoming call with {@code status} (4xx-6xx). */
  public boolean reject(String id, int status) {
    if (status < 400 || status > 699) {
      throw new IllegalArgumentException("reject status " + status + " is not 400-699");
    }
    Call c = byId.get(id);
    return c != null && c.reject(status, "rejected here (" + status + ")");
  }

  /**
   * The profile registers from a new address (a migration completed): each of its established
   * calls is re-INVITEd from there (docs/calls.md, "Moves").
   */
  public void profileMoved(String profileId) {
    Optional<String> address = sip.localAddressOf(profileId);
    if (address.isEmpty()) {
      return;
    }
    for (Call c : byId.values()) {
      if (c.profileId.equals(profileId)) {
        c.move(address.get());
      }
    }
  }

  /**
   * The profile is gone for good (deleted, disabled, its registration stopped): each of its
   * calls ends, a ringing one with 480, one of ours not yet answered with CANCEL, the others
   * with BYE; {@code CALL_ENDED} carries {@code reason}.
   */
  public void endCallsOf(String profileId, String reason) {
    for (Call c : byId.values()) {
      if (c.profileId.equals(profileId)) {
        c.profileGone(reason);
      }
    }
  }

  /** Ends the calls of each profile that goes for good ({@link #endCallsOf}). */
  public io.sipalr.sip.RegistryListener profileEnds() {
    return new ProfileEnds(this, sip);
  }

  // ------------------------------------------------------------------ the SIP hook

  @Override
  public boolean onRequest(CallRequest request) {
    Request r = request.request();
    String callId = ((CallIdHeader) r.getHeader(CallIdHeader.NAME)).getCallId();
    Call call = byCallId.get(callId);
    String toTag = ((ToHeader) r.getHeader(ToHeader.NAME)).getTag();
    switch (r.getMethod()) {
      case Request.INVITE -> {
        if (r.getHeader(javax.sip.header.ContactHeader.NAME) == null) {
          log.info("INVITE for {} without Contact: left to the SIP core", request.profileId());
          return false; // no dialog can be made with it (RFC 3261 §8.1.1.8)
        }
        if (toTag == null) {
          if (call == null) {
            incoming(request);
          } // else a retransmission its server transaction did not absorb: ignored
          return true;
        }
        if (call != null && call.dialog.matches(r)) {
          call.onReInvite(request);
        } else {
          answerStateless(request, Response.CALL_OR_TRANSACTION_DOES_NOT_EXIST);
        }
        return true;
      }
      case Request.UPDATE -> {
        if (call != null && toTag != null && call.dialog.matches(r)) {
          call.onUpdate(request);
        } else {
          answerStateless(request, Response.CALL_OR_TRANSACTION_DOES_NOT_EXIST);
        }
        return true;
      }
      case Request.ACK -> {
        if (call != null && call.dialog.matches(r)) {
          call.onAck(r);
        }
        return true;
      }
      case Request.BYE -> {
        if (call != null && call.dialog.matches(r)) {
          call.onBye(request);
          return true;
        }
        return false; // 481 from the SIP core
      }
      case Request.CANCEL -> {
        if (call != null && call.direction == Direction.INCOMING) {
          call.onCancel(request);
          return true;
        }
        return false;
      }
      default -> {
        return false;
      }
    }
  }

  @Override
  public void onStrayResponse(Response response) {
    String callId = ((CallIdHeader) response.getHeader(CallIdHeader.NAME)).getCallId();
    Call call = byCallId.get(callId);
    if (call != null) {
      call.resendAck(response);
    }
  }

  private void incoming(CallRequest request) {
    Request r = request.request();
    if (byId.size() >= maxCalls) {
      log.info("INVITE for {} answered 486: {} calls under way (calls.max-calls)",
          request.profileId(), maxCalls);
      answerStateless(request, Response.BUSY_HERE);
      return;
    }
    if (SessionTimer.tooSmall(r, settings.minSe())) {
      log.info("INVITE for {} answered 422: its session interval is below our Min-SE {}",
          request.profileId(), settings.minSe());
      answerStateless(request, 422);
      return;
    }
    Dialog dialog = Dialog.asCallee(r, tag());
    Call call = new Call(this, newId(), request.profileId(), Direction.INCOMING, dialog,
        State.RINGING);
    if (byCallId.putIfAbsent(dialog.callId, call) != null) {
      return;
    }
    byId.put(call.id, call);
    CallPolicy policy = policies.apply(request.profileId());
    log.info("call {} ({}): INVITE from {}, policy {}", call.id, request.profileId(),
        dialog.remote.getURI(), policy.kind());
    call.ring(request, policy);
  }

  private void answerStateless(CallRequest request, int status) {
    try {
      Response response = sip.messages().createResponse(status, request.request());
      ToHeader to = (ToHeader) response.getHeader(ToHeader.NAME);
      if (to.getTag() == null) {
        to.setTag(tag());
      }
      if (status == 422) {
        SessionTimer.addMinSe(sip.headers(), response, settings.minSe());
      }
      request.respond(response);
    } catch (Exception e) {
      log.warn("could not answer {} {}: {}", request.request().getMethod(), status,
          e.getMessage());
    }
  }

  // ------------------------------------------------------------------ for Call

  Instant now() {
    return clock.instant();
  }

  ScheduledFuture<?> schedule(Runnable task, Duration delay) {
    return scheduler.schedule(() -> {
      try {
        task.run();
      } catch (RuntimeException e) {
        log.warn("call timer failed", e);
      }
    }, delay.toMillis(), TimeUnit.MILLISECONDS);
  }

  void emit(Call call, CallEvent.Type type, String reason) {
    CallEvent event = new CallEvent(type, call.id, call.profileId,
        call.dialog.remote.getURI().toString(), call.localAddress(), reason, now());
    for (CallListener l : listeners) {
      try {
        l.onCallEvent(event);
      } catch (RuntimeException e) {
        log.warn("call listener failed on {} of {}", type, call.id, e);
      }
    }
  }

  void lastMedia(Call call, MediaStats stats) {
    finalMedia.put(call.id, stats);
  }

  /** Called by the call itself, under its lock, once. */
  void ended(Call call, String reason) {
    byId.remove(call.id);
    byCallId.remove(call.dialog.callId, call);
    CallInfo info = call.info();
    MediaStats last = finalMedia.remove(call.id);
    CallInfo kept = new CallInfo(info.id(), info.profileId(), info.direction(), info.peer(),
        info.state(), info.localAddress(), info.started(), info.established(),
        last != null ? last : info.media());
    synchronized (history) {
      history.addFirst(kept);
      while (history.size() > HISTORY) {
        history.removeLast();
      }
    }
    emit(call, CallEvent.Type.CALL_ENDED, reason);
  }

  /** Ends every call (BYE/CANCEL/603) and leaves the SIP core's hook. */
  @Override
  public void close() {
    for (Call c : byId.values()) {
      c.hangUp("the agent is shutting down");
    }
    sip.inboundCalls(null);
  }

  private static String newId() {
    return "c" + Long.toHexString(RANDOM.nextLong() & Long.MAX_VALUE);
  }

  static String tag() {
    return Long.toHexString(RANDOM.nextLong() & Long.MAX_VALUE);
  }

  static String branch() {
    return "z9hG4bK" + Long.toHexString(RANDOM.nextLong() & Long.MAX_VALUE);
  }
}
