package io.sipalr.profile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DurableFilesTest {

  @TempDir Path tmp;

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private Map<Path, byte[]> batch(Path dir, String... namesAndContents) {
    Map<Path, byte[]> batch = new LinkedHashMap<>();
    for (int i = 0; i < namesAndContents.length; i += 2) {
      batch.put(dir.resolve(namesAndContents[i]), bytes(namesAndContents[i + 1]));
    }
    return batch;
  }

  private static List<String> names(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(f -> f.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void replaceAllReplacesAndCreatesEveryTargetOwnerOnly() throws IOException {
    Path one = Files.createDirectory(tmp.resolve("one"));
    Path two = Files.createDirectory(tmp.resolve("two"));
    Files.writeString(one.resolve("a.json"), "old a");
    // A leftover of an interrupted write: replaced, not in the way.
    Files.writeString(one.resolve("b.json.tmp"), "half");
    DurableFiles files = new DurableFiles(tmp);

    Map<Path, byte[]> batch = batch(one, "a.json", "new a", "b.json", "new b");
    batch.put(two.resolve("c.json"), bytes("new c"));
    files.replaceAll(batch);

    assertEquals("new a", Files.readString(one.resolve("a.json")));
    assertEquals("new b", Files.readString(one.resolve("b.json")));
    assertEquals("new c", Files.readString(two.resolve("c.json")));
    assertEquals(List.of("a.json", "b.json"), names(one), "no temp file is left");
    assertEquals(List.of("c.json"), names(two));
    for (Path created : List.of(one.resolve("b.json"), two.resolve("c.json"))) {
      assertEquals("rw-------",
          PosixFilePermissions.toString(Files.getPosixFilePermissions(created)));
    }
  }

  @Test
  void anEmptyBatchChangesNothing() throws IOException {
    new DurableFiles(tmp).replaceAll(Map.of());

    assertEquals(List.of(), names(tmp));
  }

  @Test
  void whenATempFileCannotBeWrittenNoTargetChanges() throws IOException {
    Path dir = Files.createDirectory(tmp.resolve("dir"));
    Files.writeString(dir.resolve("a.json"), "old a");
    // b's temp file cannot be made: a non-empty directory has its name.
    Files.createDirectories(dir.resolve("b.json.tmp").resolve("in-the-way"));
    DurableFiles files = new DurableFiles(tmp);

    assertThrows(IOException.class, () -> files.replaceAll(
        batch(dir, "a.json", "new a", "b.json", "new b", "c.json", "new c")));

    assertEquals("old a", Files.readString(dir.resolve("a.json")));
    assertEquals(List.of("a.json", "b.json.tmp"), names(dir),
        "a's temp file is gone, c was not written");
  }

  @Test
  void whenARenameFailsTheTargetsBeforeItAreReplacedAndNoTempIsLeft() throws IOException {
    Path dir = Files.createDirectory(tmp.resolve("dir"));
    Files.writeString(dir.resolve("a.json"), "old a");
    Files.writeString(dir.resolve("c.json"), "old c");
    // b's rename cannot land: a non-empty directory is its target.
    Files.createDirectories(dir.resolve("b.json").resolve("in-the-way"));
    DurableFiles files = new DurableFiles(tmp);

    assertThrows(IOException.class, () -> files.replaceAll(
        batch(dir, "a.json", "new a", "b.json", "new b", "c.json", "new c")));

    assertEquals("new a", Files.readString(dir.resolve("a.json")));
    assertEquals("old c", Files.readString(dir.resolve("c.json")));
    assertEquals(List.of("a.json", "b.json", "c.json"), names(dir), "no temp file is left");
  }

  @Test
  void aTargetNamedLikeATempFileIsRefusedBeforeAnyWrite() throws IOException {
    Path dir = Files.createDirectory(tmp.resolve("dir"));
    DurableFiles files = new DurableFiles(tmp);

    assertThrows(IllegalArgumentException.class, () -> files.replaceAll(
        batch(dir, "a.json", "new a", "a.json.tmp", "clash")));

    assertEquals(List.of(), names(dir));
  }
}
