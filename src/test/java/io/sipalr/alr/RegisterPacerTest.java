package io.sipalr.alr;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class RegisterPacerTest {
  private final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor();

  @AfterEach
  void stop() {
    timers.shutdownNow();
  }

  @Test
  void holdsAtMostTheWindowInFlightAndStartsTheRestInOrderAsAnswersCome() {
    RegisterPacer pacer = new RegisterPacer(1_000_000, 1_000_000, 3, timers);
    List<Integer> started = new CopyOnWriteArrayList<>();
    List<CompletableFuture<Void>> exchanges = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      CompletableFuture<Void> exchange = new CompletableFuture<>();
      exchanges.add(exchange);
      int n = i;
      pacer.submit(() -> {
        started.add(n);
        return exchange;
      });
    }
    assertEquals(List.of(0, 1, 2), started);
    assertEquals(3, pacer.inFlight());
    assertEquals(7, pacer.waiting());

    exchanges.get(1).complete(null);
    assertEquals(List.of(0, 1, 2, 3), started);
    exchanges.get(0).completeExceptionally(new IllegalStateException("timed out"));
    assertEquals(List.of(0, 1, 2, 3, 4), started);
    assertEquals(3, pacer.inFlight());

    exchanges.forEach(e -> e.complete(null));
    assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), started);
    assertEquals(0, pacer.inFlight());
    assertEquals(0, pacer.waiting());
  }

  @Test
  void workThatIsOverAtOnceOrThrowsFreesItsPlaceWithoutRecursion() {
    RegisterPacer pacer = new RegisterPacer(1_000_000, 1_000_000, 1, timers);
    AtomicInteger ran = new AtomicInteger();
    int n = 50_000; // deep enough to overflow the stack if each answer started the next inline
    for (int i = 0; i < n; i++) {
      int k = i;
      pacer.submit(() -> {
        ran.incrementAndGet();
        if (k % 2 == 0) {
          throw new IllegalStateException("cannot bind");
        }
        return CompletableFuture.completedFuture(null);
      });
    }
    assertEquals(n, ran.get());
    assertEquals(0, pacer.inFlight());
  }

  @Test
  void theRateHoldsBackWhatTheBurstDoesNotCoverAndTheTimerSendsItLater() {
    // 1 per second: only a stall of a whole second here could let a sixth one through early.
    RegisterPacer pacer = new RegisterPacer(1, 5, 1000, timers);
    AtomicInteger ran = new AtomicInteger();
    for (int i = 0; i < 6; i++) {
      pacer.submit(() -> {
        ran.incrementAndGet();
        return CompletableFuture.completedFuture(null);
      });
    }
    assertEquals(5, ran.get(), "only the burst may go before any refill");
    await().atMost(Duration.ofSeconds(10)).until(() -> ran.get() == 6);
    assertEquals(0, pacer.waiting());
  }
}
