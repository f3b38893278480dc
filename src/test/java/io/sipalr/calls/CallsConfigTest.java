package io.sipalr.calls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class CallsConfigTest {
  private static CallsConfig read(String text) {
    return CallsConfig.from(ConfigFactory.parseString(text)
        .withFallback(ConfigFactory.defaultReference()).resolve());
  }

  @Test
  void theDefaultIsTodaysRejectWith480() {
    CallsConfig c = read("");
    assertEquals(CallPolicy.Kind.REJECT, c.policyOf("anyone").kind());
    assertEquals(480, c.policyOf("anyone").rejectStatus());
    assertEquals(100, c.maxCalls());
    assertEquals(CallSettings.MoveRequest.AUTO, c.signalling().moveRequest());
    assertTrue(c.makeBeforeBreak(), "media make-before-break by default");
    assertEquals(false, read("calls.media.make-before-break = false").makeBeforeBreak());
  }

  @Test
  void aProfileHasItsOwnPolicyFallingBackToTheBlock() {
    CallsConfig c = read("calls { reject-status = 486, answer-delay = 2s, profiles = ["
        + "{ profile = alice, policy = auto-answer },"
        + "{ profile = bob, policy = application, decision-default = answer } ] }");
    assertEquals(CallPolicy.Kind.REJECT, c.policyOf("carol").kind());
    assertEquals(486, c.policyOf("carol").rejectStatus());
    assertEquals(CallPolicy.Kind.AUTO_ANSWER, c.policyOf("alice").kind());
    assertEquals(Duration.ofSeconds(2), c.policyOf("alice").answerDelay());
    assertTrue(c.policyOf("bob").answerByDefault());
  }

  @Test
  void mistakesNameTheirKey() {
    var e = assertThrows(ConfigException.class, () -> read("calls.policy = answer"));
    assertTrue(e.getMessage().contains("calls.policy"), e.getMessage());
    e = assertThrows(ConfigException.class,
        () -> read("calls.profiles = [{ profile = a, polcy = reject }]"));
    assertTrue(e.getMessage().contains("calls.profiles[0].polcy"), e.getMessage());
    e = assertThrows(ConfigException.class, () -> read("calls.reject-status = 200"));
    assertTrue(e.getMessage().contains("400-699"), e.getMessage());
    e = assertThrows(ConfigException.class,
        () -> read("calls.media { source = wav, wav-file = /nonexistent.wav }"));
    assertTrue(e.getMessage().contains("calls.media.wav-file"), e.getMessage());
    e = assertThrows(ConfigException.class,
        () -> read("calls.signalling.move-request = update"));
    assertTrue(e.getMessage().contains("calls.signalling.move-request"), e.getMessage());
    e = assertThrows(ConfigException.class, () -> read("calls.signalling.glare-retries = -1"));
    assertTrue(e.getMessage().contains("calls.signalling.glare-retries"), e.getMessage());
    e = assertThrows(ConfigException.class, () -> read("calls.signalling.min-se = 60s"));
    assertTrue(e.getMessage().contains("calls.signalling.min-se"), e.getMessage());
    assertEquals(CallSettings.MoveRequest.RE_INVITE,
        read("calls.signalling.move-request = re-invite").signalling().moveRequest());
  }
}
