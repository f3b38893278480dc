package io.sipalr.sip;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** An idle endpoint stays bound for sip.endpoint-linger, then closes (SipEngine). */
class EndpointLingerTest {
  private static final String IAP_ADDRESS = "127.0.0.2";

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
        Duration.ofSeconds(1), Duration.ofSeconds(2)), Duration.ofSeconds(30), 2, 1, linger),
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
}
