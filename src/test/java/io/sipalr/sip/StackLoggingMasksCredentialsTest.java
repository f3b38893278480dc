package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.read.ListAppender;
import gov.nist.javax.sip.message.SIPMessage;
import gov.nist.javax.sip.parser.StringMsgParser;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * With {@code gov.nist} (and the message trace) at DEBUG, JAIN-SIP logs whole messages: what
 * reaches the appenders must carry no digest response, cnonce or other credential, at any level
 * and in exception messages too.
 */
class StackLoggingMasksCredentialsTest {
  static final String RESPONSE = "6629fae49393a05397450978507c4ef1";
  static final String CNONCE = "0a4f113b";
  static final String REGISTER = "REGISTER sip:sipalr.test SIP/2.0\r\n"
      + "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK776asdhds\r\n"
      + "Max-Forwards: 70\r\n"
      + "To: <sip:alice@sipalr.test>\r\n"
      + "From: <sip:alice@sipalr.test>;tag=1928301774\r\n"
      + "Call-ID: a84b4c76e66710@127.0.0.1\r\n"
      + "CSeq: 2 REGISTER\r\n"
      + "Contact: <sip:alice@127.0.0.1:5070>\r\n"
      + "Authorization: Digest username=\"alice\", realm=\"sipalr.test\", "
      + "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"sip:sipalr.test\", "
      + "response=\"" + RESPONSE + "\", algorithm=MD5, cnonce=\"" + CNONCE + "\", qop=auth, "
      + "nc=00000001\r\n"
      + "Proxy-Authorization: Digest username=\"alice\", realm=\"proxy\", nonce=\"x\", "
      + "uri=\"sip:sipalr.test\", response=\"" + RESPONSE.toUpperCase() + "\"\r\n"
      + "Content-Length: 0\r\n\r\n";

  private final Logger stack = (Logger) LoggerFactory.getLogger("gov.nist");
  private final Logger trace = (Logger) LoggerFactory.getLogger("io.sipalr.sip.trace");
  private final ListAppender<ILoggingEvent> captured = new ListAppender<>();
  private Level stackLevel;
  private Level traceLevel;

  @BeforeEach
  void captureAtDebug() {
    stackLevel = stack.getLevel();
    traceLevel = trace.getLevel();
    stack.setLevel(Level.TRACE);
    trace.setLevel(Level.DEBUG);
    captured.start();
    stack.addAppender(captured);
    trace.addAppender(captured);
    // Only into the capture: the console of the build stays quiet.
    stack.setAdditive(false);
    trace.setAdditive(false);
  }

  @AfterEach
  void restore() {
    stack.detachAppender(captured);
    trace.detachAppender(captured);
    stack.setAdditive(true);
    trace.setAdditive(true);
    stack.setLevel(stackLevel);
    trace.setLevel(traceLevel);
  }

  private static SIPMessage parsed() throws ParseException {
    return new StringMsgParser().parseSIPMessage(REGISTER.getBytes(StandardCharsets.UTF_8), true,
        false, null);
  }

  @Test
  void aRequestWithCredentialsLoggedAtEveryLevelShowsNoSecret() throws Exception {
    SIPMessage request = parsed();
    assertTrue(request.encode().contains(RESPONSE), "the message really carries the digest");
    Slf4jStackLogger logger = new Slf4jStackLogger();
    assertTrue(logger.isLoggingEnabled(Slf4jStackLogger.TRACE_DEBUG));

    logger.logDebug("Sending message:\n" + request.encode());
    logger.logDebug("message " + request);
    logger.logTrace(request.encode());
    logger.logInfo(request.encode());
    logger.logWarning(request.encode());
    logger.logError(request.encode());
    logger.logFatalError(request.encode());
    logger.logDebug("header = " + request.getHeader("Authorization"));
    // The parser's own diagnostics can show a header's value in the middle of a line.
    logger.logDebug("parsing ... response=" + RESPONSE + ", cnonce=" + CNONCE + " done");
    ParseException bad = new ParseException("bad header " + REGISTER, 0);
    logger.logDebug("could not parse", bad);
    logger.logError("could not parse", new IllegalStateException("wrapped", bad));
    logger.logException(bad);

    Slf4jServerLogger server = new Slf4jServerLogger();
    server.logMessage(request, "127.0.0.1:5070", "127.0.0.1:5060", true, 0L);
    server.logException(bad);

    List<String> texts = texts();
    assertEquals(14, captured.list.size(), texts::toString);
    for (String text : texts) {
      assertFalse(text.contains(RESPONSE), text);
      assertFalse(text.toLowerCase().contains(RESPONSE.toLowerCase()), text);
      assertFalse(text.contains(CNONCE), text);
    }
    // What is not a credential stays readable.
    String first = captured.list.get(0).getFormattedMessage();
    assertTrue(first.contains("Authorization: ***"), first);
    assertTrue(first.contains("Proxy-Authorization: ***"), first);
    assertTrue(first.contains("CSeq: 2 REGISTER"), first);
    assertTrue(first.contains("Call-ID: a84b4c76e66710@127.0.0.1"), first);
  }

  @Test
  void aFoldedAuthorizationHeaderIsMaskedWhole() {
    String folded = "Authorization: Digest username=\"alice\",\r\n"
        + "  response=\"" + RESPONSE + "\",\r\n\tcnonce=\"" + CNONCE + "\"\r\nCSeq: 1 REGISTER\r\n";
    String masked = LogMask.mask(folded);
    assertEquals("Authorization: ***\r\nCSeq: 1 REGISTER\r\n", masked);
  }

  @Test
  void whatIsNoCredentialStaysReadable() {
    assertEquals("response = SIP/2.0 200 OK", LogMask.mask("response = SIP/2.0 200 OK"));
    assertEquals("WWW-Authenticate: Digest realm=\"a\", nonce=\"b\"",
        LogMask.mask("WWW-Authenticate: Digest realm=\"a\", nonce=\"b\""));
  }

  @Test
  void anExceptionWithoutCredentialsIsLoggedAsItIs() {
    IllegalStateException plain = new IllegalStateException("no route");
    assertTrue(LogMask.mask(plain) == plain);
  }

  /** Every event's message and throwable chain (class names and messages), as text. */
  private List<String> texts() {
    List<String> texts = new ArrayList<>();
    for (ILoggingEvent event : captured.list) {
      StringBuilder text = new StringBuilder(event.getFormattedMessage());
      for (IThrowableProxy t = event.getThrowableProxy(); t != null; t = t.getCause()) {
        text.append(" | ").append(t.getClassName()).append(": ").append(t.getMessage());
      }
      texts.add(text.toString());
    }
    return texts;
  }
}
