package io.sipalr.sip;

import java.text.ParseException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.ListIterator;
import java.util.Map;
import javax.sip.InvalidArgumentException;
import javax.sip.ListeningPoint;
import javax.sip.PeerUnavailableException;
import javax.sip.SipException;
import javax.sip.SipFactory;
import javax.sip.address.AddressFactory;
import javax.sip.address.SipURI;
import javax.sip.header.AuthorizationHeader;
import javax.sip.header.ContactHeader;
import javax.sip.header.HeaderFactory;
import javax.sip.message.MessageFactory;
import javax.sip.message.Request;
import javax.sip.message.Response;

/**
 * A registrar in memory, under the SIP core's {@link SipWire} seam: the REGISTERs a
 * {@link Registration} sends land here, and the test answers each one, correctly (as a stock
 * Kamailio would: digest with expiring nonces, a bindings table, outbound when asked) or with
 * any misbehaviour of {@link Answer}. JAIN-SIP's own factories build every message, so the
 * agent parses exactly what it would parse off the wire; no socket, no thread.
 *
 * <p>A malformed message (truncated, without Via or CSeq) never reaches a transaction's handler
 * in the real stack, which drops it: at this seam that is {@link Answer#DROP}.
 */
final class ScriptedRegistrar implements SipWire {
  static final String REALM = "sipalr.test";

  /** What the registrar does with a request. */
  enum Answer {
    /** What a correct registrar answers (see {@link #behave}). */
    CORRECT,
    /** 401 with a new nonce and no stale=true, whatever was sent. */
    FRESH_401,
    /** 401 with a new nonce and stale=true. */
    STALE_401,
    /** 401 whose challenge has no nonce. */
    NONCE_LESS_401,
    /** 401 offering an algorithm nobody knows. */
    UNKNOWN_ALGORITHM_401,
    /** 401 with no WWW-Authenticate at all. */
    NO_CHALLENGE_401,
    /** 407 from a proxy on the path, with a fresh nonce. */
    PROXY_407,
    FORBIDDEN_403,
    /** 423 without Min-Expires. */
    BRIEF_423_WITHOUT_MIN,
    /** 423 asking for a little more than was asked. */
    BRIEF_423,
    /** 503 asking us to come back in 49.7 days. */
    UNAVAILABLE_503_HUGE_RETRY,
    SERVER_ERROR_500,
    REDIRECT_302,
    /** Processes the REGISTER, then says our contact has expires=0. */
    OK_EXPIRES_0,
    /** Processes the REGISTER, then grants 68 years. */
    OK_HUGE_EXPIRES,
    /** 200 listing only someone else's contact. */
    OK_WITHOUT_OUR_CONTACT,
    /** Processes the REGISTER but ignores removals (expires=0), listing them still. */
    OK_KEEPS_REMOVED,
    /** The stack reports a timeout or transport error for the request. */
    TIMEOUT,
    /** Nothing ever comes back (a lost request or answer, or a malformed answer). */
    DROP
  }

  /** A request the agent sent, until it is answered, timed out or abandoned. */
  final class Sent implements Exchange {
    final Request request;
    final Handler handler;
    final long at;
    final SipEngine.Endpoint from;
    /** The address and port it was sent to (the resolved next hop). */
    String host;
    int port;
    boolean abandoned;
    boolean over;

    Sent(Request request, Handler handler, long at, SipEngine.Endpoint from) {
      this.request = request;
      this.handler = handler;
      this.at = at;
      this.from = from;
    }

    @Override
    public void abandon() {
      abandoned = true;
      pending.remove(this);
    }

    String method() {
      return request.getMethod();
    }
  }

  private record Binding(String aor, String uri, long expiresAt, String instance, String regId) {}

  private final AddressFactory addresses;
  private final HeaderFactory headers;
  private final MessageFactory messages;
  private final VirtualClock clock;
  private final Map<String, String> passwords = new HashMap<>();

