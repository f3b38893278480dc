package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.sip.TestPki.Names;
import java.security.cert.X509Certificate;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** RFC 5922 §7.1/§7.2: which names of a certificate speak for a SIP domain. */
class Rfc5922NamesTest {
  private static TestPki pki;

  @BeforeAll
  static void ca() throws Exception {
    pki = TestPki.newCa("names test CA");
  }

  private static X509Certificate cert(Names names) throws Exception {
    return pki.server(names).certificate();
  }

  @Test
  void sipUrisAreTheIdentitiesWhenPresentAndDnsNamesAreThenIgnored() throws Exception {
    X509Certificate c = cert(Names.sans("cn.sipalr.test", List.of("sip:sipalr.test"),
        List.of("dns.sipalr.test"), List.of()));

    assertTrue(Rfc5922Names.matches(c, "sipalr.test"));
    assertTrue(Rfc5922Names.matches(c, "SIPALR.test."), "case and a trailing dot do not matter");
    assertFalse(Rfc5922Names.matches(c, "dns.sipalr.test"), "DNS names count only without SIP URIs");
    assertFalse(Rfc5922Names.matches(c, "cn.sipalr.test"), "the CN never counts beside SANs");
    assertEquals(List.of("sipalr.test"), Rfc5922Names.identities(c));
  }

  @Test
  void dnsNamesCountWhenThereIsNoSipUri() throws Exception {
    X509Certificate c = cert(Names.sans("cn.sipalr.test", List.of("https://sipalr.test/"),
        List.of("reg.sipalr.test", "sipalr.test"), List.of()));

    assertTrue(Rfc5922Names.matches(c, "reg.sipalr.test"));
    assertTrue(Rfc5922Names.matches(c, "sipalr.test"));
    assertFalse(Rfc5922Names.matches(c, "cn.sipalr.test"));
  }

  @Test
  void aSipUriWithAUserPartNamesAUserNotTheDomain() throws Exception {
    X509Certificate c = cert(Names.sans("x", List.of("sip:alice@sipalr.test"),
        List.of("other.test"), List.of()));

    assertFalse(Rfc5922Names.matches(c, "sipalr.test"));
    assertTrue(Rfc5922Names.matches(c, "other.test"), "no usable SIP URI: DNS names count");
  }

  @Test
  void theCommonNameCountsOnlyWithoutAnySubjectAltName() throws Exception {
    assertTrue(Rfc5922Names.matches(cert(Names.cnOnly("sipalr.test")), "sipalr.test"));
    assertFalse(Rfc5922Names.matches(cert(Names.sans("sipalr.test", List.of(), List.of(),
        List.of("127.0.0.1"))), "sipalr.test"), "a SAN of any kind rules the CN out");
  }

  @Test
  void wildcardsNeverMatch() throws Exception {
    X509Certificate dns = cert(Names.sans("x", List.of(), List.of("*.sipalr.test"), List.of()));
    X509Certificate cn = cert(Names.cnOnly("*.sipalr.test"));
    X509Certificate uri = cert(Names.sans("x", List.of("sip:*.sipalr.test"), List.of(),
        List.of()));

    for (X509Certificate c : List.of(dns, cn, uri)) {
      assertFalse(Rfc5922Names.matches(c, "reg.sipalr.test"));
      assertFalse(Rfc5922Names.matches(c, "sipalr.test"));
    }
  }

  @Test
  void anIpTargetIsMatchedAgainstIpAddressEntriesOnly() throws Exception {
    X509Certificate c = cert(Names.sans("127.0.0.1", List.of("sip:127.0.0.2"),
        List.of("127.0.0.3"), List.of("127.0.0.1", "2001:2::1")));

    assertTrue(Rfc5922Names.matches(c, "127.0.0.1"));
    assertTrue(Rfc5922Names.matches(c, "[2001:2:0:0:0:0:0:1]"));
    assertFalse(Rfc5922Names.matches(c, "127.0.0.2"));
    assertFalse(Rfc5922Names.matches(c, "127.0.0.3"));
  }
}
