package io.sipalr.control;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.sipalr.alr.PendingDecision;
import io.sipalr.alr.PolicyController;
import io.sipalr.mobility.Iap;
import io.sipalr.mobility.IapState;
import io.sipalr.mobility.IpLiterals;
import io.sipalr.mobility.MobilityManager;
import io.sipalr.mobility.ScriptedIapProvider;
import io.sipalr.mobility.Snap;
import io.sipalr.profile.ProfileConflictException;
import io.sipalr.profile.ProfileValidationException;
import io.sipalr.profile.SipProfile;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.RegistrationInfo;
import io.sipalr.sip.SipProfileRegistry;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * The endpoints of the control API over the agent's parts, independent of HTTP plumbing: a
 * request is resolved to an {@link Endpoint}, which answers an {@link ApiResponse} or throws an
 * {@link ApiException}. One per server, shared by every connection; thread-safe because the
 * parts it drives are.
 */
final class ControlApi {

  /** Disable and delete wait this long for the deregistration before answering 202. */
  static final Duration DEREGISTRATION_BOUND = Duration.ofSeconds(10);

  /** One endpoint; {@code params} are the path's variable segments, in order. */
  @FunctionalInterface
  interface Endpoint {
    CompletableFuture<ApiResponse> handle(Call call);
  }

  /** What an endpoint gets of a request. */
  record Call(List<String> params, byte[] content) {
    String param(int i) {
      return params.get(i);
    }
  }

  /** A request's endpoint, with the path's variable segments. */
  record Resolved(Endpoint endpoint, List<String> params) {}

  /** Marks {@code GET /v1/events}, which the connection's handler streams itself. */
  static final Endpoint EVENT_STREAM = call -> {
    throw new IllegalStateException("the event stream is served by the handler");
  };

  static final ObjectMapper JSON = JsonMapper.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .build();

  private final SipProfileRegistry registry;
  private final MobilityManager mobility;
  private final ScriptedIapProvider scripted;
  private final PolicyController policy;
  private final EventStreams events;
  private final Health healthCheck;
  /** Runs the requests that write the store (fsync); rejects when its queue is full. */
  private final Executor storeWriters;
  /** For the 503's message: how many may wait. */
  private final int storeQueue;
  /** Path pattern (segments after /v1, "{}" for a variable) → method → endpoint. */
  private final Map<List<String>, Map<HttpMethod, Endpoint>> routes = new LinkedHashMap<>();

  /**
   * @param storeWriters runs every request that writes the store (create, change, delete),
   *     never a connection's event loop; rejecting one when full makes it a 503
   * @param storeQueue how many such requests may wait (for the 503's message)
   */
  ControlApi(SipProfileRegistry registry, MobilityManager mobility, ScriptedIapProvider scripted,
      PolicyController policy, EventStreams events, Executor storeWriters, int storeQueue,
      Health health) {
    this.healthCheck = health;
    this.storeWriters = storeWriters;
    this.storeQueue = storeQueue;
    this.registry = registry;
    this.mobility = mobility;
    this.scripted = scripted;
    this.policy = policy;
    this.events = events;
    on(HttpMethod.GET, "health", sync(this::health));
    on(HttpMethod.GET, "health/live", this::live);
    on(HttpMethod.GET, "health/ready", sync(this::ready));
    on(HttpMethod.GET, "profiles", sync(this::listProfiles));
    on(HttpMethod.POST, "profiles", writing(sync(this::createProfile)));
    on(HttpMethod.GET, "profiles/{}", sync(this::getProfile));
    on(HttpMethod.PUT, "profiles/{}", writing(sync(this::updateProfile)));
    on(HttpMethod.DELETE, "profiles/{}", writing(this::deleteProfile));
    on(HttpMethod.POST, "profiles/{}/enable", sync(this::enable));
    on(HttpMethod.POST, "profiles/{}/disable", this::disable);
    on(HttpMethod.POST, "profiles/{}/alr/allow", sync(c -> decide(c, true)));
    on(HttpMethod.POST, "profiles/{}/alr/disallow", sync(c -> decide(c, false)));
    on(HttpMethod.POST, "profiles/{}/alr/refresh", sync(this::refresh));
    on(HttpMethod.GET, "iaps", sync(this::listIaps));
    on(HttpMethod.POST, "iaps/{}/up", sync(c -> setIap(c, true)));
    on(HttpMethod.POST, "iaps/{}/down", sync(c -> setIap(c, false)));
    on(HttpMethod.GET, "snaps", sync(this::listSnaps));
    on(HttpMethod.GET, "alr/pending", sync(this::pending));
    on(HttpMethod.GET, "events", EVENT_STREAM);
    on(HttpMethod.GET, "logging/sip-trace", sync(this::sipTrace));
    on(HttpMethod.PUT, "logging/sip-trace", sync(this::setSipTrace));
  }

