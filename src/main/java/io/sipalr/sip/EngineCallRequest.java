package io.sipalr.sip;

import javax.sip.ListeningPoint;
import javax.sip.RequestEvent;
import javax.sip.ServerTransaction;
import javax.sip.SipException;
import javax.sip.SipProvider;
import javax.sip.TransactionAlreadyExistsException;
import javax.sip.message.Request;
import javax.sip.message.Response;

/** A call request as the JAIN-SIP stack delivered it; answered in one server transaction. */
final class EngineCallRequest implements CallRequest {
  private final RequestEvent event;
  private final String profileId;
  private ServerTransaction transaction;
  private boolean retransmission;

  EngineCallRequest(RequestEvent event, String profileId) {
    this.event = event;
    this.profileId = profileId;
    this.transaction = event.getServerTransaction();
  }

  @Override
  public String profileId() {
    return profileId;
  }

  @Override
  public Request request() {
    return event.getRequest();
  }

  /** The listening point the request came in on: the transport of its top Via. */
  private ListeningPoint listeningPoint() {
    SipProvider provider = (SipProvider) event.getSource();
    javax.sip.header.ViaHeader via =
        (javax.sip.header.ViaHeader) request().getHeader(javax.sip.header.ViaHeader.NAME);
    ListeningPoint lp = via != null && via.getTransport() != null
        ? provider.getListeningPoint(via.getTransport()) : null;
    return lp != null ? lp : provider.getListeningPoint(ListeningPoint.UDP);
  }

  @Override
  public String localAddress() {
    return listeningPoint().getIPAddress();
  }

  @Override
  public int localPort() {
    return listeningPoint().getPort();
  }

  @Override
  public synchronized boolean respond(Response response) throws SipException {
    if (retransmission) {
      return false;
    }
    if (transaction == null) {
      try {
        transaction = ((SipProvider) event.getSource()).getNewServerTransaction(request());
      } catch (TransactionAlreadyExistsException e) {
        retransmission = true; // its transaction answers it again
        return false;
      }
    }
    try {
      transaction.sendResponse(response);
    } catch (javax.sip.InvalidArgumentException e) {
      throw new SipException("cannot send " + response.getStatusCode() + ": " + e.getMessage(), e);
    }
    return true;
  }

  @Override
  public void resend(Response response) throws SipException {
    ((SipProvider) event.getSource()).sendResponse(response);
  }
}
