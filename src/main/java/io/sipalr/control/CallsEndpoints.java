package io.sipalr.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.sipalr.calls.CallException;
import io.sipalr.calls.CallInfo;
import io.sipalr.calls.Calls;
import io.sipalr.media.MediaStats;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * {@code /v1/calls}: list, make, answer, reject and end calls (docs/calls.md). Without calls
 * attached to the server ({@link ControlServer#calls}) every one answers 409
 * {@code calls_disabled}.
 */
final class CallsEndpoints {
  private final Supplier<Calls> calls;

  CallsEndpoints(Supplier<Calls> calls) {
    this.calls = calls;
  }

  void registerOn(ControlApi api) {
    api.route(HttpMethod.GET, "calls", sync(this::list));
    api.route(HttpMethod.POST, "calls", sync(this::dial));
    api.route(HttpMethod.GET, "calls/{}", sync(this::get));
    api.route(HttpMethod.DELETE, "calls/{}", sync(this::hangUp));
    api.route(HttpMethod.POST, "calls/{}/answer", sync(this::answer));
    api.route(HttpMethod.POST, "calls/{}/reject", sync(this::reject));
    api.route(HttpMethod.POST, "calls/{}/dtmf", sync(this::dtmf));
  }

  private interface Sync {
    ApiResponse handle(ControlApi.Call call);
  }

  private static ControlApi.Endpoint sync(Sync s) {
    return call -> CompletableFuture.completedFuture(s.handle(call));
  }

  private Calls calls() {
    Calls c = calls.get();
    if (c == null) {
      throw ApiException.conflict("calls_disabled", "this server has no calls attached");
    }
    return c;
  }

  private ApiResponse list(ControlApi.Call c) {
    ArrayNode list = ControlApi.JSON.createArrayNode();
    calls().list().forEach(info -> list.add(json(info)));
    return ApiResponse.ok(list);
  }

  private ApiResponse get(ControlApi.Call c) {
    return ApiResponse.ok(json(find(c.param(0))));
  }

  private CallInfo find(String id) {
    return calls().get(id).orElseThrow(() -> ApiException.notFound("no call with id "
        + ApiException.quote(id)));
  }

  private ApiResponse dial(ControlApi.Call c) {
    Calls all = calls();
    JsonNode body = ControlApi.body(c);
    if (!(body instanceof ObjectNode o)) {
      throw ApiException.badRequest("bad_request",
          "the body is a JSON object {\"profile\": ..., \"to\": \"sip:...\"}");
    }
    for (var it = o.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      if (!key.equals("profile") && !key.equals("to")) {
        throw ApiException.invalidField(key, "unknown key " + ApiException.quote(key)
            + "; the keys are profile, to");
      }
    }
    String profile = text(o, "profile");
    String to = text(o, "to");
    try {
      CallInfo info = all.dial(profile, to);
      return new ApiResponse(HttpResponseStatus.CREATED, json(info),
          Map.of("Location", "/v1/calls/" + info.id()));
    } catch (CallException e) {
      throw switch (e.kind()) {
        case NOT_FOUND -> ApiException.notFound(e.getMessage());
        case INVALID -> ApiException.invalidField("to", e.getMessage());
        case NOT_REGISTERED -> ApiException.conflict("not_registered", e.getMessage());
        case LIMIT -> ApiException.conflict("call_limit", e.getMessage());
        case FAILED -> ApiException.conflict("call_failed", e.getMessage());
      };
    }
  }

  private static String text(ObjectNode o, String field) {
    JsonNode v = o.get(field);
    if (v == null || !v.isTextual() || v.asText().isBlank()) {
      throw ApiException.invalidField(field, field + " is required, a non-empty string");
    }
    return v.asText();
  }

  private ApiResponse hangUp(ControlApi.Call c) {
    String id = c.param(0);
    CallInfo before = find(id);
    if (before.state() != CallInfo.State.ENDED) {
      calls().hangUp(id);
    }
    return ApiResponse.accepted(json(find(id)));
  }

  private ApiResponse answer(ControlApi.Call c) {
    String id = c.param(0);
    find(id);
    if (!calls().answer(id)) {
      throw ApiException.conflict("not_ringing", "call " + ApiException.quote(id)
          + " is not an incoming call ringing here");
    }
    return ApiResponse.ok(json(find(id)));
  }

  /** {"digits": "123#"}: queued as telephone-events (RFC 4733); 202 with the call. */
  private ApiResponse dtmf(ControlApi.Call c) {
    String id = c.param(0);
    find(id);
    JsonNode body = ControlApi.body(c);
    if (!(body instanceof ObjectNode o) || o.size() != 1 || !o.has("digits")) {
      throw ApiException.badRequest("bad_request",
          "the body is a JSON object {\"digits\": \"123#\"}");
    }
    String digits = text(o, "digits");
    try {
      if (!calls().sendDtmf(id, digits)) {
        throw ApiException.conflict("not_established", "call " + ApiException.quote(id)
            + " is not established");
      }
    } catch (IllegalArgumentException e) {
      throw ApiException.invalidField("digits", e.getMessage());
    } catch (IllegalStateException e) {
      throw ApiException.conflict("no_telephone_event", e.getMessage());
    }
    return ApiResponse.accepted(json(find(id)));
  }

  private ApiResponse reject(ControlApi.Call c) {
    String id = c.param(0);
    find(id);
    if (!calls().reject(id, 603)) {
      throw ApiException.conflict("not_ringing", "call " + ApiException.quote(id)
          + " is not an incoming call ringing here");
    }
    return ApiResponse.ok(json(find(id)));
  }

  static ObjectNode json(CallInfo info) {
    ObjectNode o = ControlApi.JSON.createObjectNode();
    o.put("id", info.id());
    o.put("profile", info.profileId());
    o.put("direction", info.direction().name());
    o.put("peer", info.peer());
    o.put("state", info.state().name());
    o.put("localAddress", info.localAddress());
    o.put("started", info.started().toString());
    o.put("established", info.established() == null ? null : info.established().toString());
    MediaStats m = info.media();
    if (m == null) {
      o.putNull("media");
    } else {
      ObjectNode media = o.putObject("media");
      media.put("codec", m.codec());
      media.put("localAddress", m.localAddress());
      media.put("localPort", m.localPort());
      media.put("remote", m.remote());
      media.put("packetsSent", m.sent());
      media.put("packetsReceived", m.received());
      media.put("lastSource", m.lastSource());
      if (m.lastMoveGapMillis() >= 0) {
        media.put("lastMoveGapMs", m.lastMoveGapMillis());
      }
      rtcp(media, m.rtcp());
      media.put("dtmfReceived", m.dtmfReceived());
    }
    return o;
  }

  /** RFC 3550 reception statistics; the peer's figures are null until it reported on ours. */
  private static void rtcp(ObjectNode media, io.sipalr.media.RtcpStats r) {
    if (r == null) {
      media.putNull("rtcp");
      return;
    }
    ObjectNode o = media.putObject("rtcp");
    o.put("packetsExpected", r.packetsExpected());
    o.put("packetsLost", r.packetsLost());
    o.put("jitterMs", r.jitterMs());
    o.put("reportsSent", r.reportsSent());
    o.put("reportsReceived", r.reportsReceived());
    o.put("peerPacketsLost", r.peerPacketsLost());
    o.put("peerFractionLost", r.peerFractionLost());
    o.put("peerJitterMs", r.peerJitterMs());
    o.put("roundTripMs", r.roundTripMs());
  }
}
