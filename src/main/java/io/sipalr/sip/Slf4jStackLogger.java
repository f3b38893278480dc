package io.sipalr.sip;

import gov.nist.core.StackLogger;
import java.util.Properties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Routes JAIN-SIP's own diagnostics to SLF4J (logger {@code gov.nist}), so the stack needs no
 * log4j 1.x. Named in the stack property {@code gov.nist.javax.sip.STACK_LOGGER}; the stack
 * instantiates it reflectively, hence the public no-argument constructor. At DEBUG the stack
 * writes whole messages: every line (and exception message) goes through {@link LogMask}
 * first, so that no Authorization or Proxy-Authorization value reaches a log at any level.
 */
public final class Slf4jStackLogger implements StackLogger {
  private static final Logger log = LoggerFactory.getLogger("gov.nist");

  public Slf4jStackLogger() {}

  @Override public void logStackTrace() { if (log.isDebugEnabled()) log.debug("stack trace", new Throwable()); }
  @Override public void logStackTrace(int level) { logStackTrace(); }
  @Override public int getLineCount() { return 0; }
  @Override public void logException(Throwable t) { log.warn("SIP stack exception", LogMask.mask(t)); }
  @Override public void logDebug(String message) { if (log.isDebugEnabled()) log.debug(LogMask.mask(message)); }
  @Override public void logDebug(String message, Exception e) { if (log.isDebugEnabled()) log.debug(LogMask.mask(message), LogMask.mask(e)); }
  @Override public void logTrace(String message) { if (log.isTraceEnabled()) log.trace(LogMask.mask(message)); }
  @Override public void logFatalError(String message) { log.error(LogMask.mask(message)); }
  @Override public void logError(String message) { log.error(LogMask.mask(message)); }
  @Override public boolean isLoggingEnabled() { return log.isInfoEnabled(); }

  @Override
  public boolean isLoggingEnabled(int level) {
    // The stack guards its (expensive) message formatting with this call.
    if (level >= TRACE_TRACE) return log.isTraceEnabled();
    if (level >= TRACE_DEBUG) return log.isDebugEnabled();
    // TRACE_MESSAGES has INFO's value and gates the message trace (Slf4jServerLogger): let it
    // through when that trace is on, whatever the level of the stack's own diagnostics.
    if (level >= TRACE_INFO) return log.isInfoEnabled() || Slf4jServerLogger.trace.isDebugEnabled();
    if (level >= TRACE_WARN) return log.isWarnEnabled();
    return log.isErrorEnabled();
  }

  @Override public void logError(String message, Exception e) { log.error(LogMask.mask(message), LogMask.mask(e)); }
  @Override public void logWarning(String message) { if (log.isWarnEnabled()) log.warn(LogMask.mask(message)); }
  @Override public void logInfo(String message) { if (log.isInfoEnabled()) log.info(LogMask.mask(message)); }
  @Override public void disableLogging() {}
  @Override public void enableLogging() {}
  @Override public void setBuildTimeStamp(String buildTimeStamp) {}
  @Override public void setStackProperties(Properties properties) {}
  @Override public String getLoggerName() { return log.getName(); }
}
