package io.sipalr.media;

import java.io.IOException;

/**
 * The RTP of one call: a UDP socket on the profile's current IAP address, the agreed peer and
 * codec, and a move to another address (make-before-break: the new socket is bound and offered
 * before the old one is closed).
 */
public interface MediaChannel {
  String localAddress();

  int localPort();

  /** Starts (or, after a re-offer from the peer, redirects) sending as {@code agreed} says. */
  void start(SdpNegotiator.Agreed agreed);

  /**
   * Binds a socket on {@code address} for a move; RTP still goes out of the old one.
   *
   * @return the new socket's port, for the re-offer
   */
  int prepareMove(String address) throws IOException;

  /** The peer accepted the new address: send from (and listen on) the new socket only. */
  void commitMove(SdpNegotiator.Agreed agreed);

  /** The move failed: the prepared socket is closed, the old one stays. */
  void abortMove();

  MediaStats stats();

  /**
   * Queues DTMF {@code digits} (0-9, *, #, A-D) to be sent as telephone-events (RFC 4733), one
   * after the other, 100 ms each.
   *
   * @throws IllegalArgumentException a character that is no digit, or too many waiting
   * @throws IllegalStateException the peer did not accept telephone-event, or we send no RTP
   */
  void sendDtmf(String digits);

  /** Stops sending, closes the sockets; writes the recording if there is one. */
  void close();
}
