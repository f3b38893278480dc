package io.sipalr.mobility;

import java.net.InetAddress;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Availability set by hand: by tests, and by the control API, so that a roaming scenario can
 * be played on loopback addresses. Every IAP starts down. Reports are delivered on the thread
 * that changed the state, before {@link #up} or {@link #down} returns.
 */
public final class ScriptedIapProvider implements IapProvider {
  private final Map<Integer, IapState> states = new LinkedHashMap<>();
  private Listener listener;
  private boolean closed;

  public ScriptedIapProvider(List<Iap> iaps) {
    for (Iap iap : iaps) {
      states.put(iap.id(), IapState.down(iap));
    }
  }

  @Override
  public synchronized void start(Listener newListener) {
    if (listener != null || closed) {
      throw new IllegalStateException(closed ? "closed" : "already started");
    }
    listener = newListener;
    states.values().forEach(listener::iapChanged);
  }

  /** Brings the IAP up on its configured address (or moves it back there). */
  public void up(int iapId) {
    Iap iap = iap(iapId);
    if (iap.address() == null) {
      throw new IllegalArgumentException(iap + " has no configured address: name one");
    }
    up(iapId, IpLiterals.parse(iap.address()));
  }

  /** Brings the IAP up on {@code address}; if it is up already, that is an address change. */
  public synchronized void up(int iapId, InetAddress address) {
    set(IapState.up(iap(iapId), address));
  }

  public synchronized void down(int iapId) {
    set(IapState.down(iap(iapId)));
  }

  @Override
  public synchronized List<IapState> snapshot() {
    return List.copyOf(states.values());
  }

  @Override
  public synchronized void close() {
    closed = true;
    listener = null;
  }

  // Reported under the lock, so that two threads scripting at once cannot reorder reports.
  private void set(IapState state) {
    IapState previous = states.put(state.iap().id(), state);
    if (!state.equals(previous) && listener != null) {
      listener.iapChanged(state);
    }
  }

  private synchronized Iap iap(int iapId) {
    IapState state = states.get(iapId);
    if (state == null) {
      throw new IllegalArgumentException("no IAP has id " + iapId + "; the IAPs are "
          + states.keySet());
    }
    return state.iap();
  }
}
