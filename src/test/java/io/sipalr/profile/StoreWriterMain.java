package io.sipalr.profile;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The child process of {@link ProfileStoreDurabilityTest}: opens the store and writes until
 * killed (or {@code maxWrites}), creating profiles (one by one, and in batches) and re-saving
 * existing ones with a higher version. After each {@code save()}/{@code create()}/{@code
 * createAll()} returns it prints {@code ACK <id> <version>} for each profile written: from then
 * on the write must survive a kill.
 *
 * <p>Arguments: data directory, random seed, maximum number of writes.
 */
public final class StoreWriterMain {

  private StoreWriterMain() {}

  /**
   * The profile {@code id} at {@code version}: every field follows from the two, so that the
   * test can tell a whole write from a mix of two. The version is the expires value.
   */
  static SipProfile versionOf(String id, int version) {
    return SipProfileBuilder.forId(id)
        .aor("sip:" + id + "@sipalr.test")
        .registrar("sip:127.0.0.1:5060")
        .password("pw-" + id + "-" + version)
        // Sizes from a few bytes to a few pages, so that writes are not all one small block.
        .realm("realm-" + id + "-" + "x".repeat(version * 997 % 9000))
        .transport(version % 2 == 0 ? Transport.TCP : Transport.UDP)
        .expires(version)
        .build();
  }

  public static void main(String[] args) throws IOException {
    Path dataDir = Path.of(args[0]);
    Random random = new Random(Long.parseLong(args[1]));
    int maxWrites = Integer.parseInt(args[2]);
    exitWhenTheParentGoes();

    PrintStream out = System.out;
    try (ProfileStore store = ProfileStore.open(dataDir)) {
      List<String> ids = new ArrayList<>(store.list().stream().map(SipProfile::id).toList());
      int nextNumber = ids.stream().mapToInt(id -> Integer.parseInt(id.substring(1))).max().orElse(0) + 1;
      for (int i = 0; i < maxWrites; i++) {
        List<SipProfile> written;
        int choice = random.nextInt(8);
        if (ids.isEmpty() || choice < 2) {
          String id = "p" + nextNumber++;
          written = List.of(store.create(versionOf(id, 1)));
          ids.add(id);
        } else if (choice == 2) {
          List<SipProfile> batch = new ArrayList<>();
          for (int n = 2 + random.nextInt(30); n > 0; n--) {
            String id = "p" + nextNumber++;
            batch.add(versionOf(id, 1));
            ids.add(id);
          }
          written = store.createAll(batch);
        } else {
          String id = ids.get(random.nextInt(ids.size()));
          int version = store.get(id).orElseThrow().expires() + 1;
          written = List.of(store.save(versionOf(id, version)));
        }
        for (SipProfile w : written) {
          out.println("ACK " + w.id() + " " + w.expires());
        }
        out.flush();
      }
    }
  }

  /** A child orphaned by a dying test JVM stops: its stdin closes with the parent. */
  private static void exitWhenTheParentGoes() {
    Thread watcher = new Thread(() -> {
      try {
        while (System.in.read() >= 0) {
          // Nothing is sent; only the end of the stream matters.
        }
      } catch (IOException e) {
        // Same as the end of the stream.
      }
      Runtime.getRuntime().halt(3);
    }, "parent-watcher");
    watcher.setDaemon(true);
    watcher.start();
  }
}
