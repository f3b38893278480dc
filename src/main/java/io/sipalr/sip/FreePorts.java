package io.sipalr.sip;

import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.OptionalInt;

/** Ports free for both UDP and TCP, as a SIP endpoint (or a registrar) listens on both. */
public final class FreePorts {
  private static final int CANDIDATES = 50;

  private FreePorts() {}

  /**
   * A port of {@code host} free for both UDP and TCP at the time of asking (another process may
   * take it before the caller binds); empty when none of {@value #CANDIDATES} candidates is.
   */
  public static OptionalInt udpAndTcp(InetAddress host) throws IOException {
    for (int attempt = 0; attempt < CANDIDATES; attempt++) {
      try (ServerSocket tcp = new ServerSocket()) {
        tcp.setReuseAddress(false);
        tcp.bind(new InetSocketAddress(host, 0));
        try (DatagramSocket udp = new DatagramSocket(new InetSocketAddress(host,
            tcp.getLocalPort()))) {
          return OptionalInt.of(udp.getLocalPort());
        } catch (IOException taken) {
          // The UDP side is in use: next candidate.
        }
      }
    }
    return OptionalInt.empty();
  }
}
