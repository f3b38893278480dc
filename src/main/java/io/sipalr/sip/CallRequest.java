package io.sipalr.sip;

import javax.sip.SipException;
import javax.sip.message.Request;
import javax.sip.message.Response;

/**
 * A request of an INVITE dialog that reached a profile, and the way to answer it: every
 * {@link #respond} of one request goes through the same server transaction, which absorbs the
 * request's retransmissions and retransmits the last provisional response.
 */
public interface CallRequest {
  /** The user part of the Request-URI: the profile id. */
  String profileId();

  Request request();

  /** The local address (and port) the request arrived on. */
  String localAddress();

  int localPort();

  /**
   * Sends a response in this request's server transaction (not for ACK).
   *
   * @return false when it was a retransmission already being answered (nothing sent)
   */
  boolean respond(Response response) throws SipException;

  /**
   * Sends {@code response} again without a transaction: a 2xx to an INVITE, which the UAS core
   * retransmits until the ACK comes (RFC 3261 §13.3.1.4), after its transaction has ended.
   */
  void resend(Response response) throws SipException;
}
