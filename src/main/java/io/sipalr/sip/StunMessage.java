package io.sipalr.sip;

import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * One STUN message (RFC 5389) as the keep-alives need it: its type, its transaction id, and
 * what a Binding answer says (the mapped address, or the error). Bytes in and out through
 * {@link StunCodec}.
 *
 * @param type the message type (class and method), e.g. {@link #BINDING_REQUEST}
 * @param transactionId the 96-bit transaction id (12 bytes)
 * @param mapped the XOR-MAPPED-ADDRESS (or a legacy MAPPED-ADDRESS), or {@code null}
 * @param errorCode the ERROR-CODE of an error response (e.g. 400), 0 when none
 */
record StunMessage(int type, byte[] transactionId, InetSocketAddress mapped, int errorCode) {
  static final int BINDING_REQUEST = 0x0001;
  static final int BINDING_SUCCESS = 0x0101;
  static final int BINDING_ERROR = 0x0111;

  StunMessage {
    if (transactionId.length != StunCodec.TRANSACTION_ID_LENGTH) {
      throw new IllegalArgumentException("a STUN transaction id is 12 bytes, not "
          + transactionId.length);
    }
    transactionId = transactionId.clone();
  }

  /** A Binding request without attributes: all a keep-alive needs (RFC 5626 §4.4.2). */
  static StunMessage bindingRequest(byte[] transactionId) {
    return new StunMessage(BINDING_REQUEST, transactionId, null, 0);
  }

  @Override
  public byte[] transactionId() {
    return transactionId.clone();
  }

  boolean isSuccess() {
    return type == BINDING_SUCCESS;
  }

  boolean isError() {
    return type == BINDING_ERROR;
  }

  boolean sameTransaction(byte[] other) {
    return Arrays.equals(transactionId, other);
  }

  /** The mapped address as {@code host:port}, or {@code null}. */
  String mappedText() {
    return mapped == null ? null
        : mapped.getAddress().getHostAddress() + ":" + mapped.getPort();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof StunMessage m && m.type == type
        && Arrays.equals(m.transactionId, transactionId)
        && java.util.Objects.equals(m.mapped, mapped) && m.errorCode == errorCode;
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(transactionId) + type;
  }

  @Override
  public String toString() {
    return String.format("STUN 0x%04x %s%s%s", type, HexFormat.of().formatHex(transactionId),
        mapped == null ? "" : " mapped " + mappedText(),
        errorCode == 0 ? "" : " error " + errorCode);
  }
}
