package io.sipalr.sip;

import gov.nist.core.Host;
import gov.nist.core.HostPort;
import gov.nist.javax.sip.ListeningPointImpl;
import gov.nist.javax.sip.stack.ConnectionOrientedMessageChannel;
import gov.nist.javax.sip.stack.ConnectionOrientedMessageProcessor;
import gov.nist.javax.sip.stack.MessageChannel;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Map;
import javax.sip.ListeningPoint;

/**
 * Closes one TLS connection of a listening point. JAIN-SIP 1.3.0-91's
 * {@code closeReliableConnection} looks channels up under a "TCP" key whatever the transport
 * (ConnectionOrientedMessageProcessor), so for TLS it never finds one and a move would keep
 * sending over the old uplink's connection. This does what it does, with the TLS key.
 */
final class TlsConnections {
  private static final VarHandle CHANNELS;
  private static final VarHandle INCOMING;

  static {
    try {
      MethodHandles.Lookup lookup = MethodHandles.privateLookupIn(
          ConnectionOrientedMessageProcessor.class, MethodHandles.lookup());
      CHANNELS = lookup.findVarHandle(ConnectionOrientedMessageProcessor.class,
          "messageChannels", Map.class);
      INCOMING = lookup.findVarHandle(ConnectionOrientedMessageProcessor.class,
          "incomingMessageChannels", Map.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private TlsConnections() {}

  /** Closes {@code lp}'s TLS connection to {@code host:port}; false when it had none. */
  @SuppressWarnings("unchecked")
  static boolean close(ListeningPoint lp, String host, int port) {
    if (!(lp instanceof ListeningPointImpl impl)
        || !(impl.getMessageProcessor() instanceof ConnectionOrientedMessageProcessor p)) {
      return false;
    }
    HostPort peer = new HostPort();
    peer.setHost(new Host(host));
    peer.setPort(port);
    String key = MessageChannel.getKey(peer, ListeningPoint.TLS);
    synchronized (p) { // as the processor's own closeReliableConnection
      Map<String, ConnectionOrientedMessageChannel> out =
          (Map<String, ConnectionOrientedMessageChannel>) CHANNELS.get(p);
      Map<String, ConnectionOrientedMessageChannel> in =
          (Map<String, ConnectionOrientedMessageChannel>) INCOMING.get(p);
      ConnectionOrientedMessageChannel channel = out.remove(key);
      ConnectionOrientedMessageChannel incoming = in.remove(key);
      if (channel == null) {
        channel = incoming;
      }
      if (channel == null) {
        return false;
      }
      channel.close();
      return true;
    }
  }
}
