package io.sipalr.sip;

import java.util.concurrent.atomic.LongAdder;

/**
 * Counts of what the SIP core sent and what failed, since the registry started: read by the
 * metrics ({@code io.sipalr.metrics.AgentMetrics}). Lock-free and thread-safe; the state
 * machines never see it (it counts at the {@link SipWire} seam and in {@link FlowKeepAlive}).
 */
public final class SipStats {
  private final LongAdder registersSent = new LongAdder();
  private final LongAdder keepAlivesSent = new LongAdder();
  private final LongAdder keepAliveFailures = new LongAdder();
  private final LongAdder retransmissions = new LongAdder();
  private final LongAdder registerAttempts = new LongAdder();
  /** The engine's TLS counters (none on a scripted wire). */
  private volatile java.util.function.LongSupplier tlsConnections = () -> 0;
  private volatile java.util.function.LongSupplier tlsResumed = () -> 0;

  /** REGISTERs the state machines tried to send, those the transport refused included. */
  public long registerAttempts() {
    return registerAttempts.sum();
  }

  /** TLS connections set up (a TCP connect and a handshake each), failed handshakes included. */
  public long tlsConnections() {
    return tlsConnections.getAsLong();
  }

  /** Of those, handshakes that resumed an earlier session (cheaper: no certificates sent). */
  public long tlsResumedSessions() {
    return tlsResumed.getAsLong();
  }

  void attempted(String method) {
    if ("REGISTER".equals(method)) {
      registerAttempts.increment();
    }
  }

  void tlsFrom(java.util.function.LongSupplier connections,
      java.util.function.LongSupplier resumed) {
    this.tlsConnections = connections;
    this.tlsResumed = resumed;
  }

  /** Requests (REGISTER, keep-alive) the transport sent again for want of an answer (UDP). */
  public long retransmissions() {
    return retransmissions.sum();
  }

  void retransmitted() {
    retransmissions.increment();
  }

  /** REGISTER requests handed to the transport (first sends, challenges answered, refreshes,
   * removals; the stack's own retransmissions of one are not counted). */
  public long registersSent() {
    return registersSent.sum();
  }

  /** Keep-alives sent on outbound flows: OPTIONS probes, STUN requests (retransmissions too). */
  public long keepAlivesSent() {
    return keepAlivesSent.sum();
  }

  /** Flows found dead by their keep-alive (unanswered, or not sendable). */
  public long keepAliveFailures() {
    return keepAliveFailures.sum();
  }

  void sent(String method) {
    if ("REGISTER".equals(method)) {
      registersSent.increment();
    } else if ("OPTIONS".equals(method)) {
      keepAlivesSent.increment();
    }
  }

  /** A STUN or CRLF keep-alive (an OPTIONS one counts in {@link #sent}). */
  void keepAliveSent() {
    keepAlivesSent.increment();
  }

  void keepAliveFailed() {
    keepAliveFailures.increment();
  }
}
