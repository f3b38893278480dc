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
import java.util.Set;

/**
 * Owner-only files replaced atomically and durably: a reader, or the store reopened after a
 * crash, sees a file's old content or its new content, never a mix, and a method that returned
 * has put its change on disk.
 */
final class DurableFiles {

  /** The suffix of a file being written; a leftover one is an interrupted write. */
  static final String TEMP_SUFFIX = ".tmp";

  private static final Set<OpenOption> NEW_FILE =
      Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);

  private final FileAttribute<?>[] ownerOnlyFile;
  private final FileAttribute<?>[] ownerOnlyDirectory;

  DurableFiles(Path anyPath) {
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
  void createDirectories(Path dir) throws IOException {
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
  void replace(Path target, byte[] content) throws IOException {
    Path dir = target.getParent();
    Path temp = dir.resolve(target.getFileName() + TEMP_SUFFIX);
    // Writes to one target are serialized by the caller, so a temp file there is a leftover.
    Files.deleteIfExists(temp);
    try {
      try (FileChannel channel = FileChannel.open(temp, NEW_FILE, ownerOnlyFile)) {
        ByteBuffer buffer = ByteBuffer.wrap(content);
        while (buffer.hasRemaining()) {
          channel.write(buffer);
        }
        channel.force(true);
      }
      Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException | RuntimeException e) {
      deleteQuietly(temp);
      throw e;
    }
    syncDirectory(dir);
  }

  /** Deletes {@code file} durably; false when it did not exist. */
  boolean delete(Path file) throws IOException {
    boolean deleted = Files.deleteIfExists(file);
    if (deleted) {
      syncDirectory(file.getParent());
    }
    return deleted;
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
