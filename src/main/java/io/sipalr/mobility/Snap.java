package io.sipalr.mobility;

import java.util.List;
import java.util.Objects;

/**
 * A Service Network Access Point: a ranked set of IAPs a connection may roam among.
 *
 * @param iapIds the IAPs in priority order, best first; not empty, no repeats
 */
public record Snap(int id, String name, List<Integer> iapIds) {

  public Snap {
    Objects.requireNonNull(name, "name");
    iapIds = List.copyOf(iapIds);
    if (iapIds.isEmpty()) {
      throw new IllegalArgumentException("SNAP " + id + ": names no IAP");
    }
    if (iapIds.stream().distinct().count() != iapIds.size()) {
      throw new IllegalArgumentException("SNAP " + id + ": names an IAP twice");
    }
  }

  /** The IAP's position in the priority order (0 is best), or -1 when it is not in this SNAP. */
  public int rank(int iapId) {
    return iapIds.indexOf(iapId);
  }

  @Override
  public String toString() {
    return "SNAP " + id + " (" + name + ")";
  }
}