  /** A stock Kamailio says stale=true for nothing; the project's test image does. */
  boolean staleAware;
  /** Kamailio's auth nonce_expire: 300 s by default. */
  long nonceLifetimeMillis = 300_000;
  /**
   * A NAT in front of a local address: requests from it are seen from host:port, which the
   * answers' Via says (received, rport), as a registrar does (RFC 3581).
   */
  final Map<String, String> nat = new HashMap<>();

  /** What a keep-alive OPTIONS gets (a strict RFC 5626 registrar that lost us: 403). */
  int optionsStatus = 200;

  /** Answer {@code Require: outbound} to a REGISTER that supports it (RFC 5626 §6). */
  boolean outbound;
  /** With outbound, the Flow-Timer the 200 carries (RFC 5626 §4.4); 0: none. */
  int flowTimer;

  private long nonceSecret = 1;
  private int nonceCounter;
  private final Map<String, Long> nonces = new HashMap<>();
  /** AOR to its bindings, by contact URI. */
  private final Map<String, Map<String, Binding>> bindings = new HashMap<>();
  private final Deque<Sent> pending = new ArrayDeque<>();
  final List<Sent> sent = new ArrayList<>();
  private int callIds;
  /** Endpoints whose sends fail at once (an interface gone). */
  final java.util.Set<SipEngine.Endpoint> unreachableFrom = new java.util.HashSet<>();
  /** Server addresses whose sends fail at once (a TCP connection refused). */
  final java.util.Set<String> unreachableHosts = new java.util.HashSet<>();

  ScriptedRegistrar(VirtualClock clock) {
    this.clock = clock;
    try {
      SipFactory factory = SipFactory.getInstance();
      factory.setPathName("gov.nist");
      addresses = factory.createAddressFactory();
      headers = factory.createHeaderFactory();
      messages = factory.createMessageFactory();
    } catch (PeerUnavailableException e) {
      throw new IllegalStateException(e);
    }
  }

  ScriptedRegistrar user(String name, String password) {
    passwords.put(name, password);
    return this;
  }

