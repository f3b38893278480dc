package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.dns.AddressFamily;
import io.sipalr.dns.DnsConfig;
import io.sipalr.dns.DnsException;
import io.sipalr.dns.SipTarget;
import io.sipalr.dns.TargetQuery;
import io.sipalr.dns.TargetResolver;
import java.net.InetAddress;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import javax.sip.SipException;
import javax.sip.message.Request;
import javax.sip.message.Response;
import org.junit.jupiter.api.Test;

/**
 * A call's requests go to their RESOLVED next hop (docs/calls.md, "Next hops"): the registry's
 * call signalling over the scripted transport, with a scripted resolver whose answers the test
 * hands out when it likes (a DNS answer that has not come yet). No sockets, no threads.
 */
class CallHopsTest {
  static final String PROXY = "198.18.0.31";

  private final VirtualClock clock = new VirtualClock();
  private final ScriptedRegistrar wire = new ScriptedRegistrar(clock);
  private final List<TargetQuery> queries = new ArrayList<>();
  private final List<CompletableFuture<TargetResolver.Resolved>> pending = new ArrayList<>();
  /** Addresses resolve at once (as SipResolver's literals); names wait for the test. */
  private final TargetResolver resolver = q -> {
    queries.add(q);
    InetAddress literal = DnsConfig.literal(q.host());
    if (literal != null) {
      return CompletableFuture.completedFuture(resolved(q.host(), literal,
          q.port() > 0 ? q.port() : 5060));
    }
    CompletableFuture<TargetResolver.Resolved> f = new CompletableFuture<>();
    pending.add(f);
    return f;
  };
  private final CallSignalling sip = new RegistryCallSignalling(wire, id -> Optional.empty(),
      id -> Optional.empty(), id -> false, id -> false, new CallHops(resolver, Runnable::run));
  private final CallSignalling.Leg leg;
  private final List<String> heard = new ArrayList<>();
  private final CallSignalling.Responses responses = new CallSignalling.Responses() {
    @Override
    public void onResponse(Response response) {
      heard.add("response " + response.getStatusCode());
    }

    @Override
    public void onTimeout() {
      heard.add("timeout");
    }

    @Override
    public void onUnsent(String why) {
      heard.add("unsent: " + why);
    }
  };

  CallHopsTest() throws SipException {
    leg = sip.acquire("198.18.0.10");
  }

  private static TargetResolver.Resolved resolved(String name, InetAddress address, int port) {
    return new TargetResolver.Resolved(List.of(new SipTarget(name, address, port, "udp")),
        Instant.MAX);
  }

  private Request request(String method, String route) throws Exception {
    return wire.messages().createRequest("""
        %1$s sip:bob@198.18.0.9:5070 SIP/2.0\r
        Via: SIP/2.0/UDP 198.18.0.10:5070;branch=z9hG4bKcall1\r
        %2$sMax-Forwards: 70\r
        From: <sip:alice@sipalr.test>;tag=a\r
        To: <sip:bob@sipalr.test>\r
        Call-ID: call1\r
        CSeq: 1 %1$s\r
        Content-Length: 0\r
        \r
        """.formatted(method, route == null ? "" : "Route: " + route + "\r\n"));
  }

  @Test
  void aNamedFirstHopIsResolvedBeforeTheInviteGoesAndTheInviteGoesWhenTheAnswerComes()
      throws Exception {
    sip.send(leg, request(Request.INVITE, "<sip:proxy.alr.test;lr>"), responses);
    assertEquals(0, wire.sent.size(), "nothing goes to a name: the answer is not in yet");
    assertEquals(new TargetQuery("proxy.alr.test", -1, "udp", false, AddressFamily.IPV4, null),
        queries.get(0));

    pending.get(0).complete(resolved("proxy.alr.test", InetAddress.getByName(PROXY), 5060));
    assertEquals(1, wire.sent.size());
    assertEquals(PROXY, wire.sent.get(0).host);
    assertEquals(5060, wire.sent.get(0).port);
    assertEquals("call1", ((javax.sip.header.CallIdHeader) wire.sent.get(0).request
        .getHeader("Call-ID")).getCallId());
  }

  @Test
  void anAddressedHopGoesAtOnceWithItsPort() throws Exception {
    sip.send(leg, request(Request.BYE, "<sip:198.18.0.1:5080;lr>"), responses);
    assertEquals("198.18.0.1", wire.sent.get(0).host);
    assertEquals(5080, wire.sent.get(0).port);
    sip.send(leg, request(Request.BYE, null), responses); // no Route: the Request-URI
    assertEquals("198.18.0.9", wire.sent.get(1).host);
    assertEquals(5070, wire.sent.get(1).port);
  }

  @Test
  void theAckGoesToTheResolvedHopToo() throws Exception {
    sip.sendAck(leg, request(Request.ACK, "<sip:proxy.alr.test;lr>"));
    assertTrue(wire.stateless.isEmpty());
    pending.get(0).complete(resolved("proxy.alr.test", InetAddress.getByName(PROXY), 5062));
    assertEquals(List.of("ACK " + PROXY + ":5062/udp"), wire.stateless);
  }

