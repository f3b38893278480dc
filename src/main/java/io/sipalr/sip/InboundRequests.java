package io.sipalr.sip;

import java.text.ParseException;
import javax.sip.RequestEvent;
import javax.sip.ServerTransaction;
import javax.sip.SipException;
import javax.sip.SipProvider;
import javax.sip.address.SipURI;
import javax.sip.header.CallIdHeader;
import javax.sip.header.ContentTypeHeader;
import javax.sip.header.FromHeader;
import javax.sip.header.HeaderFactory;
import javax.sip.header.ToHeader;
import javax.sip.header.ViaHeader;
import javax.sip.message.MessageFactory;
import javax.sip.message.Request;
import javax.sip.message.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The requests the {@link SipEngine}'s stack delivers from outside: INVITE dialogs' to the
 * {@link InboundCalls} when set, every other one answered here, MESSAGEs handed to the
 * {@link SipWire.Inbound}. Called on the stack's threads.
 */
final class InboundRequests {
  private static final Logger log = LoggerFactory.getLogger(InboundRequests.class);
  /** Methods this agent answers itself; listed in Allow. */
  static final String ALLOW = "OPTIONS, MESSAGE";
  private static final java.util.Set<String> CALL_METHODS = java.util.Set.of(Request.INVITE,
      Request.ACK, Request.BYE, Request.CANCEL, Request.UPDATE);

  private final MessageFactory messages;
  private final HeaderFactory headers;
  private final String userAgent;
  private final int maxMessageBody;
  /** Requests from outside for a profile; none known until the registry says (then 404). */
  private volatile SipWire.Inbound inbound = new SipWire.Inbound() {
    @Override
    public boolean knows(String profileId) {
      return false;
    }

    @Override
    public void message(IncomingMessage message) {
    }
  };
  /** INVITE dialogs' requests go here first when set (io.sipalr.calls). */
  private volatile InboundCalls calls;

  /** @param maxMessageBody {@code sip.max-message-body}: a larger MESSAGE is answered 413 */
  InboundRequests(MessageFactory messages, HeaderFactory headers, String userAgent,
      int maxMessageBody) {
    this.messages = messages;
    this.headers = headers;
    this.userAgent = userAgent;
    this.maxMessageBody = maxMessageBody;
  }

  void inbound(SipWire.Inbound handler) {
    this.inbound = handler;
  }

  void calls(InboundCalls handler) {
    this.calls = handler;
  }

  /** Where the stray responses go too (2xx retransmissions to an INVITE); null: none. */
  InboundCalls calls() {
    return calls;
  }

  /**
   * Answers a request from outside, or hands it to the calls layer (INVITE dialogs' requests,
   * when it takes them). A request for a user part that names no profile of ours is answered
   * 404; OPTIONS (a keep-alive, or a probe of a user) 200; MESSAGE 200 and delivered once (in a
   * server transaction, which absorbs retransmissions), 413 above {@code sip.max-message-body};
   * INVITE 480 (no calls yet); BYE and CANCEL 481; anything else 405. Every final response
   * carries a To tag (RFC 3261 §8.2.6.2).
   */
  void answer(RequestEvent event) {
    Request request = event.getRequest();
    String method = request.getMethod();
    String user = request.getRequestURI() instanceof SipURI uri ? uri.getUser() : null;
    boolean forUs = user == null || inbound.knows(user);
    InboundCalls callHandler = calls;
    if (callHandler != null && user != null && forUs && CALL_METHODS.contains(method)
        && callHandler.onRequest(new EngineCallRequest(event, user))) {
      return;
    }
    if (Request.ACK.equals(method)) {
      return; // never answered
    }
    int status;
    if (!forUs) {
      status = Response.NOT_FOUND;
    } else {
      status = switch (method) {
        case Request.OPTIONS -> Response.OK;
        case Request.MESSAGE -> user == null ? Response.NOT_FOUND : bodyStatus(request);
        // No calls yet: the user is not available here rather than the method unknown.
        case Request.INVITE -> Response.TEMPORARILY_UNAVAILABLE;
        case Request.BYE, Request.CANCEL -> Response.CALL_OR_TRANSACTION_DOES_NOT_EXIST;
        default -> Response.METHOD_NOT_ALLOWED;
      };
    }
    try {
      Response response = messages.createResponse(status, request);
      ToHeader to = (ToHeader) response.getHeader(ToHeader.NAME);
      if (to != null && to.getTag() == null) {
        to.setTag(toTag(request));
      }
      if (status == Response.OK || status == Response.METHOD_NOT_ALLOWED) {
        response.addHeader(headers.createAllowHeader(ALLOW));
      }
      if (status == Response.OK) {
        response.addHeader(headers.createSupportedHeader(SipEngine.SUPPORTED));
      }
      response.addHeader(headers.createHeader("User-Agent", userAgent));
      SipProvider provider = (SipProvider) event.getSource();
      if (Request.MESSAGE.equals(method) && status == Response.OK) {
        ServerTransaction st = event.getServerTransaction();
        if (st == null) {
          try {
            st = provider.getNewServerTransaction(request);
          } catch (javax.sip.TransactionAlreadyExistsException retransmission) {
            return; // the transaction answers it again
          }
        }
        st.sendResponse(response);
        inbound.message(new IncomingMessage(user,
            ((FromHeader) request.getHeader(FromHeader.NAME)).getAddress().getURI().toString(),
            contentType(request), body(request), java.time.Instant.now()));
        return;
      }
      // Stateless: a retransmitted request simply gets the same answer (and the same tag).
      provider.sendResponse(response);
    } catch (ParseException | SipException | javax.sip.InvalidArgumentException e) {
      log.warn("could not answer {}: {}", method, e.getMessage());
    }
  }

  private int bodyStatus(Request request) {
    byte[] raw = request.getRawContent();
    return raw != null && raw.length > maxMessageBody ? Response.REQUEST_ENTITY_TOO_LARGE
        : Response.OK;
  }

  /** The same tag for a request and its retransmissions: they share Call-ID, tag and branch. */
  private static String toTag(Request request) {
    FromHeader from = (FromHeader) request.getHeader(FromHeader.NAME);
    ViaHeader via = (ViaHeader) request.getHeader(ViaHeader.NAME);
    int h = java.util.Objects.hash(((CallIdHeader) request.getHeader(CallIdHeader.NAME))
        .getCallId(), from == null ? null : from.getTag(), via == null ? null : via.getBranch());
    return "a" + Integer.toHexString(h);
  }

  private static String contentType(Request request) {
    ContentTypeHeader type = (ContentTypeHeader) request.getHeader(ContentTypeHeader.NAME);
    return type == null ? null : type.getContentType() + "/" + type.getContentSubType();
  }

  private static String body(Request request) {
    byte[] raw = request.getRawContent();
    return raw == null ? "" : new String(raw, java.nio.charset.StandardCharsets.UTF_8);
  }
}
