package io.sipalr.sip;

import javax.sip.SipException;
import javax.sip.address.AddressFactory;
import javax.sip.header.HeaderFactory;
import javax.sip.message.MessageFactory;
import javax.sip.message.Request;
import javax.sip.message.Response;

/**
 * The seam under the SIP core's state machines ({@link Registration}, {@link FlowKeepAlive}):
 * the message factories and one way to send a request and hear its answers. {@link SipEngine}
 * is the one implementation in the agent (JAIN-SIP, real sockets); the unit tests put a
 * scripted registrar and a virtual clock here, so that every rule runs without sockets.
 */
interface SipWire {

  /** A request on its way; its answers go to the {@link Handler} it was sent with. */
  interface Exchange {
    /** Stops waiting for answers (rule 13: an abandoned REGISTER holds nothing up). */
    void abandon();
  }

  /** What the sender of a request wants to hear about it. */
  interface Handler {
    void onResponse(Exchange exchange, Response response);

    /** No final answer will come (Timer F/B, or a transport error). */
    void onTimeout(Exchange exchange);

    /** The transport sent the request again (UDP, Timer E/A): for the counts only. */
    default void onRetransmit(Exchange exchange) {
    }
  }

  AddressFactory addresses();

  HeaderFactory headers();

  MessageFactory messages();

  String newCallId();

  String userAgent();

  /**
   * Sends {@code request} from {@code from} to {@code host:port} over {@code transport}. The
   * handler may be called on any thread, also before this method returns.
   */
  Exchange send(SipEngine.Endpoint from, Request request, Handler handler, String transport,
      String host, int port) throws SipException;

  /**
   * Sets up the connection a request from {@code from} to {@code host:port} (an address) over
   * {@code transport} goes over: for TCP and TLS a connect, for TLS a handshake whose
   * certificate must name {@code domain} (RFC 5922) and that shows profile {@code profileId}'s
   * client certificate {@code certificate} (a name of sip.tls.client-certificates; null:
   * sip.tls.key-store's, or none). Completed at once when it is up already, and for UDP; else
   * completes on another thread, failed as the connect failed; failed at once (a
   * {@link SipTrust.Refused}) when other profiles on that connection show another client
   * certificate. Never blocks: a request over TCP or TLS is sent only once this is done.
   */
  java.util.concurrent.CompletableFuture<Void> connect(SipEngine.Endpoint from,
      String transport, String host, int port, String domain, String profileId,
      String certificate);

  /**
   * Profile {@code profileId} shows no client certificate on any connection any more (it was
   * disabled or deleted): another may show another one there.
   */
  default void releaseClientCertificate(String profileId) {}

  /**
   * One more reference to the local endpoint on {@code address}, bound on first use; pair each
   * with one {@link #release}. Fails when the address is not (yet) local.
   */
  SipEngine.Endpoint acquire(String address) throws SipException;

  /**
   * Sends a keep-alive ping (a double CRLF, RFC 5626 §3.5.1) from {@code from} to
   * {@code host:port} over UDP; nothing answers it. Never blocks.
   */
  void ping(SipEngine.Endpoint from, String host, int port);

  /**
   * Sends a STUN Binding request (RFC 5626 §4.4.2) from {@code from}'s UDP socket, the one the
   * registrar knows, to {@code host:port}; its answer goes to the {@link KeepAliveAnswers}.
   * Never blocks.
   */
  void stunRequest(SipEngine.Endpoint from, String host, int port, StunMessage request);

  /**
   * Sends a double CRLF (RFC 5626 §4.4.1) over the open connection from {@code from} to
   * {@code host:port}; its pong (a CRLF) is told to the {@link KeepAliveAnswers}, and so is,
   * at once, a connection that is not there (or a ping that cannot be written). Never blocks.
   */
  void crlfPing(SipEngine.Endpoint from, String transport, String host, int port);

  /**
   * Closes the connection from {@code from} to {@code host:port} over {@code transport} (TCP,
   * TLS): its flow failed, and RFC 5626 §4.5 re-registers over a new one. Never blocks.
   */
  default void closeConnection(SipEngine.Endpoint from, String transport, String host,
      int port) {
  }

  /** What comes back of STUN requests and CRLF pings; called on any thread, must not block. */
  interface KeepAliveAnswers {
    /** A STUN response arrived on one of the agent's UDP sockets. */
    void stunAnswer(StunMessage answer);

    /** A pong (CRLF) came over the connection from {@code localAddress} to {@code host:port}. */
    void pong(String localAddress, String transport, String host, int port);

    /** A CRLF ping from {@code local} to {@code host:port} went nowhere: no connection. */
    void pongMissing(String localAddress, int localPort, String transport, String host,
        int port);
  }

  /** Where STUN answers, pongs and missing connections go from now on. */
  void keepAliveAnswers(KeepAliveAnswers answers);

  /** Gives back one reference to {@code endpoint}. */
  void release(SipEngine.Endpoint endpoint);

  /** The endpoint on the configured local address, for profiles without SNAP or IAP. */
  SipEngine.Endpoint anchor();

  /** Endpoints in use now, the anchor included (for leak checks); idle ones are not counted. */
  int endpointCount();

  /** Endpoints bound now, idle ones waiting out their linger included. */
  int boundEndpointCount();

  /** The configured local address and the port SIP listens on there. */
  String localAddress();

  int port();

  /** What the agent does with requests from outside that are for one of its profiles. */
  interface Inbound {
    /** Whether a profile with this id exists (a request for any other is answered 404). */
    boolean knows(String profileId);

    /** A MESSAGE for a known profile, already answered 200. */
    void message(IncomingMessage message);
  }

  /** Where requests from outside go from now on. */
  void inbound(Inbound inbound);

  /** Where call requests go from now on (see {@link InboundCalls}); null: none. */
  default void inboundCalls(InboundCalls calls) {
  }

  /** Sends {@code request} (an ACK to a 2xx) from {@code from} without a transaction. */
  default void sendStateless(SipEngine.Endpoint from, Request request) throws SipException {
    throw new SipException("this transport sends nothing without a transaction");
  }

  /**
   * As {@link #sendStateless(SipEngine.Endpoint, Request)}, to a resolved next hop (an address,
   * never a name the stack would look up on the sending thread).
   */
  default void sendStateless(SipEngine.Endpoint from, Request request, String transport,
      String host, int port) throws SipException {
    sendStateless(from, request);
  }

  /** Stops the transport; nothing is sent or heard after it. */
  void close();
}
