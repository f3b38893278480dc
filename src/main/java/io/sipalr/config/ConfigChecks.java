package io.sipalr.config;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigOrigin;
import com.typesafe.config.ConfigValue;
import java.util.Collection;
import java.util.Locale;
import java.util.Optional;
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
          "unknown key" + suggestion(key, known).map(s -> " (did you mean '" + s + "'?)")
              .orElse("") + "; the keys are " + String.join(", ", new TreeSet<>(known)));
    }
  }

  /**
   * The known key {@code key} was most likely meant to be: the nearest by edit distance (case,
   * '_' for '-' and a transposition or two forgiven), or empty when none is near enough.
   */
  public static Optional<String> suggestion(String key, Collection<String> known) {
    String wanted = normal(key);
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (String candidate : new TreeSet<>(known)) {
      int d = distance(wanted, normal(candidate));
      if (d < bestDistance) {
        best = candidate;
        bestDistance = d;
      }
    }
    int allowed = Math.max(1, Math.min(3, wanted.length() / 3));
    return best != null && bestDistance <= allowed ? Optional.of(best) : Optional.empty();
  }

  private static String normal(String key) {
    return key.toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** Edit distance counting a swap of two neighbours as one edit (optimal string alignment). */
  private static int distance(String a, String b) {
    int[][] d = new int[a.length() + 1][b.length() + 1];
    for (int i = 0; i <= a.length(); i++) {
      d[i][0] = i;
    }
    for (int j = 0; j <= b.length(); j++) {
      d[0][j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        d[i][j] = Math.min(d[i - 1][j - 1] + cost, Math.min(d[i - 1][j], d[i][j - 1]) + 1);
        if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2)
            && a.charAt(i - 2) == b.charAt(j - 1)) {
          d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
      }
    }
    return d[a.length()][b.length()];
  }
}
