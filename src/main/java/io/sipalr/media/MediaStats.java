package io.sipalr.media;

/**
 * A call's RTP counts: packets sent and received, the address RTP last came from, and the local
 * address it is sent from now.
 */
public record MediaStats(long sent, long received, String localAddress, int localPort,
    String lastSource, String remote, String codec) {}
