package io.sipalr.profile;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigOrigin;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import io.sipalr.config.ConfigChecks;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.IntPredicate;

/**
 * Profiles declared in the agent's HOCON configuration, imported by
 * {@link ProfileStore#importSeeds} when their id is absent from the store:
 *
 * <pre>
 * profiles = [
 *   { id = alice, aor = "sip:alice@sipalr.test", registrar = "sip:127.0.0.1:5060",
 *     password = ${?ALICE_PASSWORD}, transport = udp, expires = 600, snap = 1,
 *     bearer-filter = wlan-only }
 * ]
 * </pre>
 *
 * <p>Keys are kebab-case; {@code snap} and {@code iap} hold the ids. A seed has no instance id:
 * the store generates it. Any mistake, an unknown key included, is a
 * {@link ProfileValidationException} naming the file and line, the key path
 * ({@code profiles[1].transport}) and the profile.
 */
public final class ProfileSeeds {

  /** Seed key to {@link SipProfile} component; the order is the one messages list them in. */
  private static final Map<String, String> FIELD_OF_KEY = orderedMap(
      "id", "id",
      "aor", "aor",
      "registrar", "registrar",
      "outbound-proxy", "outboundProxy",
      "auth-user", "authUser",
      "password", "password",
      "realm", "realm",
      "transport", "transport",
      "expires", "expires",
      "auto-register", "autoRegister",
      "snap", "snapId",
      "iap", "iapId",
      "bearer-filter", "bearerFilter",
      "tls-client-certificate", "tlsClientCertificate");

  private ProfileSeeds() {}

  /**
   * Reads the list at {@code path}; an absent path means no seeds. Every seed is validated and
   * ids are unique.
   */
  public static List<SipProfile> fromConfig(Config config, String path) {
    return fromConfig(config, path, snap -> true, iap -> true);
  }

  /**
   * {@link #fromConfig(Config, String)}, and every seed's {@code snap} and {@code iap} must
   * pass {@code knownSnap} and {@code knownIap} (the mobility configuration defines them): all
   * seeds are checked before any is stored, each error naming file, line and key.
   */
  public static List<SipProfile> fromConfig(Config config, String path, IntPredicate knownSnap,
      IntPredicate knownIap) {
    Config resolved = config.resolve();
    if (!resolved.hasPath(path)) {
      return List.of();
    }
    ConfigValue value = resolved.getValue(path);
    if (value.valueType() != ConfigValueType.LIST) {
      throw new ProfileValidationException(null, path, "must be a list of profiles [ { id = ... } ]",
          locate(value.origin(), path));
    }
    ConfigList list = (ConfigList) value;
    List<SipProfile> seeds = new ArrayList<>();
    Map<String, ConfigOrigin> originOfId = new HashMap<>();
    for (int i = 0; i < list.size(); i++) {
      String keyPath = path + "[" + i + "]";
      ConfigValue element = list.get(i);
      if (element.valueType() != ConfigValueType.OBJECT) {
        throw new ProfileValidationException(null, path, "must be an object { id = ..., aor = ... }",
            locate(element.origin(), keyPath));
      }
      SeedReader seed = new SeedReader((ConfigObject) element, keyPath);
      SipProfile profile = seed.read();
      if (profile.snapId() != null && !knownSnap.test(profile.snapId())) {
        throw seed.invalid("snap", "names SNAP " + profile.snapId()
            + ", which mobility.snaps does not define");
      }
      if (profile.iapId() != null && !knownIap.test(profile.iapId())) {
        throw seed.invalid("iap", "names IAP " + profile.iapId()
            + ", which mobility.iaps does not define");
      }
      ConfigOrigin first = originOfId.putIfAbsent(profile.id(), element.origin());
      if (first != null) {
        throw new ProfileValidationException(profile.id(), "id",
            "duplicate id, already used by the profile at " + first.description(),
            seed.locate("id"));
      }
      seeds.add(profile);
    }
    return List.copyOf(seeds);
  }

  private static String locate(ConfigOrigin origin, String keyPath) {
    return origin.description() + ": " + keyPath;
  }

  /** Reads one list element; knows its key path for messages. */
  private static final class SeedReader {
    private final ConfigObject object;
    private final Config values;
    private final String keyPath;
    private String id;

    SeedReader(ConfigObject object, String keyPath) {
      this.object = object;
      this.values = object.toConfig();
      this.keyPath = keyPath;
    }

