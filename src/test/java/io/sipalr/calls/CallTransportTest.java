package io.sipalr.calls;

import static org.junit.jupiter.api.Assertions.assertEquals;

import javax.sip.header.ContactHeader;
import javax.sip.header.RouteHeader;
import javax.sip.header.ViaHeader;
import javax.sip.message.Request;
import javax.sip.message.Response;
import org.junit.jupiter.api.Test;

/**
 * Calls over TCP and TLS (docs/calls.md, "Transports"): a call of a profile on TCP or TLS
 * sends its INVITE, ACK, BYE and re-INVITE over that transport (Via) from the listening point
 * of that transport, gives a Contact with it, and routes its INVITE to the first hop with it;
 * a call that came in over TCP answers and goes on over TCP.
 */
class CallTransportTest extends CallsTestBase {
  private static String via(Request r) {
    ViaHeader v = (ViaHeader) r.getHeader(ViaHeader.NAME);
    return v.getTransport() + " " + v.getHost() + ":" + v.getPort();
  }

  private static String contact(javax.sip.message.Message m) {
    return ((ContactHeader) m.getHeader(ContactHeader.NAME)).getAddress().getURI().toString();
  }

  @Test
  void ourCallOnATcpProfileGoesOverTcpThroughoutAndAfterAMove() throws Exception {
    peer.transport = "tcp";
    CallInfo c = establishOutgoing();
    Request invite = peer.last(Request.INVITE).request();
    assertEquals("TCP 198.18.0.2:5060", via(invite));
    assertEquals("sip:alice@198.18.0.2:5060;transport=tcp", contact(invite));
    assertEquals("<sip:198.18.0.1:5060;lr;transport=tcp>",
        ((RouteHeader) invite.getHeader(RouteHeader.NAME)).getAddress().toString());
    assertEquals("TCP 198.18.0.2:5060", via(peer.acks.get(0)));

    moveTo("198.18.0.3");
    Request re = peer.last(Request.INVITE).request();
    assertEquals("TCP 198.18.0.3:5060", via(re));
    assertEquals("sip:alice@198.18.0.3:5060;transport=tcp", contact(re));
    peer.answer(peer.last(Request.INVITE), 200, "bobtag", null, OFFER);

    calls.hangUp(c.id());
    assertEquals("TCP 198.18.0.3:5060", via(peer.last(Request.BYE).request()));
  }

  @Test
  void ourCallOnATlsProfileUsesTheTlsListeningPoint() throws Exception {
    peer.transport = "tls";
    calls.dial("alice", "sip:bob@sipalr.test");
    Request invite = peer.last(Request.INVITE).request();
    assertEquals("TLS 198.18.0.2:5061", via(invite));
    assertEquals("sip:alice@198.18.0.2:5061;transport=tls", contact(invite));
    assertEquals("<sip:198.18.0.1:5060;lr;transport=tls>",
        ((RouteHeader) invite.getHeader(RouteHeader.NAME)).getAddress().toString());
  }

  @Test
  void aCallThatCameInOverTcpIsAnsweredAndEndedOverTcp() throws Exception {
    ScriptedCallPeer.Incoming in = peer.deliver(invite("c1", OFFER)
        .replace("Via: SIP/2.0/UDP 198.18.0.1:5060", "Via: SIP/2.0/TCP 198.18.0.1:5060"));
    clock.advance(java.time.Duration.ofSeconds(1));
    Response ok = in.last();
    assertEquals(200, ok.getStatusCode());
    assertEquals("sip:alice@198.18.0.2:5060;transport=tcp", contact(ok));
    peer.deliver(inDialog("ACK", "c1", toTag(ok), 1, null));
    calls.hangUp(calls.list().get(0).id());
    assertEquals("TCP 198.18.0.2:5060", via(peer.last(Request.BYE).request()));
  }
}
