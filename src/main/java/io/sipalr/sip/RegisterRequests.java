package io.sipalr.sip;

import io.sipalr.profile.SipProfile;
import io.sipalr.profile.Transport;
import java.text.ParseException;
import java.time.Duration;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.ListIterator;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import javax.sip.InvalidArgumentException;
import javax.sip.ListeningPoint;
import javax.sip.address.Address;
import javax.sip.address.SipURI;
import javax.sip.address.URI;
import javax.sip.header.ContactHeader;
import javax.sip.header.ExpiresHeader;
import javax.sip.header.Header;
import javax.sip.header.RetryAfterHeader;
import javax.sip.header.ViaHeader;
import javax.sip.message.Request;
import javax.sip.message.Response;

/**
 * One profile's REGISTER requests, and what its answers say. The profile's URIs are parsed once
 * (a changed profile gets a new one) and cloned into each request: a storm of thousands of
 * REGISTERs does not parse the same registrar, AOR and headers again for each.
 * {@link Registration} decides what to send (Call-ID, CSeq, which contacts); this only writes
 * it down and reads the answers.
 */
final class RegisterRequests {
  private final SipProfile profile;
  private final SipWire engine;
  private final SipURI registrar;
  private final Address aor;
  /** The outbound proxy with ;lr (and ;transport=tcp), or null. */
  private final SipURI proxy;
  private final Header supported;
  private final Header userAgent;

  RegisterRequests(SipProfile profile, SipWire engine) throws ParseException {
    this.profile = profile;
    this.engine = engine;
    this.registrar = (SipURI) engine.addresses().createURI(profile.registrar());
    if (profile.outboundProxy() == null) {
      markTransport(registrar);
    }
    this.aor = engine.addresses().createAddress(profile.aor());
    if (profile.outboundProxy() != null) {
      proxy = (SipURI) engine.addresses().createURI(profile.outboundProxy());
      proxy.setLrParam();
      markTransport(proxy);
    } else {
      proxy = null;
    }
    this.supported = engine.headers().createSupportedHeader(SipEngine.SUPPORTED);
    this.userAgent = engine.headers().createHeader("User-Agent", engine.userAgent());
  }

  /**
   * ;transport=tcp or ;transport=tls on the next hop's URI; a sips: URI means TLS by itself
   * (RFC 5630 §3.1.1 deprecates transport=tls there).
   */
  private void markTransport(SipURI nextHop) throws ParseException {
    if (profile.transport() == Transport.TCP) {
      nextHop.setTransportParam(ListeningPoint.TCP);
    } else if (profile.transport() == Transport.TLS && !nextHop.isSecure()) {
      nextHop.setTransportParam(ListeningPoint.TLS);
    }
  }

  /** The profile these requests are for: a different one needs a new instance. */
  SipProfile profile() {
    return profile;
  }

  /**
   * The transport the profile fixes, as the listening point names it; {@code null} when RFC
   * 3263 chooses it ({@link Transport#AUTO}).
   */
  String fixedTransport() {
    return switch (profile.transport()) {
      case TCP -> ListeningPoint.TCP;
      case TLS -> ListeningPoint.TLS;
      case UDP -> ListeningPoint.UDP;
      case AUTO -> null;
    };
  }

  /**
   * The REGISTER goes to {@code target}: without a fixed transport it goes over the target's
   * (the one NAPTR or SRV chose), and so do its Via, Contact and flow.
   */
  void sendingTo(io.sipalr.dns.SipTarget target) {
    if (fixedTransport() == null) {
      chosen = switch (target.transport()) {
        case "tcp" -> ListeningPoint.TCP;
        case "tls" -> ListeningPoint.TLS;
        default -> ListeningPoint.UDP;
      };
    }
  }

  /** The transport of the last REGISTER without a fixed one (UDP before the first). */
  private String chosen = ListeningPoint.UDP;

  /** The listening point's transport name: the profile's, else the one RFC 3263 chose. */
  String transport() {
    String fixed = fixedTransport();
    return fixed != null ? fixed : chosen;
  }

  /** Where a REGISTER goes first: the outbound proxy, else the registrar (RFC 3263 resolves it). */
  SipURI nextHop() {
    return proxy != null ? proxy : registrar;
  }

