package io.sipalr.calls;

import io.sipalr.media.MediaChannel;
import io.sipalr.media.MediaStats;
import io.sipalr.media.SdpNegotiator;
import java.util.ArrayList;
import java.util.List;

/** A call's media without sockets: records what the call asked of it. */
final class FakeMedia implements MediaChannel {
  String address;
  int port = 40000;
  SdpNegotiator.Agreed agreed;
  String prepared;
  boolean closed;
  final List<String> log = new ArrayList<>();

  FakeMedia(String address) {
    this.address = address;
  }

  @Override
  public String localAddress() {
    return address;
  }

  @Override
  public int localPort() {
    return port;
  }

  @Override
  public void start(SdpNegotiator.Agreed agreed) {
    this.agreed = agreed;
    log.add("start " + agreed.remoteAddress() + ":" + agreed.remotePort());
  }

  @Override
  public int prepareMove(String address) {
    prepared = address;
    log.add("prepare " + address);
    return 40002;
  }

  @Override
  public void commitMove(SdpNegotiator.Agreed agreed) {
    address = prepared;
    port = 40002;
    prepared = null;
    this.agreed = agreed;
    log.add("commit " + address);
  }

  @Override
  public void abortMove() {
    if (prepared != null) {
      log.add("abort " + prepared);
    }
    prepared = null;
  }

  @Override
  public MediaStats stats() {
    return new MediaStats(0, 0, address, port, null, null, null, -1, null, "");
  }

  @Override
  public void sendDtmf(String digits) {
    log.add("dtmf " + digits);
  }

  @Override
  public void close() {
    closed = true;
    log.add("close");
  }
}