    SipProfile read() {
      id = string("id");
      if (id == null) {
        throw new ProfileValidationException(null, "id", "must be set", locate("id"));
      }
      Set<String> unknown = new TreeSet<>(object.keySet());
      unknown.removeAll(FIELD_OF_KEY.keySet());
      if (!unknown.isEmpty()) {
        String key = unknown.iterator().next();
        throw new ProfileValidationException(id, key,
            "unknown key; the keys are " + String.join(", ", FIELD_OF_KEY.keySet())
                + ConfigChecks.suggestion(key, FIELD_OF_KEY.keySet())
                    .map(known -> "; did you mean " + known + "?").orElse(""),
            locate(key));
      }
      SipProfileBuilder builder = SipProfileBuilder.forId(id)
          .aor(string("aor"))
          .registrar(string("registrar"))
          .outboundProxy(string("outbound-proxy"))
          .authUser(string("auth-user"))
          .password(string("password"))
          .realm(string("realm"))
          .tlsClientCertificate(string("tls-client-certificate"));
      Transport transport = choice("transport", Transport.class);
      if (transport != null) {
        builder.transport(transport);
      }
      Integer expires = integer("expires");
      if (expires != null) {
        builder.expires(expires);
      }
      Boolean autoRegister = bool("auto-register");
      if (autoRegister != null) {
        builder.autoRegister(autoRegister);
      }
      builder.snapId(integer("snap")).iapId(integer("iap"));
      BearerFilter bearerFilter = choice("bearer-filter", BearerFilter.class);
      if (bearerFilter != null) {
        builder.bearerFilter(bearerFilter);
      }
      SipProfile profile = builder.build();
      try {
        return ProfileValidator.validate(profile);
      } catch (ProfileValidationException e) {
        String key = FIELD_OF_KEY.entrySet().stream()
            .filter(entry -> entry.getValue().equals(e.field()))
            .map(Map.Entry::getKey)
            .findFirst()
            .orElse(e.field());
        throw e.at(locate(key));
      }
    }

    /** The origin of {@code key}'s value (file and line), or of the element when absent. */
    String locate(String key) {
      ConfigValue value = object.get(key);
      ConfigOrigin origin = value != null ? value.origin() : object.origin();
      return ProfileSeeds.locate(origin, keyPath + "." + key);
    }

    private String string(String key) {
      return get(key, "must be a string", values::getString);
    }

    private Integer integer(String key) {
      Number number = get(key, "must be a whole number", values::getNumber);
      if (number == null) {
        return null;
      }
      // getNumber keeps 1.5 a double and 1e10 a long, which getInt would silently cut.
      boolean whole = number instanceof Integer || number instanceof Long;
      if (!whole || number.longValue() != number.intValue()) {
        throw invalid(key, "must be a whole number from " + Integer.MIN_VALUE + " to "
            + Integer.MAX_VALUE);
      }
      return number.intValue();
    }

    private Boolean bool(String key) {
      return get(key, "must be true or false", values::getBoolean);
    }

    private <E extends Enum<E>> E choice(String key, Class<E> type) {
      String text = string(key);
      if (text == null) {
        return null;
      }
      List<String> names = new ArrayList<>();
      for (E constant : type.getEnumConstants()) {
        String name = constant.name().toLowerCase(Locale.ROOT).replace('_', '-');
        if (name.equalsIgnoreCase(text.trim())) {
          return constant;
        }
        names.add(name);
      }
      throw invalid(key, "must be one of " + String.join(", ", names) + ", was "
          + ProfileValidationException.quote(text));
    }

    /** Absent and {@code null} both mean "not set". */
    private <T> T get(String key, String typeProblem, Function<String, T> getter) {
      if (!values.hasPath(key)) {
        return null;
      }
      try {
        return getter.apply(key);
      } catch (ConfigException e) {
        // The config library's message is not used: for a password it could quote the value.
        throw invalid(key, typeProblem);
      }
    }

    ProfileValidationException invalid(String key, String problem) {
      return new ProfileValidationException(id, FIELD_OF_KEY.getOrDefault(key, key), problem,
          locate(key));
    }
  }

  private static Map<String, String> orderedMap(String... keysAndValues) {
    Map<String, String> map = new LinkedHashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      map.put(keysAndValues[i], keysAndValues[i + 1]);
    }
    return Collections.unmodifiableMap(map);
  }
}