  /**
   * The flow a REGISTER from {@code endpoint} to {@code target} (the next hop, resolved) goes
   * over: keyed by address and port, as the stack keys its connections.
   */
  FlowKeepAlive.Flow flow(SipEngine.Endpoint endpoint, io.sipalr.dns.SipTarget target) {
    return new FlowKeepAlive.Flow(endpoint, transport(), target.host(), target.port());
  }

  /** Our contact through {@code lp}: sip:id@address:port, ;transport=tcp over TCP. */
  String contactUri(ListeningPoint lp) {
    return contactUri(hostPort(lp.getIPAddress(), lp.getPort()));
  }

  /** host:port, an IPv6 literal in brackets (RFC 3261 §25.1: sip:alice@[2001:2::10]:5070). */
  static String hostPort(String host, int port) {
    return (host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host)
        + ":" + port;
  }

  /** Whether two {@code host:port} texts name the same address (IPv6 written either way). */
  static boolean sameAddress(String a, String b) {
    int ca = a.lastIndexOf(':');
    int cb = b.lastIndexOf(':');
    return ca > 0 && cb > 0 && a.substring(ca).equals(b.substring(cb))
        && sameHost(a.substring(0, ca), b.substring(0, cb));
  }

  static boolean sameHost(String a, String b) {
    if (a.equalsIgnoreCase(b)) {
      return true;
    }
    try {
      return io.sipalr.mobility.IpLiterals.parse(strip(a))
          .equals(io.sipalr.mobility.IpLiterals.parse(strip(b)));
    } catch (IllegalArgumentException notLiterals) {
      return false; // a host name: only the same name is the same host (no DNS here)
    }
  }

