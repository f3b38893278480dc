package io.sipalr.alr;

import io.sipalr.mobility.MobilityManager;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;

/**
 * The agent's own controller (one {@link AlrController}): votes by its {@link AlrPolicy}; with
 * the manual policy, keeps the offers waiting for a decision through the control API.
 *
 * <p>CONTRACT ONLY (to be implemented).
 */
public final class PolicyController implements AutoCloseable {

  public PolicyController(SipAlr alr, AlrPolicy policy, MobilityManager mobility,
      ScheduledExecutorService timers, Clock clock) {
    throw new UnsupportedOperationException("not implemented yet");
  }

  public AlrPolicy policy() {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /** Offers waiting for a decision (manual policy), oldest first. */
  public List<PendingDecision> pending() {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /** @throws IllegalStateException when no offer of {@code iapId} waits for the profile */
  public void allow(String profileId, int iapId) {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /** @throws IllegalStateException when no offer of {@code iapId} waits for the profile */
  public void disallow(String profileId, int iapId) {
    throw new UnsupportedOperationException("not implemented yet");
  }

  /** @throws IllegalArgumentException when the profile has no SNAP */
  public void refresh(String profileId) {
    throw new UnsupportedOperationException("not implemented yet");
  }

  @Override
  public void close() {}
}
