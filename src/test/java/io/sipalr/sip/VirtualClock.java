package io.sipalr.sip;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.Delayed;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Time that moves only when a test says so: a {@link ScheduledExecutorService} (and an executor
 * for the profiles' serial executors) whose tasks run on the test's thread, in due-time order,
 * when the test advances the clock. Deterministic and fast: hours of registrar behaviour run in
 * microseconds, with no thread and no sleep.
 */
public final class VirtualClock extends AbstractExecutorService implements ScheduledExecutorService {
  private static final Instant EPOCH = Instant.parse("2026-01-01T00:00:00Z");

  private final PriorityQueue<Task> queue = new PriorityQueue<>(
      java.util.Comparator.<Task>comparingLong(t -> t.due).thenComparingLong(t -> t.order));
  private long nowMillis;
  private long seq;

  /** A {@link Clock} reading this virtual time. */
  final Clock clock = new Clock() {
    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Instant instant() {
      return EPOCH.plusMillis(nowMillis);
    }
  };

  /** Milliseconds since this clock started. */
  public long now() {
    return nowMillis;
  }

  /** This clock as {@link System#nanoTime()} would read it. */
  public long nanoTime() {
    return nowMillis * 1_000_000L;
  }

  /** The {@link Clock} view, for code that takes one. */
  public Clock clock() {
    return clock;
  }

  /** Runs every task due now, including those that they make due now. */
  public void runDue() {
    runUntil(nowMillis);
  }

  /** Moves time forward by {@code d}, running each task at its due time on the way. */
  public void advance(Duration d) {
    runUntil(nowMillis + d.toMillis());
  }

  /** When the next task is due, or -1 when nothing is scheduled. */
  public long nextDue() {
    Task t = queue.peek();
    while (t != null && t.isCancelled()) {
      queue.poll();
      t = queue.peek();
    }
    return t == null ? -1 : t.due;
  }

  private void runUntil(long until) {
    for (int ran = 0; ; ran++) {
      if (ran > 1_000_000) {
        throw new IllegalStateException("more than a million tasks at one instant: a loop");
      }
      long due = nextDue();
      if (due < 0 || due > until) {
        break;
      }
      Task t = queue.poll();
      nowMillis = Math.max(nowMillis, t.due);
      t.run();
    }
    nowMillis = Math.max(nowMillis, until);
  }

  @Override
  public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
    Task t = new Task(command, nowMillis + Math.max(0, unit.toMillis(delay)), seq++);
    queue.add(t);
    return t;
  }

  @Override
  public void execute(Runnable command) {
    schedule(command, 0, TimeUnit.MILLISECONDS);
  }

  private final class Task implements ScheduledFuture<Object> {
    final Runnable body;
    final long due;
    final long order;
    boolean cancelled;
    boolean done;

    Task(Runnable body, long due, long order) {
      this.body = body;
      this.due = due;
      this.order = order;
    }

    void run() {
      if (!cancelled) {
        done = true;
        body.run();
      }
    }

    @Override
    public long getDelay(TimeUnit unit) {
      return unit.convert(due - nowMillis, TimeUnit.MILLISECONDS);
    }

    @Override
    public int compareTo(Delayed o) {
      return Long.compare(getDelay(TimeUnit.MILLISECONDS), o.getDelay(TimeUnit.MILLISECONDS));
    }

    @Override
    public boolean cancel(boolean mayInterrupt) {
      if (done) {
        return false;
      }
      cancelled = true;
      return true;
    }

    @Override
    public boolean isCancelled() {
      return cancelled;
    }

    @Override
    public boolean isDone() {
      return done || cancelled;
    }

    @Override
    public Object get() {
      throw new UnsupportedOperationException();
    }

    @Override
    public Object get(long timeout, TimeUnit unit) {
      throw new UnsupportedOperationException();
    }
  }

  // What the SIP core does not use.

  @Override
  public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
    throw new UnsupportedOperationException();
  }

  @Override
  public ScheduledFuture<?> scheduleAtFixedRate(Runnable c, long i, long p, TimeUnit u) {
    return scheduleWithFixedDelay(c, i, p, u);
  }

  /** Repeats until cancelled; the future returned stands for every run. */
  @Override
  public ScheduledFuture<?> scheduleWithFixedDelay(Runnable c, long i, long d, TimeUnit u) {
    Repeating r = new Repeating();
    r.next = schedule(new Runnable() {
      @Override
      public void run() {
        c.run();
        if (!r.cancelled) {
          r.next = schedule(this, d, u);
        }
      }
    }, i, u);
    return r;
  }

  private static final class Repeating implements ScheduledFuture<Object> {
    ScheduledFuture<?> next;
    boolean cancelled;

    @Override
    public boolean cancel(boolean mayInterrupt) {
      cancelled = true;
      return next.cancel(mayInterrupt);
    }

    @Override
    public boolean isCancelled() {
      return cancelled;
    }

    @Override
    public boolean isDone() {
      return cancelled;
    }

    @Override
    public long getDelay(TimeUnit unit) {
      return next.getDelay(unit);
    }

    @Override
    public int compareTo(Delayed o) {
      return next.compareTo(o);
    }

    @Override
    public Object get() {
      throw new UnsupportedOperationException();
    }

    @Override
    public Object get(long timeout, TimeUnit unit) {
      throw new UnsupportedOperationException();
    }
  }

  @Override
  public void shutdown() {
  }

  @Override
  public List<Runnable> shutdownNow() {
    return List.of();
  }

  @Override
  public boolean isShutdown() {
    return false;
  }

  @Override
  public boolean isTerminated() {
    return false;
  }

  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) {
    return true;
  }
}
