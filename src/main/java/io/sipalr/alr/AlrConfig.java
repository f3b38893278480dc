package io.sipalr.alr;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import io.sipalr.sip.MigrationOrder;
import java.util.Locale;

/**
 * The {@code alr} block of the configuration.
 *
 * @param order make-before-break (default) or break-before-make (rule 14)
 * @param registerRate REGISTERs per second at most when many profiles move at once, so that a
 *     carrier change of thousands of profiles does not flood the registrar
 * @param registerBurst how many may go at once before the rate applies
 */
public record AlrConfig(MigrationOrder order, int registerRate, int registerBurst) {

  public AlrConfig {
    if (registerRate < 1 || registerBurst < 1) {
      throw new IllegalArgumentException("alr.register-rate and alr.register-burst: must be ≥ 1");
    }
  }

  public static AlrConfig defaults() {
    return new AlrConfig(MigrationOrder.MAKE_BEFORE_BREAK, 2000, 200);
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
      return new AlrConfig(parsed, c.getInt("register-rate"), c.getInt("register-burst"));
    } catch (IllegalArgumentException e) {
      throw new ConfigException.BadValue(c.origin(), "alr", e.getMessage());
    }
  }
}
