package io.sipalr.sip;

import java.util.Properties;

/**
 * The properties the {@link SipEngine} creates its JAIN-SIP stack with. Several work around the
 * stack's pitfalls (docs/architecture.md): each says why it is set.
 */
final class SipStackProperties {
  private SipStackProperties() {
  }

  /** @param stackName unique in the JVM (JAIN-SIP keeps one stack per name) */
  static Properties of(SipConfig config, String stackName) {
    Properties p = new Properties();
    p.setProperty("javax.sip.STACK_NAME", stackName);
    p.setProperty("javax.sip.AUTOMATIC_DIALOG_SUPPORT", "off");
    // Every request goes where the agent resolved it (RFC 3263): the stack resolves no names.
    p.setProperty("javax.sip.ROUTER_PATH", ResolvedHopRouter.class.getName());
    p.setProperty("javax.sip.USE_ROUTER_FOR_ALL_URIS", "true");
    p.setProperty("gov.nist.javax.sip.STACK_LOGGER", Slf4jStackLogger.class.getName());
    p.setProperty("gov.nist.javax.sip.SERVER_LOGGER", Slf4jServerLogger.class.getName());
    p.setProperty("gov.nist.javax.sip.TRACE_LEVEL", "DEBUG"); // filtered by the SLF4J levels
    p.setProperty("gov.nist.javax.sip.LOG_MESSAGE_CONTENT", "true");
    // Events are handed straight to per-profile serial executors, so a few threads suffice.
    p.setProperty("gov.nist.javax.sip.REENTRANT_LISTENER", "true");
    p.setProperty("gov.nist.javax.sip.THREAD_POOL_SIZE", Integer.toString(config.stackThreads()));
    // The default (blocking) TCP processor: a thread per TCP connection, and connections are
    // per registrar and local address, never per profile. The NIO processor in 1.3.0-91 races
    // when it opens a connection ("Old socket different than new socket") and loses responses.
    // Thousands of profiles may each have a REGISTER in flight.
    p.setProperty("gov.nist.javax.sip.MAX_CLIENT_TRANSACTIONS", "100000");
    p.setProperty("gov.nist.javax.sip.MAX_SERVER_TRANSACTIONS", "100000");
    // A finished transaction lets go of its request (memory during a storm of thousands), and,
    // unlike AGGRESSIVE_CLEANUP ("Normal"), keeps no copy of it encoded to bytes for reparsing:
    // we never read a transaction's request back, and that copy cost an encode per REGISTER.
    p.setProperty("gov.nist.javax.sip.RELEASE_REFERENCES_STRATEGY", "Aggressive");
    // The UDP reader allocates a buffer of this size for every datagram (64 KiB by default:
    // over a gigabyte a second, and most of the CPU, in a storm of 20,000 answers a second).
    // A registering agent's messages are far smaller; it also caps a TCP message's size.
    p.setProperty("gov.nist.javax.sip.MAX_MESSAGE_SIZE",
        Integer.toString(SipEngine.MAX_MESSAGE_SIZE));
    // The stack asks for a 64 KiB socket receive buffer, below Linux's default: a window of a
    // few hundred answers arriving together overflows it. The kernel caps this at rmem_max.
    p.setProperty("gov.nist.javax.sip.RECEIVE_UDP_BUFFER_SIZE", Integer.toString(1 << 20));
    // TLS (docs/registration.md, "TLS"): our sockets and trust, TLS 1.2+ only, bounded handshake.
    p.setProperty("gov.nist.javax.sip.NETWORK_LAYER", TlsNetworkLayer.class.getName());
    p.setProperty("gov.nist.javax.sip.TLS_CLIENT_PROTOCOLS", "TLSv1.2,TLSv1.3");
    p.setProperty("gov.nist.javax.sip.SSL_HANDSHAKE_TIMEOUT",
        Long.toString(config.tls().handshakeTimeout().toMillis()));
    return p;
  }
}
