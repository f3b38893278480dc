package io.sipalr.control;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import org.slf4j.ILoggerFactory;
import org.slf4j.LoggerFactory;

/**
 * SIP message tracing at run time: the logger {@value #LOGGER} at DEBUG (on) or INFO (off).
 * Credentials are masked in those messages by {@code io.sipalr.sip.Slf4jServerLogger}.
 */
final class SipTrace {
  static final String LOGGER = "io.sipalr.sip.trace";

  private SipTrace() {}

  static boolean enabled() {
    return LoggerFactory.getLogger(LOGGER).isDebugEnabled();
  }

  /** @throws IllegalStateException when logging does not go through logback */
  static void enable(boolean on) {
    ILoggerFactory factory = LoggerFactory.getILoggerFactory();
    if (!(factory instanceof LoggerContext context)) {
      throw new IllegalStateException("SIP tracing can only be switched with logback; logging"
          + " goes through " + factory.getClass().getName());
    }
    Logger logger = context.getLogger(LOGGER);
    logger.setLevel(on ? Level.DEBUG : Level.INFO);
  }
}
