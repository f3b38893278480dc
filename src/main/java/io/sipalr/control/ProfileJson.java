package io.sipalr.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sipalr.profile.BearerFilter;
import io.sipalr.profile.ProfileValidationException;
import io.sipalr.profile.SipProfile;
import io.sipalr.profile.SipProfileBuilder;
import io.sipalr.profile.Transport;
import io.sipalr.sip.RegistrationError;
import io.sipalr.sip.RegistrationInfo;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A profile as the control API shows and accepts it. Keys are camelCase; the password is
 * write-only: accepted, never shown. Input is checked key by key here (types, unknown keys);
 * the values' rules are {@link io.sipalr.profile.ProfileValidator}'s, applied by the store.
 *
 * <pre>
 * {"id": "alice", "aor": "sip:alice@example.com", "registrar": "sip:198.19.0.1:5060",
 *  "outboundProxy": null, "authUser": "alice", "realm": null, "transport": "udp",
 *  "expires": 600, "autoRegister": true, "snap": 1, "fixedIap": null, "bearerFilter": "any",
 *  "tlsClientCertificate": null,
 *  "instanceId": "urn:uuid:...", "status": "REGISTERED", "iap": 1,
 *  "localAddress": "198.19.1.2", "contact": "sip:...", "publicAddress": null,
 *  "server": {"name": "sip1.example.com", "address": "198.19.0.1", "port": 5060,
 *  "transport": "udp"}, "expiresAt": "2026-...Z", "lastError": null}
 * </pre>
 */
final class ProfileJson {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  /** Keys a client may send. */
  static final Set<String> WRITABLE = Set.of("id", "aor", "registrar", "outboundProxy",
      "authUser", "password", "realm", "transport", "expires", "autoRegister", "snap",
      "fixedIap", "bearerFilter", "tlsClientCertificate");
  /** Keys the API shows but a client cannot set. */
  static final Set<String> READ_ONLY = Set.of("instanceId", "status", "iap", "localAddress",
      "contact", "expiresAt", "lastError", "keepAlive", "server");

  /** The API's name of each {@link SipProfile} component whose name differs. */
  private static final Map<String, String> API_FIELD = Map.of("snapId", "snap", "iapId",
      "fixedIap");

  private ProfileJson() {}

  /**
   * The profile with its registration.
   *
   * @param currentIap the IAP it registers through now, or {@code null}
   */
  static ObjectNode toJson(SipProfile p, RegistrationInfo info, Integer currentIap) {
    ObjectNode o = NODES.objectNode();
    o.put("id", p.id());
    o.put("aor", p.aor());
    o.put("registrar", p.registrar());
    o.put("outboundProxy", p.outboundProxy());
    o.put("authUser", p.authUser());
    o.put("realm", p.realm());
    o.put("transport", p.transport().sipName());
    o.put("expires", p.expires());
    o.put("autoRegister", p.autoRegister());
    o.put("snap", p.snapId());
    o.put("fixedIap", p.iapId());
    o.put("bearerFilter", filterName(p.bearerFilter()));
    // A name only: the key store and its password stay in the agent's configuration.
    o.put("tlsClientCertificate", p.tlsClientCertificate());
    o.put("instanceId", p.instanceId());
    o.put("status", info == null ? null : info.status().name());
    o.put("iap", currentIap);
    o.put("localAddress", info == null ? null : info.localAddress());
    o.put("contact", info == null ? null : info.contact());
    o.put("publicAddress", info == null ? null : info.publicAddress());
    o.set("server", info == null ? null : serverJson(info.server()));
    o.set("keepAlive", info == null || info.keepAliveKind() == null ? NODES.nullNode()
        : keepAliveJson(info));
    o.put("expiresAt", info == null || info.expiresAt() == null ? null
        : info.expiresAt().toString());
    o.set("lastError", info == null ? null : errorJson(info.lastError()));
    return o;
  }

  /** The keep-alive of the profile's outbound flow: its kind and when last answered. */
  private static JsonNode keepAliveJson(RegistrationInfo info) {
    ObjectNode o = NODES.objectNode();
    o.put("kind", info.keepAliveKind().name());
    o.put("lastAnswered", info.lastKeepAlive() == null ? null
        : info.lastKeepAlive().toString());
    return o;
  }

  /** The server its last REGISTER went to (RFC 3263), resolved: name, address, port, transport. */
  static JsonNode serverJson(io.sipalr.dns.SipTarget server) {
    if (server == null) {
      return NODES.nullNode();
    }
    ObjectNode o = NODES.objectNode();
    o.put("name", server.name());
    o.put("address", server.host());
    o.put("port", server.port());
    o.put("transport", server.transport());
    return o;
  }

  static JsonNode errorJson(RegistrationError error) {
    if (error == null) {
      return NODES.nullNode();
    }
    ObjectNode o = NODES.objectNode();
    o.put("kind", error.kind().name());
    o.put("sipStatus", error.sipStatus() == 0 ? null : error.sipStatus());
    o.put("reason", error.reason());
    o.put("retryInMs", error.retryIn() == null ? null : error.retryIn().toMillis());
    return o;
  }

  /**
   * A new profile from a POST body: the keys given over the defaults of {@link
   * SipProfileBuilder}.
   *
   * @throws ApiException naming the key at fault
   */
  static SipProfile forCreate(JsonNode body) {
    ObjectNode object = requireObject(body);
    JsonNode id = object.get("id");
    if (id == null || id.isNull()) {
      throw ApiException.invalidField("id", "profile: id: must be set");
    }
    if (!id.isTextual()) {
      throw ApiException.invalidField("id", "profile: id: must be a string");
    }
    return apply(object, SipProfileBuilder.forId(id.textValue()), id.textValue()).build();
  }

