package io.sipalr.calls;

import io.sipalr.sip.CallSignalling;
import java.text.ParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.ListIterator;
import javax.sip.InvalidArgumentException;
import javax.sip.address.Address;
import javax.sip.address.SipURI;
import javax.sip.address.URI;
import javax.sip.header.AllowHeader;
import javax.sip.header.CSeqHeader;
import javax.sip.header.CallIdHeader;
import javax.sip.header.ContactHeader;
import javax.sip.header.FromHeader;
import javax.sip.header.RecordRouteHeader;
import javax.sip.header.ToHeader;
import javax.sip.header.ViaHeader;
import javax.sip.message.Request;
import javax.sip.message.Response;

/**
 * One INVITE dialog's state (RFC 3261 §12): Call-ID, tags, local and remote URI, the remote
 * target, the route set and the CSeq numbers, and the in-dialog requests built from them. The
 * agent keeps this itself (the stack runs without automatic dialogs) so that the state machine
 * above it runs the same over the stack and over a scripted peer. Route sets are taken as loose
 * routes (";lr"), which is what Kamailio and every current proxy record.
 */
final class Dialog {
  final String callId;
  final String localTag;
  String remoteTag;
  final Address local;
  final Address remote;
  URI remoteTarget;
  /** In the order requests carry them. */
  List<Address> routeSet = List.of();
  long localCseq;
  long remoteCseq = -1;
  /**
   * The transport of the call's own requests and Contact ({@code udp}, {@code tcp},
   * {@code tls}): the profile's for our calls, the one the INVITE came over for the peer's.
   */
  String transport = "udp";
  /** Whether the peer's last Allow listed UPDATE (RFC 3311): a move may then use it. */
  boolean peerAllowsUpdate;

  Dialog(String callId, String localTag, Address local, Address remote, URI remoteTarget) {
    this.callId = callId;
    this.localTag = localTag;
    this.local = local;
    this.remote = remote;
    this.remoteTarget = remoteTarget;
  }

  /** The UAS side of the dialog an initial INVITE creates (§12.1.1). */
  static Dialog asCallee(Request invite, String localTag) {
    FromHeader from = (FromHeader) invite.getHeader(FromHeader.NAME);
    ToHeader to = (ToHeader) invite.getHeader(ToHeader.NAME);
    ContactHeader contact = (ContactHeader) invite.getHeader(ContactHeader.NAME);
    Dialog d = new Dialog(((CallIdHeader) invite.getHeader(CallIdHeader.NAME)).getCallId(),
        localTag, to.getAddress(), from.getAddress(),
        contact != null ? contact.getAddress().getURI() : from.getAddress().getURI());
    d.remoteTag = from.getTag();
    d.routeSet = recordRoutes(invite, false);
    d.remoteCseq = ((CSeqHeader) invite.getHeader(CSeqHeader.NAME)).getSeqNumber();
    d.learnAllow(invite);
    // the top Via names the transport the INVITE came over (RFC 3261 §18.1.1)
    if (invite.getHeader(ViaHeader.NAME) instanceof ViaHeader via && via.getTransport() != null) {
      d.transport = via.getTransport().toLowerCase(java.util.Locale.ROOT);
    }
    return d;
  }

  /** The UAC side, completed by the 2xx to our INVITE (§12.1.2). */
  void confirmedBy(Response ok) {
    remoteTag = ((ToHeader) ok.getHeader(ToHeader.NAME)).getTag();
    ContactHeader contact = (ContactHeader) ok.getHeader(ContactHeader.NAME);
    if (contact != null) {
      remoteTarget = contact.getAddress().getURI();
    }
    routeSet = recordRoutes(ok, true);
    learnAllow(ok);
  }

  /**
   * What the peer's Allow says it takes; a message without Allow says nothing (RFC 3261
   * §20.5), so what was learnt before stays.
   */
  void learnAllow(javax.sip.message.Message m) {
    ListIterator<?> it = m.getHeaders(AllowHeader.NAME);
    if (!it.hasNext()) {
      return;
    }
    boolean update = false;
    while (it.hasNext()) {
      update |= Request.UPDATE.equalsIgnoreCase(((AllowHeader) it.next()).getMethod());
    }
    peerAllowsUpdate = update;
  }

  private static List<Address> recordRoutes(javax.sip.message.Message m, boolean reverse) {
    List<Address> routes = new ArrayList<>();
    ListIterator<?> it = m.getHeaders(RecordRouteHeader.NAME);
    while (it.hasNext()) {
      routes.add((Address) ((RecordRouteHeader) it.next()).getAddress().clone());
    }
    if (reverse) {
      java.util.Collections.reverse(routes);
    }
    return List.copyOf(routes);
  }

  /** Whether {@code request} belongs to this dialog (Call-ID and both tags, §12.2.2). */
  boolean matches(Request request) {
    String cid = ((CallIdHeader) request.getHeader(CallIdHeader.NAME)).getCallId();
    String fromTag = ((FromHeader) request.getHeader(FromHeader.NAME)).getTag();
    String toTag = ((ToHeader) request.getHeader(ToHeader.NAME)).getTag();
    return callId.equals(cid) && localTag.equals(toTag)
        && (remoteTag == null || remoteTag.equals(fromTag));
  }

  /**
   * An in-dialog request: the remote target as Request-URI, the route set, the next CSeq (the
   * INVITE's own for ACK), a Via on {@code leg}; {@code contact} for (re-)INVITE.
   */
  Request request(CallSignalling sip, String method, CallSignalling.Leg leg, Address contact,
      String userAgent) throws ParseException, InvalidArgumentException {
    long seq = Request.ACK.equals(method) || Request.CANCEL.equals(method) ? localCseq
        : ++localCseq;
    var h = sip.headers();
    ToHeader to = h.createToHeader(remote, remoteTag);
    FromHeader from = h.createFromHeader(local, localTag);
    Request r = sip.messages().createRequest((URI) remoteTarget.clone(), method,
        h.createCallIdHeader(callId), h.createCSeqHeader(seq, method), from, to,
        new ArrayList<>(List.of(h.createViaHeader(leg.address(), leg.port(transport),
            transport.toUpperCase(java.util.Locale.ROOT), Calls.branch()))),
        h.createMaxForwardsHeader(70));
    for (Address route : routeSet) {
      r.addHeader(h.createRouteHeader(route));
    }
    if (contact != null) { // a target refresh (re-INVITE, UPDATE): what we take with it
      r.addHeader(h.createContactHeader(contact));
      r.addHeader(h.createAllowHeader(Calls.ALLOW));
    }
    r.addHeader(h.createHeader("User-Agent", userAgent));
    return r;
  }

  /**
   * {@code sip:<user>@<address>:<port>}, with {@code ;transport=tcp} or {@code ;transport=tls}
   * over those: the Contact a call gives there.
   */
  Address contact(CallSignalling sip, String user, String address, int port)
      throws ParseException {
    SipURI uri = sip.addresses().createSipURI(user, hostPart(address));
    uri.setPort(port);
    if (!"udp".equals(transport)) {
      uri.setTransportParam(transport);
    }
    return sip.addresses().createAddress(uri);
  }

  static String hostPart(String address) {
    return address.contains(":") && !address.startsWith("[") ? "[" + address + "]" : address;
  }
}
