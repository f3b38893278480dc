package io.sipalr.mobility;

import io.sipalr.config.ConfigChecks;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigOrigin;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The {@code mobility} block of the agent's configuration:
 *
 * <pre>
 * mobility {
 *   provider = linux            # scripted | linux
 *   rescan-interval = 5s        # linux: re-read every interface this often, as a safety net
 *   iaps = [
 *     { id = 1, name = wlan, interface = wlan0, bearer = wlan, cost = 1 }
 *     { id = 2, name = lte, interface = cell0, address = "198.19.2.2", bearer = cellular,
 *       cost = 5 }
 *   ]
 *   snaps = [ { id = 1, name = internet, iaps = [1, 2] } ]   # IAPs best first
 * }
 * </pre>
 *
 * <p>Keys are kebab-case and unknown keys are errors. Every error is a {@link ConfigException}
 * naming the file and line and the key path, e.g. {@code mobility.iaps[1].bearer}.
 *
 * @param rescanInterval how often the linux provider re-reads every interface in case an event
 *     was missed; ignored by the scripted provider
 */
public record MobilityConfig(Provider provider, Duration rescanInterval, List<Iap> iaps,
    List<Snap> snaps) {

  /** Where IAP availability comes from. */
  public enum Provider {
    /** Set by hand (tests, the control API): {@link ScriptedIapProvider}. */
    SCRIPTED,
    /** The host's real interfaces: {@link LinuxIapProvider}. */
    LINUX
  }

  private static final String ROOT = "mobility";
  private static final Set<String> BLOCK_KEYS =
      Set.of("provider", "rescan-interval", "iaps", "snaps");
  private static final Set<String> IAP_KEYS =
      Set.of("id", "name", "interface", "address", "bearer", "cost");
  private static final Set<String> SNAP_KEYS = Set.of("id", "name", "iaps");
  private static final int MAX_INTERFACE_NAME = 15; // IFNAMSIZ - 1

  public MobilityConfig {
    iaps = List.copyOf(iaps);
    snaps = List.copyOf(snaps);
    if (rescanInterval.toMillis() < 100) {
      throw new IllegalArgumentException("mobility.rescan-interval: must be at least 100 ms");
    }
  }

  public Optional<Iap> iap(int id) {
    return iaps.stream().filter(iap -> iap.id() == id).findFirst();
  }

  public Optional<Snap> snap(int id) {
    return snaps.stream().filter(snap -> snap.id() == id).findFirst();
  }

  /** Reads the {@code mobility} block of {@code root} (defaults come from reference.conf). */
  public static MobilityConfig from(Config root) {
    ConfigObject block = root.getObject(ROOT);
    ConfigChecks.rejectUnknownKeys(block, ROOT, BLOCK_KEYS);
    Provider provider = choice(block.get("provider"), block.origin(), ROOT + ".provider",
        Provider.class);
    Duration rescanInterval;
    try {
      rescanInterval = root.getDuration(ROOT + ".rescan-interval");
    } catch (ConfigException e) {
      throw bad(block.get("rescan-interval").origin(), ROOT + ".rescan-interval",
          "must be a duration such as 5s");
    }
    if (rescanInterval.toMillis() < 100) {
      throw bad(block.get("rescan-interval").origin(), ROOT + ".rescan-interval",
          "must be at least 100 ms");
    }

    Map<Integer, Iap> iapById = new HashMap<>();
    Map<Integer, ConfigOrigin> iapOrigin = new HashMap<>();
    List<Iap> iaps = new ArrayList<>();
    ConfigList iapList = list(block, "iaps");
    for (int i = 0; i < iapList.size(); i++) {
      Element e = Element.of(iapList.get(i), ROOT + ".iaps[" + i + "]", IAP_KEYS);
      Iap iap = e.iap();
      ConfigOrigin first = iapOrigin.putIfAbsent(iap.id(), e.object.origin());
      if (first != null) {
        throw e.invalid("id", "duplicate IAP id " + iap.id() + ", already used at "
            + first.description());
      }
      iapById.put(iap.id(), iap);
      iaps.add(iap);
    }

    Map<Integer, ConfigOrigin> snapOrigin = new HashMap<>();
    List<Snap> snaps = new ArrayList<>();
    ConfigList snapList = list(block, "snaps");
    for (int i = 0; i < snapList.size(); i++) {
      Element e = Element.of(snapList.get(i), ROOT + ".snaps[" + i + "]", SNAP_KEYS);
      Snap snap = e.snap(iapById.keySet());
      ConfigOrigin first = snapOrigin.putIfAbsent(snap.id(), e.object.origin());
      if (first != null) {
        throw e.invalid("id", "duplicate SNAP id " + snap.id() + ", already used at "
            + first.description());
      }
      snaps.add(snap);
    }
    return new MobilityConfig(provider, rescanInterval, iaps, snaps);
  }

  private static ConfigList list(ConfigObject block, String key) {
    ConfigValue value = block.get(key);
    if (value == null || value.valueType() != ConfigValueType.LIST) {
      throw bad(value == null ? block.origin() : value.origin(), ROOT + "." + key,
          "must be a list [ { id = ... } ]");
    }
    return (ConfigList) value;
  }

  /** The constant {@code value} names, kebab-case; {@code owner} locates a missing value. */
  private static <E extends Enum<E>> E choice(ConfigValue value, ConfigOrigin owner, String path,
      Class<E> type) {
    List<String> names = new ArrayList<>();
    for (E constant : type.getEnumConstants()) {
      names.add(constant.name().toLowerCase(Locale.ROOT).replace('_', '-'));
    }
    if (value == null || value.valueType() != ConfigValueType.STRING) {
      throw bad(value == null ? owner : value.origin(), path,
          "must be one of " + String.join(", ", names));
    }
    String text = ((String) value.unwrapped()).trim();
    for (int i = 0; i < names.size(); i++) {
      if (names.get(i).equalsIgnoreCase(text)) {
        return type.getEnumConstants()[i];
      }
    }
    throw bad(value.origin(), path,
        "must be one of " + String.join(", ", names) + ", was \"" + text + "\"");
  }

  private static ConfigException bad(ConfigOrigin origin, String path, String problem) {
    return new ConfigException.BadValue(origin, path, problem);
  }

  /** One element of the {@code iaps} or {@code snaps} list; knows its key path for messages. */
  private static final class Element {
    final ConfigObject object;
    final String path;

    private Element(ConfigObject object, String path) {
      this.object = object;
      this.path = path;
    }

    static Element of(ConfigValue value, String path, Set<String> keys) {
      if (value.valueType() != ConfigValueType.OBJECT) {
        throw bad(value.origin(), path, "must be an object { id = ..., name = ... }");
      }
      ConfigObject object = (ConfigObject) value;
      ConfigChecks.rejectUnknownKeys(object, path, keys);
      return new Element(object, path);
    }

    Iap iap() {
      int id = id();
      String name = string("name", true);
      String interfaceName = string("interface", false);
      String address = string("address", false);
      if (interfaceName == null && address == null) {
        throw invalid(null, "needs an interface, an address, or both");
      }
      if (interfaceName != null && (interfaceName.isEmpty()
          || interfaceName.length() > MAX_INTERFACE_NAME
          || !interfaceName.chars().allMatch(ch -> ch > ' ' && ch < 0x7f && ch != '/'))) {
        throw invalid("interface", "must be a Linux interface name (1 to 15 characters, no"
            + " spaces or /)");
      }
      if (address != null) {
        try {
          IpLiterals.parse(address);
        } catch (IllegalArgumentException e) {
          throw invalid("address", "must be an IP address such as 127.0.0.2, was \"" + address
              + "\"");
        }
      }
      Bearer bearer = choice(object.get("bearer"), object.origin(), path + ".bearer",
          Bearer.class);
      Integer cost = integer("cost", false);
      if (cost != null && cost < 0) {
        throw invalid("cost", "must not be negative, was " + cost);
      }
      return new Iap(id, name, interfaceName, address, bearer, cost == null ? 0 : cost);
    }

    Snap snap(Set<Integer> iapIds) {
      int id = id();
      String name = string("name", true);
      ConfigValue value = object.get("iaps");
      if (value == null || value.valueType() != ConfigValueType.LIST) {
        throw invalid("iaps", "must be a list of IAP ids, best first, e.g. [1, 2]");
      }
      ConfigList list = (ConfigList) value;
      if (list.isEmpty()) {
        throw invalid("iaps", "must name at least one IAP");
      }
      List<Integer> ids = new ArrayList<>();
      for (int i = 0; i < list.size(); i++) {
        ConfigValue element = list.get(i);
        String elementPath = path + ".iaps[" + i + "]";
        Integer iapId = whole(element);
        if (iapId == null) {
          throw bad(element.origin(), elementPath, "must be an IAP id (a whole number)");
        }
        if (!iapIds.contains(iapId)) {
          throw bad(element.origin(), elementPath, "no IAP has id " + iapId);
        }
        if (ids.contains(iapId)) {
          throw bad(element.origin(), elementPath, "IAP " + iapId + " is listed twice");
        }
        ids.add(iapId);
      }
      return new Snap(id, name, ids);
    }

    private int id() {
      Integer id = integer("id", true);
      if (id < 1) {
        throw invalid("id", "must be a positive whole number, was " + id);
      }
      return id;
    }

    private String string(String key, boolean required) {
      ConfigValue value = object.get(key);
      if (value == null || value.valueType() == ConfigValueType.NULL) {
        if (required) {
          throw invalid(key, "must be set");
        }
        return null;
      }
      if (value.valueType() != ConfigValueType.STRING) {
        throw invalid(key, "must be a string");
      }
      return (String) value.unwrapped();
    }

    private Integer integer(String key, boolean required) {
      ConfigValue value = object.get(key);
      if (value == null || value.valueType() == ConfigValueType.NULL) {
        if (required) {
          throw invalid(key, "must be set");
        }
        return null;
      }
      Integer number = whole(value);
      if (number == null) {
        throw invalid(key, "must be a whole number");
      }
      return number;
    }

    /** The int {@code value} holds, or null: 1.5, 1e10 and "1" are not ints here. */
    private static Integer whole(ConfigValue value) {
      if (value.valueType() != ConfigValueType.NUMBER) {
        return null;
      }
      Object number = value.unwrapped();
      return number instanceof Integer ? (Integer) number : null;
    }

    /** An error at {@code key} of this element, or at the element itself when key is null. */
    ConfigException invalid(String key, String problem) {
      ConfigValue value = key == null ? null : object.get(key);
      ConfigOrigin origin = value != null ? value.origin() : object.origin();
      return bad(origin, key == null ? path : path + "." + key, problem);
    }
  }
}
