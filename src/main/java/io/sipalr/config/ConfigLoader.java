package io.sipalr.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigOrigin;
import com.typesafe.config.ConfigOriginFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigResolveOptions;
import com.typesafe.config.ConfigResolver;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Loads the agent's configuration file strictly: whatever the agent would otherwise ignore or
 * misread is an error at start that names the file, the line and the key.
 *
 * <ul>
 *   <li>a byte sequence that is not UTF-8 (typesafe-config would silently read U+FFFD), in the
 *       file or a file it includes;
 *   <li>a required include that is missing: named with the line of the include;
 *   <li>a key that reference.conf does not define, in any block, or a top-level block it does
 *       not define, with the nearest known key as a suggestion ("did you mean"); in a system
 *       property under one of those blocks ({@code -Dsip.prot=5080}) too;
 *   <li>a value taken from an environment variable names that variable
 *       ("environment variable SIPALR_SIP_PORT: ...") instead of "env variables".
 * </ul>
 *
 * <p>Lists (the seed profiles, the IAPs and SNAPs) have keys of their own, checked by their
 * readers ({@code ProfileSeeds}, {@code MobilityConfig}).
 */
public final class ConfigLoader {
  private static final Pattern REQUIRED_INCLUDE = Pattern.compile("\\binclude\\s+required\\s*\\(");
  private static final Pattern ANY_INCLUDE =
      Pattern.compile("\\binclude\\s+(?:required\\s*\\(\\s*)?(?:file\\s*\\(\\s*)?\"([^\"]+)\"");

  private ConfigLoader() {}

  /**
   * System properties over {@code file} over reference.conf (whose {@code ${?VAR}} read {@code
   * env}), resolved, after the checks of the class comment.
   *
   * @throws ConfigException naming the file (and line and key) of the first problem
   */
  public static Config load(Path file, Map<String, String> env) {
    if (!Files.isRegularFile(file)) {
      throw new ConfigException.Generic(file + ": no such configuration file");
    }
    checkUtf8(file);
    Config parsed;
    try {
      parsed = ConfigFactory.parseFile(file.toFile(),
          ConfigParseOptions.defaults().setAllowMissing(false));
    } catch (ConfigException.IO e) {
      throw missingInclude(file, e);
    }
    for (Path included : filesOf(parsed.root(), file)) {
      checkUtf8(included);
    }
    ConfigObject reference = ConfigFactory.defaultReferenceUnresolved().root();
    rejectUnknownKeys(parsed.root(), reference);
    rejectUnknownKeys(ourSystemProperties(reference), reference);
    ConfigResolveOptions options = ConfigResolveOptions.defaults()
        .setUseSystemEnvironment(false)
        .appendResolver(new Environment(Map.copyOf(env), null));
    // load(Config, options) puts ConfigFactory.defaultOverrides() (system properties) over the
    // file and reference.conf under it, exactly as ConfigFactory.load() does.
    return ConfigFactory.load(parsed, options);
  }

  // --- UTF-8 ---------------------------------------------------------------------------------

