package io.sipalr.sip;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The registrars found to answer no STUN keep-alive (AUTO mode): their new UDP flows start on
 * OPTIONS at once instead of proving it again on each move, and the fallback is logged once
 * per registrar. Bounded: the least recently found are forgotten first (and proven again).
 */
final class StunFallback {
  /** STUN requests left unanswered, each while an OPTIONS was answered, before falling back. */
  static final int UNANSWERED_BEFORE_FALLBACK = 2;
  private static final int MAX_REGISTRARS = 256;

  private final Map<String, Boolean> noStun = new LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
      return size() > MAX_REGISTRARS;
    }
  };

  private static String key(FlowKeepAlive.Flow flow) {
    return flow.transport().toUpperCase(java.util.Locale.ROOT) + " " + flow.host() + ":"
        + flow.port();
  }

  /** Whether {@code flow}'s registrar was found to answer no STUN. */
  synchronized boolean answersNoStun(FlowKeepAlive.Flow flow) {
    return noStun.containsKey(key(flow));
  }

  /** Records that {@code flow}'s registrar answers no STUN; {@code true} the first time. */
  synchronized boolean record(FlowKeepAlive.Flow flow) {
    return noStun.put(key(flow), Boolean.TRUE) == null;
  }
}
