package io.sipalr.alr;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import io.sipalr.sip.MigrationOrder;
import java.time.Duration;
import java.util.Locale;

/**
 * The {@code alr} block of the configuration.
 *
 * @param order make-before-break (default) or break-before-make (rule 14)
 * @param registerRate REGISTERs per second at most when many profiles move at once, so that a
 *     carrier change of thousands of profiles does not flood the registrar
 * @param registerBurst how many may go at once before the rate applies
 * @param registerWindow REGISTER exchanges in flight at most (each from its first REGISTER to its
 *     final answer, challenge included): the registrar's own pace bounds a mass move
 * @param retryRejectedAfter with no usable IAP left, how long a SNAP waits before it tries the
 *     IAPs it rejected or refused again (a refresh), so that one bad moment does not keep a
 *     working uplink out for good; once per wait, never a storm
 */
public record AlrConfig(MigrationOrder order, int registerRate, int registerBurst,
    int registerWindow, Duration retryRejectedAfter) {

  public static final Duration DEFAULT_RETRY_REJECTED_AFTER = Duration.ofSeconds(30);
  public static final int DEFAULT_REGISTER_RATE = 5000;
  public static final int DEFAULT_REGISTER_BURST = 500;
  public static final int DEFAULT_REGISTER_WINDOW = 100;

  public AlrConfig {
    if (registerRate < 1 || registerBurst < 1 || registerWindow < 1) {
      throw new IllegalArgumentException(
          "alr.register-rate, alr.register-burst and alr.register-window: must be ≥ 1");
    }
    if (retryRejectedAfter.toMillis() < 100) {
      throw new IllegalArgumentException("alr.retry-rejected-after: must be at least 100 ms");
    }
  }

  public AlrConfig(MigrationOrder order, int registerRate, int registerBurst) {
    this(order, registerRate, registerBurst, DEFAULT_REGISTER_WINDOW,
        DEFAULT_RETRY_REJECTED_AFTER);
  }

  public static AlrConfig defaults() {
    return new AlrConfig(MigrationOrder.MAKE_BEFORE_BREAK, DEFAULT_REGISTER_RATE,
        DEFAULT_REGISTER_BURST);
  }

  public static AlrConfig from(Config root) {
    Config c = root.getConfig("alr");
    String order = c.getString("migration-order");
    MigrationOrder parsed = switch (order.toLowerCase(Locale.ROOT)) {
      case "make-before-break" -> MigrationOrder.MAKE_BEFORE_BREAK;
      case "break-before-make" -> MigrationOrder.BREAK_BEFORE_MAKE;
      default -> throw new ConfigException.BadValue(c.origin(), "alr.migration-order",
          "must be make-before-break or break-before-make, was \"" + order + "\"");
    };
    try {
      return new AlrConfig(parsed, c.getInt("register-rate"), c.getInt("register-burst"),
          c.getInt("register-window"), c.getDuration("retry-rejected-after"));
    } catch (IllegalArgumentException e) {
      throw new ConfigException.BadValue(c.origin(), "alr", e.getMessage());
    }
  }
}
