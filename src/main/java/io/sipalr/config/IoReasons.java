package io.sipalr.config;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/**
 * The operating system's reason for an I/O failure, in words: {@code java.nio} puts only the
 * path in the message of an AccessDeniedException and the like, so a message built from it
 * would say where but not why.
 */
public final class IoReasons {
  private IoReasons() {}

  /** E.g. "permission denied (/srv)" or "Read-only file system (/data)". */
  public static String of(IOException e) {
    if (e instanceof FileSystemException fs) {
      String reason = fs.getReason();
      if (reason == null) {
        reason = e instanceof AccessDeniedException ? "permission denied"
            : e instanceof FileAlreadyExistsException ? "a file of that name is in the way"
            : e instanceof NoSuchFileException ? "no such file or directory"
            : e instanceof NotDirectoryException ? "not a directory"
            : e.getClass().getSimpleName();
      }
      String where = fs.getFile() == null ? ""
          : " (" + fs.getFile() + (fs.getOtherFile() == null ? "" : ", " + fs.getOtherFile())
              + ")";
      return reason + where;
    }
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }
}
