package io.sipalr.alr;

import java.util.List;

/**
 * Which calls a profile has under way: given to {@link SipAlr#callsOn} by whoever wires calls
 * in (the agent), so that ALR events and policies can weigh them without ALR depending on the
 * calls layer. Called on the SNAP's serial executor: return at once, never block.
 */
@FunctionalInterface
public interface CallsOnProfiles {
  CallsOnProfiles NONE = profileId -> List.of();

  /** The ids of the profile's calls under way (ringing, being set up, established). */
  List<String> callIdsOf(String profileId);
}
