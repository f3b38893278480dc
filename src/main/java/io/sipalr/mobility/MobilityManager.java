package io.sipalr.mobility;

import io.sipalr.concurrent.SerialExecutor;
import io.sipalr.profile.BearerFilter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mobility layer: follows IAP availability through an {@link IapProvider} and hands out a
 * {@link SnapConnection} per SNAP and bearer filter, each deciding on its own serial executor on
 * the shared pool (no thread per SNAP or IAP).
 *
 * <pre>
 * MobilityManager mobility = new MobilityManager(config, IapProvider.create(config, timers), pool);
 * SnapConnection connection = mobility.open(1, BearerFilter.ANY, listener);
 * </pre>
 *
 * <p>The manager owns the provider: it starts it when built (and logs the provider's routing
 * warnings) and closes it in {@link #close()}.
 */
public final class MobilityManager implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MobilityManager.class);

  private final MobilityConfig config;
  private final IapProvider provider;
  private final Executor pool;

  // Guarded by lock, which is held only to update the view and hand reports to the
  // connections' executors: a connection opened while a report arrives sees it exactly once,
  // either in its first view or as a report.
  private final Object lock = new Object();
  private final Map<Integer, IapState> view = new LinkedHashMap<>();
  private final Set<SnapConnection> connections = new LinkedHashSet<>();
  private boolean closed;

  /**
   * Starts {@code provider}, which reports every IAP's current state before this returns.
   *
   * @param pool the shared pool every connection's serial executor runs on
   */
  public MobilityManager(MobilityConfig config, IapProvider provider, Executor pool) {
    this.config = Objects.requireNonNull(config, "config");
    this.provider = Objects.requireNonNull(provider, "provider");
    this.pool = Objects.requireNonNull(pool, "pool");
    for (Iap iap : config.iaps()) {
      view.put(iap.id(), IapState.down(iap));
    }
    provider.start(this::iapChanged);
    for (String warning : provider.routingWarnings()) {
      log.warn(warning);
    }
  }

  public MobilityConfig config() {
    return config;
  }

  /**
   * A connection to SNAP {@code snapId} that uses only IAPs {@code filter} allows. Its first
   * report (the initial carrier, or NOT_FOUND) reaches {@code listener} soon after, on the
   * connection's executor.
   *
   * @throws IllegalArgumentException when no SNAP has that id
   */
  public SnapConnection open(int snapId, BearerFilter filter, MobilityListener listener) {
    Snap snap = config.snap(snapId).orElseThrow(() -> new IllegalArgumentException(
        "no SNAP has id " + snapId + "; the SNAPs are "
            + config.snaps().stream().map(Snap::id).toList()));
    return open(snap, filter, listener);
  }

  /**
   * A connection for a profile fixed to one IAP: a SNAP of that IAP alone, so it never roams,
   * but still hears when its IAP comes, goes or changes address.
   *
   * @throws IllegalArgumentException when no IAP has that id
   */
  public SnapConnection openIap(int iapId, BearerFilter filter, MobilityListener listener) {
    Iap iap = config.iap(iapId).orElseThrow(() -> new IllegalArgumentException(
        "no IAP has id " + iapId + "; the IAPs are "
            + config.iaps().stream().map(Iap::id).toList()));
    return open(new Snap(-iap.id(), "fixed " + iap.name(), List.of(iap.id())), filter, listener);
  }

  private SnapConnection open(Snap snap, BearerFilter filter, MobilityListener listener) {
    synchronized (lock) {
      if (closed) {
        throw new IllegalStateException("mobility manager closed");
      }
      SnapConnection connection = new SnapConnection(snap, filter, listener,
          new SerialExecutor(pool), List.copyOf(view.values()), this::forget);
      connections.add(connection);
      connection.start();
      return connection;
    }
  }

  /** Every configured IAP's state as last reported, in configuration order. */
  public List<IapState> iaps() {
    synchronized (lock) {
      return List.copyOf(view.values());
    }
  }

  /** The available IAP whose current address is {@code address} (a profile's local address). */
  public Optional<Integer> iapAt(String address) {
    if (address == null) {
      return Optional.empty();
    }
    synchronized (lock) {
      for (IapState s : view.values()) {
        if (s.available() && s.address().getHostAddress().equals(address)) {
          return Optional.of(s.iap().id());
        }
      }
    }
    return Optional.empty();
  }

  /** Closes every connection (their listeners hear nothing more) and the provider. */
  @Override
  public void close() {
    List<SnapConnection> open;
    synchronized (lock) {
      if (closed) {
        return;
      }
      closed = true;
      open = new ArrayList<>(connections);
    }
    open.forEach(SnapConnection::close);
    provider.close();
  }

  private void iapChanged(IapState state) {
    synchronized (lock) {
      if (closed || !view.containsKey(state.iap().id())) {
        return;
      }
      IapState previous = view.put(state.iap().id(), state);
      if (state.equals(previous)) {
        return;
      }
      log.info("{}", state);
      for (SnapConnection connection : connections) {
        connection.iapChanged(state);
      }
    }
  }

  private void forget(SnapConnection connection) {
    synchronized (lock) {
      connections.remove(connection);
    }
  }
}
