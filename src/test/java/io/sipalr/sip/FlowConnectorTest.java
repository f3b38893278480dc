package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The connector pool: one connect per link however many ask, bounded, never the caller's. */
class FlowConnectorTest {
  private final FlowConnector connector = new FlowConnector();
  private final CountDownLatch release = new CountDownLatch(1);

  @AfterEach
  void tearDown() {
    release.countDown();
    connector.close();
  }

  private static FlowConnector.Link link(int port) {
    InetAddress local = InetAddress.getLoopbackAddress();
    return new FlowConnector.Link(new InetSocketAddress(local, port), local, true);
  }

  private FlowConnector.Connect blocked(AtomicInteger runs) {
    return () -> {
      runs.incrementAndGet();
      try {
        release.await(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    };
  }

  @Test
  void connectsToOneLinkInFlightTogetherAreMadeOnceOffTheCallersThread() throws Exception {
    AtomicInteger runs = new AtomicInteger();
    Thread caller = Thread.currentThread();
    List<Thread> ranOn = new ArrayList<>();
    CompletableFuture<Void> first = connector.connect(link(5061), () -> {
      ranOn.add(Thread.currentThread());
      blocked(runs).run();
    });
    CompletableFuture<Void> second = connector.connect(link(5061), blocked(runs));
    assertSame(first, second, "joined");
    release.countDown();
    first.get(10, TimeUnit.SECONDS);
    assertEquals(1, runs.get());
    assertTrue(ranOn.get(0) != caller && ranOn.get(0).getName().startsWith("sip-connector"));
  }

  @Test
  void aFailedConnectFailsItsFutureAndTheNextAskConnectsAgain() throws Exception {
    CompletableFuture<Void> failed = connector.connect(link(5062), () -> {
      throw new java.net.ConnectException("Connection refused");
    });
    ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(
        ExecutionException.class, () -> failed.get(10, TimeUnit.SECONDS));
    assertTrue(e.getCause() instanceof java.net.ConnectException, e.toString());
    AtomicInteger runs = new AtomicInteger();
    release.countDown();
    connector.connect(link(5062), blocked(runs)).get(10, TimeUnit.SECONDS);
    assertEquals(1, runs.get());
  }

  @Test
  void beyondItsQueueAConnectFailsAtOnceInsteadOfWaitingUnbounded() {
    AtomicInteger runs = new AtomicInteger();
    int links = FlowConnector.THREADS + FlowConnector.QUEUE;
    for (int i = 0; i < links; i++) {
      connector.connect(link(10_000 + i), blocked(runs));
    }
    CompletableFuture<Void> over = connector.connect(link(9_999), blocked(runs));
    assertTrue(over.isCompletedExceptionally(), "rejected at once");
    try {
      over.join();
    } catch (java.util.concurrent.CompletionException e) {
      assertTrue(e.getCause().getMessage().contains("connects already waiting"),
          e.getCause().getMessage());
    }
  }
}
