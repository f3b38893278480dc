package io.sipalr.sip;

import gov.nist.core.StackLogger;
import java.util.Properties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Routes JAIN-SIP's own diagnostics to SLF4J (logger {@code gov.nist}), so the stack needs no
 * log4j 1.x. Named in the stack property {@code gov.nist.javax.sip.STACK_LOGGER}; the stack
 * instantiates it reflectively, hence the public no-argument constructor.
 */
public final class Slf4jStackLogger implements StackLogger {
  private static final Logger log = LoggerFactory.getLogger("gov.nist");

  public Slf4jStackLogger() {}

  @Override public void logStackTrace() { if (log.isDebugEnabled()) log.debug("stack trace", new Throwable()); }
  @Override public void logStackTrace(int level) { logStackTrace(); }
  @Override public int getLineCount() { return 0; }
  @Override public void logException(Throwable t) { log.warn("SIP stack exception", t); }
  @Override public void logDebug(String message) { log.debug(message); }
  @Override public void logDebug(String message, Exception e) { log.debug(message, e); }
  @Override public void logTrace(String message) { log.trace(message); }
  @Override public void logFatalError(String message) { log.error(message); }
  @Override public void logError(String message) { log.error(message); }
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

  @Override public void logError(String message, Exception e) { log.error(message, e); }
  @Override public void logWarning(String message) { log.warn(message); }
  @Override public void logInfo(String message) { log.info(message); }
  @Override public void disableLogging() {}
  @Override public void enableLogging() {}
  @Override public void setBuildTimeStamp(String buildTimeStamp) {}
  @Override public void setStackProperties(Properties properties) {}
  @Override public String getLoggerName() { return log.getName(); }
}
