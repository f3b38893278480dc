package io.sipalr.calls;

import io.sipalr.sip.VirtualClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.sip.header.ToHeader;
import javax.sip.message.Request;
import javax.sip.message.Response;
import org.junit.jupiter.api.BeforeEach;

/**
 * What the calls' unit tests share: a {@link Calls} over a {@link ScriptedCallPeer} behind a
 * proxy (Record-Route) on virtual time, the peer's messages as SIP text, and set-ups of an
 * incoming and an outgoing call. The peer is bob at 198.18.0.9; alice registers from
 * 198.18.0.2 (198.18.0.3 after a move).
 */
abstract class CallsTestBase {
  static final String OFFER = String.join("\r\n", "v=0",
      "o=bob 1 1 IN IP4 198.18.0.9", "s=-", "c=IN IP4 198.18.0.9", "t=0 0",
      "m=audio 6000 RTP/AVP 8 0 101", "a=rtpmap:8 PCMA/8000", "a=rtpmap:0 PCMU/8000",
      "a=rtpmap:101 telephone-event/8000", "a=sendrecv", "");

  VirtualClock clock;
  ScriptedCallPeer peer;
  Calls calls;
  final List<CallEvent> events = new ArrayList<>();
  final List<FakeMedia> media = new ArrayList<>();
  CallPolicy policy = CallPolicy.autoAnswer(Duration.ofSeconds(1));

  @BeforeEach
  void setUp() throws Exception {
    clock = new VirtualClock();
    peer = new ScriptedCallPeer();
    calls = newCalls(CallSettings.DEFAULTS);
  }

  /** Calls (at most 3) over the peer with {@code settings}; events go to {@link #events}. */
  Calls newCalls(CallSettings settings) {
    Calls c = new Calls(peer, id -> policy, 3, (address, name) -> {
      FakeMedia m = new FakeMedia(address);
      media.add(m);
      return m;
    }, clock, clock.clock(), settings);
    c.addListener(events::add);
    c.start();
    return c;
  }

  static String message(String head, String body) {
    String b = body == null ? "" : body;
    return head.strip().replace("\n", "\r\n") + "\r\n"
        + (body == null ? "" : "Content-Type: application/sdp\r\n")
        + "Content-Length: " + b.length() + "\r\n\r\n" + b;
  }

  static String invite(String callId, String sdp) {
    return message("""
        INVITE sip:alice@198.18.0.2:5060 SIP/2.0
        Via: SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bKproxy-%1$s
        Via: SIP/2.0/UDP 198.18.0.9:5070;branch=z9hG4bKbob-%1$s
        Record-Route: <sip:198.18.0.1;lr>
        Max-Forwards: 69
        From: <sip:bob@sipalr.test>;tag=bobtag
        To: <sip:alice@sipalr.test>
        Call-ID: %1$s
        CSeq: 1 INVITE
        Contact: <sip:bob@198.18.0.9:5070>
        """.formatted(callId), sdp);
  }

  static String inDialog(String method, String callId, String toTag, int cseq, String sdp) {
    return message("""
        %2$s sip:alice@198.18.0.2:5060 SIP/2.0
        Via: SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bKproxy-%2$s-%4$d
        Route: <sip:198.18.0.1;lr>
        Max-Forwards: 69
        From: <sip:bob@sipalr.test>;tag=bobtag
        To: <sip:alice@sipalr.test>;tag=%3$s
        Call-ID: %1$s
        CSeq: %4$d %2$s
        Contact: <sip:bob@198.18.0.9:5070>
        """.formatted(callId, method, toTag, cseq), sdp);
  }

  static String cancel(String callId) {
    return message("""
        CANCEL sip:alice@198.18.0.2:5060 SIP/2.0
        Via: SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bKproxy-%1$s
        Max-Forwards: 69
        From: <sip:bob@sipalr.test>;tag=bobtag
        To: <sip:alice@sipalr.test>
        Call-ID: %1$s
        CSeq: 1 CANCEL
        """.formatted(callId), null);
  }

  List<CallEvent.Type> types() {
    return events.stream().map(CallEvent::type).toList();
  }

  static String toTag(Response r) {
    return ((ToHeader) r.getHeader(ToHeader.NAME)).getTag();
  }

  ScriptedCallPeer.Incoming ringAndAnswer(String callId) throws Exception {
    ScriptedCallPeer.Incoming in = peer.deliver(invite(callId, OFFER));
    clock.advance(Duration.ofSeconds(1));
    return in;
  }

  CallInfo establishOutgoing() throws Exception {
    CallInfo c = calls.dial("alice", "sip:bob@sipalr.test");
    ScriptedCallPeer.Sent invite = peer.last(Request.INVITE);
    peer.answer(invite, 180, "bobtag", null, null);
    peer.answer(invite, 200, "bobtag",
        "Contact: <sip:bob@198.18.0.9:5070>\r\nRecord-Route: <sip:198.18.0.1;lr>",
        OFFER.replace("8 0 101", "0").replace("a=rtpmap:8 PCMA/8000\r\n", ""));
    return c;
  }


  /** {@code message} with {@code lines} as headers after its first line. */
  static String with(String message, String... lines) {
    return lines.length == 0 ? message : message.replaceFirst("\r\n", "\r\n" + String.join("\r\n", lines) + "\r\n");
  }

  /**
   * An incoming call {@code callId} (its INVITE with {@code headers} added), auto-answered and
   * ACKed; returns our To tag.
   */
  String establishIncoming(String callId, String... headers) throws Exception {
    ScriptedCallPeer.Incoming in = peer.deliver(with(invite(callId, OFFER), headers));
    clock.advance(Duration.ofSeconds(1));
    String tag = toTag(in.last());
    peer.deliver(inDialog("ACK", callId, tag, 1, null));
    return tag;
  }

  /** alice registers from {@code address} now: her calls move there. */
  void moveTo(String address) {
    peer.localAddress = address;
    calls.profileMoved("alice");
  }
}
