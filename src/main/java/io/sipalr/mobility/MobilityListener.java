package io.sipalr.mobility;

import java.net.InetAddress;

/**
 * What a {@link SnapConnection} tells its application (Symbian's MMobilityProtocolResp, plus
 * the address and loss notices a Linux host needs). Called on the connection's serial executor,
 * one call at a time: return quickly and never block. Decisions may be made from inside a call;
 * they are processed after it returns.
 *
 * <p>The protocol, for one connection: every {@link #preferredCarrierAvailable} is answered by
 * {@link SnapConnection#migrateToPreferredCarrier} or
 * {@link SnapConnection#ignorePreferredCarrier}; every {@link #newCarrierActive} by
 * {@link SnapConnection#newCarrierAccepted} or
 * {@link SnapConnection#newCarrierRejected}, the first one included. Only one of the two is
 * outstanding at a time; until it is answered no other offer is made. Seamless is always false
 * here (no Mobile IP): every move changes the local address, so transports must be rebound.
 */
public interface MobilityListener {

  /**
   * An IAP is offered. Upgrade: it ranks above the carrier, which still works. Downgrade
   * ({@code isUpgrade} false): the carrier was lost or rejected, and this is the best IAP
   * left; it follows {@link #carrierLost} or a rejection, and replaces any offer outstanding
   * before the loss.
   *
   * @param oldIap the carrier the offer moves away from (the lost or rejected one for a
   *     downgrade); never null here: with no carrier at all the best IAP is made active without
   *     an offer
   */
  void preferredCarrierAvailable(Iap oldIap, Iap newIap, boolean isUpgrade, boolean isSeamless);

  /**
   * {@code newIap} is active on {@code address}: bind to it and try it (e.g. register through
   * it), then accept or reject it. Sent after a migration decision, and without any offer for
   * the first IAP of a connection and for the first one usable after {@link
   * MobilityError#NOT_FOUND} (rule 1: the initial IAP is taken without asking). The previous
   * carrier, if it still works, stays usable until the new one is accepted.
   */
  void newCarrierActive(Iap newIap, InetAddress address, boolean isSeamless);

  /**
   * The carrier, or the new carrier of a migration in progress, is still available but on a
   * new address (DHCP, cellular re-attach): rebind and re-register, no vote (rule 15).
   */
  void carrierAddressChanged(Iap iap, InetAddress newAddress);

  /**
   * {@code iap}, the carrier or the new carrier of a migration in progress, went away. Any
   * outstanding offer is void. If a working IAP is still in use (the old carrier during a
   * migration, or the new one whose old carrier was lost) the connection stays on it;
   * otherwise a downgrade offer or {@link MobilityError#NOT_FOUND} follows at once.
   */
  void carrierLost(Iap iap);

  void error(MobilityError code);
}
