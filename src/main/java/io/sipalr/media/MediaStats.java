package io.sipalr.media;

/**
 * A call's RTP counts: packets sent and received, the address RTP last came from, and the local
 * address it is sent from now.
 *
 * @param lastMoveGapMillis after a move: the time between the last packet received on the old
 *     socket and the first on the new one (with a peer that echoes, the media gap of the move
 *     plus one round trip); -1 before any move, or while the first packet is awaited
 * @param rtcp reception quality (RFC 3550 reports); null before the peer's address is known
 * @param dtmfReceived the DTMF digits received as telephone-events (RFC 4733), the last 64
 */
public record MediaStats(long sent, long received, String localAddress, int localPort,
    String lastSource, String remote, String codec, long lastMoveGapMillis, RtcpStats rtcp,
    String dtmfReceived) {}
