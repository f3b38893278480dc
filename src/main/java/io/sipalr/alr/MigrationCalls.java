package io.sipalr.alr;

import java.util.List;

/**
 * The calls of a profile that a move touches (each is re-INVITEd from the new IAP), as the
 * calls layer told when the event was made; ALR knows calls only through this and
 * {@link CallsOnProfiles}.
 *
 * @param callIds the ids of the profile's calls under way (GET /v1/calls/{id})
 */
public record MigrationCalls(List<String> callIds) {
  public static final MigrationCalls NONE = new MigrationCalls(List.of());

  public MigrationCalls {
    callIds = List.copyOf(callIds);
  }

  public int count() {
    return callIds.size();
  }
}
