package io.sipalr.concurrent;

import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs tasks one at a time, in submission order, on a shared pool: the per-profile (later
 * per-SNAP) state machines run on one of these, so their code needs no locks and no thread of
 * its own. At most one drain task per executor sits in the pool's queue, so the pool's queue is
 * bounded by the number of executors, not by the number of events.
 */
public final class SerialExecutor implements Executor {
  private static final Logger log = LoggerFactory.getLogger(SerialExecutor.class);

  private final Executor pool;
  private final ArrayDeque<Runnable> tasks = new ArrayDeque<>();
  private boolean scheduled;

  public SerialExecutor(Executor pool) {
    this.pool = pool;
  }

  @Override
  public void execute(Runnable task) {
    if (queue(task)) {
      pool.execute(this::drain);
    }
  }

  /**
   * Runs {@code task} on the calling thread when this executor has nothing running or waiting,
   * else queues it as {@link #execute} does; either way after everything submitted before it.
   * For hot paths (a SIP answer on a stack thread, a move): a thread hop less is tens of
   * microseconds less. The caller must hold no lock and may run queued tasks of this executor.
   */
  public void executeHere(Runnable task) {
    if (queue(task)) {
      drain(); // this task (the only one queued), what is queued meanwhile, then idle again
    }
  }

  /** Queues {@code task}; true when no drain runs or is scheduled, and the caller starts one. */
  private boolean queue(Runnable task) {
    synchronized (tasks) {
      tasks.add(task);
      if (scheduled) {
        return false;
      }
      scheduled = true;
      return true;
    }
  }

  private void drain() {
    while (true) {
      Runnable next;
      synchronized (tasks) {
        next = tasks.poll();
        if (next == null) {
          scheduled = false;
          return;
        }
      }
      try {
        next.run();
      } catch (RuntimeException | Error e) {
        log.error("task failed in serial executor", e);
      }
    }
  }
}