  /**
   * {@code stored} changed by a PUT body: the keys given replace the stored values ({@code
   * null} clears an optional one), absent keys keep them. A password left out is kept.
   *
   * @throws ApiException naming the key at fault, or when the body's id differs
   */
  static SipProfile forUpdate(JsonNode body, SipProfile stored) {
    ObjectNode object = requireObject(body);
    JsonNode id = object.get("id");
    if (id != null && !(id.isTextual() && id.textValue().equals(stored.id()))) {
      throw ApiException.invalidField("id", "profile " + ApiException.quote(stored.id())
          + ": id: must be absent or " + ApiException.quote(stored.id())
          + " (the id in the path); a profile cannot be renamed");
    }
    return apply(object, SipProfileBuilder.copyOf(stored), stored.id()).build();
  }

  /**
   * The message of a store's validation error with the API's key names, e.g. {@code
   * profile "alice": snap: must be a positive SNAP id, was 0}.
   */
  static ApiException invalid(ProfileValidationException e) {
    String field = apiField(e.field());
    String who = e.profileId() == null ? "profile" : "profile " + ApiException.quote(
        e.profileId());
    return ApiException.invalidField(field, who + ": " + field + ": " + e.problem());
  }

  static String apiField(String component) {
    return API_FIELD.getOrDefault(component, component);
  }

  static String filterName(BearerFilter filter) {
    return filter.name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  private static ObjectNode requireObject(JsonNode body) {
    if (body == null || !body.isObject()) {
      throw ApiException.badRequest("bad_request",
          "the body must be a JSON object with the profile's fields");
    }
    return (ObjectNode) body;
  }

  static List<String> keySet(ObjectNode object) {
    List<String> keys = new ArrayList<>();
    object.properties().forEach(e -> keys.add(e.getKey()));
    return keys;
  }

  private static SipProfileBuilder apply(ObjectNode object, SipProfileBuilder b, String id) {
    Field f = new Field(id);
    for (String key : keySet(object)) {
      if (READ_ONLY.contains(key)) {
        throw ApiException.invalidField(key, f.who() + ": " + key + ": is read-only; leave it"
            + " out");
      }
      if (!WRITABLE.contains(key)) {
        throw ApiException.invalidField(key, f.who() + ": unknown key " + ApiException.quote(key)
            + "; the keys are " + String.join(", ", new TreeSet<>(WRITABLE)));
      }
    }
    for (Map.Entry<String, JsonNode> e : object.properties()) {
      String key = e.getKey();
      JsonNode v = e.getValue();
      switch (key) {
        case "id" -> { } // checked by the caller
        case "aor" -> b.aor(f.string(key, v));
        case "registrar" -> b.registrar(f.string(key, v));
        case "outboundProxy" -> b.outboundProxy(f.string(key, v));
        case "authUser" -> b.authUser(f.string(key, v));
        case "password" -> b.password(f.string(key, v)); // errors never quote a value
        case "realm" -> b.realm(f.string(key, v));
        case "transport" -> b.transport(f.choice(key, v, Transport.values(),
            "\"auto\", \"udp\", \"tcp\" or \"tls\""));
        case "expires" -> b.expires(f.integer(key, v, "a whole number of seconds"));
        case "autoRegister" -> b.autoRegister(f.bool(key, v));
        case "snap" -> b.snapId(f.optionalId(key, v, "a SNAP id"));
        case "fixedIap" -> b.iapId(f.optionalId(key, v, "an IAP id"));
        case "bearerFilter" -> b.bearerFilter(f.choice(key, v, BearerFilter.values(),
            "\"any\", \"wlan-only\" or \"cellular-only\""));
        case "tlsClientCertificate" -> b.tlsClientCertificate(f.string(key, v));
        default -> throw new IllegalStateException("unhandled key " + key);
      }
    }
    return b;
  }

  /** Reads one key's value; its errors name the profile and the key, never a password. */
  private record Field(String id) {
    String who() {
      return "profile " + ApiException.quote(id);
    }

    ApiException wrong(String key, String problem) {
      return ApiException.invalidField(key, who() + ": " + key + ": " + problem);
    }

    String string(String key, JsonNode v) {
      if (v.isNull()) {
        return null;
      }
      if (!v.isTextual()) {
        throw wrong(key, "must be a string");
      }
      return v.textValue();
    }

    int integer(String key, JsonNode v, String what) {
      if (!v.isIntegralNumber() || !v.canConvertToInt()) {
        throw wrong(key, "must be " + what);
      }
      return v.intValue();
    }

    Integer optionalId(String key, JsonNode v, String what) {
      return v.isNull() ? null : integer(key, v, what + " or null");
    }

    boolean bool(String key, JsonNode v) {
      if (!v.isBoolean()) {
        throw wrong(key, "must be true or false");
      }
      return v.booleanValue();
    }

    /** One of {@code values}, spelt as its name in lower case with - for _ ({@code allowed}). */
    <E extends Enum<E>> E choice(String key, JsonNode v, E[] values, String allowed) {
      String text = v.isTextual()
          ? v.textValue().trim().toUpperCase(Locale.ROOT).replace('-', '_') : "";
      for (E value : values) {
        if (value.name().equals(text)) {
          return value;
        }
      }
      throw wrong(key, "must be " + allowed
          + (v.isTextual() ? ", was " + ApiException.quote(v.textValue()) : ""));
    }
  }
}