  private static String strip(String host) {
    return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1)
        : host;
  }

  /**
   * Our contact at {@code hostPort} (the address a registrar saw us at, behind a NAT). Over
   * TLS a sips: contact when the AOR or the registrar is sips: (RFC 5630 §3.1.3), else
   * ;transport=tls.
   */
  String contactUri(String hostPort) {
    return switch (transport()) {
      case ListeningPoint.TCP -> "sip:" + profile.id() + "@" + hostPort + ";transport=tcp";
      case ListeningPoint.TLS -> registrar.isSecure() || aor.getURI().isSipURI()
          && ((SipURI) aor.getURI()).isSecure()
          ? "sips:" + profile.id() + "@" + hostPort
          : "sip:" + profile.id() + "@" + hostPort + ";transport=tls";
      default -> "sip:" + profile.id() + "@" + hostPort;
    };
  }

  /**
   * Where the registrar saw the request come from (RFC 3581): the top Via's received (else its
   * host) and rport (else its port), as host:port; {@code null} when it said neither.
   */
  static String seenAt(Response response) {
    ViaHeader via = (ViaHeader) response.getHeader(ViaHeader.NAME);
    if (via == null || (via.getReceived() == null && via.getRPort() <= 0)) {
      return null;
    }
    String host = via.getReceived() != null ? via.getReceived() : via.getHost();
    int port = via.getRPort() > 0 ? via.getRPort() : via.getPort() > 0 ? via.getPort() : 5060;
    return hostPort(host, port);
  }

  /**
   * A REGISTER through {@code lp} binding {@code contact} (with +sip.instance and reg-id) for
   * {@code expires} seconds, and removing each of {@code removed} (expires=0).
   */
  Request register(ListeningPoint lp, String callId, long cseq, String contact, int expires,
      Collection<String> removed) throws ParseException, InvalidArgumentException {
    ViaHeader via = engine.headers().createViaHeader(lp.getIPAddress(), lp.getPort(), transport(),
        null);
    via.setRPort();
    Request request = engine.messages().createRequest((SipURI) registrar.clone(),
        Request.REGISTER,
        engine.headers().createCallIdHeader(callId),
        engine.headers().createCSeqHeader(cseq, Request.REGISTER),
        engine.headers().createFromHeader((Address) aor.clone(),
            Long.toHexString(ThreadLocalRandom.current().nextLong())),
        engine.headers().createToHeader((Address) aor.clone(), null),
        List.of(via),
        engine.headers().createMaxForwardsHeader(70));
    if (proxy != null) {
      request.addHeader(engine.headers().createRouteHeader(
          engine.addresses().createAddress((SipURI) proxy.clone())));
    }
    request.addHeader(contactHeader(contact, expires, true));
    for (String old : removed) {
      request.addHeader(contactHeader(old, 0, false));
    }
    request.addHeader(engine.headers().createExpiresHeader(expires));
    request.addHeader((Header) supported.clone());
    request.addHeader((Header) userAgent.clone());
    return request;
  }

  private ContactHeader contactHeader(String uri, int expires, boolean withInstance)
      throws ParseException, InvalidArgumentException {
    ContactHeader header = engine.headers().createContactHeader(
        engine.addresses().createAddress(engine.addresses().createURI(uri)));
    header.setExpires(expires);
    if (withInstance) {
      header.setParameter("+sip.instance", "\"<" + profile.instanceId() + ">\"");
      header.setParameter("reg-id", Integer.toString(profile.regId()));
    }
    return header;
  }

  // ---------------------------------------------------------------- answers

  /**
   * The expiry granted to {@code contact}: its expires param, else the Expires header; 0 when
   * the 200 lists contacts but not ours (the binding is not there, whatever else it says).
   */
  int grantedExpires(Response response, String contact, int asked) {
    SipURI ours = parse(contact);
    ListIterator<?> it = response.getHeaders(ContactHeader.NAME);
    boolean listsOthers = false;
    while (it.hasNext()) {
      ContactHeader c = (ContactHeader) it.next();
      if (sameContact(c.getAddress().getURI(), ours)) {
        if (c.getExpires() >= 0) {
          return c.getExpires();
        }
        listsOthers = false; // ours, without its own expires: the Expires header says
        break;
      }
      listsOthers = true;
    }
    if (listsOthers) {
      return 0; // RFC 3261 §10.3: the 200 lists every binding, and ours is not among them
    }
    ExpiresHeader expires = response.getExpires();
    return expires != null ? expires.getExpires() : asked;
  }

  /** Those of {@code contacts} the registrar still lists. */
  Set<String> listed(Response response, Collection<String> contacts) {
    Set<String> listed = new LinkedHashSet<>();
    for (String contact : contacts) {
      SipURI ours = parse(contact);
      ListIterator<?> it = response.getHeaders(ContactHeader.NAME);
      while (it.hasNext()) {
        if (sameContact(((ContactHeader) it.next()).getAddress().getURI(), ours)) {
          listed.add(contact);
          break;
        }
      }
    }
    return listed;
  }

  private SipURI parse(String contact) {
    try {
      return contact == null ? null : (SipURI) engine.addresses().createURI(contact);
    } catch (ParseException | ClassCastException e) {
      return null;
    }
  }

  /** A contact the registrar lists is ours when user, host, port and transport match. */
  private static boolean sameContact(URI listed, SipURI ours) {
    return ours != null && listed instanceof SipURI a
        && Objects.equals(a.getUser(), ours.getUser())
        && a.getHost().equalsIgnoreCase(ours.getHost())
        && portOf(a) == portOf(ours)
        && transportOf(a).equals(transportOf(ours));
  }

  static int portOf(SipURI uri) {
    return uri.getPort() > 0 ? uri.getPort() : 5060;
  }

  private static String transportOf(SipURI uri) {
    String t = uri.getTransportParam();
    return t == null ? "udp" : t.toLowerCase(Locale.ROOT);
  }

  /** Whether a header (e.g. Require, Supported) lists {@code option}. */
  static boolean hasOption(Response response, String headerName, String option) {
    ListIterator<?> it = response.getHeaders(headerName);
    while (it.hasNext()) {
      for (String token : headerValue((Header) it.next()).split(",")) {
        if (token.trim().equalsIgnoreCase(option)) {
          return true;
        }
      }
    }
    return false;
  }

  /** A header's value as received, without its name. */
  static String headerValue(Header header) {
    String text = header.toString().trim();
    int colon = text.indexOf(':');
    return colon < 0 ? text : text.substring(colon + 1).trim();
  }

  static Duration retryAfter(Response response) {
    RetryAfterHeader h = (RetryAfterHeader) response.getHeader(RetryAfterHeader.NAME);
    return h == null || h.getRetryAfter() <= 0 ? null : Duration.ofSeconds(h.getRetryAfter());
  }

  /** RFC 5626 §4.4 Flow-Timer (seconds), 0 when absent or unreadable. */
  static int flowTimer(Response response) {
    Header h = response.getHeader("Flow-Timer");
    if (h == null) {
      return 0;
    }
    try {
      return Integer.parseInt(headerValue(h));
    } catch (NumberFormatException e) {
      return 0;
    }
  }
}
