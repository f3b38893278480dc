package io.sipalr.sip;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

/**
 * Whether a server certificate speaks for a SIP domain, as RFC 5922 §7.1 says: the
 * subjectAltName URIs of scheme sip (no user part) are the certificate's identities; without
 * any, its DNS names; the Subject's CN only when there is no subjectAltName at all. No wildcard
 * ever matches (§7.2): "*.example.test" is compared as the literal text it is. A target given
 * as an IP address (no domain to speak of) is matched against iPAddress entries.
 */
final class Rfc5922Names {
  private static final int SAN_DNS = 2;
  private static final int SAN_URI = 6;
  private static final int SAN_IP = 7;

  private Rfc5922Names() {}

  /** The identities the certificate presents for SIP, lower case, in the order RFC 5922 uses. */
  static List<String> identities(X509Certificate cert) {
    Collection<List<?>> sans = subjectAltNames(cert);
    if (sans == null) {
      String cn = commonName(cert);
      return cn == null ? List.of() : List.of(normalise(cn));
    }
    List<String> sipUris = new ArrayList<>();
    List<String> dnsNames = new ArrayList<>();
    for (List<?> san : sans) {
      int type = (Integer) san.get(0);
      String value = String.valueOf(san.get(1));
      if (type == SAN_URI) {
        String domain = sipUriDomain(value);
        if (domain != null) {
          sipUris.add(domain);
        }
      } else if (type == SAN_DNS) {
        dnsNames.add(normalise(value));
      }
    }
    return !sipUris.isEmpty() ? sipUris : dnsNames;
  }

  /** Whether {@code cert} may speak for {@code domain} (a host name or an IP literal). */
  static boolean matches(X509Certificate cert, String domain) {
    String wanted = normalise(domain);
    if (isIpLiteral(wanted)) {
      return ipAddresses(cert).contains(canonicalIp(wanted));
    }
    return identities(cert).contains(wanted);
  }

  /** What the certificate presents, for an error message: identities, or its IP addresses. */
  static List<String> presented(X509Certificate cert, String domain) {
    return isIpLiteral(normalise(domain)) ? ipAddresses(cert) : identities(cert);
  }

  /** The host of a sip: URI without a user part (RFC 5922 §7.1), else null. */
  private static String sipUriDomain(String uri) {
    if (!uri.regionMatches(true, 0, "sip:", 0, 4)) {
      return null;
    }
    String rest = uri.substring(4);
    if (rest.indexOf('@') >= 0) {
      return null; // a user's URI names a user, not the domain
    }
    int end = rest.length();
    for (char stop : new char[] {';', '?', ':'}) {
      int i = rest.indexOf(stop);
      if (i >= 0 && i < end) {
        end = i;
      }
    }
    return normalise(rest.substring(0, end));
  }

  private static List<String> ipAddresses(X509Certificate cert) {
    Collection<List<?>> sans = subjectAltNames(cert);
    List<String> ips = new ArrayList<>();
    if (sans != null) {
      for (List<?> san : sans) {
        if ((Integer) san.get(0) == SAN_IP) {
          ips.add(canonicalIp(String.valueOf(san.get(1))));
        }
      }
    }
    return ips;
  }

  private static Collection<List<?>> subjectAltNames(X509Certificate cert) {
    try {
      return cert.getSubjectAlternativeNames();
    } catch (CertificateParsingException e) {
      return List.of(); // present but unreadable: it names nothing, and the CN is not used
    }
  }

  private static String commonName(X509Certificate cert) {
    try {
      String cn = null;
      for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
        if (rdn.getType().equalsIgnoreCase("CN")) {
          cn = String.valueOf(rdn.getValue()); // the most specific one (last in RFC 2253 order)
          break;
        }
      }
      return cn;
    } catch (InvalidNameException e) {
      return null;
    }
  }

  private static String normalise(String name) {
    String n = name.trim().toLowerCase(Locale.ROOT);
    if (n.startsWith("[") && n.endsWith("]")) {
      n = n.substring(1, n.length() - 1);
    }
    return n.endsWith(".") ? n.substring(0, n.length() - 1) : n;
  }

  static boolean isIpLiteral(String host) {
    String h = normalise(host);
    return h.indexOf(':') >= 0 || h.matches("\\d{1,3}(\\.\\d{1,3}){3}");
  }

  /** One spelling per address (IPv6 "2001:2::1" and "2001:2:0:0:0:0:0:1" alike); no DNS. */
  private static String canonicalIp(String ip) {
    String n = normalise(ip);
    if (!isIpLiteral(n)) {
      return n;
    }
    try {
      return java.net.InetAddress.getByName(n).getHostAddress(); // a literal: never a lookup
    } catch (java.net.UnknownHostException e) {
      return n;
    }
  }
}
