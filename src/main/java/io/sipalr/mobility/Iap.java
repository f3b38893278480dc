package io.sipalr.mobility;

import java.util.Objects;

/**
 * An Internet Access Point: one network attachment the agent can bind to.
 *
 * @param id unique among the configured IAPs; what profiles and SNAPs refer to
 * @param interfaceName the Linux interface it is on, or {@code null} when only {@code address}
 *     identifies it
 * @param address a fixed address the IAP must have (an IP literal), or {@code null} for
 *     whatever usable IPv4 address the interface has; the scripted provider brings an IAP up on
 *     this address, e.g. loopback's 127.0.0.2
 * @param cost what using it costs, for display and tie-breaks by callers; the SNAP's order, not
 *     the cost, decides which IAP is preferred
 */
public record Iap(int id, String name, String interfaceName, String address, Bearer bearer,
    int cost) {

  public Iap {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(bearer, "bearer");
    if (interfaceName == null && address == null) {
      throw new IllegalArgumentException("IAP " + id + ": needs an interface or an address");
    }
    if (address != null) {
      IpLiterals.parse(address);
    }
    if (cost < 0) {
      throw new IllegalArgumentException("IAP " + id + ": cost must not be negative");
    }
  }

  @Override
  public String toString() {
    return "IAP " + id + " (" + name + ")";
  }
}
