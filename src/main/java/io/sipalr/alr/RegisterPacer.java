package io.sipalr.alr;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Spreads the REGISTERs of a mass move over time so that the registrar keeps up: at most
 * {@code window} REGISTER exchanges in flight (each one held from its first REGISTER until it is
 * answered for good, challenge included, as SIPp's {@code -l}), and a token bucket of
 * {@code burst} tokens refilled at {@code rate} per second on top. The window is what adapts to
 * a slow registrar: its answers are the clock. Work beyond them waits in a queue bounded by the
 * number of profiles that can move at once ({@link #CAPACITY}); answers and one timer tick drain
 * it, no thread of its own.
 */
final class RegisterPacer {
  private static final Logger log = LoggerFactory.getLogger(RegisterPacer.class);
  static final int CAPACITY = 1 << 17;
  private static final long TICK_MILLIS = 2;

  private final int rate;
  private final int burst;
  private final int window;
  private final ScheduledExecutorService timers;
  private final ArrayDeque<Supplier<? extends CompletionStage<?>>> waiting = new ArrayDeque<>();
  private double tokens;
  private final java.util.function.LongSupplier nanoTime;
  private long refilledAt;
  private int inFlight;
  private ScheduledFuture<?> tick;
  /** One thread at a time starts work; others that find it busy ask it to look again. */
  private boolean draining;
  private boolean drainAgain;

  RegisterPacer(int rate, int burst, int window, ScheduledExecutorService timers) {
    this(rate, burst, window, timers, System::nanoTime);
  }

  /** With the time source of {@code nanoTime} (a virtual clock in tests). */
  RegisterPacer(int rate, int burst, int window, ScheduledExecutorService timers,
      java.util.function.LongSupplier nanoTime) {
    this.nanoTime = nanoTime;
    this.refilledAt = nanoTime.getAsLong();
    this.rate = rate;
    this.burst = burst;
    this.window = window;
    this.timers = timers;
    this.tokens = burst;
  }

  /**
   * Runs {@code registerWork} now or later, in submission order; the stage it returns must
   * complete when its REGISTER exchange is over (answered, failed or abandoned), and always does.
   */
  void submit(Supplier<? extends CompletionStage<?>> registerWork) {
    boolean overflow = false;
    synchronized (this) {
      if (waiting.size() >= CAPACITY) {
        overflow = true;
        inFlight++;
      } else {
        waiting.add(registerWork);
      }
    }
    if (overflow) {
      log.warn("register pacer full ({} waiting): sending at once", CAPACITY);
      start(registerWork);
    } else {
      drain();
    }
  }

  /** REGISTER exchanges started and not yet over (for tests and status). */
  synchronized int inFlight() {
    return inFlight;
  }

  synchronized int waiting() {
    return waiting.size();
  }

  private void drain() {
    synchronized (this) {
      if (draining) {
        drainAgain = true;
        return;
      }
      draining = true;
    }
    List<Supplier<? extends CompletionStage<?>>> due = new ArrayList<>();
    while (true) {
      synchronized (this) {
        refill();
        while (!waiting.isEmpty() && tokens >= 1 && inFlight < window) {
          tokens--;
          inFlight++;
          due.add(waiting.poll());
        }
        if (due.isEmpty() && !drainAgain) {
          draining = false;
          // Only the rate needs the clock; a full window is drained by the answers.
          boolean needTick = !waiting.isEmpty() && inFlight < window;
          if (needTick && tick == null) {
            tick = timers.scheduleWithFixedDelay(this::drain, TICK_MILLIS, TICK_MILLIS,
                TimeUnit.MILLISECONDS);
          } else if (!needTick && tick != null) {
            tick.cancel(false);
            tick = null;
          }
          return;
        }
        drainAgain = false;
      }
      // Outside the lock: work may complete at once and come back here (drainAgain).
      due.forEach(this::start);
      due.clear();
    }
  }

  private void start(Supplier<? extends CompletionStage<?>> work) {
    CompletionStage<?> over;
    try {
      over = work.get();
    } catch (RuntimeException e) {
      log.warn("REGISTER work failed to start: {}", e.toString());
      release();
      return;
    }
    over.whenComplete((result, error) -> release());
  }

  private void release() {
    synchronized (this) {
      inFlight--;
    }
    drain();
  }

  private void refill() {
    long now = nanoTime.getAsLong();
    tokens = Math.min(burst, tokens + (now - refilledAt) / 1e9 * rate);
    refilledAt = now;
  }
}
