package io.sipalr.media;

/**
 * A call's reception quality (RFC 3550 §6.4): what we counted of the peer's RTP, and what the
 * peer's last RTCP report said of ours.
 *
 * @param packetsExpected the peer's packets expected (extended highest sequence - first + 1)
 * @param packetsLost expected minus received (negative with duplicates)
 * @param jitterMs interarrival jitter of the peer's RTP
 * @param reportsSent our RTCP compound packets sent; {@code reportsReceived} the peer's
 * @param peerPacketsLost of ours, in the peer's last report; null: no report about us yet
 * @param peerFractionLost of ours since its previous report (0 to 1); null: none
 * @param peerJitterMs of ours, as the peer measured it; null: none
 * @param roundTripMs from the peer's LSR/DLSR; null until it reported on an SR of ours
 */
public record RtcpStats(long packetsExpected, long packetsLost, double jitterMs,
    long reportsSent, long reportsReceived, Integer peerPacketsLost, Double peerFractionLost,
    Double peerJitterMs, Double roundTripMs) {}
