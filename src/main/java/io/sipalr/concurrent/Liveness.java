package io.sipalr.concurrent;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;

/** Whether a timer and the pool it hands work to still turn (the liveness probe's question). */
public final class Liveness {
  private Liveness() {}

  /**
   * Completes once a task has run on {@code timers} and then on {@code pool}; exceptionally
   * when either is stopped; never when one is stuck (the caller bounds the wait).
   */
  public static CompletableFuture<Void> ping(ScheduledExecutorService timers, Executor pool) {
    CompletableFuture<Void> turned = new CompletableFuture<>();
    try {
      timers.execute(() -> {
        try {
          pool.execute(() -> turned.complete(null));
        } catch (RejectedExecutionException e) {
          turned.completeExceptionally(e);
        }
      });
    } catch (RejectedExecutionException e) {
      turned.completeExceptionally(e);
    }
    return turned;
  }
}
