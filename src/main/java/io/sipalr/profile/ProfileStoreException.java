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

  private ProfileStoreException(String message, Path file, Throwable cause) {
    super(message, cause);
    this.file = file;
  }

  /**
   * The same failure, naming the setting that chose the path, e.g. {@code "conf/agent.conf: 3:
   * agent.data-dir: data: cannot create the data directory: ..."}.
   *
   * @param origin where the setting was written ({@code ConfigOrigin.description()})
   */
  public ProfileStoreException forSetting(String origin, String key) {
    return new ProfileStoreException(origin + ": " + key + ": " + getMessage(), file, this);
  }

  /** The file (or directory) at fault. */
  public Path file() {
    return file;
  }
}
