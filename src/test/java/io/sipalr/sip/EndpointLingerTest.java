package io.sipalr.sip;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** An idle endpoint stays bound for sip.endpoint-linger, then closes (SipEngine). */
class EndpointLingerTest {
  private static final String IAP_ADDRESS = "127.0.0.2";
  private static final int STACK_THREADS = 2;

  private final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor();
  private SipEngine engine;

  @AfterEach
  void stop() {
    if (engine != null) {
      engine.close();
    }
    timers.shutdownNow();
  }

  private SipEngine engine(Duration linger) throws Exception {
    engine = new SipEngine(new SipConfig("127.0.0.1", 0, "sip-alr-agent-test",
        Duration.ofSeconds(1), new SipConfig.Backoff(Duration.ofSeconds(1),
        Duration.ofSeconds(1), Duration.ofSeconds(2)), Duration.ofSeconds(30), STACK_THREADS, 1, linger),
        timers);
    return engine;
  }

  @Test
  void anAddressUsedAgainWithinTheLingerGetsTheSameBoundEndpoint() throws Exception {
    SipEngine engine = engine(Duration.ofSeconds(60));
    SipEngine.Endpoint first = engine.acquire(IAP_ADDRESS);
    engine.release(first);
    assertEquals(1, engine.endpointCount(), "only the anchor is in use");
    assertEquals(2, engine.boundEndpointCount(), "the idle endpoint is still bound");

    SipEngine.Endpoint again = engine.acquire(IAP_ADDRESS);
    assertSame(first, again);
    assertEquals(2, engine.endpointCount());
    engine.release(again);
  }

  @Test
  void anIdleEndpointClosesWhenTheLingerIsOver() throws Exception {
    SipEngine engine = engine(Duration.ofMillis(200));
    SipEngine.Endpoint first = engine.acquire(IAP_ADDRESS);
    engine.release(first);
    await().atMost(Duration.ofSeconds(10)).until(() -> engine.boundEndpointCount() == 1);

    SipEngine.Endpoint later = engine.acquire(IAP_ADDRESS);
    assertNotSame(first, later);
    engine.release(later);
  }

  @Test
  void withoutALingerAnIdleEndpointClosesAtOnce() throws Exception {
    SipEngine engine = engine(Duration.ZERO);
    SipEngine.Endpoint first = engine.acquire(IAP_ADDRESS);
    engine.release(first);
    assertEquals(1, engine.boundEndpointCount());
  }

  @Test
  void anEndpointReleasedRightAfterItsBindClosesCleanly() throws Exception {
    // JAIN-SIP starts a UDP receiver on a thread of its own; a close before that thread had set
    // up its channels failed half-way, left the listening point behind and leaked its threads.
    SipEngine engine = engine(Duration.ZERO);
    for (int i = 0; i < 200; i++) {
      SipEngine.Endpoint endpoint = engine.acquire(IAP_ADDRESS);
      engine.release(endpoint);
      assertEquals(1, engine.boundEndpointCount(), "round " + i);
    }
    String channelThread = engine.stack.getStackName() + "-UDPMessageChannelThread-";
    await().atMost(Duration.ofSeconds(10)).until(() -> threadsNamed(IAP_ADDRESS + "/") == 0
        && threadsNamed(channelThread) == STACK_THREADS); // the anchor's only
  }

  @Test
  void aPortStillTakenAtBindLeavesNoDeadListeningPointBehind() throws Exception {
    SipEngine engine = engine(Duration.ZERO);
    SipEngine.Endpoint elsewhere;
    try (ServerSocket blocker = new ServerSocket()) {
      blocker.bind(new InetSocketAddress(IAP_ADDRESS, engine.port));
      elsewhere = engine.acquire(IAP_ADDRESS);
    }
    assertNotEquals(engine.port, elsewhere.port, "TCP port taken: another port");
    engine.release(elsewhere);

    // JAIN-SIP kept the TCP listening point whose bind failed; reused, it had no socket.
    SipEngine.Endpoint again = engine.acquire(IAP_ADDRESS);
    assertEquals(engine.port, again.port);
    try (ServerSocket probe = new ServerSocket()) {
      assertThrows(BindException.class,
          () -> probe.bind(new InetSocketAddress(IAP_ADDRESS, again.port)),
          "the endpoint's TCP socket holds its port");
    }
    engine.release(again);
  }

  @Test
  void aSlowEndpointCloseLeavesTheTimerThreadFree() throws Exception {
    SipEngine engine = engine(Duration.ofMillis(50));
    CountDownLatch closing = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicReference<String> closedOn = new AtomicReference<>();
    engine.endpoints.beforeClose = () -> {
      closedOn.set(Thread.currentThread().getName());
      closing.countDown();
      try {
        release.await(10, TimeUnit.SECONDS); // a close as slow as JAIN-SIP's thread joins
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    };
    SipEngine.Endpoint first = engine.acquire(IAP_ADDRESS);
    engine.release(first);
    assertTrue(closing.await(10, TimeUnit.SECONDS), "the linger ended and the close began");

    try {
      // Every profile's refresh and retry timer runs on this thread: it must not wait.
      CompletableFuture<String> tick = new CompletableFuture<>();
      timers.execute(() -> tick.complete(Thread.currentThread().getName()));
      String timerThread = tick.get(5, TimeUnit.SECONDS);
      assertNotEquals(timerThread, closedOn.get(), "the close runs off the timer thread");
      assertTrue(closedOn.get().startsWith("sip-closer-"), closedOn.get());
    } finally {
      release.countDown();
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> engine.boundEndpointCount() == 1);
  }

  private static long threadsNamed(String part) {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.isAlive() && t.getName().contains(part))
        .count();
  }
}
