package io.sipalr.calls;

import java.time.Duration;

/**
 * How a profile answers an incoming INVITE (docs/calls.md, "Call policy").
 *
 * @param rejectStatus the final status of {@code REJECT} (4xx-6xx; 480 by default)
 * @param answerDelay how long {@code AUTO_ANSWER} rings (180) before it answers
 * @param decisionTimeout how long {@code APPLICATION} waits for the application's decision
 * @param answerByDefault what {@code APPLICATION} does when no decision came in time
 */
public record CallPolicy(Kind kind, int rejectStatus, Duration answerDelay,
    Duration decisionTimeout, boolean answerByDefault) {

  public enum Kind {
    /** Every INVITE answered {@code rejectStatus}: the agent without calls. */
    REJECT,
    /** Ringing for {@code answerDelay}, then answered 200 with media. */
    AUTO_ANSWER,
    /** A {@link CallListener} or the control API answers or rejects within the timeout. */
    APPLICATION
  }

  public CallPolicy {
    if (rejectStatus < 400 || rejectStatus > 699) {
      throw new IllegalArgumentException("reject status " + rejectStatus
          + " is not a final error status (400-699)");
    }
    if (answerDelay.isNegative() || decisionTimeout.isNegative()) {
      throw new IllegalArgumentException("negative delay in call policy");
    }
  }

  /** Today's behaviour without calls: 480 Temporarily Unavailable. */
  public static final CallPolicy DEFAULT = new CallPolicy(Kind.REJECT, 480, Duration.ZERO,
      Duration.ofSeconds(10), false);

  public static CallPolicy reject(int status) {
    return new CallPolicy(Kind.REJECT, status, Duration.ZERO, Duration.ofSeconds(10), false);
  }

  public static CallPolicy autoAnswer(Duration delay) {
    return new CallPolicy(Kind.AUTO_ANSWER, 480, delay, Duration.ofSeconds(10), false);
  }

  public static CallPolicy application(Duration timeout, boolean answerByDefault,
      int rejectStatus) {
    return new CallPolicy(Kind.APPLICATION, rejectStatus, Duration.ZERO, timeout,
        answerByDefault);
  }
}
