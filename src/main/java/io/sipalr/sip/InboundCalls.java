package io.sipalr.sip;

import javax.sip.message.Response;

/**
 * The hook through which an upper layer (io.sipalr.calls) takes the requests of INVITE dialogs
 * (INVITE, re-INVITE, ACK, BYE, CANCEL, UPDATE) for a profile, and the 2xx retransmissions of
 * its INVITEs, which arrive after their client transaction has ended. Without a handler, or
 * when it declines, the SIP core answers as it always did (INVITE 480, BYE/CANCEL 481).
 * Called on a SIP stack thread: never block.
 */
public interface InboundCalls {
  /** @return true when taken (the handler answers it, or, for ACK, absorbs it) */
  boolean onRequest(CallRequest request);

  /** A response that matches no client transaction (a retransmitted 2xx to an INVITE). */
  void onStrayResponse(Response response);
}