  /** Refuses a file that is not UTF-8, naming the line (and the key written there, if any). */
  static void checkUtf8(Path file) {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new ConfigException.IO(ConfigOriginFactory.newFile(file.toString()),
          "cannot read: " + IoReasons.of(e), e);
    }
    int bad = firstMalformed(bytes);
    if (bad < 0) {
      return;
    }
    int line = 1;
    int lineStart = 0;
    for (int i = 0; i < bad; i++) {
      if (bytes[i] == '\n') {
        line++;
        lineStart = i + 1;
      }
    }
    ConfigOrigin origin = ConfigOriginFactory.newFile(file.toString()).withLineNumber(line);
    String problem = String.format("not valid UTF-8 (byte 0x%02X at column %d); save the file "
        + "as UTF-8", bytes[bad] & 0xff, bad - lineStart + 1);
    Optional<String> key = keyAtLine(file, line);
    if (key.isPresent()) {
      throw new ConfigException.BadValue(origin, key.get(), problem);
    }
    throw new ConfigException.Parse(origin, problem);
  }

  /** The offset of the first byte that does not decode as UTF-8, or -1. */
  static int firstMalformed(byte[] bytes) {
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(bytes);
    CharBuffer out = CharBuffer.allocate(bytes.length + 1);
    CoderResult result = decoder.decode(in, out, true);
    if (result.isError()) {
      return in.position();
    }
    result = decoder.flush(out);
    return result.isError() ? in.position() : -1;
  }

  /** The key whose value is written at {@code line} of {@code file}, parsed leniently. */
  private static Optional<String> keyAtLine(Path file, int line) {
    try {
      List<String> found = new ArrayList<>();
      findAtLine(ConfigFactory.parseFile(file.toFile()).root(), "", file, line, found);
      return found.stream().findFirst();
    } catch (ConfigException e) {
      return Optional.empty(); // a syntax error too: the line alone must do
    }
  }

  private static void findAtLine(ConfigValue value, String path, Path file, int line,
      List<String> found) {
    if (value instanceof ConfigObject object) {
      for (Map.Entry<String, ConfigValue> e : object.entrySet()) {
        findAtLine(e.getValue(), join(path, e.getKey()), file, line, found);
      }
    } else if (value instanceof ConfigList list) {
      for (int i = 0; i < list.size(); i++) {
        findAtLine(list.get(i), path + "[" + i + "]", file, line, found);
      }
    } else if (value.origin().lineNumber() == line
        && sameFile(value.origin().filename(), file)) {
      found.add(path);
    }
  }

  /** Every file a value of {@code root} was read from, other than {@code main}. */
  private static Set<Path> filesOf(ConfigObject root, Path main) {
    Set<Path> files = new LinkedHashSet<>();
    collectFiles(root, main, files);
    return files;
  }

  private static void collectFiles(ConfigValue value, Path main, Set<Path> files) {
    String name = value.origin().filename();
    if (name != null && !sameFile(name, main)) {
      files.add(Path.of(name));
    }
    try {
      if (value instanceof ConfigObject object) {
        for (ConfigValue child : object.values()) {
          collectFiles(child, main, files);
        }
      } else if (value instanceof ConfigList list) {
        for (ConfigValue child : list) {
          collectFiles(child, main, files);
        }
      }
    } catch (ConfigException.NotResolved e) {
      // A merge with a substitution: its parts are checked where they are written.
    }
  }

  private static boolean sameFile(String name, Path file) {
    return name != null && Path.of(name).toAbsolutePath().normalize()
        .equals(file.toAbsolutePath().normalize());
  }

  // --- includes -------------------------------------------------------------------------------

  /**
   * A missing {@code include required(...)}: named with the file and line of the include, in
   * {@code file} or in a file it includes.
   */
  private static ConfigException missingInclude(Path file, ConfigException.IO e) {
    String name = e.origin() == null ? null : e.origin().description();
    if (name == null || sameFile(name, file)) {
      return new ConfigException.IO(ConfigOriginFactory.newFile(file.toString()),
          "cannot read: " + (e.getCause() instanceof IOException io ? IoReasons.of(io)
              : e.getMessage()), e);
    }
    Optional<ConfigException> located = locateInclude(file, name, e, new LinkedHashSet<>());
    return located.orElseGet(() -> new ConfigException.IO(
        ConfigOriginFactory.newFile(file.toString()),
        "required include \"" + name + "\" (here or in a file it includes) not found: "
            + (e.getCause() == null ? e.getMessage() : e.getCause().getMessage()), e));
  }

  private static Optional<ConfigException> locateInclude(Path file, String name,
      ConfigException.IO e, Set<Path> seen) {
    if (!seen.add(file.toAbsolutePath().normalize()) || seen.size() > 20) {
      return Optional.empty();
    }
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException | RuntimeException unreadable) {
      return Optional.empty();
    }
    Path dir = file.toAbsolutePath().getParent();
    for (int i = 0; i < lines.size(); i++) {
      String text = lines.get(i);
      if (REQUIRED_INCLUDE.matcher(text).find() && text.contains("\"" + name + "\"")) {
        String where = dir == null ? name : dir.resolve(name).normalize().toString();
        return Optional.of(new ConfigException.IO(
            ConfigOriginFactory.newFile(file.toString()).withLineNumber(i + 1),
            text.strip() + ": required include not found (" + where + ")", e));
      }
    }
    // Not here: look in the files this one includes (that exist).
    for (String text : lines) {
      Matcher m = ANY_INCLUDE.matcher(text);
      if (m.find() && dir != null) {
        Path included = dir.resolve(m.group(1));
        if (Files.isRegularFile(included)) {
          Optional<ConfigException> found = locateInclude(included, name, e, seen);
          if (found.isPresent()) {
            return found;
          }
        }
      }
    }
    return Optional.empty();
  }

  // --- unknown keys ---------------------------------------------------------------------------

  /** A key of {@code file} reference.conf does not know, at any depth outside lists. */
  static void rejectUnknownKeys(ConfigObject file, ConfigObject reference) {
    List<Unknown> unknown = new ArrayList<>();
    collectUnknown(file, reference, "", unknown);
    if (unknown.isEmpty()) {
      return;
    }
    unknown.sort(Comparator.comparing((Unknown u) -> String.valueOf(u.origin().filename()))
        .thenComparingInt(u -> u.origin().lineNumber()).thenComparing(Unknown::path));
    Unknown first = unknown.get(0);
    String more = unknown.size() == 1 ? "" : " (and " + (unknown.size() - 1) + " more: "
        + String.join(", ", unknown.subList(1, unknown.size()).stream().map(Unknown::path)
            .toList()) + ")";
    throw new ConfigException.BadValue(first.origin(), first.path(), first.problem() + more);
  }

  /**
   * The system properties under the blocks reference.conf defines ({@code -Dsip.prot=5080}
   * would otherwise be ignored); the JVM's own ({@code java.*}, {@code user.*}) are no concern.
   */
  private static ConfigObject ourSystemProperties(ConfigObject reference) {
    ConfigObject properties = ConfigFactory.systemProperties().root();
    ConfigObject ours = ConfigFactory.empty("system properties").root();
    for (String block : reference.keySet()) {
      ConfigValue value = properties.get(block);
      if (value != null) {
        ours = ours.withValue(block, value);
      }
    }
    return ours;
  }

  private record Unknown(ConfigOrigin origin, String path, String problem) {}

  private static void collectUnknown(ConfigObject file, ConfigObject reference, String path,
      List<Unknown> unknown) {
    Set<String> keys;
    try {
      keys = file.keySet();
    } catch (ConfigException.NotResolved e) {
      return; // an object merged with a substitution: its readers check what it resolves to
    }
    Set<String> known = new TreeSet<>(reference.keySet());
    for (String key : keys) {
      ConfigValue value = file.get(key);
      String keyPath = join(path, key);
      ConfigValue expected = reference.get(key);
      if (expected == null) {
        String suggestion = ConfigChecks.suggestion(key, known)
            .map(s -> " (did you mean '" + join(path, s) + "'?)").orElse("");
        String problem = path.isEmpty()
            ? "unknown top-level block" + suggestion + "; the blocks are "
                + String.join(", ", known)
            : "unknown key" + suggestion + "; the keys of '" + path + "' are "
                + String.join(", ", known);
        unknown.add(new Unknown(value.origin(), keyPath, problem));
      } else if (expected instanceof ConfigObject expectedObject
          && value instanceof ConfigObject object && !expectedObject.isEmpty()) {
        collectUnknown(object, expectedObject, keyPath, unknown);
      }
      // An empty block in reference.conf holds names the user chooses
      // (sip.tls.client-certificates): its reader checks what is under them.
      // A list (seeds, IAPs, SNAPs) is checked by its reader; a wrong type too.
    }
  }

  private static String join(String path, String key) {
    String quoted = key.matches("[A-Za-z0-9_-]+") ? key : "\"" + key + "\"";
    return path.isEmpty() ? quoted : path + "." + quoted;
  }

  // --- environment ----------------------------------------------------------------------------

  /**
   * {@code ${?VAR}} substitutions from {@code env}, each value's origin naming its variable, so
   * that an error about it says which variable to fix.
   */
  private record Environment(Map<String, String> env, ConfigResolver fallback)
      implements ConfigResolver {
    @Override
    public ConfigValue lookup(String path) {
      String value = env.get(path);
      if (value != null) {
        return ConfigValueFactory.fromAnyRef(value, "environment variable " + path);
      }
      return fallback == null ? null : fallback.lookup(path);
    }

    @Override
    public ConfigResolver withFallback(ConfigResolver next) {
      Objects.requireNonNull(next, "next");
      return new Environment(env, fallback == null ? next : fallback.withFallback(next));
    }
  }
}
