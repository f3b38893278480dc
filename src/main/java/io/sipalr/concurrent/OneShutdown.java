package io.sipalr.concurrent;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A shutdown that happens once: the first caller runs it; a later one (another thread, a
 * shutdown hook) waits for it to finish, within its own bound, and returns.
 */
public final class OneShutdown {
  private static final Logger log = LoggerFactory.getLogger(OneShutdown.class);

  private final AtomicBoolean started = new AtomicBoolean();
  private final CompletableFuture<Void> finished = new CompletableFuture<>();

  /** Runs {@code shutdown} if no call has yet, else waits up to {@code bound} for that one. */
  public void run(Duration bound, Runnable shutdown) {
    if (!started.compareAndSet(false, true)) {
      try {
        finished.get(bound.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (ExecutionException | TimeoutException e) {
        log.warn("shutdown: the shutdown under way did not finish within {} ms",
            bound.toMillis());
      }
      return;
    }
    try {
      shutdown.run();
    } finally {
      finished.complete(null);
    }
  }
}
