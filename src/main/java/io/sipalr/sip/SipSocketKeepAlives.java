package io.sipalr.sip;

import gov.nist.javax.sip.ListeningPointImpl;
import gov.nist.javax.sip.message.SIPMessage;
import gov.nist.javax.sip.parser.MessageParser;
import gov.nist.javax.sip.parser.MessageParserFactory;
import gov.nist.javax.sip.parser.ParseExceptionListener;
import gov.nist.javax.sip.parser.StringMsgParserFactory;
import gov.nist.javax.sip.stack.MessageChannel;
import gov.nist.javax.sip.stack.SIPTransactionStack;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.InetAddress;
import java.text.ParseException;
import javax.sip.ListeningPoint;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * RFC 5626 §4.4 keep-alives on JAIN-SIP's own sockets, the ones the registrar knows.
 *
 * <ul>
 *   <li>STUN out: the UDP listening point's message processor makes a channel to the far end
 *       and sends the raw bytes on the processor's socket, the way the stack's own
 *       {@code sendHeartbeat} does ({@code MessageChannel.sendMessage(byte[], InetAddress, int,
 *       boolean)} is protected, hence the reflection, resolved once).</li>
 *   <li>STUN in: every UDP datagram goes through the stack's {@link MessageParserFactory}
 *       ({@code UDPMessageChannel.processIncomingDataPacket}); this one hands STUN messages
 *       (RFC 5389 §6: top bits 00 and the magic cookie) to the {@link SipWire.KeepAliveAnswers}
 *       and returns no SIP message, which the stack drops; everything else goes to the stock
 *       parser.</li>
 *   <li>TCP and TLS: not here; {@link CrlfConnections} reads the connections' pings and pongs
 *       before the stack does.</li>
 * </ul>
 */
final class SipSocketKeepAlives implements MessageParserFactory {
  private static final Logger log = LoggerFactory.getLogger(SipSocketKeepAlives.class);
  private static final Method SEND_BYTES = sendBytes();

  private final MessageParserFactory stock = new StringMsgParserFactory();
  private volatile SipWire.KeepAliveAnswers answers;

  private static Method sendBytes() {
    try {
      Method m = MessageChannel.class.getDeclaredMethod("sendMessage", byte[].class,
          InetAddress.class, int.class, boolean.class);
      m.setAccessible(true);
      return m;
    } catch (NoSuchMethodException | RuntimeException e) {
      throw new IllegalStateException("this JAIN-SIP has no MessageChannel.sendMessage(byte[], "
          + "InetAddress, int, boolean): STUN keep-alives cannot be sent", e);
    }
  }

  void answers(SipWire.KeepAliveAnswers answers) {
    this.answers = answers;
  }

  @Override
  public MessageParser createMessageParser(SIPTransactionStack stack) {
    MessageParser sip = stock.createMessageParser(stack);
    return (bytes, readBody, strict, listener) -> {
      if (bytes != null && StunCodec.isStun(bytes, bytes.length)) {
        stun(bytes, listener);
        return null; // no SIP message: the stack drops the datagram
      }
      return sip.parseSIPMessage(bytes, readBody, strict, listener);
    };
  }

  private void stun(byte[] bytes, ParseExceptionListener from) {
    SipWire.KeepAliveAnswers a = answers;
    try {
      StunMessage m = StunCodec.decode(bytes, bytes.length);
      if (a != null && (m.isSuccess() || m.isError())) {
        a.stunAnswer(m);
      } else {
        log.debug("STUN {} from {} ignored", m, peer(from));
      }
    } catch (ParseException e) {
      log.debug("malformed STUN message from {}: {}", peer(from), e.getMessage());
    }
  }

  private static String peer(ParseExceptionListener from) {
    return from instanceof MessageChannel c ? c.getPeerAddress() : "?";
  }

  /** Sends {@code request} from {@code udp}'s socket to {@code host:port}. */
  void sendStun(ListeningPoint udp, String host, int port, StunMessage request) {
    try {
      InetAddress to = InetAddress.getByName(host); // an IP literal: no lookup
      MessageChannel channel = ((ListeningPointImpl) udp).getMessageProcessor()
          .createMessageChannel(to, port);
      SEND_BYTES.invoke(channel, StunCodec.encode(request), to, port, false);
    } catch (IOException | IllegalAccessException | RuntimeException e) {
      log.debug("STUN keep-alive from {}:{} to {}:{} not sent: {}", udp.getIPAddress(),
          udp.getPort(), host, port, e.toString());
    } catch (InvocationTargetException e) {
      log.debug("STUN keep-alive from {}:{} to {}:{} not sent: {}", udp.getIPAddress(),
          udp.getPort(), host, port, e.getCause().toString());
    }
  }
}
