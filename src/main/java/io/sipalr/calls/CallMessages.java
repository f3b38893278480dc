package io.sipalr.calls;

import io.sipalr.sip.CallRequest;
import io.sipalr.sip.CallSignalling;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.util.List;
import java.util.function.Consumer;
import javax.sip.InvalidArgumentException;
import javax.sip.SipException;
import javax.sip.address.Address;
import javax.sip.header.CallIdHeader;
import javax.sip.header.ContentTypeHeader;
import javax.sip.header.FromHeader;
import javax.sip.header.Header;
import javax.sip.header.ToHeader;
import javax.sip.header.ViaHeader;
import javax.sip.message.Message;
import javax.sip.message.Request;
import javax.sip.message.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The messages a call builds that are not in-dialog requests ({@link Dialog#request} makes
 * those): responses with the dialog's To tag, SDP bodies, the CANCEL of an INVITE, and the
 * {@link CallSignalling.Responses} a sent request reports to.
 */
final class CallMessages {
  private static final Logger log = LoggerFactory.getLogger(CallMessages.class);

  private final Call call;

  CallMessages(Call call) {
    this.call = call;
  }

  private CallSignalling sip() {
    return call.calls.sip;
  }

  Address contact(CallSignalling.Leg on) throws ParseException {
    return contactAt(on.address(), on.port(call.dialog.transport));
  }

  /** {@code sip:<profile>@<address>:<port>}: the Contact a call gives there. */
  Address contactAt(String address, int port) throws ParseException {
    return call.dialog.contact(sip(), call.profileId, address, port);
  }

  /** Answers {@code request} with {@code status}; a failure to send is logged, no more. */
  void respond(CallRequest request, int status, String sdp) {
    try {
      request.respond(response(request.request(), status, sdp));
    } catch (SipException | ParseException e) {
      log.warn("call {} ({}): {} not sent: {}", call.id, call.profileId, status, e.getMessage());
    }
  }

  /** A response to {@code request} with this dialog's To tag and, if given, an SDP body. */
  Response response(Request request, int status, String sdp) throws ParseException {
    Response r = sip().messages().createResponse(status, request);
    ToHeader to = (ToHeader) r.getHeader(ToHeader.NAME);
    if (to.getTag() == null && status != Response.TRYING) {
      to.setTag(call.dialog.localTag);
    }
    r.addHeader(sip().headers().createHeader("User-Agent", sip().userAgent()));
    if (sdp != null) {
      setBody(r, sdp);
    }
    return r;
  }

  /** A 2xx to an INVITE or UPDATE from {@code leg}: its Contact and, if given, the SDP. */
  Response ok(Request request, String sdp, CallSignalling.Leg leg) throws ParseException {
    return ok(request, sdp, contact(leg));
  }

  Response ok(Request request, String sdp, Address contact) throws ParseException {
    Response ok = response(request, Response.OK, sdp);
    ok.addHeader(sip().headers().createContactHeader(contact));
    ok.addHeader(sip().headers().createAllowHeader(Calls.ALLOW));
    return ok;
  }

  void setBody(Message m, String sdp) throws ParseException {
    ContentTypeHeader type = sip().headers().createContentTypeHeader("application", "sdp");
    m.setContent(sdp, type);
  }

  /** The CANCEL of {@code invite} (RFC 3261 §9.1): its Via branch, CSeq number and routes. */
  Request cancel(Request invite, long cseq) throws ParseException, InvalidArgumentException {
    Request cancel = sip().messages().createRequest(invite.getRequestURI(), Request.CANCEL,
        (CallIdHeader) invite.getHeader(CallIdHeader.NAME),
        sip().headers().createCSeqHeader(cseq, Request.CANCEL),
        (FromHeader) invite.getHeader(FromHeader.NAME), (ToHeader) invite.getHeader(ToHeader.NAME),
        List.of((ViaHeader) invite.getHeader(ViaHeader.NAME)),
        sip().headers().createMaxForwardsHeader(70));
    var routes = invite.getHeaders("Route");
    while (routes.hasNext()) {
      cancel.addHeader((Header) ((Header) routes.next()).clone());
    }
    return cancel;
  }

  /** The SDP body of {@code m}, or null when it has none. */
  static String body(Message m) {
    byte[] raw = m.getRawContent();
    return raw == null || raw.length == 0 ? null : new String(raw, StandardCharsets.UTF_8);
  }

  static CallSignalling.Responses responses(Consumer<Response> onResponse, Runnable onTimeout) {
    return responses(onResponse, onTimeout, why -> onTimeout.run());
  }

  static CallSignalling.Responses responses(Consumer<Response> onResponse, Runnable onTimeout,
      Consumer<String> onUnsent) {
    return new CallSignalling.Responses() {
      @Override
      public void onUnsent(String why) {
        onUnsent.accept(why);
      }

      @Override
      public void onResponse(Response response) {
        onResponse.accept(response);
      }

      @Override
      public void onTimeout() {
        onTimeout.run();
      }
    };
  }
}
