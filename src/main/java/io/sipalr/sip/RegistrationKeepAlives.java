package io.sipalr.sip;

/**
 * Which keep-alives one registration takes part in: the outbound flow it is kept alive on (RFC
 * 5626 §4.4) and the flow it pings for a NAT without outbound; either, both or none. Part of
 * {@link Registration}'s state, used on its executor only: no lock.
 */
final class RegistrationKeepAlives {
  private final FlowKeepAlive keepAlive;
  private final FlowKeepAlive.Member member;
  private final SipConfig.Nat nat;
  private FlowKeepAlive.Flow keptAlive;
  private FlowKeepAlive.Flow natPinged;

  RegistrationKeepAlives(FlowKeepAlive keepAlive, FlowKeepAlive.Member member,
      SipConfig.Nat nat) {
    this.keepAlive = keepAlive;
    this.member = member;
    this.nat = nat;
  }

  /**
   * Keeps {@code outbound} alive (with the registrar's {@code flowTimer}, 0 for none, and where
   * it saw the REGISTER come from, its Via) and NAT-pings {@code natPing}; {@code null} for
   * neither. What stays the same is left running, timers included.
   */
  void keep(FlowKeepAlive.Flow outbound, int flowTimer, String seenAt,
      FlowKeepAlive.Flow natPing) {
    if (natPinged != null && !natPinged.equals(natPing)) {
      keepAlive.leaveNatPing(natPinged, member);
      natPinged = null;
    }
    if (natPing != null) {
      keepAlive.joinNatPing(natPing, member, nat, seenAt); // again: the latest mapping
      natPinged = natPing;
    }
    if (keptAlive != null && !keptAlive.equals(outbound)) {
      keepAlive.leave(keptAlive, member);
      keptAlive = null;
    }
    if (outbound != null) {
      keepAlive.join(outbound, member, flowTimer, seenAt);
      keptAlive = outbound;
    }
  }

  /** Not bound any more: nothing to keep alive (a 200 starts the keep-alives again). */
  void stop() {
    keep(null, 0, null, null);
  }

  /** {@code failed} was dropped by the keep-alive that found it dead: no leave owed. */
  void failed(FlowKeepAlive.Flow failed) {
    if (failed.equals(keptAlive)) {
      keptAlive = null;
    }
  }
}
