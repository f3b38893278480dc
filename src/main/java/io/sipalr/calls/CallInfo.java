package io.sipalr.calls;

import io.sipalr.media.MediaStats;
import java.time.Instant;

/** A call as the API shows it; {@code media} is null before it has RTP. */
public record CallInfo(String id, String profileId, Direction direction, String peer,
    State state, String localAddress, Instant started, Instant established, MediaStats media) {

  public enum Direction { INCOMING, OUTGOING }

  /** The call's state machine (docs/calls.md, "States"). */
  public enum State {
    /** INVITE received, ringing (180), waiting for the policy or application. */
    RINGING,
    /** Our INVITE sent, no final answer yet. */
    CALLING,
    /** 200 sent, waiting for the ACK (incoming); media already runs. */
    ANSWERED,
    ESTABLISHED,
    /** A re-INVITE after a move is out. */
    MOVING,
    /** BYE sent or CANCEL sent, waiting for its answer. */
    ENDING,
    ENDED
  }
}
