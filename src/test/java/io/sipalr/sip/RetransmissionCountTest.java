package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sip.message.Request;
import javax.sip.message.Response;
import org.junit.jupiter.api.Test;

/**
 * The stack's UDP retransmissions are told to the sender and counted (the metrics'
 * sipalr_retransmissions_total), and are not taken for a timeout: a real JAIN-SIP stack
 * sending to a socket that never answers.
 */
class RetransmissionCountTest {

  @Test
  void aRequestWithoutAnswerIsRetransmittedCountedAndOnlyThenTimesOut() throws Exception {
    SipEngine engine = new SipEngine(new SipConfig("127.0.0.1", 0, "sip-alr-agent-test",
        Duration.ofSeconds(1), new SipConfig.Backoff(Duration.ofSeconds(1),
        Duration.ofSeconds(1), Duration.ofSeconds(2)), Duration.ofSeconds(30), 2, 1,
        Duration.ZERO));
    SipStats stats = new SipStats();
    SipWire wire = new CountingWire(engine, stats);
    try (DatagramSocket silent = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0))) {
      var target = wire.addresses().createSipURI(null, "127.0.0.1");
      target.setPort(silent.getLocalPort());
      var from = wire.addresses().createAddress("sip:test@127.0.0.1");
      Request request = wire.messages().createRequest(target, Request.OPTIONS,
          wire.headers().createCallIdHeader(wire.newCallId()),
          wire.headers().createCSeqHeader(1L, Request.OPTIONS),
          wire.headers().createFromHeader(from, "t1"),
          wire.headers().createToHeader(wire.addresses().createAddress(target), null),
          List.of(wire.headers().createViaHeader("127.0.0.1", engine.port, "udp", null)),
          wire.headers().createMaxForwardsHeader(70));
      AtomicInteger retransmits = new AtomicInteger();
      CountDownLatch twice = new CountDownLatch(2);
      AtomicInteger timeouts = new AtomicInteger();
      wire.send(engine.anchor(), request, new SipWire.Handler() {
        @Override
        public void onResponse(SipWire.Exchange exchange, Response response) {
        }

        @Override
        public void onTimeout(SipWire.Exchange exchange) {
          timeouts.incrementAndGet();
        }

        @Override
        public void onRetransmit(SipWire.Exchange exchange) {
          retransmits.incrementAndGet();
          twice.countDown();
        }
      }, "udp", "127.0.0.1", silent.getLocalPort());
      // Timer E: 500 ms, then 1 s: two retransmissions within 1.5 s, the timeout at 32 s.
      assertTrue(twice.await(10, TimeUnit.SECONDS), "retransmissions told: " + retransmits);
      assertEquals(0, timeouts.get(), "a retransmission is not a timeout");
      assertTrue(stats.retransmissions() >= 2, "counted: " + stats.retransmissions());
    } finally {
      engine.close();
    }
  }
}
