package io.sipalr.alr;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Spreads the REGISTERs of a mass move over time: a token bucket of {@code burst} tokens refilled
 * at {@code rate} per second. Work beyond it waits in a queue bounded by the number of profiles
 * that can move at once ({@link #CAPACITY}); one timer tick drains it, no thread of its own.
 */
final class RegisterPacer {
  private static final Logger log = LoggerFactory.getLogger(RegisterPacer.class);
  static final int CAPACITY = 1 << 17;
  private static final long TICK_MILLIS = 5;

  private final int rate;
  private final int burst;
  private final ScheduledExecutorService timers;
  private final ArrayDeque<Runnable> waiting = new ArrayDeque<>();
  private double tokens;
  private long refilledAt = System.nanoTime();
  private ScheduledFuture<?> drain;

  RegisterPacer(int rate, int burst, ScheduledExecutorService timers) {
    this.rate = rate;
    this.burst = burst;
    this.timers = timers;
    this.tokens = burst;
  }

  void submit(Runnable registerWork) {
    boolean now;
    synchronized (this) {
      refill();
      now = waiting.isEmpty() && tokens >= 1;
      if (now) {
        tokens--;
      } else if (waiting.size() >= CAPACITY) {
        log.warn("register pacer full ({} waiting): sending at once", waiting.size());
        now = true;
      } else {
        waiting.add(registerWork);
        if (drain == null) {
          drain = timers.scheduleWithFixedDelay(this::drainTick, TICK_MILLIS, TICK_MILLIS,
              TimeUnit.MILLISECONDS);
        }
      }
    }
    if (now) {
      registerWork.run();
    }
  }

  private void drainTick() {
    List<Runnable> due = new ArrayList<>();
    synchronized (this) {
      refill();
      while (tokens >= 1 && !waiting.isEmpty()) {
        tokens--;
        due.add(waiting.poll());
      }
      if (waiting.isEmpty() && drain != null) {
        drain.cancel(false);
        drain = null;
      }
    }
    due.forEach(Runnable::run);
  }

  private void refill() {
    long now = System.nanoTime();
    tokens = Math.min(burst, tokens + (now - refilledAt) / 1e9 * rate);
    refilledAt = now;
  }
}
