package io.sipalr.sip;

import java.text.ParseException;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import javax.sip.ListeningPoint;
import javax.sip.SipException;
import javax.sip.address.Address;
import javax.sip.address.SipURI;
import javax.sip.header.ViaHeader;
import javax.sip.message.Request;

/** The OPTIONS keep-alive of a flow (RFC 5626 fallback), and what its answers mean. */
final class KeepAliveOptions {
  private KeepAliveOptions() {
  }

  /**
   * Whether a keep-alive's answer says the registrar no longer routes to us over this flow: a
   * registrar that implements RFC 5626 strictly answers 403 (or 430 Flow Failed, 404, 481) and
   * has dropped the binding. Any other answer (200, or 405 from one that does no OPTIONS) proves
   * the flow alive.
   */
  static boolean revealsLostBinding(int code) {
    return code == 403 || code == 404 || code == 410 || code == 430 || code == 480
        || code == 481;
  }

  /** An OPTIONS from the flow's local endpoint to its far end, answered by the far end. */
  static Request build(SipWire engine, FlowKeepAlive.Flow flow)
      throws ParseException, javax.sip.InvalidArgumentException, SipException {
    ListeningPoint lp = flow.endpoint().listeningPoint(flow.transport());
    SipURI target = engine.addresses().createSipURI(null, flow.host());
    target.setPort(flow.port());
    if (!ListeningPoint.UDP.equalsIgnoreCase(flow.transport())) {
      target.setTransportParam(flow.transport().toLowerCase(java.util.Locale.ROOT));
    }
    Address agent = engine.addresses().createAddress(
        engine.addresses().createSipURI(null, lp.getIPAddress()));
    ViaHeader via = engine.headers().createViaHeader(lp.getIPAddress(), lp.getPort(),
        flow.transport(), null);
    via.setRPort();
    Request request = engine.messages().createRequest(target, Request.OPTIONS,
        engine.headers().createCallIdHeader(engine.newCallId()),
        engine.headers().createCSeqHeader(1L, Request.OPTIONS),
        engine.headers().createFromHeader(agent,
            Long.toHexString(ThreadLocalRandom.current().nextLong())),
        engine.headers().createToHeader(engine.addresses().createAddress(target), null),
        List.of(via), engine.headers().createMaxForwardsHeader(70));
    request.addHeader(engine.headers().createHeader("User-Agent", engine.userAgent()));
    return request;
  }

}
