package io.sipalr.media;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two calls' media on loopback sockets, on one scheduler: a tone one way, echo back; then one
 * side moves to another loopback address and the other keeps receiving from there.
 */
class RtpMediaTest {
  final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();

  @AfterEach
  void stop() {
    scheduler.shutdownNow();
  }

  @Test
  void toneAndEchoFlowBothWaysThenAMoveChangesTheSourceAddress(@TempDir Path dir)
      throws Exception {
    RtpMedia tones = new RtpMedia(() -> AudioSource.tone(440, 0.3), dir, Duration.ofSeconds(5),
        4, scheduler, Runnable::run);
    RtpMedia echoes = new RtpMedia(() -> AudioSource.echo(10), null, Duration.ofSeconds(5), 4,
        scheduler, Runnable::run);
    MediaChannel a = tones.open("127.0.0.1", "a");
    MediaChannel b = echoes.open("127.0.0.1", "b");
    a.start(new SdpNegotiator.Agreed("127.0.0.1", b.localPort(), Codec.PCMU, -1, "sendrecv"));
    b.start(new SdpNegotiator.Agreed("127.0.0.1", a.localPort(), Codec.PCMU, -1, "sendrecv"));
    await().atMost(Duration.ofSeconds(10)).until(() -> a.stats().received() >= 10
        && b.stats().received() >= 10);
    assertTrue(a.stats().sent() >= 10);

    int port = a.prepareMove("127.0.0.2");
    b.start(new SdpNegotiator.Agreed("127.0.0.2", port, Codec.PCMU, -1, "sendrecv"));
    a.commitMove(new SdpNegotiator.Agreed("127.0.0.1", b.localPort(), Codec.PCMU, -1,
        "sendrecv"));
    assertEquals("127.0.0.2", a.stats().localAddress());
    await().atMost(Duration.ofSeconds(10)).until(() -> b.stats().lastSource() != null
        && b.stats().lastSource().contains("127.0.0.2:" + port));
    long before = a.stats().received();
    await().atMost(Duration.ofSeconds(10)).until(() -> a.stats().received() > before + 5);
    assertTrue(a.stats().lastMoveGapMillis() >= 0, a.stats().toString()); // measured
    assertEquals(-1, b.stats().lastMoveGapMillis()); // b never moved

    a.close();
    b.close();
    assertEquals(0, tones.sessionCount());
    short[] recorded = Wav.read(dir.resolve("a.wav")); // the echo of the tone
    assertTrue(recorded.length >= 160 * 10, "samples " + recorded.length);
    assertTrue(Files.size(dir.resolve("a.wav")) > 44);
    tones.close();
    echoes.close();
  }

  @Test
  void theSessionLimitIsNamed() throws Exception {
    RtpMedia media = new RtpMedia(() -> AudioSource.tone(440, 0.3), null, Duration.ZERO, 1,
        scheduler, Runnable::run);
    MediaChannel one = media.open("127.0.0.1", "one");
    var e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
        () -> media.open("127.0.0.1", "two"));
    assertTrue(e.getMessage().contains("calls.max-calls"), e.getMessage());
    one.close();
    media.close();
  }
}
