package io.sipalr.alr;

import com.typesafe.config.Config;
import java.time.Duration;
import java.time.LocalTime;

/**
 * How the agent's own controller votes on migrations ({@code alr.policy}).
 *
 * <p>CONTRACT ONLY (to be implemented): see {@link PolicyController}.
 */
public sealed interface AlrPolicy {

  /** Allow every migration. */
  record Auto() implements AlrPolicy {}

  /**
   * Wait for a decision through the control API; after {@code timeout} apply
   * {@code defaultAllow}.
   */
  record Manual(Duration timeout, boolean defaultAllow) implements AlrPolicy {}

  /**
   * Decide by rules.
   *
   * @param preferWlan allow a move to a WLAN IAP whatever else holds (unless a rule forbids)
   * @param upgradesOnly refuse moves that are not to a better IAP of the SNAP
   * @param noCellularFrom start of the daily window in which cellular is refused, or null
   * @param noCellularUntil end of that window (may wrap past midnight), or null
   */
  record Rules(boolean preferWlan, boolean upgradesOnly, LocalTime noCellularFrom,
      LocalTime noCellularUntil) implements AlrPolicy {}

  /** Reads {@code alr.policy}; errors name the file and key. */
  static AlrPolicy from(Config root) {
    throw new UnsupportedOperationException("not implemented yet");
  }
}
