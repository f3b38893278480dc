package io.sipalr.mobility;

import java.util.List;
import java.util.concurrent.ScheduledExecutorService;

/**
 * Where IAP availability comes from. A {@link MobilityManager} owns one: it starts it, fans its
 * reports out to every open {@link SnapConnection}, and closes it.
 */
public interface IapProvider extends AutoCloseable {

  /** Hears availability reports. */
  @FunctionalInterface
  interface Listener {
    /**
     * An IAP became available or unavailable, or, still available, changed its address (rule
     * 15: the same IAP on a new address is a move without a vote, so it is reported as such,
     * not as down-then-up). Called for one report at a time, in order, on the provider's
     * thread: return quickly and never block.
     */
    void iapChanged(IapState state);
  }

  /**
   * Starts reporting: {@code listener} first hears the current state of every configured IAP
   * (so that no change can fall between a snapshot and the first report), then every change.
   * Called once.
   */
  void start(Listener listener);

  /** The current state of every configured IAP, in configuration order. */
  List<IapState> snapshot();

  /**
   * Warnings about the host's set-up worth logging at start, e.g. an uplink without its own
   * routing table; none for providers that do not use real interfaces.
   */
  default List<String> routingWarnings() {
    return List.of();
  }

  /** Stops reporting and releases what the provider holds (threads, child processes). */
  @Override
  void close();

  /**
   * The provider {@code config} names.
   *
   * @param timers runs the linux provider's periodic re-read; shared, not owned
   */
  static IapProvider create(MobilityConfig config, ScheduledExecutorService timers) {
    switch (config.provider()) {
      case SCRIPTED:
        return new ScriptedIapProvider(config.iaps());
      case LINUX:
        return new LinuxIapProvider(config.iaps(), config.rescanInterval(), timers);
      default:
        throw new IllegalArgumentException("unknown provider " + config.provider());
    }
  }
}
