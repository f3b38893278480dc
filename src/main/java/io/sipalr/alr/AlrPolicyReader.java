package io.sipalr.alr;

import static io.sipalr.config.ConfigChecks.originOf;

import io.sipalr.config.ConfigChecks;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigOrigin;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import io.sipalr.alr.AlrPolicy.Auto;
import io.sipalr.alr.AlrPolicy.Manual;
import io.sipalr.alr.AlrPolicy.Rules;
import java.time.Duration;
import java.time.LocalTime;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.Set;

/**
 * Reads {@code alr.policy} (reference.conf documents it). Keys are kebab-case, unknown keys are
 * errors, and every error is a {@link ConfigException.BadValue} naming the file, line and key.
 */
final class AlrPolicyReader {
  private static final String PATH = "alr.policy";
  private static final Set<String> BLOCK_KEYS = Set.of("mode", "manual", "rules");
  private static final Set<String> MANUAL_KEYS = Set.of("timeout", "default");
  private static final Set<String> RULES_KEYS =
      Set.of("prefer-wlan", "upgrades-only", "no-cellular-from", "no-cellular-until",
          "defer-while-calls");

  private AlrPolicyReader() {}

  static AlrPolicy read(Config root) {
    ConfigObject alr = object(root.root(), "alr", "alr");
    ConfigObject block = object(alr, "policy", PATH);
    ConfigChecks.rejectUnknownKeys(block, PATH, BLOCK_KEYS);
    Config policy = block.toConfig();
    String mode = string(block, "mode", PATH + ".mode");
    switch (mode.trim().toLowerCase(Locale.ROOT)) {
      case "auto":
        return new Auto();
      case "manual": {
        ConfigObject manual = object(block, "manual", PATH + ".manual");
        ConfigChecks.rejectUnknownKeys(manual, PATH + ".manual", MANUAL_KEYS);
        Duration timeout;
        try {
          timeout = policy.getDuration("manual.timeout");
        } catch (ConfigException e) {
          throw bad(originOf(manual, "timeout"), PATH + ".manual.timeout",
              "must be a duration such as 30s");
        }
        if (timeout.isZero() || timeout.isNegative()) {
          throw bad(originOf(manual, "timeout"), PATH + ".manual.timeout",
              "must be positive, was " + timeout);
        }
        String def = string(manual, "default", PATH + ".manual.default");
        return switch (def.trim().toLowerCase(Locale.ROOT)) {
          case "allow" -> new Manual(timeout, true);
          case "disallow" -> new Manual(timeout, false);
          default -> throw bad(originOf(manual, "default"), PATH + ".manual.default",
              "must be allow or disallow, was \"" + def + "\"");
        };
      }
      case "rules": {
        ConfigObject rules = object(block, "rules", PATH + ".rules");
        ConfigChecks.rejectUnknownKeys(rules, PATH + ".rules", RULES_KEYS);
        boolean preferWlan = bool(rules, "prefer-wlan");
        boolean upgradesOnly = bool(rules, "upgrades-only");
        LocalTime from = timeOfDay(rules, "no-cellular-from");
        LocalTime until = timeOfDay(rules, "no-cellular-until");
        if ((from == null) != (until == null)) {
          String missing = from == null ? "no-cellular-from" : "no-cellular-until";
          throw bad(rules.origin(), PATH + ".rules." + missing,
              "must be set too: no-cellular-from and no-cellular-until go together");
        }
        boolean deferWhileCalls = rules.containsKey("defer-while-calls")
            && bool(rules, "defer-while-calls");
        return new Rules(preferWlan, upgradesOnly, from, until, deferWhileCalls);
      }
      default:
        throw bad(originOf(block, "mode"), PATH + ".mode",
            "must be auto, manual or rules, was \"" + mode + "\"");
    }
  }

  private static ConfigObject object(ConfigObject parent, String key, String path) {
    ConfigValue value = parent.get(key);
    if (value == null || value.valueType() != ConfigValueType.OBJECT) {
      throw bad(originOf(parent, key), path, "must be an object { ... }");
    }
    return (ConfigObject) value;
  }

  private static String string(ConfigObject object, String key, String path) {
    ConfigValue value = object.get(key);
    if (value == null || value.valueType() != ConfigValueType.STRING) {
      throw bad(originOf(object, key), path, "must be set (a word)");
    }
    return (String) value.unwrapped();
  }

  private static boolean bool(ConfigObject rules, String key) {
    ConfigValue value = rules.get(key);
    String path = PATH + ".rules." + key;
    if (value == null) {
      throw bad(rules.origin(), path, "must be set (true or false)");
    }
    if (value.valueType() == ConfigValueType.BOOLEAN) {
      return (Boolean) value.unwrapped();
    }
    // HOCON lets a string stand for a boolean (e.g. from an environment variable).
    if (value.valueType() == ConfigValueType.STRING) {
      switch (((String) value.unwrapped()).trim().toLowerCase(Locale.ROOT)) {
        case "true", "yes", "on":
          return true;
        case "false", "no", "off":
          return false;
        default:
          break;
      }
    }
    throw bad(value.origin(), path, "must be true or false");
  }

  private static LocalTime timeOfDay(ConfigObject rules, String key) {
    ConfigValue value = rules.get(key);
    String path = PATH + ".rules." + key;
    if (value == null || value.valueType() == ConfigValueType.NULL) {
      return null;
    }
    if (value.valueType() != ConfigValueType.STRING) {
      throw bad(value.origin(), path, "must be a time of day such as \"22:00\" (quoted)");
    }
    String text = ((String) value.unwrapped()).trim();
    try {
      return LocalTime.parse(text);
    } catch (DateTimeParseException e) {
      throw bad(value.origin(), path,
          "must be a time of day such as \"22:00\", was \"" + text + "\"");
    }
  }

  private static ConfigException bad(ConfigOrigin origin, String path, String problem) {
    return new ConfigException.BadValue(origin, path, problem);
  }
}
