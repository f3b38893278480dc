package io.sipalr.calls;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import io.sipalr.media.AudioSource;
import io.sipalr.media.Wav;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The {@code calls} block (reference.conf; docs/calls.md): the default call policy, one per
 * profile in {@code calls.profiles}, the call limit, the media source and how calls signal
 * ({@link CallSettings}). Read once at start;
 * every mistake names its key.
 */
public record CallsConfig(CallPolicy defaultPolicy, Map<String, CallPolicy> perProfile,
    int maxCalls, Supplier<AudioSource> audio, Path recordDir, Duration recordLimit,
    CallSettings signalling, boolean makeBeforeBreak) {

  private static final Set<String> PROFILE_KEYS = Set.of("profile", "policy", "reject-status",
      "answer-delay", "decision-timeout", "decision-default");

  /** The policy of a profile: its own entry, else the default. */
  public CallPolicy policyOf(String profileId) {
    return perProfile.getOrDefault(profileId, defaultPolicy);
  }

  public static CallsConfig from(Config root) {
    Config c = root.getConfig("calls");
    CallPolicy def = policy(c, "calls", null);
    Map<String, CallPolicy> per = new HashMap<>();
    List<? extends Config> entries = c.getConfigList("profiles");
    for (int i = 0; i < entries.size(); i++) {
      Config e = entries.get(i);
      String path = "calls.profiles[" + i + "]";
      for (String key : e.root().keySet()) {
        if (!PROFILE_KEYS.contains(key)) {
          throw new ConfigException.BadPath(e.origin(), path + "." + key,
              "unknown key; the keys of a calls.profiles entry are " + PROFILE_KEYS);
        }
      }
      if (!e.hasPath("profile")) {
        throw new ConfigException.Missing(e.origin(), path + ".profile");
      }
      per.put(e.getString("profile"), policy(e.withFallback(c), path, e));
    }
    int max = c.getInt("max-calls");
    if (max < 1) {
      throw new ConfigException.BadValue(c.origin(), "calls.max-calls", "must be at least 1");
    }
    Config m = c.getConfig("media");
    Supplier<AudioSource> audio = switch (m.getString("source")) {
      case "tone" -> {
        double hz = m.getDouble("tone-hz");
        if (hz <= 0 || hz >= 4000) {
          throw new ConfigException.BadValue(m.origin(), "calls.media.tone-hz",
              "must be between 0 and 4000 (8 kHz sampling)");
        }
        yield () -> AudioSource.tone(hz, 0.3);
      }
      case "echo" -> () -> AudioSource.echo(25);
      case "wav" -> {
        String file = m.getString("wav-file");
        short[] samples;
        try {
          samples = Wav.read(Path.of(file));
        } catch (IOException | java.nio.file.InvalidPathException e) {
          throw new ConfigException.BadValue(m.origin(), "calls.media.wav-file",
              "cannot be looped: " + e.getMessage());
        }
        yield () -> AudioSource.loop(samples);
      }
      default -> throw new ConfigException.BadValue(m.origin(), "calls.media.source",
          "is '" + m.getString("source") + "'; must be tone, wav or echo");
    };
    String record = m.getString("record-dir");
    return new CallsConfig(def, Map.copyOf(per), max, audio,
        record.isBlank() ? null : Path.of(record), m.getDuration("record-limit"),
        CallSettings.from(c), m.getBoolean("make-before-break"));
  }

  private static CallPolicy policy(Config c, String path, Config own) {
    String kind = c.getString("policy");
    int status = c.getInt("reject-status");
    Duration delay = c.getDuration("answer-delay");
    Duration timeout = c.getDuration("decision-timeout");
    String byDefault = c.getString("decision-default");
    if (!byDefault.equals("answer") && !byDefault.equals("reject")) {
      throw new ConfigException.BadValue(c.origin(), path + ".decision-default",
          "is '" + byDefault + "'; must be answer or reject");
    }
    try {
      return new CallPolicy(switch (kind) {
        case "reject" -> CallPolicy.Kind.REJECT;
        case "auto-answer" -> CallPolicy.Kind.AUTO_ANSWER;
        case "application" -> CallPolicy.Kind.APPLICATION;
        default -> throw new ConfigException.BadValue(c.origin(), path + ".policy", "is '"
            + kind + "'; must be reject, auto-answer or application");
      }, status, delay, timeout, byDefault.equals("answer"));
    } catch (IllegalArgumentException e) {
      throw new ConfigException.BadValue(c.origin(), path, e.getMessage());
    }
  }
}