  @Test
  void aNameThatDoesNotResolveTellsTheSenderWhyNamingTheHost() throws Exception {
    sip.send(leg, request(Request.INVITE, "<sip:nowhere.alr.test;lr>"), responses);
    pending.get(0).completeExceptionally(new DnsException(DnsException.Kind.NO_SUCH_NAME,
        "nowhere.alr.test", "nowhere.alr.test: no such name", null));
    assertEquals(0, wire.sent.size());
    assertEquals(1, heard.size());
    assertTrue(heard.get(0).startsWith("unsent: the next hop nowhere.alr.test did not resolve"),
        heard.get(0));
  }

  @Test
  void aFailureKnownAtOnceIsThrownToTheCaller() throws Exception {
    CallSignalling failing = new RegistryCallSignalling(wire, id -> Optional.empty(),
        id -> Optional.empty(), id -> false, id -> false, new CallHops(q -> CompletableFuture.failedFuture(
            new DnsException(DnsException.Kind.NO_SUCH_NAME, q.host(), q.host()
                + ": no such name", null)), Runnable::run));
    SipException e = assertThrows(SipException.class, () -> failing.send(leg,
        request(Request.INVITE, "<sip:nowhere.alr.test;lr>"), responses));
    assertTrue(e.getMessage().contains("nowhere.alr.test"), e.getMessage());
  }

  // ------------------------------------------------------------------ failover (initial INVITE)

  static final String PROXY2 = "198.18.0.32";

  /** proxy.alr.test resolves to PROXY, then PROXY2 (two SRV targets, best first). */
  private void twoTargets() throws Exception {
    pending.get(pending.size() - 1).complete(new TargetResolver.Resolved(List.of(
        new SipTarget("proxy.alr.test", InetAddress.getByName(PROXY), 5060, "udp"),
        new SipTarget("proxy.alr.test", InetAddress.getByName(PROXY2), 5060, "udp")),
        Instant.MAX));
  }

  private static String branch(Request r) {
    return ((javax.sip.header.ViaHeader) r.getHeader("Via")).getBranch();
  }

  private Response answer(ScriptedRegistrar.Sent to, int status) throws Exception {
    Response r = wire.messages().createResponse(status, to.request);
    to.handler.onResponse(to, r);
    return r;
  }

  @Test
  void anInviteAnswered503GoesToTheNextTargetInANewTransactionUnheardByTheCaller()
      throws Exception {
    sip.send(leg, request(Request.INVITE, "<sip:proxy.alr.test;lr>"), responses);
    twoTargets();
    assertEquals(PROXY, wire.sent.get(0).host);
    answer(wire.sent.get(0), 503);
    assertEquals(List.of(), heard, "the caller does not hear the 503");
    assertEquals(2, wire.sent.size());
    assertEquals(PROXY2, wire.sent.get(1).host);
    assertTrue(!branch(wire.sent.get(0).request).equals(branch(wire.sent.get(1).request)));
    answer(wire.sent.get(1), 200);
    assertEquals(List.of("response 200"), heard);
  }

  @Test
  void anInviteThatTimesOutOrCannotBeSentGoesToTheNextTarget() throws Exception {
    sip.send(leg, request(Request.INVITE, "<sip:proxy.alr.test;lr>"), responses);
    twoTargets();
    wire.sent.get(0).handler.onTimeout(wire.sent.get(0));
    assertEquals(PROXY2, wire.sent.get(1).host);
    wire.sent.get(1).handler.onTimeout(wire.sent.get(1));
    assertEquals(List.of("timeout"), heard, "the last target's failure is the caller's");

    wire.unreachableHosts.add(PROXY);
    sip.send(leg, request(Request.INVITE, "<sip:proxy.alr.test;lr>"), responses);
    twoTargets();
    assertEquals(PROXY2, wire.sent.get(wire.sent.size() - 1).host);
  }

  @Test
  void theCancelGoesWhereTheInviteIsNowWithItsBranch() throws Exception {
    sip.send(leg, request(Request.INVITE, "<sip:proxy.alr.test;lr>"), responses);
    twoTargets();
    answer(wire.sent.get(0), 503);
    sip.send(leg, request(Request.CANCEL, "<sip:proxy.alr.test;lr>"), responses);
    ScriptedRegistrar.Sent cancel = wire.sent.get(2);
    assertEquals(Request.CANCEL, cancel.method());
    assertEquals(PROXY2, cancel.host);
    assertEquals(branch(wire.sent.get(1).request), branch(cancel.request));
  }

  @Test
  void inTheDialogA503IsTheCallersAndNoOtherTargetIsTried() throws Exception {
    Request reInvite = request(Request.INVITE, "<sip:proxy.alr.test;lr>");
    ((javax.sip.header.ToHeader) reInvite.getHeader("To")).setTag("b");
    sip.send(leg, reInvite, responses);
    twoTargets();
    answer(wire.sent.get(0), 503);
    assertEquals(1, wire.sent.size());
    assertEquals(List.of("response 503"), heard);
  }
}