  /**
   * The endpoint of a request.
   *
   * @param segments the path's decoded segments, e.g. [v1, profiles, alice]
   * @throws ApiException 404 for an unknown path, 405 for a known one with another method
   */
  Resolved resolve(HttpMethod method, String path, List<String> segments) {
    if (segments.size() >= 2 && segments.get(0).equals("v1")) {
      List<String> rest = segments.subList(1, segments.size());
      for (Map.Entry<List<String>, Map<HttpMethod, Endpoint>> route : routes.entrySet()) {
        List<String> params = match(route.getKey(), rest);
        if (params == null) {
          continue;
        }
        Endpoint endpoint = route.getValue().get(method);
        if (endpoint == null) {
          String allow = route.getValue().keySet().stream().map(HttpMethod::name)
              .collect(Collectors.joining(", "));
          throw new ApiException(HttpResponseStatus.METHOD_NOT_ALLOWED, "method_not_allowed",
              method.name() + " is not allowed on " + path + "; allowed: " + allow, null,
              Map.of("Allow", allow));
        }
        return new Resolved(endpoint, params);
      }
    }
    throw ApiException.notFound("no such path: " + ApiException.quote(path)
        + " (the API is under /v1, e.g. GET /v1/profiles)");
  }

  private static List<String> match(List<String> pattern, List<String> segments) {
    if (pattern.size() != segments.size()) {
      return null;
    }
    List<String> params = new ArrayList<>();
    for (int i = 0; i < pattern.size(); i++) {
      if (pattern.get(i).equals("{}")) {
        params.add(segments.get(i));
      } else if (!pattern.get(i).equals(segments.get(i))) {
        return null;
      }
    }
    return params;
  }

  /** How many calls a profile has (a move re-INVITEs them); none without calls attached. */
  private volatile java.util.function.ToIntFunction<String> callsOf = id -> 0;

  void callsOf(java.util.function.ToIntFunction<String> calls) {
    this.callsOf = calls;
  }

  /** Adds a route of another feature's endpoints (e.g. {@link CallsEndpoints}). */
  void route(HttpMethod method, String pattern, Endpoint endpoint) {
    on(method, pattern, endpoint);
  }

  private void on(HttpMethod method, String pattern, Endpoint endpoint) {
    routes.computeIfAbsent(List.of(pattern.split("/")), k -> new LinkedHashMap<>())
        .put(method, endpoint);
  }

  private interface SyncEndpoint {
    ApiResponse handle(Call call);
  }

  private static Endpoint sync(SyncEndpoint endpoint) {
    return call -> CompletableFuture.completedFuture(endpoint.handle(call));
  }

  /**
   * An endpoint that writes the profile store, a durable write with fsync: run on the store
   * writers, so that no event loop (every connection's, health and the event streams
   * included) waits for a disk. Their queue is bounded: when full, 503 with Retry-After.
   */
  private Endpoint writing(Endpoint endpoint) {
    return call -> {
      try {
        return CompletableFuture.supplyAsync(() -> endpoint.handle(call), storeWriters)
            .thenCompose(answer -> answer);
      } catch (RejectedExecutionException full) {
        throw new ApiException(HttpResponseStatus.SERVICE_UNAVAILABLE, "busy",
            "the agent is busy writing profiles to its store (" + storeQueue + " changes"
                + " already wait, the most control.store-queue allows); try again in a moment",
            null, Map.of("Retry-After", "1"));
      }
    };
  }

  // ------------------------------------------------------------ health

