package io.sipalr.control;

import io.sipalr.profile.DurableFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control API's generated bearer token, kept in an owner-only file so that local tools
 * (and the operator) can read it and it survives restarts. Its path is logged, never its
 * content.
 */
final class TokenFile {
  private static final Logger log = LoggerFactory.getLogger(TokenFile.class);
  private static final int TOKEN_BYTES = 32;
  private static final SecureRandom RANDOM = new SecureRandom();

  private TokenFile() {}

  /** The token in {@code file}; a new one is generated and written there when absent or empty. */
  static String readOrCreate(Path file) {
    try {
      if (Files.exists(file)) {
        String token = Files.readString(file, StandardCharsets.US_ASCII).trim();
        if (!token.isEmpty()) {
          String problem = ControlConfig.tokenProblem(token);
          if (problem != null) {
            throw new IllegalArgumentException(file + ": the control API token " + problem
                + "; delete the file to have a new one generated");
          }
          warnIfOpenToOthers(file);
          log.info("control API token: read from {}", file.toAbsolutePath());
          return token;
        }
      }
      String token = generate();
      write(file, token);
      log.info("control API token: generated and saved (owner-only) in {}",
          file.toAbsolutePath());
      return token;
    } catch (IOException e) {
      throw new UncheckedIOException("control API token file " + file + ": " + e.getMessage(), e);
    }
  }

  /** 32 random bytes, base64url without padding: 43 characters safe in a header and a URL. */
  static String generate() {
    byte[] bytes = new byte[TOKEN_BYTES];
    RANDOM.nextBytes(bytes);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  /**
   * Writes the token atomically: created owner-only from the start (never chmod-ed after, so it
   * is never readable by others for an instant), forced to disk, then renamed into place, as
   * the profile store writes its files. One writer at a time: the agent holds its data
   * directory's lock.
   */
  private static void write(Path file, String token) throws IOException {
    Path absolute = file.toAbsolutePath();
    DurableFiles files = new DurableFiles(absolute);
    files.createDirectories(absolute.getParent());
    files.replace(absolute, (token + "\n").getBytes(StandardCharsets.US_ASCII));
  }

  private static void warnIfOpenToOthers(Path file) {
    try {
      Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(file);
      permissions.removeAll(Set.of(PosixFilePermission.OWNER_READ,
          PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE));
      if (!permissions.isEmpty()) {
        log.warn("{} can be read by others ({}): anyone who reads it controls the agent;"
            + " chmod 600 it", file.toAbsolutePath(), PosixFilePermissions.toString(
                Files.getPosixFilePermissions(file)));
      }
    } catch (UnsupportedOperationException | IOException e) {
      // Not a POSIX filesystem: nothing to check.
    }
  }
}
