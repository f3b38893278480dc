package io.sipalr.control;

import com.typesafe.config.Config;
import java.nio.file.Path;

/**
 * The control API's settings ({@code control} block).
 *
 * <p>CONTRACT ONLY (to be implemented).
 *
 * @param bindAddress where it listens; 127.0.0.1 by default
 * @param port its TCP port; 0 picks a free one
 * @param token the bearer token, or {@code null}: one is generated and saved owner-only in
 *     {@code tokenFile}, whose path is logged
 * @param eventBuffer events kept per slow SSE reader before some are dropped (and it is told)
 */
public record ControlConfig(String bindAddress, int port, String token, Path tokenFile,
    int eventBuffer) {

  /** Reads {@code control}; {@code dataDir} holds the generated token file. */
  public static ControlConfig from(Config root, Path dataDir) {
    throw new UnsupportedOperationException("not implemented yet");
  }
}
