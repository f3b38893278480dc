package io.sipalr.sip;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * Which client certificate the profiles show on each TLS link: a registrar's address and port
 * and the local address sent from. JAIN-SIP keeps one connection per remote address, which
 * every profile registering there shares, and a connection shows one certificate; so a
 * profile naming another certificate than the profiles already on its link is refused (a TLS
 * error naming both profiles and the registrar) instead of registering under the wrong one.
 *
 * <p>A profile claims one link at a time, its latest (a move's new uplink replaces the old);
 * its claim ends when it is disabled or deleted ({@link #release}). Bounded by the profiles.
 */
final class ClientCertificateClaims {
  /** What profiles without a certificate of their own show: sip.tls.key-store, or none. */
  static final String DEFAULT = "";

  /** A registrar address and port, and the local address a connection to it is made from. */
  record Link(InetSocketAddress remote, InetAddress local) {}

  /** Another profile on the link, and the certificate it shows there. */
  record Conflict(String profileId, String certificate) {}

  private record Claim(Link link, String certificate) {}

  /** Link → certificate → the profiles showing it there. */
  private final Map<Link, Map<String, Set<String>>> byLink = new HashMap<>();
  private final Map<String, Claim> byProfile = new HashMap<>();
  /** The names of sip.tls.client-certificates. */
  private final Set<String> known;
  /** Whether sip.tls.key-store is set (what {@link #DEFAULT} shows). */
  private final boolean defaultKeyStore;

  ClientCertificateClaims(Set<String> known, boolean defaultKeyStore) {
    this.known = Set.copyOf(known);
    this.defaultKeyStore = defaultKeyStore;
  }

  /**
   * Profile {@code id} shows {@code certificate} ({@link #DEFAULT} or a name) on its TLS
   * connection from {@code local} to {@code remote}, which it reaches as {@code domain}; or
   * why it cannot: the name is not configured, or another profile there shows another one.
   */
  SipTrust.Refused claim(String id, String certificate, InetSocketAddress remote,
      InetAddress local, String domain) {
    if (!certificate.equals(DEFAULT) && !known.contains(certificate)) {
      return SipTrust.Refused.clientSide(domain,
          SipTrust.Refused.Reason.CLIENT_CERTIFICATE_UNKNOWN, "profile " + id + " names client"
              + " certificate \"" + certificate + "\", which sip.tls.client-certificates does not"
              + " define (it has " + new java.util.TreeSet<>(known) + ")", null);
    }
    Conflict conflict = claim(id, new Link(remote, local), certificate);
    if (conflict == null) {
      return null;
    }
    return SipTrust.Refused.clientSide(domain,
        SipTrust.Refused.Reason.CLIENT_CERTIFICATE_CONFLICT, "profile " + id + " shows client"
            + " certificate " + describe(certificate) + " but profile " + conflict.profileId()
            + " shows " + describe(conflict.certificate()) + " to registrar " + domain + " ("
            + remote.getAddress().getHostAddress() + ":" + remote.getPort() + ") from "
            + local.getHostAddress() + ": the agent holds one TLS connection per registrar"
            + " address and uplink, shared by the profiles there, so they must show the same"
            + " client certificate", null);
  }

  private String describe(String certificate) {
    if (!certificate.equals(DEFAULT)) {
      return "\"" + certificate + "\"";
    }
    return defaultKeyStore ? "sip.tls.key-store's" : "none";
  }

  /**
   * Profile {@code id} shows {@code certificate} on {@code link} from now on, unless another
   * profile there shows another one: then that one, and nothing changes.
   */
  synchronized Conflict claim(String id, Link link, String certificate) {
    for (Map.Entry<String, Set<String>> shown : byLink.getOrDefault(link, Map.of()).entrySet()) {
      if (shown.getKey().equals(certificate)) {
        continue;
      }
      for (String other : shown.getValue()) {
        if (!other.equals(id)) {
          return new Conflict(other, shown.getKey());
        }
      }
    }
    Claim previous = byProfile.get(id);
    if (previous != null && previous.equals(new Claim(link, certificate))) {
      return null;
    }
    release(id);
    // Insertion order: a conflict names the profile that came first.
    byLink.computeIfAbsent(link, l -> new LinkedHashMap<>())
        .computeIfAbsent(certificate, c -> new LinkedHashSet<>()).add(id);
    byProfile.put(id, new Claim(link, certificate));
    return null;
  }

  /** Profile {@code id} shows no certificate anywhere any more (disabled, deleted). */
  synchronized void release(String id) {
    Claim claim = byProfile.remove(id);
    if (claim == null) {
      return;
    }
    Map<String, Set<String>> shown = byLink.get(claim.link());
    Set<String> profiles = shown.get(claim.certificate());
    profiles.remove(id);
    if (profiles.isEmpty()) {
      shown.remove(claim.certificate());
    }
    if (shown.isEmpty()) {
      byLink.remove(claim.link());
    }
  }
}
