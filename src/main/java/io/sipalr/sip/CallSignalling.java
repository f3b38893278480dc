package io.sipalr.sip;

import java.util.Optional;
import javax.sip.SipException;
import javax.sip.address.AddressFactory;
import javax.sip.header.HeaderFactory;
import javax.sip.message.MessageFactory;
import javax.sip.message.Request;
import javax.sip.message.Response;

/**
 * What the calls layer needs of the SIP core, and no more: the message factories, a local
 * endpoint (SipProvider) on an address, requests in client transactions, ACKs without one, the
 * profile's current address and first hop, and the {@link InboundCalls} hook. The agent's
 * implementation is {@link SipProfileRegistry#callSignalling()}; unit tests script a peer here.
 */
public interface CallSignalling {
  AddressFactory addresses();

  HeaderFactory headers();

  MessageFactory messages();

  String newCallId();

  String userAgent();

  /** The local address the profile registers from now (its IAP's), if registered somewhere. */
  Optional<String> localAddressOf(String profileId);

  /**
   * Where a profile's out-of-dialog requests go first: its outbound proxy, else its registrar,
   * as a SIP URI ({@code sip:host:port}); empty when the profile is unknown.
   */
  Optional<String> firstHopOf(String profileId);

  /**
   * The transport the profile registers over, as a listening point names it ({@code udp},
   * {@code tcp}, {@code tls}): its calls use it too.
   */
  default String transportOf(String profileId) {
    return "udp";
  }

  /** The profile's address of record ({@code sip:user@domain}); empty when unknown. */
  Optional<String> aorOf(String profileId);

  /** Whether the profile's delete has begun (its deregistration then is not a disable). */
  boolean isBeingDeleted(String profileId);

  /**
   * Whether the profile is not to be registered (disabled, or being deleted): its
   * deregistration then is for good, not a step of a move.
   */
  boolean isStopped(String profileId);

  /** A local endpoint, held until {@link Leg#release()}. */
  interface Leg {
    String address();

    int port();

    /** The port of this endpoint's listening point for {@code transport} (TLS has its own). */
    default int port(String transport) {
      return port();
    }

    void release();
  }

  /** One reference to the endpoint on {@code address} (bound on first use). */
  Leg acquire(String address) throws SipException;

  /** What the sender of a request hears about it. */
  interface Responses {
    void onResponse(Response response);

    /** No final answer came (Timer B/F or a transport error). */
    void onTimeout();

    /**
     * The request was never sent: its next hop did not resolve (after {@link #send} returned),
     * or sending failed then; {@code why} names the hop.
     */
    default void onUnsent(String why) {
      onTimeout();
    }
  }

  /** Sends {@code request} from {@code from} in a client transaction; routed by Route/R-URI. */
  void send(Leg from, Request request, Responses responses) throws SipException;

  /** Sends an ACK to a 2xx (its own transaction, RFC 3261 §13.2.2.4) without a transaction. */
  void sendAck(Leg from, Request ack) throws SipException;

  /** Where call requests go from now on (null: answered as without calls). */
  void inboundCalls(InboundCalls handler);
}
