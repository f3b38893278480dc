package io.sipalr.control;

import io.sipalr.alr.PolicyController;
import io.sipalr.alr.SipAlr;
import io.sipalr.mobility.MobilityManager;
import io.sipalr.mobility.ScriptedIapProvider;
import io.sipalr.sip.SipProfileRegistry;

/**
 * The control API: HTTP/1.1 and JSON on Netty (README "Control API").
 *
 * <p>CONTRACT ONLY (to be implemented).
 */
public final class ControlServer implements AutoCloseable {

  /** @param scripted the scripted provider, or {@code null} (then IAP up/down answer 409) */
  public ControlServer(ControlConfig config, SipProfileRegistry registry,
      MobilityManager mobility, ScriptedIapProvider scripted, SipAlr alr,
      PolicyController policy) {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /** Binds and serves; returns once listening. */
  public void start() throws InterruptedException {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /** The port it listens on (useful with port 0). */
  public int port() {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /** The bearer token every request must carry. */
  public String token() {
    throw new UnsupportedOperationException("not implemented yet");
  }

  @Override
  public void close() {}
}
