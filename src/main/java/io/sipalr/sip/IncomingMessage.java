package io.sipalr.sip;

import java.time.Instant;

/**
 * A MESSAGE (RFC 3428) that reached a profile: answered 200 by the agent, and given to every
 * {@link MessageListener} once (a retransmission is absorbed by its server transaction).
 *
 * @param from the sender's From URI
 * @param contentType the Content-Type, or {@code null} without a body
 * @param body the body as UTF-8 text (at most {@code sip.max-message-body} bytes)
 */
public record IncomingMessage(String profileId, String from, String contentType, String body,
    Instant time) {}
