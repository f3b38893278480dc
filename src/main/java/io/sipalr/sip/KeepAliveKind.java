package io.sipalr.sip;

/** The keep-alive an outbound flow, or a NAT ping, uses now (shown in the profile view). */
public enum KeepAliveKind {
  /** A STUN Binding request on the flow's UDP socket (RFC 5626 §4.4.2). */
  STUN,
  /** A double-CRLF ping, a CRLF pong awaited (RFC 5626 §4.4.1, connection-oriented flows). */
  CRLF,
  /** An OPTIONS to the flow's far end: any answer proves the flow. */
  OPTIONS
}
