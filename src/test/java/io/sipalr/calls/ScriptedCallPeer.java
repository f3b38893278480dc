package io.sipalr.calls;

import io.sipalr.sip.CallRequest;
import io.sipalr.sip.CallSignalling;
import io.sipalr.sip.InboundCalls;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.sip.SipException;
import javax.sip.SipFactory;
import javax.sip.address.AddressFactory;
import javax.sip.header.HeaderFactory;
import javax.sip.message.MessageFactory;
import javax.sip.message.Request;
import javax.sip.message.Response;

/**
 * The SIP core under {@link Calls} with no socket: the peer's requests are SIP text handed to
 * the calls' hook, what the calls send is recorded, and the test answers it. One profile,
 * {@code alice}, registered from a local address the test sets (and changes, for moves).
 */
final class ScriptedCallPeer implements CallSignalling {
  final AddressFactory addresses;
  final HeaderFactory headers;
  final MessageFactory messages;
  InboundCalls hook;
  String localAddress = "198.18.0.2";
  /** The transport alice registers over (udp, tcp, tls); TLS listens on 5061. */
  String transport = "udp";
  /** Whether alice's delete has begun. */
  boolean deleting;
  /** Whether alice is disabled (not to be registered). */
  boolean stopped;
  /** Requests the calls sent in transactions, with who hears their answers. */
  final List<Sent> sent = new ArrayList<>();
  final List<Request> acks = new ArrayList<>();
  final Map<String, Integer> legs = new HashMap<>();
  private int callIds;

  record Sent(Leg from, Request request, Responses responses) {}

  /** One request from the peer and what the calls answered to it. */
  final class Incoming implements CallRequest {
    final Request request;
    final String arrivedOn;
    final List<Response> responses = new ArrayList<>();
    int resent;

    Incoming(Request request, String arrivedOn) {
      this.request = request;
      this.arrivedOn = arrivedOn;
    }

    @Override
    public String profileId() {
      return "alice";
    }

    @Override
    public Request request() {
      return request;
    }

    @Override
    public String localAddress() {
      return arrivedOn;
    }

    @Override
    public int localPort() {
      return 5060;
    }

    @Override
    public boolean respond(Response response) {
      responses.add(response);
      return true;
    }

    @Override
    public void resend(Response response) {
      resent++;
    }

    Response last() {
      return responses.get(responses.size() - 1);
    }

    List<Integer> statuses() {
      return responses.stream().map(Response::getStatusCode).toList();
    }
  }

  ScriptedCallPeer() throws Exception {
    SipFactory f = SipFactory.getInstance();
    f.setPathName("gov.nist");
    addresses = f.createAddressFactory();
    headers = f.createHeaderFactory();
    messages = f.createMessageFactory();
  }

  /** The peer sends {@code text}; returns what the calls answered, or null when declined. */
  Incoming deliver(String text) throws Exception {
    Incoming in = new Incoming(messages.createRequest(text), localAddress);
    return hook.onRequest(in) ? in : null;
  }

  Sent last(String method) {
    for (int i = sent.size() - 1; i >= 0; i--) {
      if (sent.get(i).request().getMethod().equals(method)) {
        return sent.get(i);
      }
    }
    throw new AssertionError("no " + method + " sent; sent: " + sent.stream()
        .map(s -> s.request().getMethod()).toList());
  }

  /** The peer answers a request the calls sent. */
  Response answer(Sent to, int status, String toTag, String extraHeaders, String sdp)
      throws Exception {
    Response r = messages.createResponse(status, to.request());
    if (toTag != null) {
      ((javax.sip.header.ToHeader) r.getHeader("To")).setTag(toTag);
    }
    if (extraHeaders != null) {
      for (String line : extraHeaders.split("\r\n")) {
        if (line.isBlank()) {
          continue;
        }
        String name = line.substring(0, line.indexOf(':'));
        try {
          r.addHeader(headers.createHeader(name, line.substring(line.indexOf(':') + 1).trim()));
        } catch (java.text.ParseException list) { // Allow: A, B gives one header per value
          for (Object h : ((gov.nist.javax.sip.header.HeaderFactoryImpl) headers)
              .createHeaders(line)) {
            r.addHeader((javax.sip.header.Header) h);
          }
        }
      }
    }
    if (sdp != null) {
      r.setContent(sdp, headers.createContentTypeHeader("application", "sdp"));
    }
    to.responses().onResponse(r);
    return r;
  }

  int legsHeld() {
    return legs.values().stream().mapToInt(Integer::intValue).sum();
  }

  @Override
  public AddressFactory addresses() {
    return addresses;
  }

  @Override
  public HeaderFactory headers() {
    return headers;
  }

  @Override
  public MessageFactory messages() {
    return messages;
  }

  @Override
  public String newCallId() {
    return "cid-" + (++callIds) + "@scripted";
  }

  @Override
  public String userAgent() {
    return "test";
  }

  @Override
  public Optional<String> localAddressOf(String profileId) {
    return "alice".equals(profileId) ? Optional.ofNullable(localAddress) : Optional.empty();
  }

  @Override
  public Optional<String> firstHopOf(String profileId) {
    return "alice".equals(profileId) ? Optional.of("sip:198.18.0.1:5060") : Optional.empty();
  }

  @Override
  public String transportOf(String profileId) {
    return transport;
  }

  @Override
  public Optional<String> aorOf(String profileId) {
    return "alice".equals(profileId) ? Optional.of("sip:alice@sipalr.test") : Optional.empty();
  }

  @Override
  public boolean isBeingDeleted(String profileId) {
    return deleting;
  }

  @Override
  public boolean isStopped(String profileId) {
    return stopped || deleting;
  }

  @Override
  public Leg acquire(String address) {
    legs.merge(address, 1, Integer::sum);
    return new Leg() {
      private boolean released;

      @Override
      public String address() {
        return address;
      }

      @Override
      public int port() {
        return 5060;
      }

      @Override
      public int port(String transport) {
        return "tls".equals(transport) ? 5061 : 5060;
      }

      @Override
      public void release() {
        if (released) {
          throw new AssertionError("leg on " + address + " released twice");
        }
        released = true;
        legs.merge(address, -1, Integer::sum);
      }
    };
  }

  @Override
  public void send(Leg from, Request request, Responses responses) throws SipException {
    sent.add(new Sent(from, request, responses));
  }

  @Override
  public void sendAck(Leg from, Request ack) {
    acks.add(ack);
  }

  @Override
  public void inboundCalls(InboundCalls handler) {
    hook = handler;
  }
}
