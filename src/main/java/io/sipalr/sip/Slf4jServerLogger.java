package io.sipalr.sip;

import gov.nist.core.ServerLogger;
import gov.nist.javax.sip.message.SIPMessage;
import java.util.Properties;
import javax.sip.SipStack;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SIP message tracing: every message the stack sends or receives, at DEBUG on the logger
 * {@code io.sipalr.sip.trace} (off by default; switch it on in logback.xml or at run time).
 * Credentials are masked before anything is written.
 */
public final class Slf4jServerLogger implements ServerLogger {
  static final Logger trace = LoggerFactory.getLogger("io.sipalr.sip.trace");

  public Slf4jServerLogger() {}

  /** The text of a SIP message with every credential header's value masked. */
  public static String mask(String message) {
    return LogMask.mask(message);
  }

  /** The stack reports some received messages twice, on the same thread: trace them once. */
  private static final ThreadLocal<SIPMessage> lastTraced = new ThreadLocal<>();

  private static void log(SIPMessage message, String from, String to, boolean sender) {
    if (trace.isDebugEnabled() && lastTraced.get() != message) {
      lastTraced.set(message);
      trace.debug("{} {} -> {}\n{}", sender ? "sent" : "received", from, to,
          mask(message.encode()));
    }
  }

  @Override public void closeLogFile() {}

  @Override
  public void logMessage(SIPMessage message, String from, String to, boolean sender, long time) {
    log(message, from, to, sender);
  }

  @Override
  public void logMessage(SIPMessage message, String from, String to, String status,
      boolean sender, long time) {
    log(message, from, to, sender);
  }

  @Override
  public void logMessage(SIPMessage message, String from, String to, String status,
      boolean sender) {
    log(message, from, to, sender);
  }

  @Override public void logException(Exception e) {
    trace.debug("SIP stack exception", LogMask.mask(e));
  }
  @Override public void setStackProperties(Properties properties) {}
  @Override public void setSipStack(SipStack sipStack) {}
}
