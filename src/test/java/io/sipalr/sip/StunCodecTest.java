package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** The STUN codec against the RFC 5769 test vectors. */
class StunCodecTest {
  private static final HexFormat HEX = HexFormat.of();

  /** RFC 5769 §2.2, "Sample IPv4 Response" (SOFTWARE, XOR-MAPPED-ADDRESS, integrity, CRC). */
  static final byte[] IPV4_RESPONSE = HEX.parseHex(
      "0101003c" + "2112a442" + "b7e7a701bc34d686fa87dfae"
      + "8022000b" + "74657374" + "20766563" + "746f7220"
      + "00200008" + "0001a147" + "e112a643"
      + "00080014" + "2b91f599" + "fd9e90c3" + "8c7489f9" + "2af9ba53" + "f06be7d7"
      + "80280004" + "c07d4c96");

  /** RFC 5769 §2.3, "Sample IPv6 Response". */
  static final byte[] IPV6_RESPONSE = HEX.parseHex(
      "01010048" + "2112a442" + "b7e7a701bc34d686fa87dfae"
      + "8022000b" + "74657374" + "20766563" + "746f7220"
      + "00200014" + "0002a147" + "0113a9fa" + "a5d3f179" + "bc25f4b5" + "bed2b9d9"
      + "00080014" + "a382954e" + "4be67bf1" + "1784c97c" + "8292c275" + "bfe3ed41"
      + "80280004" + "c8fb0b4c");

  @Test
  void theRfc5769Ipv4ResponseGivesItsMappedAddress() throws Exception {
    assertTrue(StunCodec.isStun(IPV4_RESPONSE, IPV4_RESPONSE.length));
    StunMessage m = StunCodec.decode(IPV4_RESPONSE, IPV4_RESPONSE.length);
    assertTrue(m.isSuccess());
    assertArrayEquals(HEX.parseHex("b7e7a701bc34d686fa87dfae"), m.transactionId());
    assertEquals(new InetSocketAddress(InetAddress.getByName("192.0.2.1"), 32853), m.mapped());
    assertEquals("192.0.2.1:32853", m.mappedText());
  }

  @Test
  void theRfc5769Ipv6ResponseGivesItsMappedAddress() throws Exception {
    StunMessage m = StunCodec.decode(IPV6_RESPONSE, IPV6_RESPONSE.length);
    assertEquals(new InetSocketAddress(
        InetAddress.getByName("2001:db8:1234:5678:11:2233:4455:6677"), 32853), m.mapped());
  }

  /**
   * What Kamailio 5.6.3's stun module (the test image) answered a Binding request from
   * 127.0.0.1:44020: XOR-MAPPED-ADDRESS and a SOFTWARE of 39 bytes (padded), no FINGERPRINT.
   */
  @Test
  void kamailiosAnswerGivesTheMappedAddress() throws Exception {
    byte[] wire = HEX.parseHex("010100382112a44250b17fec72f518101a3b34b3"
        + "0020000800018ae65e12a443"
        + "802200275365727665723a206b616d61696c696f2028352e362e3320287838365f36342f6c696e"
        + "7578292900");
    StunMessage m = StunCodec.decode(wire, wire.length);
    assertTrue(m.isSuccess());
    assertTrue(m.sameTransaction(HEX.parseHex("50b17fec72f518101a3b34b3")));
    assertEquals("127.0.0.1:44020", m.mappedText());
  }

  @Test
  void aCorruptedFingerprintIsRefused() {
    byte[] bad = IPV4_RESPONSE.clone();
    bad[bad.length - 1] ^= 1;
    assertThrows(ParseException.class, () -> StunCodec.decode(bad, bad.length));
  }

  @Test
  void aLengthThatDisagreesWithTheDatagramIsRefused() {
    assertThrows(ParseException.class,
        () -> StunCodec.decode(IPV4_RESPONSE, IPV4_RESPONSE.length - 4));
  }

  @Test
  void aBindingRequestIsTwentyBytesWithTheCookieAndTheTransactionId() throws Exception {
    byte[] txId = HEX.parseHex("b7e7a701bc34d686fa87dfae");
    byte[] wire = StunCodec.encode(StunMessage.bindingRequest(txId));
    assertEquals("00010000" + "2112a442" + "b7e7a701bc34d686fa87dfae", HEX.formatHex(wire));
    StunMessage back = StunCodec.decode(wire, wire.length);
    assertEquals(StunMessage.BINDING_REQUEST, back.type());
    assertTrue(back.sameTransaction(txId));
  }

  @Test
  void anErrorResponseGivesItsCode() throws Exception {
    byte[] wire = HEX.parseHex("01110008" + "2112a442" + "b7e7a701bc34d686fa87dfae"
        + "00090004" + "00000400");
    StunMessage m = StunCodec.decode(wire, wire.length);
    assertTrue(m.isError());
    assertEquals(400, m.errorCode());
  }

  @Test
  void sipAndKeepAliveCrlfsAreNotStun() {
    for (String s : new String[] {"OPTIONS sip:a@b SIP/2.0\r\n\r\n", "\r\n\r\n",
        "SIP/2.0 200 OK\r\nVia: x\r\n\r\n"}) {
      byte[] b = s.getBytes(StandardCharsets.US_ASCII);
      assertFalse(StunCodec.isStun(b, b.length), s);
    }
  }
}
