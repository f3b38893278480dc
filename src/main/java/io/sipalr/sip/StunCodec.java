package io.sipalr.sip;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.text.ParseException;
import java.util.zip.CRC32;

/**
 * RFC 5389 encoding of the few STUN messages the keep-alives use: a Binding request out, a
 * Binding success or error response in. Our own (about 150 lines) because the Java STUN
 * libraries on Maven Central are whole ICE stacks with their own sockets, and the request has
 * to leave on JAIN-SIP's socket (the flow's source port is what the registrar knows).
 *
 * <p>STUN shares the SIP port (RFC 5626 §4.4.2); {@link #isStun} tells the two apart the way
 * RFC 5389 §6 and RFC 7983 do: the first two bits are 0 (SIP starts with an ASCII letter or a
 * CR), and the magic cookie follows the type and length.
 */
final class StunCodec {
  static final int MAGIC_COOKIE = 0x2112A442;
  static final int HEADER_LENGTH = 20;
  static final int TRANSACTION_ID_LENGTH = 12;
  private static final int XOR_MAPPED_ADDRESS = 0x0020;
  private static final int MAPPED_ADDRESS = 0x0001;
  private static final int ERROR_CODE = 0x0009;
  private static final int FINGERPRINT = 0x8028;
  private static final int FINGERPRINT_XOR = 0x5354554e;

  private StunCodec() {
  }

  /** Whether {@code bytes} look like a STUN message (not SIP): RFC 5389 §6 and §8. */
  static boolean isStun(byte[] bytes, int length) {
    return length >= HEADER_LENGTH && (bytes[0] & 0xC0) == 0
        && ByteBuffer.wrap(bytes, 4, 4).getInt() == MAGIC_COOKIE
        && (((bytes[2] & 0xFF) << 8 | (bytes[3] & 0xFF)) & 3) == 0;
  }

  /** The 20 bytes of a Binding request without attributes. */
  static byte[] encode(StunMessage message) {
    ByteBuffer b = ByteBuffer.allocate(HEADER_LENGTH);
    b.putShort((short) message.type());
    b.putShort((short) 0); // no attributes
    b.putInt(MAGIC_COOKIE);
    b.put(message.transactionId());
    return b.array();
  }

  /**
   * Reads a STUN message; a FINGERPRINT, when present, must match. Attributes other than the
   * mapped address and the error code are skipped (comprehension-required ones included: a
   * keep-alive reads nothing else from the answer).
   *
   * @throws ParseException when the bytes are not a well-formed STUN message
   */
  static StunMessage decode(byte[] bytes, int length) throws ParseException {
    if (!isStun(bytes, length)) {
      throw new ParseException("not a STUN message", 0);
    }
    ByteBuffer b = ByteBuffer.wrap(bytes, 0, length);
    int type = b.getShort() & 0xFFFF;
    int bodyLength = b.getShort() & 0xFFFF;
    if (HEADER_LENGTH + bodyLength != length) {
      throw new ParseException("STUN length " + bodyLength + " but " + (length - HEADER_LENGTH)
          + " bytes follow the header", 2);
    }
    b.getInt(); // the cookie, checked by isStun
    byte[] txId = new byte[TRANSACTION_ID_LENGTH];
    b.get(txId);
    InetSocketAddress xorMapped = null;
    InetSocketAddress mapped = null;
    int error = 0;
    while (b.remaining() >= 4) {
      int at = b.position();
      int attr = b.getShort() & 0xFFFF;
      int len = b.getShort() & 0xFFFF;
      if (len > b.remaining()) {
        throw new ParseException("STUN attribute 0x" + Integer.toHexString(attr)
            + " runs past the message", at);
      }
      int valueAt = b.position();
      switch (attr) {
        case XOR_MAPPED_ADDRESS -> xorMapped = address(bytes, valueAt, len, txId, true);
        case MAPPED_ADDRESS -> mapped = address(bytes, valueAt, len, txId, false);
        case ERROR_CODE -> error = len < 4 ? 0
            : (bytes[valueAt + 2] & 0x07) * 100 + (bytes[valueAt + 3] & 0xFF);
        case FINGERPRINT -> checkFingerprint(bytes, at, len, valueAt);
        default -> { } // not needed by a keep-alive
      }
      b.position(valueAt + ((len + 3) & ~3)); // values are padded to 4 bytes
    }
    if (b.remaining() != 0) {
      throw new ParseException("STUN attributes end mid-header", b.position());
    }
    return new StunMessage(type, txId, xorMapped != null ? xorMapped : mapped, error);
  }

  private static void checkFingerprint(byte[] bytes, int attrAt, int len, int valueAt)
      throws ParseException {
    if (len != 4) {
      throw new ParseException("STUN FINGERPRINT of " + len + " bytes", attrAt);
    }
    CRC32 crc = new CRC32();
    crc.update(bytes, 0, attrAt);
    int expected = (int) crc.getValue() ^ FINGERPRINT_XOR;
    if (ByteBuffer.wrap(bytes, valueAt, 4).getInt() != expected) {
      throw new ParseException("STUN FINGERPRINT does not match", valueAt);
    }
  }

  private static InetSocketAddress address(byte[] bytes, int at, int len, byte[] txId,
      boolean xor) throws ParseException {
    int family = bytes[at + 1] & 0xFF;
    int addressLength = family == 1 ? 4 : family == 2 ? 16 : -1;
    if (addressLength < 0 || len != 4 + addressLength) {
      throw new ParseException("STUN address of family " + family + " and length " + len, at);
    }
    int port = (bytes[at + 2] & 0xFF) << 8 | (bytes[at + 3] & 0xFF);
    byte[] ip = new byte[addressLength];
    System.arraycopy(bytes, at + 4, ip, 0, addressLength);
    if (xor) {
      // RFC 5389 §15.2: the port with the cookie's top 16 bits, the address with the cookie
      // and (IPv6) the transaction id.
      port ^= MAGIC_COOKIE >>> 16;
      byte[] key = ByteBuffer.allocate(16).putInt(MAGIC_COOKIE).put(txId).array();
      for (int i = 0; i < addressLength; i++) {
        ip[i] ^= key[i];
      }
    }
    try {
      return new InetSocketAddress(InetAddress.getByAddress(ip), port);
    } catch (UnknownHostException impossible) {
      throw new ParseException("STUN address of " + addressLength + " bytes", at);
    }
  }
}