  /** Always 200: the readiness verdict and reasons, with the counts it always had. */
  private ApiResponse health(Call c) {
    List<SipProfile> all = registry.profiles();
    long registered = all.stream().filter(p -> statusOf(p.id()) == ProfileStatus.REGISTERED)
        .count();
    Health.Report ready = healthCheck.ready();
    ObjectNode o = JSON.createObjectNode();
    o.put("status", ready.status().json());
    ArrayNode reasons = o.putArray("reasons");
    ready.reasons().forEach(reasons::add);
    o.put("profiles", all.size());
    o.put("registered", registered);
    o.put("policy", policy == null ? null : policy.policy().mode());
    o.put("scriptedIaps", scripted != null);
    o.put("eventStreams", events.subscriberCount());
    o.put("eventsDropped", events.droppedCount());
    return ApiResponse.ok(o);
  }

  /** 200 when every loop turned within the bound, 503 otherwise. */
  private CompletableFuture<ApiResponse> live(Call c) {
    return healthCheck.live().thenApply(report -> verdict(report, null));
  }

  /** 200 when ok or degraded, 503 when down (as orchestrators expect). */
  private ApiResponse ready(Call c) {
    Health.Report report = healthCheck.ready();
    ObjectNode counts = JSON.createObjectNode();
    counts.put("enabled", report.enabled());
    counts.put("registered", report.registered());
    return verdict(report, counts);
  }

  private static ApiResponse verdict(Health.Report report, ObjectNode extra) {
    ObjectNode o = JSON.createObjectNode();
    o.put("status", report.status().json());
    ArrayNode reasons = o.putArray("reasons");
    report.reasons().forEach(reasons::add);
    if (extra != null) {
      o.setAll(extra);
    }
    return new ApiResponse(report.status() == Health.Status.DOWN
        ? HttpResponseStatus.SERVICE_UNAVAILABLE : HttpResponseStatus.OK, o, Map.of());
  }

  // ------------------------------------------------------------ profiles

  private ApiResponse listProfiles(Call c) {
    ArrayNode list = JSON.createArrayNode();
    for (SipProfile p : registry.profiles()) {
      ObjectNode json = profileJson(p);
      if (json != null) {
        list.add(json);
      }
    }
    return ApiResponse.ok(list);
  }

  private ApiResponse getProfile(Call c) {
    return ApiResponse.ok(profileJson(profile(c.param(0))));
  }

  private ApiResponse createProfile(Call c) {
    JsonNode body = body(c);
    if (body != null && body.isArray()) {
      return createProfiles((ArrayNode) body);
    }
    if (body == null || !body.isObject()) {
      throw ApiException.badRequest("bad_request", "the body must be a JSON object with the"
          + " profile's fields, or an array of such objects");
    }
    SipProfile p = ProfileJson.forCreate(body);
    checkNetworks(p);
    SipProfile stored;
    try {
      stored = registry.create(p);
    } catch (ProfileValidationException e) {
      throw ProfileJson.invalid(e);
    } catch (ProfileConflictException e) {
      throw conflict(e);
    }
    return new ApiResponse(HttpResponseStatus.CREATED, profileJson(stored),
        Map.of("Location", "/v1/profiles/" + stored.id()));
  }

  /**
   * A POST of an array of profiles: all are created, in one store batch, or, on any error,
   * none. An error names the element's index (in the message and as {@code index}).
   */
  private ApiResponse createProfiles(ArrayNode array) {
    List<SipProfile> batch = new ArrayList<>(array.size());
    Map<String, Integer> indexOf = new HashMap<>();
    for (int i = 0; i < array.size(); i++) {
      try {
        if (!array.get(i).isObject()) {
          throw ApiException.badRequest("bad_request",
              "must be a JSON object with a profile's fields");
        }
        SipProfile p = ProfileJson.forCreate(array.get(i));
        Integer first = indexOf.putIfAbsent(p.id(), i);
        if (first != null) {
          throw ApiException.conflict("conflict", "profile " + ApiException.quote(p.id())
              + " is element " + first + " too: an id can be created only once");
        }
        checkNetworks(p);
        batch.add(p);
      } catch (ApiException e) {
        throw e.at(i);
      }
    }
    List<SipProfile> stored;
    try {
      stored = registry.createAll(batch);
    } catch (ProfileValidationException e) {
      throw at(ProfileJson.invalid(e), indexOf.get(e.profileId()));
    } catch (ProfileConflictException e) {
      throw at(conflict(e), indexOf.get(e.profileId()));
    }
    ArrayNode created = JSON.createArrayNode();
    for (SipProfile p : stored) {
      ObjectNode json = profileJson(p);
      // Null if it was deleted meanwhile: then it has no registration to show.
      created.add(json != null ? json : ProfileJson.toJson(p, null, null));
    }
    return new ApiResponse(HttpResponseStatus.CREATED, created, Map.of());
  }

