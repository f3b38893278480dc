package io.sipalr.sip;

import javax.sip.SipException;
import javax.sip.address.AddressFactory;
import javax.sip.header.HeaderFactory;
import javax.sip.message.MessageFactory;
import javax.sip.message.Request;
import javax.sip.message.Response;

/** A {@link SipWire} that counts what it sends in {@link SipStats}; the rest is passed on. */
final class CountingWire implements SipWire {
  private final SipWire wire;
  private final SipStats stats;

  CountingWire(SipWire wire, SipStats stats) {
    this.wire = wire;
    this.stats = stats;
  }

  @Override
  public Exchange send(SipEngine.Endpoint from, Request request, Handler handler,
      String transport, String host, int port) throws SipException {
    stats.attempted(request.getMethod());
    Exchange sent = wire.send(from, request, new Handler() {
      @Override
      public void onResponse(Exchange exchange, Response response) {
        handler.onResponse(exchange, response);
      }

      @Override
      public void onTimeout(Exchange exchange) {
        handler.onTimeout(exchange);
      }

      @Override
      public void onRetransmit(Exchange exchange) {
        stats.retransmitted();
        handler.onRetransmit(exchange);
      }
    }, transport, host, port);
    stats.sent(request.getMethod());
    return sent;
  }

  @Override
  public java.util.concurrent.CompletableFuture<Void> connect(SipEngine.Endpoint from,
      String transport, String host, int port, String domain, String profileId,
      String certificate) {
    return wire.connect(from, transport, host, port, domain, profileId, certificate);
  }

  @Override
  public void releaseClientCertificate(String profileId) {
    wire.releaseClientCertificate(profileId);
  }

  @Override
  public AddressFactory addresses() {
    return wire.addresses();
  }

  @Override
  public HeaderFactory headers() {
    return wire.headers();
  }

  @Override
  public MessageFactory messages() {
    return wire.messages();
  }

  @Override
  public String newCallId() {
    return wire.newCallId();
  }

  @Override
  public String userAgent() {
    return wire.userAgent();
  }

  @Override
  public SipEngine.Endpoint acquire(String address) throws SipException {
    return wire.acquire(address);
  }

  @Override
  public void ping(SipEngine.Endpoint from, String host, int port) {
    wire.ping(from, host, port);
  }

  @Override
  public void stunRequest(SipEngine.Endpoint from, String host, int port, StunMessage request) {
    stats.keepAliveSent();
    wire.stunRequest(from, host, port, request);
  }

  @Override
  public void crlfPing(SipEngine.Endpoint from, String transport, String host, int port) {
    stats.keepAliveSent();
    wire.crlfPing(from, transport, host, port);
  }

  @Override
  public void closeConnection(SipEngine.Endpoint from, String transport, String host,
      int port) {
    wire.closeConnection(from, transport, host, port);
  }

  @Override
  public void keepAliveAnswers(KeepAliveAnswers answers) {
    wire.keepAliveAnswers(answers);
  }

  @Override
  public void inbound(Inbound inbound) {
    wire.inbound(inbound);
  }

  @Override
  public void release(SipEngine.Endpoint endpoint) {
    wire.release(endpoint);
  }

  @Override
  public SipEngine.Endpoint anchor() {
    return wire.anchor();
  }

  @Override
  public int endpointCount() {
    return wire.endpointCount();
  }

  @Override
  public int boundEndpointCount() {
    return wire.boundEndpointCount();
  }

  @Override
  public String localAddress() {
    return wire.localAddress();
  }

  @Override
  public int port() {
    return wire.port();
  }

  @Override
  public void close() {
    wire.close();
  }

  @Override
  public void inboundCalls(InboundCalls calls) {
    wire.inboundCalls(calls);
  }

  @Override
  public void sendStateless(SipEngine.Endpoint from, Request request) throws SipException {
    wire.sendStateless(from, request);
    stats.sent(request.getMethod());
  }

  @Override
  public void sendStateless(SipEngine.Endpoint from, Request request, String transport,
      String host, int port) throws SipException {
    wire.sendStateless(from, request, transport, host, port);
    stats.sent(request.getMethod());
  }
}
