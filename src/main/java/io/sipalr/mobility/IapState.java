package io.sipalr.mobility;

import java.net.InetAddress;
import java.util.Objects;

/**
 * Whether an IAP can be used now, and through which local address.
 *
 * @param address the address to bind to when available, {@code null} when not
 */
public record IapState(Iap iap, boolean available, InetAddress address) {

  public IapState {
    Objects.requireNonNull(iap, "iap");
    if (available != (address != null)) {
      throw new IllegalArgumentException(iap + ": an address exactly when available");
    }
  }

  public static IapState up(Iap iap, InetAddress address) {
    return new IapState(iap, true, Objects.requireNonNull(address, "address"));
  }

  public static IapState down(Iap iap) {
    return new IapState(iap, false, null);
  }

  @Override
  public String toString() {
    return iap + (available ? " up on " + address.getHostAddress() : " down");
  }
}