  /** 409 for a profile id the store holds: change that one instead. */
  /** 409 for an id the store holds; also the handler's answer should one escape elsewhere. */
  static ApiException conflict(ProfileConflictException e) {
    return ApiException.conflict("conflict", e.getMessage() + "; change it with PUT"
        + " /v1/profiles/" + e.profileId());
  }

  private static ApiException at(ApiException e, Integer index) {
    return index == null ? e : e.at(index);
  }

  private ApiResponse updateProfile(Call c) {
    SipProfile stored = profile(c.param(0));
    SipProfile changed = ProfileJson.forUpdate(body(c), stored);
    checkNetworks(changed);
    try {
      return ApiResponse.ok(profileJson(registry.save(changed)));
    } catch (ProfileValidationException e) {
      throw ProfileJson.invalid(e);
    }
  }

  private CompletableFuture<ApiResponse> deleteProfile(Call c) {
    String id = profile(c.param(0)).id();
    // The file's removal, once deregistered, on a store writer too (not the SIP worker that
    // saw the deregistration end); should their queue be full by then, where it ends.
    Executor removal = task -> {
      try {
        storeWriters.execute(task);
      } catch (RejectedExecutionException full) {
        task.run();
      }
    };
    return bounded(registry.destroy(id, removal)).thenApply(done -> {
      if (done) {
        return ApiResponse.noContent();
      }
      ObjectNode o = JSON.createObjectNode();
      o.put("id", id);
      o.put("message", "still deregistering after " + DEREGISTRATION_BOUND.toSeconds()
          + " s; the profile is removed when that ends");
      return ApiResponse.accepted(o);
    });
  }

  private ApiResponse enable(Call c) {
    String id = profile(c.param(0)).id();
    registry.enable(id);
    return ApiResponse.accepted(profileJson(profile(id)));
  }

  private CompletableFuture<ApiResponse> disable(Call c) {
    String id = profile(c.param(0)).id();
    return bounded(registry.disable(id)).thenApply(done -> {
      ObjectNode json = profileJson(profile(id));
      return done ? ApiResponse.ok(json) : ApiResponse.accepted(json);
    });
  }

