package io.sipalr.profile;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Owner-only files replaced atomically and durably: a reader, or the store reopened after a
 * crash, sees a file's old content or its new content, never a mix, and a method that returned
 * has put its change on disk. The profile store's files, and the control API's token file.
 */
public final class DurableFiles {

  /** The suffix of a file being written; a leftover one is an interrupted write. */
  static final String TEMP_SUFFIX = ".tmp";

  private static final Set<OpenOption> NEW_FILE =
      Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);

  private final FileAttribute<?>[] ownerOnlyFile;
  private final FileAttribute<?>[] ownerOnlyDirectory;

  public DurableFiles(Path anyPath) {
    // The files hold passwords: created owner-only from the start, never chmod-ed afterwards.
    if (anyPath.getFileSystem().supportedFileAttributeViews().contains("posix")) {
      ownerOnlyFile = new FileAttribute<?>[] {
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))};
      ownerOnlyDirectory = new FileAttribute<?>[] {
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"))};
    } else {
      ownerOnlyFile = new FileAttribute<?>[0];
      ownerOnlyDirectory = new FileAttribute<?>[0];
    }
  }

  /** Creates {@code dir} and its missing parents owner-only, durably; nothing if it exists. */
  public void createDirectories(Path dir) throws IOException {
    if (Files.isDirectory(dir)) {
      return;
    }
    Path parent = dir.toAbsolutePath().getParent();
    if (parent != null) {
      createDirectories(parent);
    }
    Files.createDirectory(dir, ownerOnlyDirectory);
    if (parent != null) {
      syncDirectory(parent);
    }
  }

  /** An owner-only file for exclusive use, e.g. a lock file; nothing if it exists. */
  void createFileIfAbsent(Path file) throws IOException {
    if (!Files.exists(file)) {
      Files.createFile(file, ownerOnlyFile);
      syncDirectory(file.getParent());
    }
  }

  /**
   * Replaces {@code target} with {@code content}: written to a temp file beside it, forced to
   * disk, renamed over the target, and the rename forced to disk with the directory.
   */
  public void replace(Path target, byte[] content) throws IOException {
    replaceAll(Map.of(target, content));
  }

  /**
   * Replaces each target with its content, as {@link #replace} does one, in four passes: every
   * temp file is written, then each is forced to disk, then each is renamed over its target,
   * then each distinct directory is forced once. Passes rather than one file after the other:
   * a file forced as soon as it is written costs a journal commit of its own (ext4), and each
   * directory force another, while files forced after all are written share far fewer.
   *
   * <p>Each file gets the guarantees of {@link #replace}: replaced atomically, and on disk when
   * this returns. The batch as a whole is not atomic: after a crash midway each target holds
   * wholly its old or wholly its new content, but some may hold the new and others the old
   * (and temp files may be left over, for the next open to delete, as after a crash in
   * {@link #replace}). When a temp file cannot be written or forced, no target has changed;
   * when a rename fails, the targets before it have their new content, on disk, and the others
   * their old. Either way no temp file is left behind.
   *
   * @param contents target → new content, replaced in the map's order; writes to these targets
   *     are serialized by the caller
   * @throws IllegalArgumentException when a target's name ends with {@link #TEMP_SUFFIX}
   */
  void replaceAll(Map<Path, byte[]> contents) throws IOException {
    List<Path> targets = new ArrayList<>(contents.keySet());
    for (Path target : targets) {
      if (target.getFileName().toString().endsWith(TEMP_SUFFIX)) {
        throw new IllegalArgumentException(target + ": a target cannot be named like a temp file");
      }
    }
    List<Path> temps = new ArrayList<>(targets.size());
    int renamed = 0;
    try {
      for (Path target : targets) {
        Path temp = tempOf(target);
        // Writes to one target are serialized by the caller, so a temp file there is a leftover.
        Files.deleteIfExists(temp);
        temps.add(temp);
        write(temp, contents.get(target));
      }
      for (Path temp : temps) {
        // fsync acts on the file, not on the descriptor: this one forces what the other wrote.
        try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE)) {
          channel.force(true);
        }
      }
      for (; renamed < targets.size(); renamed++) {
        Files.move(temps.get(renamed), targets.get(renamed), StandardCopyOption.ATOMIC_MOVE,
            StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException | RuntimeException e) {
      temps.subList(renamed, temps.size()).forEach(DurableFiles::deleteQuietly);
      if (renamed > 0) {
        syncDirectories(targets.subList(0, renamed));
      }
      throw e;
    }
    syncDirectories(targets);
  }

  /** Deletes {@code file} durably; false when it did not exist. */
  boolean delete(Path file) throws IOException {
    boolean deleted = Files.deleteIfExists(file);
    if (deleted) {
      syncDirectory(file.getParent());
    }
    return deleted;
  }

  private void write(Path temp, byte[] content) throws IOException {
    try (FileChannel channel = FileChannel.open(temp, NEW_FILE, ownerOnlyFile)) {
      ByteBuffer buffer = ByteBuffer.wrap(content);
      while (buffer.hasRemaining()) {
        channel.write(buffer);
      }
    }
  }

  private static Path tempOf(Path target) {
    return target.resolveSibling(target.getFileName() + TEMP_SUFFIX);
  }

  /** Forces the directory of each of {@code files} once. */
  private static void syncDirectories(List<Path> files) {
    Set<Path> dirs = new LinkedHashSet<>();
    for (Path file : files) {
      dirs.add(file.toAbsolutePath().getParent());
    }
    dirs.forEach(DurableFiles::syncDirectory);
  }

  /** Forces a directory's entries (creations, renames, deletions) to disk. */
  static void syncDirectory(Path dir) {
    try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
      channel.force(true);
    } catch (IOException e) {
      // Some filesystems (and Windows) refuse to open or sync a directory; there the rename
      // is as durable as the filesystem makes it.
    }
  }

  private static void deleteQuietly(Path file) {
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      // The next open of the store removes leftover temp files.
    }
  }
}
