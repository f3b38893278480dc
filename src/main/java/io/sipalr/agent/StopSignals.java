package io.sipalr.agent;

import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * SIGTERM and SIGINT (Ctrl-C) as a request for an orderly stop, so that the process exits 0.
 *
 * <p>Why not a shutdown hook alone: on SIGTERM the JVM runs its shutdown hooks and then exits
 * with status 143 (128 + 15; 130 for SIGINT) whatever the hooks did, so a service manager
 * ({@code docker stop}, systemd, Kubernetes) would record every normal stop as a failure.
 * Replacing the JVM's handlers with {@code sun.misc.Signal} (module jdk.unsupported, kept for
 * exactly this use; javac warns that it is internal API) turns the signal into a plain request:
 * the main thread deregisters, returns, and the process exits 0. Where a handler cannot be
 * installed (the JVM runs with {@code -Xrs}), the JVM's default stays: the shutdown hook still
 * deregisters, but the status is then 143.
 */
final class StopSignals {
  private static final Logger log = LoggerFactory.getLogger(StopSignals.class);
  private static final String[] SIGNALS = {"TERM", "INT"};

  private final CountDownLatch requested = new CountDownLatch(1);

  private StopSignals() {}

  /** Installs the handlers; a signal received from now on releases {@link #await()}. */
  static StopSignals install() {
    StopSignals stop = new StopSignals();
    for (String name : SIGNALS) {
      try {
        Signal.handle(new Signal(name), signal -> {
          // Later signals change nothing: the stop under way is bounded in time anyway.
          if (stop.requested.getCount() > 0) {
            log.info("SIG{} received: stopping", name);
            stop.requested.countDown();
          }
        });
      } catch (IllegalArgumentException e) {
        log.warn("cannot handle SIG{} ({}): on that signal the exit status will be 128 + its "
            + "number", name, e.getMessage());
      }
    }
    return stop;
  }

  /** Returns once SIGTERM or SIGINT was received. */
  void await() throws InterruptedException {
    requested.await();
  }
}
