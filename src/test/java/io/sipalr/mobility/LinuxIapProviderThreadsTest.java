package io.sipalr.mobility;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The linux provider's threads, with a scripted reader in place of {@code ip -j addr show} and
 * no {@code ip monitor}: runs anywhere, no root needed.
 */
class LinuxIapProviderThreadsTest {
  private static final Iap WLAN = new Iap(1, "wlan", "wlan0", null, Bearer.WLAN, 1);

  private final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor();
  private LinuxIapProvider provider;

  @AfterEach
  void stop() {
    if (provider != null) {
      provider.close();
    }
    timers.shutdownNow();
  }

  @Test
  void aSlowIpLeavesTheTimerAndTheLockFreeAndItsResultIsReportedAfterwards() throws Exception {
    InetAddress address = InetAddress.getByName("198.19.0.2");
    CountDownLatch reading = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger reads = new AtomicInteger();
    AtomicReference<String> readOn = new AtomicReference<>();
    LinuxIapProvider.LinkReader slowSecondRead = () -> {
      if (reads.incrementAndGet() == 1) {
        return Map.of("wlan0", new LinuxIapProvider.Link("wlan0", false, List.of()));
      }
      readOn.compareAndSet(null, Thread.currentThread().getName());
      reading.countDown();
      try {
        if (!release.await(10, TimeUnit.SECONDS)) { // an ip that hangs
          throw new java.io.IOException("not released");
        }
      } catch (InterruptedException e) {
        throw new java.io.IOException("interrupted", e);
      }
      return Map.of("wlan0", new LinuxIapProvider.Link("wlan0", true, List.of(address)));
    };
    BlockingQueue<IapState> reports = new LinkedBlockingQueue<>();
    provider = new LinuxIapProvider(List.of(WLAN), Duration.ofMillis(20), timers,
        slowSecondRead, false);
    provider.start(reports::add);
    assertEquals(IapState.down(WLAN), reports.poll(5, TimeUnit.SECONDS));

    assertTrue(reading.await(10, TimeUnit.SECONDS), "the periodic re-read started");
    try {
      // The timer is shared (it paces REGISTERs): it runs other work meanwhile ...
      CompletableFuture<String> tick = new CompletableFuture<>();
      timers.execute(() -> tick.complete(Thread.currentThread().getName()));
      tick.get(5, TimeUnit.SECONDS);
      // ... and the lock is free: a snapshot answers.
      List<IapState> snapshot = CompletableFuture.supplyAsync(provider::snapshot)
          .get(5, TimeUnit.SECONDS);
      assertEquals(List.of(IapState.down(WLAN)), snapshot);
      assertTrue(readOn.get().startsWith("iap-reader-"), readOn.get());
    } finally {
      release.countDown();
    }
    assertEquals(IapState.up(WLAN, address), reports.poll(5, TimeUnit.SECONDS));
  }
}