  /** True when {@code deregistration} ended within the bound, false when it still runs. */
  private static CompletableFuture<Boolean> bounded(CompletableFuture<Void> deregistration) {
    // A dependent future: the registry's own is never completed (nor timed out) by us.
    return deregistration.thenApply(v -> true)
        .completeOnTimeout(false, DEREGISTRATION_BOUND.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** A profile naming a SNAP or IAP that the configuration lacks could never register. */
  private void checkNetworks(SipProfile p) {
    if (p.snapId() != null && p.snapId() > 0 && mobility.config().snap(p.snapId()).isEmpty()) {
      throw ApiException.invalidField("snap", "profile " + ApiException.quote(p.id())
          + ": snap: no SNAP has id " + p.snapId() + "; the SNAPs are " + mobility.config()
              .snaps().stream().map(Snap::id).toList());
    }
    if (p.iapId() != null && p.iapId() > 0 && mobility.config().iap(p.iapId()).isEmpty()) {
      throw ApiException.invalidField("fixedIap", "profile " + ApiException.quote(p.id())
          + ": fixedIap: no IAP has id " + p.iapId() + "; the IAPs are " + mobility.config()
              .iaps().stream().map(Iap::id).toList());
    }
  }

  private SipProfile profile(String id) {
    return registry.profile(id).orElseThrow(() -> ApiException.notFound(
        "no profile with id " + ApiException.quote(id)));
  }

  /** Null when the profile went away meanwhile. */
  private ObjectNode profileJson(SipProfile p) {
    RegistrationInfo info;
    try {
      info = registry.info(p.id());
    } catch (NoSuchElementException e) {
      return null;
    }
    return ProfileJson.toJson(p, info, mobility.iapAt(info.localAddress()).orElse(null));
  }

  private ProfileStatus statusOf(String id) {
    return registry.statusIfPresent(id).orElse(null);
  }

  /** The IAP a profile registers through now, or null. */
  static Integer currentIap(SipProfileRegistry registry, MobilityManager mobility,
      String profileId) {
    try {
      return mobility.iapAt(registry.info(profileId).localAddress()).orElse(null);
    } catch (NoSuchElementException e) {
      return null;
    }
  }


  // ------------------------------------------------------------ ALR decisions

  private ApiResponse decide(Call c, boolean allow) {
    String id = profile(c.param(0)).id();
    JsonNode body = body(c);
    if (body == null || !body.isObject()) {
      throw ApiException.badRequest("bad_request", "the body must be {\"iap\": <IAP id>}");
    }
    rejectUnknownKeys((ObjectNode) body, List.of("iap"));
    JsonNode iap = body.get("iap");
    if (iap == null || !iap.isIntegralNumber() || !iap.canConvertToInt()) {
      throw ApiException.invalidField("iap", "iap: must be the id of the IAP offered to profile "
          + ApiException.quote(id) + " (see GET /v1/alr/pending)");
    }
    PolicyController controller = requirePolicy();
    try {
      if (allow) {
        controller.allow(id, iap.intValue());
      } else {
        controller.disallow(id, iap.intValue());
      }
    } catch (IllegalStateException e) {
      throw ApiException.conflict("nothing_pending", e.getMessage());
    }
    ObjectNode o = JSON.createObjectNode();
    o.put("profile", id);
    o.put("iap", iap.intValue());
    o.put("decision", allow ? "allow" : "disallow");
    return ApiResponse.accepted(o);
  }

  private ApiResponse refresh(Call c) {
    String id = profile(c.param(0)).id();
    try {
      requirePolicy().refresh(id);
    } catch (IllegalArgumentException e) {
      throw ApiException.conflict("no_snap", e.getMessage());
    } catch (IllegalStateException e) {
      throw ApiException.conflict("not_roaming", e.getMessage());
    }
    ObjectNode o = JSON.createObjectNode();
    o.put("profile", id);
    o.put("message", "the IAPs of its SNAP are looked at afresh; refused ones are offered again");
    return ApiResponse.accepted(o);
  }

  private ApiResponse pending(Call c) {
    ArrayNode list = JSON.createArrayNode();
    if (policy != null) {
      for (PendingDecision d : policy.pending()) {
        ObjectNode o = list.addObject();
        o.put("profile", d.profileId());
        o.put("snap", d.snapId());
        o.put("iap", d.iapId());
        o.put("since", d.since().toString());
        o.put("decidedByDefaultAt", d.decidedByDefaultAt().toString());
        o.put("calls", callsOf.applyAsInt(d.profileId())); // what the move would re-INVITE
      }
    }
    return ApiResponse.ok(list);
  }

  private PolicyController requirePolicy() {
    if (policy == null) {
      throw ApiException.conflict("no_policy_controller",
          "this agent runs without a policy controller: nothing decides through the API");
    }
    return policy;
  }

  // ------------------------------------------------------------ IAPs and SNAPs

  private ApiResponse listIaps(Call c) {
    ArrayNode list = JSON.createArrayNode();
    mobility.iaps().forEach(s -> list.add(iapJson(s)));
    return ApiResponse.ok(list);
  }

  private static ObjectNode iapJson(IapState s) {
    ObjectNode o = JSON.createObjectNode();
    o.put("id", s.iap().id());
    o.put("name", s.iap().name());
    o.put("interface", s.iap().interfaceName());
    o.put("bearer", s.iap().bearer().name().toLowerCase(Locale.ROOT));
    o.put("cost", s.iap().cost());
    o.put("available", s.available());
    o.put("address", s.available() ? s.address().getHostAddress() : null);
    return o;
  }

  private ApiResponse listSnaps(Call c) {
    ArrayNode list = JSON.createArrayNode();
    for (Snap snap : mobility.config().snaps()) {
      ObjectNode o = list.addObject();
      o.put("id", snap.id());
      o.put("name", snap.name());
      ArrayNode iaps = o.putArray("iaps");
      snap.iapIds().forEach(iaps::add);
    }
    return ApiResponse.ok(list);
  }

  private ApiResponse setIap(Call c, boolean up) {
    Iap iap = iap(c.param(0));
    if (scripted == null) {
      throw ApiException.conflict("not_scripted", "IAP " + iap.id() + " cannot be brought "
          + (up ? "up" : "down") + " through the API: IAP availability comes from the host"
          + " (mobility.provider is not scripted)");
    }
    JsonNode body = body(c);
    InetAddress address = null;
    if (body != null) {
      if (!up || !body.isObject()) {
        throw ApiException.badRequest("bad_request", up
            ? "the body must be empty or {\"address\": \"<IP address>\"}"
            : "bringing an IAP down takes no body");
      }
      rejectUnknownKeys((ObjectNode) body, List.of("address"));
      JsonNode a = body.get("address");
      if (a != null && !a.isNull()) {
        try {
          address = IpLiterals.parse(a.isTextual() ? a.textValue().trim() : "");
        } catch (IllegalArgumentException e) {
          throw ApiException.invalidField("address", "address: must be an IP address such as"
              + " 127.0.0.5" + (a.isTextual() ? ", was " + ApiException.quote(a.textValue())
                  : ""));
        }
      }
    }
    try {
      if (!up) {
        scripted.down(iap.id());
      } else if (address != null) {
        scripted.up(iap.id(), address);
      } else {
        scripted.up(iap.id());
      }
    } catch (IllegalArgumentException e) {
      throw ApiException.invalidField("address", e.getMessage());
    }
    IapState state = mobility.iaps().stream().filter(s -> s.iap().id() == iap.id())
        .findFirst().orElseThrow();
    return ApiResponse.ok(iapJson(state));
  }

  private Iap iap(String text) {
    try {
      return mobility.config().iap(Integer.parseInt(text)).orElseThrow();
    } catch (NumberFormatException | NoSuchElementException e) {
      throw ApiException.notFound("no IAP has id " + ApiException.quote(text) + "; the IAPs are "
          + mobility.config().iaps().stream().map(Iap::id).toList());
    }
  }

  // ------------------------------------------------------------ logging

  private ApiResponse sipTrace(Call c) {
    ObjectNode o = JSON.createObjectNode();
    o.put("logger", SipTrace.LOGGER);
    o.put("enabled", SipTrace.enabled());
    return ApiResponse.ok(o);
  }

  private ApiResponse setSipTrace(Call c) {
    JsonNode body = body(c);
    if (body == null || !body.isObject()) {
      throw ApiException.badRequest("bad_request", "the body must be {\"enabled\": true|false}");
    }
    rejectUnknownKeys((ObjectNode) body, List.of("enabled"));
    JsonNode enabled = body.get("enabled");
    if (enabled == null || !enabled.isBoolean()) {
      throw ApiException.invalidField("enabled", "enabled: must be true or false");
    }
    try {
      SipTrace.enable(enabled.booleanValue());
    } catch (IllegalStateException e) {
      throw ApiException.conflict("not_switchable", e.getMessage());
    }
    return sipTrace(c);
  }

  // ------------------------------------------------------------ bodies

  /** The request's JSON body, or null when it has none. */
  static JsonNode body(Call c) {
    if (c.content().length == 0) {
      return null;
    }
    try {
      return JSON.readTree(c.content());
    } catch (JsonProcessingException e) {
      // Jackson's own message may quote the body (a password, say): only say where.
      JsonLocation at = e.getLocation();
      String where = at == null ? "" : " (line " + at.getLineNr() + ", column "
          + at.getColumnNr() + ")";
      String what = e.getOriginalMessage() != null
          && e.getOriginalMessage().startsWith("Duplicate")
          ? "the body has a key twice" : "the body is not valid JSON";
      throw ApiException.badRequest("bad_json", what + where);
    } catch (IOException e) {
      throw ApiException.badRequest("bad_json", "the body is not valid JSON");
    }
  }

  private static void rejectUnknownKeys(ObjectNode body, List<String> known) {
    for (String key : ProfileJson.keySet(body)) {
      if (!known.contains(key)) {
        throw ApiException.invalidField(key, "unknown key " + ApiException.quote(key)
            + "; the keys are " + String.join(", ", known));
      }
    }
  }
}
