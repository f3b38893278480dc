package io.sipalr.profile;

import java.nio.file.Path;

/**
 * The store's files cannot be read or written: a corrupt or invalid profile file, a format
 * version this agent does not know, or an I/O failure. The message names the file.
 */
public final class ProfileStoreException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final transient Path file;

  public ProfileStoreException(Path file, String problem) {
    super(file + ": " + problem);
    this.file = file;
  }

  public ProfileStoreException(Path file, String problem, Throwable cause) {
    super(file + ": " + problem, cause);
    this.file = file;
  }

  /** The file (or directory) at fault. */
  public Path file() {
    return file;
  }
}
