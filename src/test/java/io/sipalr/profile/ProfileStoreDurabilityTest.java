package io.sipalr.profile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills a process that is writing to the store (SIGKILL, no shutdown hooks) at several moments
 * and checks that every write it acknowledged is there, whole, when the store is reopened.
 */
class ProfileStoreDurabilityTest {

  /** How many ACKs each round waits for before the kill: different moments of the writing. */
  private static final int[] ACKS_BEFORE_KILL = {120, 410, 35, 260, 180};
  private static final long ROUND_TIME_LIMIT_MS = 60_000;
  private static final Pattern ACK = Pattern.compile("ACK (p[0-9]+) ([0-9]+)");
  private static final String END_OF_OUTPUT = "\u0000end";
  /** The exit status of a process ended by SIGKILL. */
  private static final int KILLED = 128 + 9;

  @TempDir Path tmp;

  @Test
  void everyAcknowledgedWriteSurvivesAKill() throws Exception {
    Path dataDir = tmp.resolve("data");
    Map<String, Integer> ackedVersions = new HashMap<>();
    int leftoverTempFiles = 0;
    Random jitter = new Random(20_260_101);

    for (int round = 0; round < ACKS_BEFORE_KILL.length; round++) {
      Path stderr = tmp.resolve("writer-" + round + ".err");
      Process writer = startWriter(dataDir, round, stderr);
      BlockingQueue<String> lines = new LinkedBlockingQueue<>();
      Thread reader = readLines(writer.getInputStream(), lines);
      try {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ROUND_TIME_LIMIT_MS);
        int acks = 0;
        while (acks < ACKS_BEFORE_KILL[round]) {
          String line = lines.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
          if (line == null) {
            fail("round " + round + ": only " + acks + " ACKs within " + ROUND_TIME_LIMIT_MS
                + " ms; writer stderr:\n" + Files.readString(stderr));
          }
          if (line.equals(END_OF_OUTPUT)) {
            fail("round " + round + ": the writer ended after " + acks + " ACKs, exit code "
                + writer.waitFor() + "; stderr:\n" + Files.readString(stderr));
          }
          acks += recordAck(line, ackedVersions);
        }
        // The kill would otherwise always land just after an ACK, in the same phase of the
        // next write; a random extra moment, spent reading on, spreads it over a whole write.
        long killAt = System.nanoTime() + jitter.nextInt(3_000_000);
        for (long left; (left = killAt - System.nanoTime()) > 0; ) {
          String line = lines.poll(left, TimeUnit.NANOSECONDS);
          if (line != null && !line.equals(END_OF_OUTPUT)) {
            recordAck(line, ackedVersions);
          }
        }
      } finally {
        writer.destroyForcibly();
      }
      assertTrue(writer.waitFor(30, TimeUnit.SECONDS), "the killed writer did not end");
      assertEquals(KILLED, writer.exitValue(), "round " + round
          + ": the writer ended otherwise than by the kill; stderr:\n" + Files.readString(stderr));
      // Every line it printed before dying was acknowledged after a returned write.
      reader.join(TimeUnit.SECONDS.toMillis(30));
      assertFalse(reader.isAlive(), "the writer's stdout did not end");
      for (String line : lines) {
        recordAck(line, ackedVersions);
      }

      leftoverTempFiles += countFiles(dataDir.resolve("profiles"), ".tmp");
      assertStoreHolds(dataDir, ackedVersions, round);
    }

    // Not asserted (it depends on timing), but shows whether kills landed mid-write.
    System.out.printf("%d profiles acknowledged over %d kills; the kills left %d temp files%n",
        ackedVersions.size(), ACKS_BEFORE_KILL.length, leftoverTempFiles);
    assertTrue(ackedVersions.values().stream().anyMatch(version -> version > 1),
        "the writers re-saved no profile");
  }

  private static void assertStoreHolds(Path dataDir, Map<String, Integer> ackedVersions, int round)
      throws IOException {
    try (ProfileStore store = ProfileStore.open(dataDir)) {
      List<SipProfile> profiles = store.list();
      for (Map.Entry<String, Integer> acked : ackedVersions.entrySet()) {
        SipProfile stored = store.get(acked.getKey()).orElse(null);
        if (stored == null) {
          fail("round " + round + ": acknowledged profile " + acked.getKey() + " is missing");
        }
        assertTrue(stored.expires() >= acked.getValue(), "round " + round + ": " + acked.getKey()
            + " is at version " + stored.expires() + ", but " + acked.getValue() + " was acknowledged");
      }
      for (SipProfile stored : profiles) {
        assertTrue(stored.id().matches("p[0-9]+"), "not a writer's profile: " + stored.id());
        // Whole: every field is the one of the same write.
        assertEquals(StoreWriterMain.versionOf(stored.id(), stored.expires())
            .withInstance(stored.instanceId(), stored.regId()), stored);
      }
      assertEquals(profiles.size(), countFiles(dataDir.resolve("profiles"), ".json"),
          "round " + round + ": a file that is not a profile file was loaded");
      assertEquals(0, countFiles(dataDir.resolve("profiles"), ".tmp"),
          "round " + round + ": a leftover temp file survived the reopen");
    }
  }

  private static int recordAck(String line, Map<String, Integer> ackedVersions) {
    Matcher ack = ACK.matcher(line);
    if (!ack.matches()) {
      return 0;
    }
    ackedVersions.merge(ack.group(1), Integer.parseInt(ack.group(2)), Math::max);
    return 1;
  }

  private static Process startWriter(Path dataDir, int round, Path stderr) throws IOException {
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx64m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
        "-Dlogback.configurationFile=io/sipalr/profile/store-writer-logback.xml",
        "-cp", System.getProperty("java.class.path"),
        StoreWriterMain.class.getName(),
        dataDir.toString(), String.valueOf(round), "1000000"));
    return new ProcessBuilder(command)
        .redirectError(stderr.toFile())
        .start();
  }

  /**
   * Hands each complete line to {@code lines}, then {@link #END_OF_OUTPUT}. A last line without
   * its newline was cut by the kill and is dropped.
   */
  private static Thread readLines(InputStream in, BlockingQueue<String> lines) {
    Thread reader = new Thread(() -> {
      ByteArrayOutputStream line = new ByteArrayOutputStream();
      try (in) {
        int b;
        while ((b = in.read()) >= 0) {
          if (b == '\n') {
            lines.add(line.toString(StandardCharsets.UTF_8));
            line.reset();
          } else {
            line.write(b);
          }
        }
      } catch (IOException e) {
        // The writer died; what was read is all there is.
      }
      lines.add(END_OF_OUTPUT);
    }, "store-writer-stdout");
    reader.setDaemon(true);
    reader.start();
    return reader;
  }

  private static int countFiles(Path dir, String suffix) throws IOException {
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    try (Stream<Path> files = Files.list(dir)) {
      return (int) files.filter(f -> f.getFileName().toString().endsWith(suffix)).count();
    }
  }
}
