package io.sipalr.alr;

import com.typesafe.config.Config;
import io.sipalr.mobility.Bearer;
import java.time.Duration;
import java.time.LocalTime;
import java.util.Locale;
import java.util.Objects;

/**
 * How the agent's own controller votes on migrations ({@code alr.policy}): see {@link
 * PolicyController}. Only upgrades are ever voted on; a downgrade (the current IAP was lost) is
 * never asked about (docs/alr-rules.md, rule 7), and the profile's bearer filter is enforced by
 * the mobility layer before any policy sees an offer.
 */
public sealed interface AlrPolicy {

  /** The policy's name as {@code alr.policy.mode} spells it: auto, manual or rules. */
  default String mode() {
    return getClass().getSimpleName().toLowerCase(Locale.ROOT);
  }

  /** Allow every migration. */
  record Auto() implements AlrPolicy {}

  /**
   * Wait for a decision through the control API; after {@code timeout} apply
   * {@code defaultAllow}.
   */
  record Manual(Duration timeout, boolean defaultAllow) implements AlrPolicy {
    public Manual {
      Objects.requireNonNull(timeout, "timeout");
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("timeout must be positive, was " + timeout);
      }
    }
  }

  /**
   * Decide by rules.
   *
   * @param preferWlan allow a move to a WLAN IAP whatever else holds (unless a rule forbids)
   * @param upgradesOnly refuse moves that are not to a better IAP of the SNAP
   * @param noCellularFrom start of the daily window in which cellular is refused, or null
   * @param noCellularUntil end of that window (may wrap past midnight), or null
   * @param deferWhileCalls refuse a move while the profile has calls under way; the
   *     {@link PolicyController} offers the best IAP again once they have ended. A lost IAP
   *     moves the profile (and its calls) without a vote, whatever this says.
   */
  record Rules(boolean preferWlan, boolean upgradesOnly, LocalTime noCellularFrom,
      LocalTime noCellularUntil, boolean deferWhileCalls) implements AlrPolicy {

    public Rules {
      if ((noCellularFrom == null) != (noCellularUntil == null)) {
        throw new IllegalArgumentException(
            "no-cellular-from and no-cellular-until: set both or neither");
      }
    }

    /** Rules that do not weigh calls. */
    public Rules(boolean preferWlan, boolean upgradesOnly, LocalTime noCellularFrom,
        LocalTime noCellularUntil) {
      this(preferWlan, upgradesOnly, noCellularFrom, noCellularUntil, false);
    }

    /** {@link #decide(Bearer, boolean, LocalTime, MigrationCalls)} for a profile without calls. */
    public Verdict decide(Bearer offered, boolean upgrade, LocalTime now) {
      return decide(offered, upgrade, now, MigrationCalls.NONE);
    }

    /**
     * The vote on a move to an IAP of bearer {@code offered}. In order: the no-cellular window
     * refuses cellular (a rule that forbids, which nothing overrides); defer-while-calls
     * refuses while the profile has calls; prefer-wlan allows WLAN; upgrades-only refuses a
     * move that is not an upgrade; anything else is allowed.
     *
     * @param upgrade whether the offered IAP ranks better in the SNAP than the current one
     * @param now the local time of day
     * @param calls the profile's calls the move would touch
     */
    public Verdict decide(Bearer offered, boolean upgrade, LocalTime now, MigrationCalls calls) {
      if (offered == Bearer.CELLULAR && inNoCellularWindow(now)) {
        return new Verdict(false, "cellular is refused from " + noCellularFrom + " until "
            + noCellularUntil + " (now " + now.withNano(0) + ")");
      }
      if (deferWhileCalls && calls.count() > 0) {
        return new Verdict(false, calls.count() + " call(s) under way " + calls.callIds()
            + ": the move waits until they end (defer-while-calls)");
      }
      if (preferWlan && offered == Bearer.WLAN) {
        return new Verdict(true, "WLAN is preferred");
      }
      if (upgradesOnly && !upgrade) {
        return new Verdict(false, "only upgrades are allowed and this is not one");
      }
      return new Verdict(true, "no rule refuses it");
    }

    /** Whether {@code now} is in [from, until), the window wrapping past midnight if needed. */
    boolean inNoCellularWindow(LocalTime now) {
      if (noCellularFrom == null || noCellularFrom.equals(noCellularUntil)) {
        return false;
      }
      if (noCellularFrom.isBefore(noCellularUntil)) {
        return !now.isBefore(noCellularFrom) && now.isBefore(noCellularUntil);
      }
      return !now.isBefore(noCellularFrom) || now.isBefore(noCellularUntil);
    }
  }

  /** A vote and why, for the log. */
  record Verdict(boolean allow, String reason) {}

  /** Reads {@code alr.policy}; errors name the file and key. */
  static AlrPolicy from(Config root) {
    return AlrPolicyReader.read(root);
  }
}
