package io.sipalr.config;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigOrigin;
import com.typesafe.config.ConfigValue;
import java.util.Set;
import java.util.TreeSet;

/** Checks every configuration block shares, so that their errors read alike. */
public final class ConfigChecks {
  private ConfigChecks() {}

  /** Where {@code key} is set in {@code object}, or the object itself when it is missing. */
  public static ConfigOrigin originOf(ConfigObject object, String key) {
    ConfigValue value = object.get(key);
    return value == null ? object.origin() : value.origin();
  }

  /**
   * Refuses a key of {@code object} that is not in {@code known}: a misspelt setting would
   * otherwise be silently ignored. The error names the file, line and key path.
   */
  public static void rejectUnknownKeys(ConfigObject object, String path, Set<String> known) {
    Set<String> unknown = new TreeSet<>(object.keySet());
    unknown.removeAll(known);
    if (!unknown.isEmpty()) {
      String key = unknown.iterator().next();
      throw new ConfigException.BadValue(object.get(key).origin(), path + "." + key,
          "unknown key; the keys are " + String.join(", ", new TreeSet<>(known)));
    }
  }
}
