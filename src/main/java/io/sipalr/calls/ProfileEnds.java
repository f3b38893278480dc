package io.sipalr.calls;

import io.sipalr.sip.CallSignalling;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.RegistryEvent;
import io.sipalr.sip.RegistryListener;

/**
 * Ends a profile's calls when the profile goes for good (docs/calls.md, "Profiles that go"):
 * deleted, disabled (by the user or the operator), or its registration stopped without a retry
 * of its own (wrong credentials). A registration that is only backing off or waiting for a
 * network keeps its calls: their media does not go through the registrar.
 */
final class ProfileEnds implements RegistryListener {
  private final Calls calls;
  private final CallSignalling sip;

  ProfileEnds(Calls calls, CallSignalling sip) {
    this.calls = calls;
    this.sip = sip;
  }

  @Override
  public void onEvent(RegistryEvent event) {
    String reason = reason(event);
    if (reason != null) {
      calls.endCallsOf(event.profileId(), reason);
    }
  }

  /** Why the event ends the profile's calls, or null when it does not. */
  String reason(RegistryEvent event) {
    return switch (event.type()) {
      case DESTROYED -> "profile deleted";
      case FORCIBLY_DISABLED -> "profile disabled by the operator";
      // A stop for good begins (DEREGISTERING while not wanted): a disable, or the first step
      // of a delete. DEREGISTERING while wanted is a break-before-make move: calls stay.
      case DEREGISTERED -> !sip.isStopped(event.profileId()) ? null
          : sip.isBeingDeleted(event.profileId()) ? "profile deleted" : "profile disabled";
      case REGISTRATION_FAILED -> event.status() == ProfileStatus.UNREGISTERED
          && event.error() != null && event.error().retryIn() == null
              ? "profile's registration failed for good: " + event.error().kind() + " "
                  + (event.error().sipStatus() > 0 ? event.error().sipStatus() + " " : "")
                  + event.error().reason()
              : null;
      default -> null;
    };
  }
}
