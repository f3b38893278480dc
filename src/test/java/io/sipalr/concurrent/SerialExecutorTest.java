package io.sipalr.concurrent;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class SerialExecutorTest {
  private final ExecutorService pool = Executors.newFixedThreadPool(4);

  @AfterEach
  void stop() {
    pool.shutdownNow();
  }

  @Test
  void executeHereRunsOnTheCallingThreadWhenIdle() {
    SerialExecutor serial = new SerialExecutor(pool);
    Thread[] ranOn = new Thread[1];
    serial.executeHere(() -> ranOn[0] = Thread.currentThread());
    assertSame(Thread.currentThread(), ranOn[0]);
  }

  @Test
  void executeHereQueuesBehindWhatIsRunningAndKeepsTheOrder() throws Exception {
    SerialExecutor serial = new SerialExecutor(pool);
    CountDownLatch release = new CountDownLatch(1);
    List<String> order = new ArrayList<>(); // touched only by the executor's tasks
    CountDownLatch done = new CountDownLatch(1);
    serial.execute(() -> {
      awaitQuietly(release);
      order.add("first");
    });
    serial.executeHere(() -> order.add("second")); // busy: queued, returns at once
    serial.execute(() -> {
      order.add("third");
      done.countDown();
    });
    release.countDown();
    assertTrue(done.await(10, TimeUnit.SECONDS));
    assertEquals(List.of("first", "second", "third"), order);
  }

  @Test
  void tasksNeverOverlapWhateverTheMixOfThreadsAndEntryPoints() throws Exception {
    SerialExecutor serial = new SerialExecutor(pool);
    AtomicBoolean running = new AtomicBoolean();
    AtomicInteger overlaps = new AtomicInteger();
    AtomicInteger ran = new AtomicInteger();
    int perThread = 20_000;
    ExecutorService callers = Executors.newFixedThreadPool(3);
    try {
      for (int t = 0; t < 3; t++) {
        boolean here = t != 0;
        callers.execute(() -> {
          for (int i = 0; i < perThread; i++) {
            Runnable task = () -> {
              if (!running.compareAndSet(false, true)) {
                overlaps.incrementAndGet();
              }
              ran.incrementAndGet();
              running.set(false);
            };
            if (here) {
              serial.executeHere(task);
            } else {
              serial.execute(task);
            }
          }
        });
      }
      callers.shutdown();
      assertTrue(callers.awaitTermination(30, TimeUnit.SECONDS));
      await().atMost(Duration.ofSeconds(30)).until(() -> ran.get() == 3 * perThread);
    } finally {
      callers.shutdownNow();
    }
    assertEquals(3 * perThread, ran.get());
    assertEquals(0, overlaps.get());
    assertFalse(running.get());
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
