package io.sipalr.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import io.sipalr.SipAlrAgent;
import io.sipalr.alr.AlrConfig;
import io.sipalr.calls.CallEvent;
import io.sipalr.calls.CallInfo;
import io.sipalr.calls.CallsConfig;
import io.sipalr.control.ControlConfig;
import io.sipalr.control.ControlServer;
import io.sipalr.mobility.Bearer;
import io.sipalr.mobility.Iap;
import io.sipalr.mobility.MobilityConfig;
import io.sipalr.mobility.ScriptedIapProvider;
import io.sipalr.mobility.Snap;
import io.sipalr.profile.SipProfileBuilder;
import io.sipalr.profile.Transport;
import io.sipalr.sip.MigrationOrder;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.SipConfig;
import java.io.InputStream;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Calls through Kamailio (routing variant: lookup, record-route, loose-route) with SIPp
 * (Debian's sip-tester) as the other party: an incoming call auto-answered with RTP both ways
 * (SIPp echoes every RTP packet it receives, so each packet the agent gets back from SIPp's
 * media address went there and back), BYE from SIPp and from the agent, the reject policy's
 * status at SIPp, and an outgoing call made through the control API (POST /v1/calls) to a SIPp
 * UAS that Kamailio's location holds, which then follows the profile from wlan to cellular
 * (re-INVITE, RTP from the new address). The agent's IAPs are scripted loopback addresses
 * (wlan 127.0.0.2, cellular 127.0.0.3); SIPp is at 127.0.0.9.
 */
class CallsIT {
  private static final String SIPP_ADDRESS = "127.0.0.9";
  private static final String WLAN_ADDRESS = "127.0.0.2";
  private static final String CELL_ADDRESS = "127.0.0.3";
  private static final String TOKEN = "calls-it-token-0123456789";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration BOUND = Duration.ofSeconds(30);

  private Path work;
  private Path sipp;
  private KamailioRegistrar kamailio;
  private SipAlrAgent agent;
  private ScriptedIapProvider iaps;
  private ControlServer control;
  /** The agent's ALR policy (null: the builder's default). */
  private io.sipalr.alr.AlrPolicy policy;
  private final List<CallEvent> events = new CopyOnWriteArrayList<>();
  private final List<Process> processes = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    work = Files.createDirectories(Path.of("target", "CallsIT"));
    sipp = Path.of("/usr/bin/sipp");
    if (!Files.isExecutable(sipp)) {
      Assumptions.assumeFalse("true".equals(System.getenv("CI")),
          "sipp (sip-tester) is missing; .ci/run installs it");
      Assumptions.abort("sipp is not installed (apt-get install -y sip-tester)");
    }
    for (String name : List.of("call-uac.xml", "call-uac-wait-bye.xml",
        "call-uac-rejected.xml", "call-uas.xml", "call-uac-cancel.xml", "call-uac-move.xml",
        "call-uas-update.xml")) {
      try (InputStream in = CallsIT.class.getResourceAsStream("/sipp/" + name)) {
        Files.write(work.resolve(name), in.readAllBytes());
      }
    }
    kamailio = KamailioRegistrar.builder().routing().start();
  }

  @AfterEach
  void tearDown() {
    processes.forEach(Process::destroyForcibly);
    if (control != null) {
      control.close();
    }
    if (agent != null) {
      agent.shutdown(Duration.ofSeconds(2));
    }
    if (kamailio != null) {
      kamailio.close();
    }
  }

  /** The agent with alice registered from wlan, calls as {@code callsBlock} says. */
  private void startAgent(String callsBlock) throws Exception {
    startAgent(callsBlock, true);
  }

  /** The same, registered from cellular when {@code wlan} is false (wlan down at the start). */
  private void startAgent(String callsBlock, boolean wlan) throws Exception {
    startAgent(callsBlock, wlan, Transport.UDP);
  }

  /** The same, alice registering over {@code transport}. */
  private void startAgent(String callsBlock, boolean wlan, Transport transport)
      throws Exception {
    List<Iap> all = List.of(new Iap(1, "wlan", null, WLAN_ADDRESS, Bearer.WLAN, 1),
        new Iap(2, "cellular", null, CELL_ADDRESS, Bearer.CELLULAR, 10));
    MobilityConfig mobility = new MobilityConfig(MobilityConfig.Provider.SCRIPTED,
        Duration.ofSeconds(5), all, List.of(new Snap(1, "wlan-cell", List.of(1, 2))));
    iaps = new ScriptedIapProvider(all);
    SipAlrAgent.Builder builder = SipAlrAgent.builder()
        .sip(new SipConfig("127.0.0.1", 0, "sip-alr-agent-it", Duration.ofSeconds(2),
            new SipConfig.Backoff(Duration.ofMillis(300), Duration.ofMillis(300),
                Duration.ofSeconds(2)), Duration.ofSeconds(30), 4, 2, Duration.ofSeconds(60)))
        .mobility(mobility).iapProvider(iaps)
        .alr(new AlrConfig(MigrationOrder.MAKE_BEFORE_BREAK, 2000, 50,
            AlrConfig.DEFAULT_REGISTER_WINDOW, Duration.ofSeconds(2)))
        .calls(CallsConfig.from(ConfigFactory.parseString(callsBlock)
            .withFallback(ConfigFactory.defaultReference()).resolve()))
        .dataDir(Files.createTempDirectory("sipalr-calls-it"));
    if (policy != null) {
      builder.policy(policy);
    }
    agent = builder.build();
    agent.calls().addListener(events::add);
    agent.start();
    if (wlan) {
      iaps.up(1);
    }
    iaps.up(2);
    kamailio.addUser("alice", AgentHarness.REALM_PASSWORD);
    agent.registry().create(SipProfileBuilder.forId("alice")
        .aor("sip:alice@" + kamailio.realm()).registrar(kamailio.sipUri()).authUser("alice")
        .password(AgentHarness.REALM_PASSWORD).expires(600).snapId(1).autoRegister(true)
        .transport(transport).build());
    await().atMost(BOUND).until(() -> agent.registry().status("alice")
        == ProfileStatus.REGISTERED
        && agent.registry().localAddressOf("alice")
            .equals(Optional.of(wlan ? WLAN_ADDRESS : CELL_ADDRESS)));
  }

  private Process sipp(String scenario, String tag, String... more) throws Exception {
    List<String> command = new ArrayList<>(List.of(sipp.toString(),
        kamailio.host() + ":" + kamailio.port(), "-sf", work.resolve(scenario).toString(),
        "-i", SIPP_ADDRESS, "-p", Integer.toString(freeUdpPort()), "-mi", SIPP_ADDRESS,
        "-mp", Integer.toString(freeUdpPort()), "-rtp_echo", "-timeout_error", "-nostdin", "-trace_err", "-error_file",
        work.resolve(tag + "-errors.log").toString(), "-trace_msg", "-message_file",
        work.resolve(tag + "-messages.log").toString()));
    command.addAll(List.of(more));
    if (!command.contains("-m")) {
      command.addAll(List.of("-m", "1"));
    }
    if (!command.contains("-timeout")) {
      command.addAll(List.of("-timeout", "90s"));
    }
    Process p = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(work.resolve(tag + "-screen.log").toFile()).start();
    processes.add(p);
    return p;
  }

  private int exitOf(Process p, String tag) throws Exception {
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), tag + ": sipp did not finish");
    if (p.exitValue() != 0) {
      String errors = Files.exists(work.resolve(tag + "-errors.log"))
          ? Files.readString(work.resolve(tag + "-errors.log")) : "";
      System.out.println(tag + ": sipp exit " + p.exitValue() + "\n" + errors);
    }
    return p.exitValue();
  }

  private static int freeUdpPort() throws Exception {
    try (DatagramSocket s = new DatagramSocket(0, InetAddress.getByName(SIPP_ADDRESS))) {
      return s.getLocalPort();
    }
  }

  private CallEvent awaitEvent(CallEvent.Type type) {
    await().atMost(BOUND).until(() -> events.stream().anyMatch(e -> e.type() == type));
    return events.stream().filter(e -> e.type() == type).findFirst().orElseThrow();
  }

  private CallInfo call(String id) {
    return agent.calls().get(id).orElseThrow();
  }

  @Test
  void anIncomingCallIsAutoAnsweredRtpFlowsBothWaysAndSippHangsUp() throws Exception {
    startAgent("calls { policy = auto-answer, answer-delay = 200ms }");
    Process caller = sipp("call-uac.xml", "incoming-bye-there", "-s", "alice");
    CallEvent established = awaitEvent(CallEvent.Type.CALL_ESTABLISHED);
    assertEquals("alice", established.profileId());
    assertEquals(WLAN_ADDRESS, established.localAddress());
    CallEvent ended = awaitEvent(CallEvent.Type.CALL_ENDED);
    assertEquals("the peer hung up (BYE)", ended.reason());
    assertEquals(0, exitOf(caller, "incoming-bye-there"), "SIPp's call succeeded");
    CallInfo info = call(ended.callId());
    // 3 s of a call at 50 packets a second: well over 50 each way even with slack at both ends
    assertTrue(info.media().sent() >= 50, info.toString());
    assertTrue(info.media().received() >= 50, "echoed by SIPp: " + info);
    assertTrue(info.media().lastSource().startsWith(SIPP_ADDRESS + ":"), info.toString());
    assertEquals(WLAN_ADDRESS, info.media().localAddress());
    System.out.printf("CallsIT incoming: %d RTP packets sent, %d received back from SIPp%n",
        info.media().sent(), info.media().received());
  }

  @Test
  void theAgentHangsUpAnIncomingCall() throws Exception {
    startAgent("calls { policy = auto-answer, answer-delay = 0s }");
    Process caller = sipp("call-uac-wait-bye.xml", "incoming-bye-here", "-s", "alice");
    CallEvent established = awaitEvent(CallEvent.Type.CALL_ESTABLISHED);
    await().atMost(BOUND).until(() -> call(established.callId()).media().received() >= 25);
    assertTrue(agent.calls().hangUp(established.callId()));
    CallEvent ended = awaitEvent(CallEvent.Type.CALL_ENDED);
    assertEquals("hung up here", ended.reason());
    assertEquals(0, exitOf(caller, "incoming-bye-here"), "SIPp got the BYE and answered it");
    assertEquals(0, agent.calls().activeCount());
  }

  /**
   * alice registers over TCP; SIPp calls over TCP (-t t1) through Kamailio, which relays over
   * alice's TCP flow: the agent answers, RTP flows, and the agent's BYE goes over TCP along the
   * route set and reaches SIPp (its Via, as SIPp received it, says TCP).
   */
  @Test
  void aCallOverTcpIsAnsweredAndTheAgentsByeReachesSippOverTcp() throws Exception {
    startAgent("calls { policy = auto-answer, answer-delay = 0s }", true, Transport.TCP);
    assertEquals(1, kamailio.lookup("alice").size());
    assertTrue(kamailio.lookup("alice").get(0).address().contains("transport=tcp"),
        kamailio.lookup("alice").toString());
    Process caller = sipp("call-uac-wait-bye.xml", "tcp-bye-here", "-s", "alice", "-t", "t1");
    CallEvent established = awaitEvent(CallEvent.Type.CALL_ESTABLISHED);
    await().atMost(BOUND).until(() -> call(established.callId()).media().received() >= 25);
    assertTrue(agent.calls().hangUp(established.callId()));
    assertEquals("hung up here", awaitEvent(CallEvent.Type.CALL_ENDED).reason());
    assertEquals(0, exitOf(caller, "tcp-bye-here"), "SIPp got the BYE over TCP and answered");
    String seen = Files.readString(work.resolve("tcp-bye-here-messages.log"));
    int bye = seen.indexOf("BYE sip:");
    assertTrue(bye >= 0, "SIPp logged the BYE");
    assertTrue(seen.substring(bye).contains("Via: SIP/2.0/TCP " + WLAN_ADDRESS + ":"),
        "the agent's Via in the BYE says TCP: " + seen.substring(bye));
    assertEquals(1, kamailio.lookup("alice").size());
  }

  /**
   * alice is deleted during an established call from SIPp: the agent's BYE reaches SIPp
   * through Kamailio, the call ends "profile deleted", and alice's binding is gone from
   * Kamailio's location.
   */
  @Test
  void aProfileDeletedDuringACallByesThePeerAndLeavesNoBinding() throws Exception {
    startAgent("calls { policy = auto-answer, answer-delay = 0s }");
    assertEquals(1, kamailio.lookup("alice").size());
    Process caller = sipp("call-uac-wait-bye.xml", "deleted", "-s", "alice");
    CallEvent established = awaitEvent(CallEvent.Type.CALL_ESTABLISHED);
    await().atMost(BOUND).until(() -> call(established.callId()).media().received() >= 25);

    agent.registry().destroy("alice").get(BOUND.toSeconds(), TimeUnit.SECONDS);
    assertEquals("profile deleted", awaitEvent(CallEvent.Type.CALL_ENDED).reason());
    assertEquals(0, exitOf(caller, "deleted"), "SIPp got the agent's BYE and answered it");
    await().atMost(BOUND).until(() -> kamailio.lookup("alice").isEmpty());
    assertEquals(0, agent.calls().activeCount());
    assertEquals(CallInfo.State.ENDED, call(established.callId()).state());
  }

  @Test
  void theRejectPolicyGivesSippTheConfiguredStatus() throws Exception {
    startAgent("calls { policy = reject, reject-status = 486 }");
    Process caller = sipp("call-uac-rejected.xml", "rejected", "-s", "alice");
    assertEquals(0, exitOf(caller, "rejected"), "SIPp got 486");
    CallEvent ended = awaitEvent(CallEvent.Type.CALL_ENDED);
    assertTrue(ended.reason().contains("486"), ended.reason());
  }

  @Test
  void anOutgoingCallThroughTheControlApiFollowsTheProfileFromWlanToCellular()
      throws Exception {
    startAgent("calls { policy = reject }");
    int uasPort = freeUdpPort();
    Process callee = sipp("call-uas.xml", "outgoing-uas", "-p", Integer.toString(uasPort));
    // SIPp's address in the registrar's location for bob, as a REGISTER would have put it
    kamailio.rpc("ul.add", "location", "bob", "sip:bob@" + SIPP_ADDRESS + ":" + uasPort, 600,
        1.0, "", 0, 0, 0);
    control = new ControlServer(new ControlConfig("127.0.0.1", 0, TOKEN,
        work.resolve("control.token"), 16, 16, Duration.ofSeconds(60), 1, 8),
        agent.registry(), agent.mobility(), iaps, agent.alr(), null);
    control.calls(agent.calls());
    control.start();
    HttpClient http = HttpClient.newHttpClient();
    HttpResponse<String> created = http.send(HttpRequest.newBuilder(URI.create(
            "http://127.0.0.1:" + control.port() + "/v1/calls"))
        .header("Authorization", "Bearer " + TOKEN).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(
            "{\"profile\": \"alice\", \"to\": \"sip:bob@" + kamailio.realm() + "\"}"))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(201, created.statusCode(), created.body());
    String id = JSON.readTree(created.body()).get("id").asText();
    awaitEvent(CallEvent.Type.CALL_ESTABLISHED);
    await().atMost(BOUND).until(() -> call(id).media().received() >= 25);
    assertTrue(call(id).media().lastSource().startsWith(SIPP_ADDRESS + ":"));

    iaps.down(1); // wlan gone: alice registers from cellular, the call follows
    CallEvent moved = awaitEvent(CallEvent.Type.CALL_MOVED);
    assertEquals(CELL_ADDRESS, moved.localAddress());
    long before = call(id).media().received();
    await().atMost(BOUND).until(() -> call(id).media().received() >= before + 25);
    CallInfo after = call(id);
    assertEquals(CallInfo.State.ESTABLISHED, after.state());
    assertEquals(CELL_ADDRESS, after.media().localAddress(), after.toString());
    assertEquals(CELL_ADDRESS, after.localAddress());

    HttpResponse<String> listed = http.send(HttpRequest.newBuilder(URI.create(
            "http://127.0.0.1:" + control.port() + "/v1/calls"))
        .header("Authorization", "Bearer " + TOKEN).GET().build(),
        HttpResponse.BodyHandlers.ofString());
    JsonNode calls = JSON.readTree(listed.body());
    assertEquals(1, calls.size(), listed.body());
    assertEquals(CELL_ADDRESS, calls.get(0).get("media").get("localAddress").asText());

    HttpResponse<String> ended = http.send(HttpRequest.newBuilder(URI.create(
            "http://127.0.0.1:" + control.port() + "/v1/calls/" + id))
        .header("Authorization", "Bearer " + TOKEN).DELETE().build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(202, ended.statusCode(), ended.body());
    assertEquals("hung up here", awaitEvent(CallEvent.Type.CALL_ENDED).reason());
    assertEquals(0, exitOf(callee, "outgoing-uas"),
        "SIPp answered the INVITE, the re-INVITE and the BYE");
    System.out.printf("CallsIT outgoing: %d RTP packets sent, %d received back from SIPp,"
        + " moved to %s%n", call(id).media().sent(), call(id).media().received(),
        call(id).media().localAddress());
  }

  /**
   * SIPp's 200 lists UPDATE in Allow: when alice moves from wlan to cellular, her call to SIPp
   * moves by UPDATE (calls.signalling.move-request = auto), which SIPp's scenario requires (a
   * re-INVITE fails it); RTP then comes back from SIPp to the cellular address.
   */
  @Test
  void aMoveGoesByUpdateWhenTheFarEndAllowsIt() throws Exception {
    startAgent("calls { policy = reject }");
    int uasPort = freeUdpPort();
    Process callee = sipp("call-uas-update.xml", "update-uas", "-p", Integer.toString(uasPort));
    kamailio.rpc("ul.add", "location", "bob", "sip:bob@" + SIPP_ADDRESS + ":" + uasPort, 600,
        1.0, "", 0, 0, 0);
    String id = agent.calls().dial("alice", "sip:bob@" + kamailio.realm()).id();
    awaitEvent(CallEvent.Type.CALL_ESTABLISHED);
    await().atMost(BOUND).until(() -> call(id).media().received() >= 25);

    iaps.down(1);
    assertEquals(CELL_ADDRESS, awaitEvent(CallEvent.Type.CALL_MOVED).localAddress());
    long before = call(id).media().received();
    await().atMost(BOUND).until(() -> call(id).media().received() >= before + 25);
    assertEquals(CELL_ADDRESS, call(id).media().localAddress());
    assertTrue(agent.calls().hangUp(id));
    assertEquals("hung up here", awaitEvent(CallEvent.Type.CALL_ENDED).reason());
    assertEquals(0, exitOf(callee, "update-uas"), "SIPp got an UPDATE (no re-INVITE) and BYE");
    String seen = Files.readString(work.resolve("update-uas-messages.log"));
    assertTrue(seen.contains("UPDATE sip:"), "SIPp logged the UPDATE");
  }

  @Test
  void theApplicationPolicyLetsTheListenerAnswer() throws Exception {
    startAgent("calls { policy = application, decision-timeout = 20s }");
    agent.calls().addListener(e -> {
      if (e.type() == CallEvent.Type.CALL_INCOMING) {
        agent.calls().answer(e.callId());
      }
    });
    Process caller = sipp("call-uac.xml", "application", "-s", "alice");
    assertEquals(0, exitOf(caller, "application"), "SIPp's call was answered and ended");
    CallEvent ended = awaitEvent(CallEvent.Type.CALL_ENDED);
    assertEquals("the peer hung up (BYE)", ended.reason());
    assertTrue(call(ended.callId()).media().received() >= 50, call(ended.callId()).toString());
  }

  @Test
  void aCancelBeforeTheAnswerGets487() throws Exception {
    startAgent("calls { policy = application, decision-timeout = 30s }");
    Process caller = sipp("call-uac-cancel.xml", "cancel", "-s", "alice");
    assertEquals(0, exitOf(caller, "cancel"), "SIPp got 200 to its CANCEL and 487");
    CallEvent ended = awaitEvent(CallEvent.Type.CALL_ENDED);
    assertEquals("cancelled by the caller (CANCEL)", ended.reason());
    assertEquals(0, agent.calls().activeCount());
  }

  @Test
  void twentyCallsOfOneProfileMoveTogetherAndAllSurvive() throws Exception {
    int n = 20;
    startAgent("calls { policy = auto-answer, answer-delay = 0s }");
    Process caller = sipp("call-uac-move.xml", "twenty", "-s", "alice", "-m",
        Integer.toString(n), "-l", Integer.toString(n), "-r", Integer.toString(n),
        "-timeout", "120s");
    await().atMost(BOUND).until(() -> agent.calls().list().stream().filter(c ->
        c.state() == CallInfo.State.ESTABLISHED && c.media().received() >= 10).count() == n);
    iaps.down(1); // wlan gone: every call follows the profile to cellular
    await().atMost(BOUND).until(() -> events.stream()
        .filter(e -> e.type() == CallEvent.Type.CALL_MOVED).count() == n);
    List<CallInfo> moved = agent.calls().list();
    assertEquals(n, moved.size());
    for (CallInfo c : moved) {
      assertEquals(CELL_ADDRESS, c.media().localAddress(), c.toString());
      long before = c.media().received();
      await().atMost(BOUND).until(() -> call(c.id()).media().received() >= before + 10);
    }
    assertEquals(0, events.stream().filter(e -> e.type() == CallEvent.Type.CALL_ENDED).count(),
        "no call ended by the move");
    for (CallInfo c : moved) {
      agent.calls().hangUp(c.id());
    }
    await().atMost(BOUND).until(() -> events.stream()
        .filter(e -> e.type() == CallEvent.Type.CALL_ENDED).count() == n);
    assertEquals(0, exitOf(caller, "twenty"), "SIPp: all 20 calls answered, moved and ended");
  }

  @Test
  void aMoveTheApplicationRefusesLeavesTheCallWhereItIs() throws Exception {
    startAgent("calls { policy = auto-answer, answer-delay = 0s }", false);
    List<String> refused = new CopyOnWriteArrayList<>();
    java.util.concurrent.atomic.AtomicReference<io.sipalr.alr.AlrController> controller =
        new java.util.concurrent.atomic.AtomicReference<>();
    controller.set(agent.newController(new io.sipalr.alr.AlrObserver() {
      @Override
      public void alrEvent(io.sipalr.alr.AlrEvent event, String profile, int snap, int iap) {
        if (event == io.sipalr.alr.AlrEvent.IAP_AVAILABLE) {
          controller.get().disallowMigration(profile, iap); // this application says no
        }
      }

      @Override
      public void alrError(io.sipalr.alr.AlrError error, String profile, int snap, int iap) {
        refused.add(error.kind().name() + "@" + iap);
      }
    }));
    Process caller = sipp("call-uac-move.xml", "refused", "-s", "alice");
    await().atMost(BOUND).until(() -> agent.calls().list().stream().anyMatch(c ->
        c.state() == CallInfo.State.ESTABLISHED && c.media().received() >= 10));
    CallInfo before = agent.calls().list().get(0);
    assertEquals(CELL_ADDRESS, before.media().localAddress());

    iaps.up(1); // wlan is better, but the move is refused
    await().atMost(BOUND).until(() -> refused.contains("ACCESS_DENIED@1"));
    long received = call(before.id()).media().received();
    await().atMost(BOUND).until(() -> call(before.id()).media().received() >= received + 25);
    CallInfo after = call(before.id());
    assertEquals(CallInfo.State.ESTABLISHED, after.state());
    assertEquals(CELL_ADDRESS, after.media().localAddress(), after.toString());
    assertEquals(Optional.of(CELL_ADDRESS), agent.registry().localAddressOf("alice"));
    assertTrue(events.stream().noneMatch(e -> e.type() == CallEvent.Type.CALL_MOVED),
        events.toString());
    List<KamailioRegistrar.Binding> bindings = kamailio.lookup("alice");
    assertEquals(1, bindings.size(), bindings.toString());

    agent.calls().hangUp(before.id());
    assertEquals(0, exitOf(caller, "refused"), "SIPp: no re-INVITE, then the BYE");
  }

  @Test
  void aMoveHeldBackByTheCallIsMadeOnceTheCallEnds() throws Exception {
    // alr.policy.rules with defer-while-calls only: the agent's own controller votes
    policy = new io.sipalr.alr.AlrPolicy.Rules(false, false, null, null, true);
    startAgent("calls { policy = auto-answer, answer-delay = 0s }", false);
    io.sipalr.alr.PolicyController rules = agent.policy().orElseThrow();
    Process caller = sipp("call-uac-move.xml", "deferred", "-s", "alice");
    await().atMost(BOUND).until(() -> agent.calls().list().stream().anyMatch(c ->
        c.state() == CallInfo.State.ESTABLISHED && c.media().received() >= 10));
    CallInfo call = agent.calls().list().get(0);

    iaps.up(1); // wlan ranks better: an upgrade, held back while the call is up
    await().atMost(BOUND).until(() -> rules.deferred("alice"));
    long received = call(call.id()).media().received();
    await().atMost(BOUND).until(() -> call(call.id()).media().received() >= received + 25);
    assertEquals(CELL_ADDRESS, call(call.id()).media().localAddress());
    assertEquals(Optional.of(CELL_ADDRESS), agent.registry().localAddressOf("alice"));
    assertTrue(events.stream().noneMatch(e -> e.type() == CallEvent.Type.CALL_MOVED),
        events.toString());

    agent.calls().hangUp(call.id()); // the last call ends: the move is offered again
    assertEquals(0, exitOf(caller, "deferred"), "SIPp: no re-INVITE, then the BYE");
    await().atMost(BOUND).until(() -> agent.registry().localAddressOf("alice")
        .equals(Optional.of(WLAN_ADDRESS))
        && agent.registry().status("alice") == ProfileStatus.REGISTERED);
    assertFalse(rules.deferred("alice"));
    await().atMost(BOUND).until(() -> kamailio.lookup("alice").size() == 1
        && kamailio.lookup("alice").get(0).address().contains(WLAN_ADDRESS));
    SipCaller.assertReachesAgent(kamailio, "alice", "after the deferred move", () -> "");
  }
}