  // ---------------------------------------------------------------- SipWire

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
    return "call-" + ++callIds + "@scripted";
  }

  @Override
  public String userAgent() {
    return "sip-alr-agent-test";
  }

  /**
   * TCP and TLS connects asked for, as "host:port/transport"; each completes at once unless
   * {@link #connecting} holds a future for its host (completed by the test).
   */
  final List<String> connects = new ArrayList<>();
  final Map<String, java.util.concurrent.CompletableFuture<Void>> connecting = new HashMap<>();

  @Override
  public java.util.concurrent.CompletableFuture<Void> connect(SipEngine.Endpoint from,
      String transport, String host, int port, String domain, String profileId,
      String certificate) {
    if ("udp".equalsIgnoreCase(transport)) {
      return java.util.concurrent.CompletableFuture.completedFuture(null);
    }
    connects.add(host + ":" + port + "/" + transport.toLowerCase(java.util.Locale.ROOT));
    java.util.concurrent.CompletableFuture<Void> scripted = connecting.get(host);
    return scripted != null ? scripted
        : java.util.concurrent.CompletableFuture.completedFuture(null);
  }

  @Override
  public Exchange send(SipEngine.Endpoint from, Request request, Handler handler,
      String transport, String host, int port) throws SipException {
    if (unreachableFrom.contains(from)) {
      throw new SipException("network unreachable from " + from.address);
    }
    if (unreachableHosts.contains(host)) {
      throw new SipException("connection refused by " + host + ":" + port);
    }
    Sent s = new Sent((Request) request.clone(), handler, clock.now(), from);
    s.host = host;
    s.port = port;
    sent.add(s);
    pending.add(s);
    return s;
  }

  /** Requests sent without a transaction (ACKs), as "METHOD host:port/transport". */
  final List<String> stateless = new ArrayList<>();

  @Override
  public void sendStateless(SipEngine.Endpoint from, Request request, String transport,
      String host, int port) {
    stateless.add(request.getMethod() + " " + host + ":" + port + "/" + transport);
  }

  /** Endpoints by address, and how many references each has (for leak checks). */
  private final Map<String, SipEngine.Endpoint> endpoints = new HashMap<>();
  private final Map<SipEngine.Endpoint, Integer> users = new HashMap<>();
  private final SipEngine.Endpoint anchor = endpoint("198.18.0.2");

  @Override
  public SipEngine.Endpoint acquire(String address) {
    SipEngine.Endpoint e = endpoints.computeIfAbsent(address, ScriptedRegistrar::endpoint);
    users.merge(e, 1, Integer::sum);
    return e;
  }

  @Override
  public void release(SipEngine.Endpoint endpoint) {
    users.computeIfPresent(endpoint, (e, n) -> n > 1 ? n - 1 : null);
  }

  @Override
  public SipEngine.Endpoint anchor() {
    return anchor;
  }

  @Override
  public int endpointCount() {
    return users.size() + 1;
  }

  @Override
  public int boundEndpointCount() {
    return endpoints.size() + 1;
  }

  @Override
  public String localAddress() {
    return anchor.address;
  }

  @Override
  public int port() {
    return anchor.port;
  }

  /** Keep-alive pings received: the time each came, and from where. */
  final List<String> pings = new ArrayList<>();

  @Override
  public void ping(SipEngine.Endpoint from, String host, int port) {
    pings.add(clock.now() + " " + from.address);
  }

  /** A STUN Binding request received: when, from which endpoint, to where. */
  record StunSent(long at, SipEngine.Endpoint from, String host, int port, StunMessage request) {}

  /** How STUN requests are answered: at once with the (NAT's) mapping, not at all, 400. */
  enum StunAnswer { MAPPED, NONE, ERROR }

  StunAnswer stunAnswer = StunAnswer.MAPPED;
  final List<StunSent> stunRequests = new ArrayList<>();
  /** CRLF pings received: the time each came, the endpoint and the transport. */
  final List<String> crlfPings = new ArrayList<>();
  /** Where STUN answers and missing pongs go. */
  KeepAliveAnswers keepAliveAnswers;

  @Override
  public void stunRequest(SipEngine.Endpoint from, String host, int port, StunMessage request) {
    stunRequests.add(new StunSent(clock.now(), from, host, port, request));
    switch (stunAnswer) {
      case NONE -> { }
      case ERROR -> keepAliveAnswers.stunAnswer(new StunMessage(StunMessage.BINDING_ERROR,
          request.transactionId(), null, 400));
      case MAPPED -> {
        String seen = nat.getOrDefault(from.address, from.address + ":" + from.port);
        int colon = seen.lastIndexOf(':');
        java.net.InetSocketAddress mapped = new java.net.InetSocketAddress(
            io.sipalr.mobility.IpLiterals.parse(seen.substring(0, colon)),
            Integer.parseInt(seen.substring(colon + 1)));
        keepAliveAnswers.stunAnswer(new StunMessage(StunMessage.BINDING_SUCCESS,
            request.transactionId(), mapped, 0));
      }
    }
  }

  /** Whether CRLF pings are answered with a pong at once (a registrar that pongs). */
  boolean pongs = true;

  @Override
  public void crlfPing(SipEngine.Endpoint from, String transport, String host, int port) {
    crlfPings.add(clock.now() + " " + from.address + " " + transport);
    if (pongs) {
      keepAliveAnswers.pong(from.address, transport, host, port);
    }
  }

  /** Connections the agent closed (its flow failed): the endpoint's address and transport. */
  final List<String> closedConnections = new ArrayList<>();

  @Override
  public void closeConnection(SipEngine.Endpoint from, String transport, String host,
      int port) {
    closedConnections.add(from.address + " " + transport);
  }

  @Override
  public void keepAliveAnswers(KeepAliveAnswers answers) {
    this.keepAliveAnswers = answers;
  }

  /** Where the registry said requests from outside go. */
  Inbound inbound;

  @Override
  public void inbound(Inbound handler) {
    this.inbound = handler;
  }

  @Override
  public void close() {
  }

  /** A local endpoint with UDP and TCP listening points at {@code address}. */
  static SipEngine.Endpoint endpoint(String address) {
    Map<String, ListeningPoint> points = new HashMap<>();
    for (String transport : List.of(ListeningPoint.UDP, ListeningPoint.TCP)) {
      points.put(transport, (ListeningPoint) java.lang.reflect.Proxy.newProxyInstance(
          ListeningPoint.class.getClassLoader(), new Class<?>[] {ListeningPoint.class},
          (proxy, method, args) -> switch (method.getName()) {
            case "getIPAddress" -> address;
            case "getPort" -> 5070;
            case "getTransport" -> transport;
            case "toString" -> transport + ":" + address + ":5070";
            case "hashCode" -> System.identityHashCode(proxy);
            case "equals" -> proxy == args[0];
            default -> null;
          }));
    }
    return new SipEngine.Endpoint(address, 5070, points::get);
  }

  // ---------------------------------------------------------------- the test's side

  /** The oldest request not yet answered, timed out or abandoned; null when none. */
  Sent nextPending() {
    return pending.peekFirst();
  }

  /** Requests of {@code method} in flight (sent, and neither over nor abandoned). */
  long inFlight(String method) {
    return pending.stream().filter(s -> s.method().equals(method)).count();
  }

  /** The most requests of {@code method} in flight for any one user (To user part). */
  long inFlightByUser(String method) {
    return pending.stream().filter(s -> s.method().equals(method))
        .collect(java.util.stream.Collectors.groupingBy(s -> userOf(s.request),
            java.util.stream.Collectors.counting()))
        .values().stream().mapToLong(Long::longValue).max().orElse(0);
  }

  /** Answers every request in flight correctly, until none is left. */
  void answerAllCorrectly() {
    for (int i = 0; i < 1000 && nextPending() != null; i++) {
      answer(nextPending(), Answer.CORRECT);
    }
  }

  /** Lets {@code d} pass on the clock, answering every request correctly the moment it comes. */
  void settle(java.time.Duration d) {
    long end = clock.now() + d.toMillis();
    while (true) {
      clock.runDue();
      answerAllCorrectly();
      clock.runDue();
      long due = clock.nextDue();
      if (due < 0 || due > end) {
        clock.advance(java.time.Duration.ofMillis(Math.max(0, end - clock.now())));
        answerAllCorrectly();
        clock.runDue();
        return;
      }
      clock.advance(java.time.Duration.ofMillis(due - clock.now()));
    }
  }

  /** Does {@code answer} to {@code s} and delivers the result to the agent, if any. */
  void answer(Sent s, Answer answer) {
    pending.remove(s);
    s.over = true;
    switch (answer) {
      case DROP -> { }
      case TIMEOUT -> s.handler.onTimeout(s);
      default -> s.handler.onResponse(s, seenThroughNat(s, respond(s.request, answer)));
    }
  }

  private Response seenThroughNat(Sent s, Response r) {
    String seen = nat.get(s.from.address);
    javax.sip.header.ViaHeader via = (javax.sip.header.ViaHeader) r.getHeader("Via");
    if (seen != null && via != null) {
      try {
        int colon = seen.lastIndexOf(':');
        via.setReceived(seen.substring(0, colon));
        via.setParameter("rport", seen.substring(colon + 1));
      } catch (ParseException e) {
        throw new IllegalStateException(e);
      }
    }
    return r;
  }

  /** Forgets every binding and nonce: Kamailio restarted, usrloc in memory, a new secret. */
  void restart() {
    bindings.clear();
    nonces.clear();
    nonceSecret++;
  }

  /** The contact URIs bound to {@code aor} now. */
  List<String> bindings(String aor) {
    Map<String, Binding> of = bindings.getOrDefault(aor, Map.of());
    of.values().removeIf(b -> b.expiresAt <= clock.now());
    return List.copyOf(of.keySet());
  }

  // ---------------------------------------------------------------- answers

  private Response respond(Request request, Answer answer) {
    try {
      if (request.getMethod().equals(Request.OPTIONS)) {
        return messages.createResponse(optionsStatus, request);
      }
      return switch (answer) {
        case CORRECT -> behave(request);
        case FRESH_401 -> challenge(request, 401, "WWW-Authenticate", false);
        case STALE_401 -> challenge(request, 401, "WWW-Authenticate", true);
        case PROXY_407 -> challenge(request, 407, "Proxy-Authenticate", false);
        case NONCE_LESS_401 -> withHeader(messages.createResponse(401, request),
            "WWW-Authenticate", "Digest realm=\"" + REALM + "\", algorithm=MD5, qop=\"auth\"");
        case UNKNOWN_ALGORITHM_401 -> withHeader(messages.createResponse(401, request),
            "WWW-Authenticate", "Digest realm=\"" + REALM + "\", nonce=\"" + newNonce()
                + "\", algorithm=SHA-1024, qop=\"auth\"");
        case NO_CHALLENGE_401 -> messages.createResponse(401, request);
        case FORBIDDEN_403 -> messages.createResponse(403, request);
        case BRIEF_423_WITHOUT_MIN -> messages.createResponse(423, request);
        case BRIEF_423 -> {
          Response r = messages.createResponse(423, request);
          r.addHeader(headers.createMinExpiresHeader(request.getExpires().getExpires() + 60));
          yield r;
        }
        case UNAVAILABLE_503_HUGE_RETRY -> {
          Response r = messages.createResponse(503, request);
          r.addHeader(headers.createRetryAfterHeader(4_294_967));
          yield r;
        }
        case SERVER_ERROR_500 -> messages.createResponse(500, request);
        case REDIRECT_302 -> {
          Response r = messages.createResponse(302, request);
          r.addHeader(headers.createContactHeader(
              addresses.createAddress("sip:elsewhere@198.18.9.9")));
          yield r;
        }
        case OK_EXPIRES_0, OK_HUGE_EXPIRES -> {
          Response r = bind(request, false);
          ListIterator<?> it = r.getHeaders(ContactHeader.NAME);
          while (it.hasNext()) {
            ((ContactHeader) it.next()).setExpires(
                answer == Answer.OK_EXPIRES_0 ? 0 : Integer.MAX_VALUE);
          }
          yield r;
        }
        case OK_WITHOUT_OUR_CONTACT -> {
          Response r = messages.createResponse(200, request);
          ContactHeader other = headers.createContactHeader(
              addresses.createAddress("sip:someone-else@198.18.9.9:5060"));
          other.setExpires(600);
          r.addHeader(other);
          yield r;
        }
        case OK_KEEPS_REMOVED -> bind(request, true);
        case TIMEOUT, DROP -> throw new IllegalArgumentException(answer + " has no response");
      };
    } catch (ParseException | InvalidArgumentException e) {
      throw new IllegalStateException(e);
    }
  }

  /** What a correct registrar answers: a challenge unless the credentials are good, else 200. */
  private Response behave(Request request) throws ParseException, InvalidArgumentException {
    AuthorizationHeader auth = (AuthorizationHeader) request.getHeader("Authorization");
    if (auth == null) {
      return challenge(request, 401, "WWW-Authenticate", false);
    }
    Long issued = nonces.get(auth.getNonce());
    if (issued == null) {
      return challenge(request, 401, "WWW-Authenticate", false); // not ours, or forgotten
    }
    if (clock.now() - issued >= nonceLifetimeMillis) {
      return challenge(request, 401, "WWW-Authenticate", staleAware);
    }
    String password = passwords.get(auth.getUsername());
    String expected = password == null ? null : DigestAuthenticator.response(
        auth.getAlgorithm() == null ? "MD5" : auth.getAlgorithm(), auth.getUsername(), REALM,
        password, request.getMethod(), auth.getURI().toString(), auth.getNonce(),
        nc(auth), auth.getCNonce(), auth.getQop());
    if (!auth.getResponse().equals(expected)) {
      return challenge(request, 401, "WWW-Authenticate", false); // wrong credentials
    }
    return bind(request, false);
  }

  private static String nc(AuthorizationHeader auth) {
    return auth.getNonceCount() <= 0 ? null : String.format("%08x", auth.getNonceCount());
  }

  /** Applies the REGISTER's contacts to the table and answers 200 with every binding. */
  private Response bind(Request request, boolean ignoreRemovals)
      throws ParseException, InvalidArgumentException {
    String aor = ((javax.sip.header.ToHeader) request.getHeader("To")).getAddress().getURI()
        .toString();
    Map<String, Binding> table = bindings.computeIfAbsent(aor, a -> new LinkedHashMap<>());
    table.values().removeIf(b -> b.expiresAt <= clock.now());
    int defaultExpires = request.getExpires() == null ? 3600 : request.getExpires().getExpires();
    boolean supportsOutbound = request.getHeader("Supported") != null
        && request.getHeader("Supported").toString().contains("outbound");
    boolean outboundNow = false;
    ListIterator<?> it = request.getHeaders(ContactHeader.NAME);
    while (it.hasNext()) {
      ContactHeader c = (ContactHeader) it.next();
      String uri = c.getAddress().getURI().toString();
      int expires = c.getExpires() >= 0 ? c.getExpires() : defaultExpires;
      if (expires == 0) {
        if (!ignoreRemovals) {
          table.remove(uri);
        }
        continue;
      }
      String instance = c.getParameter("+sip.instance");
      String regId = c.getParameter("reg-id");
      if (outbound && supportsOutbound && instance != null && regId != null) {
        outboundNow = true; // RFC 5626 §6: the same instance and reg-id replace the old flow
        table.values().removeIf(b -> instance.equals(b.instance) && regId.equals(b.regId));
      }
      table.put(uri, new Binding(aor, uri, clock.now() + expires * 1000L, instance, regId));
    }
    Response ok = messages.createResponse(200, request);
    for (Binding b : table.values()) {
      ContactHeader listed = headers.createContactHeader(
          addresses.createAddress(addresses.createURI(b.uri)));
      listed.setExpires((int) Math.max(1, (b.expiresAt - clock.now()) / 1000));
      ok.addHeader(listed);
    }
    if (outboundNow) {
      ok.addHeader(headers.createRequireHeader("outbound"));
      if (flowTimer > 0) {
        ok.addHeader(headers.createHeader("Flow-Timer", Integer.toString(flowTimer)));
      }
    }
    return ok;
  }

  private Response challenge(Request request, int code, String header, boolean stale)
      throws ParseException {
    return withHeader(messages.createResponse(code, request), header,
        "Digest realm=\"" + REALM + "\", nonce=\"" + newNonce() + "\", algorithm=MD5, "
            + "qop=\"auth\"" + (stale ? ", stale=true" : ""));
  }

  private String newNonce() {
    String nonce = "n" + nonceSecret + "x" + ++nonceCounter;
    nonces.put(nonce, clock.now());
    return nonce;
  }

  private Response withHeader(Response r, String name, String value) throws ParseException {
    r.addHeader(headers.createHeader(name, value));
    return r;
  }

  /** The user a REGISTER is for (the To URI's user part). */
  static String userOf(Request request) {
    return ((SipURI) ((javax.sip.header.ToHeader) request.getHeader("To")).getAddress().getURI())
        .getUser();
  }
}
