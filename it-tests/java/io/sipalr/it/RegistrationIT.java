package io.sipalr.it;

import static io.sipalr.it.AgentHarness.REALM_PASSWORD;
import static io.sipalr.it.AgentHarness.profile;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.it.KamailioRegistrar.Binding;
import io.sipalr.profile.SipProfile;
import io.sipalr.profile.SipProfileBuilder;
import io.sipalr.profile.Transport;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.RegistrationError;
import io.sipalr.sip.RegistrationInfo;
import io.sipalr.sip.RegistryEvent;
import io.sipalr.sip.SipConfig;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * Registration against a real Kamailio: every test asserts what the registrar's location table
 * holds (JSON-RPC {@code ul.lookup}/{@code ul.dump}), not only what the agent believes.
 */
class RegistrationIT {
  private static final String AGENT = "127.0.0.2";
  private static final String OTHER_DEVICE = "127.0.0.3";

  @Test
  void registersExactlyOneBindingWithInstanceRegIdAndReceivedSource() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AgentHarness agent = new AgentHarness(AGENT)) {
      kamailio.addUser("alice", REALM_PASSWORD);
      SipProfile alice = agent.registry.create(
          profile("alice", "alice", kamailio, REALM_PASSWORD, Transport.UDP, 600));
      agent.awaitStatus("alice", ProfileStatus.REGISTERED);

      List<Binding> bindings = kamailio.lookup("alice");
      assertEquals(1, bindings.size(), () -> "bindings: " + bindings);
      Binding b = bindings.get(0);
      assertTrue(b.address().startsWith(agent.contactPrefix("alice")), b.address());
      assertTrue(b.instance().contains(alice.instanceId()), b.instance());
      assertEquals(alice.regId(), b.regId());
      assertTrue(b.received().startsWith("sip:" + AGENT + ":" + agent.registry.port()),
          "Received shows the real source: " + b.received());
      RegistrationInfo info = agent.registry.info("alice");
      assertTrue(info.outbound(), "Kamailio answered Require: outbound");
      assertEquals(1, agent.events("alice", RegistryEvent.Type.REGISTERED).size());
      assertTrue(agent.events("alice", RegistryEvent.Type.REGISTRATION_FAILED).isEmpty());
    }
  }

  /**
   * The default agent of these tests with sip.min-granted-expires lowered to 1 s: the tests
   * that use it are about following a grant of 2-3 s, which the default floor (10 s) would
   * call the registrar's error; and refreshes that often need a higher per-minute bound.
   */
  static SipConfig shortGrants() {
    return new SipConfig(AGENT, 0, "sip-alr-agent-it", Duration.ofSeconds(2),
        new SipConfig.Backoff(Duration.ofMillis(500), Duration.ofMillis(500),
            Duration.ofSeconds(4)), Duration.ofSeconds(30), 4, 2, Duration.ofSeconds(60),
        new SipConfig.RegisterLimits(Duration.ofMinutes(5), Duration.ofSeconds(1), 60));
  }

  @Test
  void refreshesBeforeTheGrantedExpiryWithRisingCSeq() throws Exception {
    int granted = 3;
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().minExpires(1)
            .maxExpires(granted).start();
         AgentHarness agent = new AgentHarness(shortGrants())) {
      kamailio.addUser("rita", REALM_PASSWORD);
      // Asks for an hour; the registrar grants 3 s, and the refresh must follow the grant.
      agent.registry.create(profile("rita", "rita", kamailio, REALM_PASSWORD, Transport.UDP, 3600));
      agent.awaitStatus("rita", ProfileStatus.REGISTERED);
      assertEquals(granted, agent.registry.info("rita").grantedExpires());

      Instant start = Instant.now();
      List<Long> cseqs = new ArrayList<>();
      // Over more than three expiry periods, the binding is there at every look, once.
      await().atMost(Duration.ofSeconds(40)).pollInterval(Duration.ofMillis(250)).until(() -> {
        List<Binding> bindings = kamailio.lookup("rita");
        assertEquals(1, bindings.size(), () -> "bindings: " + bindings);
        assertTrue(bindings.get(0).expires() <= granted, "granted expiry is the short one");
        long cseq = bindings.get(0).cseq();
        if (cseqs.isEmpty() || cseqs.get(cseqs.size() - 1) != cseq) {
          cseqs.add(cseq);
        }
        return Duration.between(start, Instant.now()).toSeconds() > 3L * granted + 1;
      });
      assertTrue(cseqs.size() >= 4, "refreshed at least three times: " + cseqs);
      for (int i = 1; i < cseqs.size(); i++) {
        assertTrue(cseqs.get(i) > cseqs.get(i - 1), "CSeq rises: " + cseqs);
      }
      assertEquals(ProfileStatus.REGISTERED, agent.registry.status("rita"));
    }
  }

  @Test
  void deregisterRemovesOnlyThisAgentsBinding() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AgentHarness agent = new AgentHarness(AGENT);
         AgentHarness otherDevice = new AgentHarness(OTHER_DEVICE)) {
      kamailio.addUser("dave", REALM_PASSWORD);
      agent.registry.create(profile("dave", "dave", kamailio, REALM_PASSWORD, Transport.UDP, 600));
      otherDevice.registry.create(
          profile("dave-desk", "dave", kamailio, REALM_PASSWORD, Transport.UDP, 600));
      agent.awaitStatus("dave", ProfileStatus.REGISTERED);
      otherDevice.awaitStatus("dave-desk", ProfileStatus.REGISTERED);
      assertEquals(2, kamailio.lookup("dave").size());

      agent.registry.disable("dave").get();
      assertEquals(ProfileStatus.UNREGISTERED, agent.registry.status("dave"));
      List<Binding> left = kamailio.lookup("dave");
      assertEquals(1, left.size(), () -> "bindings: " + left);
      assertTrue(left.get(0).address().startsWith(otherDevice.contactPrefix("dave-desk")),
          left.get(0).address());
      assertEquals(1, agent.events("dave", RegistryEvent.Type.DEREGISTERED).size());
    }
  }

  @Test
  void wrongPasswordGivesOneErrorAndNoRegisterStorm() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AgentHarness agent = new AgentHarness(AGENT)) {
      kamailio.addUser("walt", REALM_PASSWORD);
      agent.registry.create(profile("walt", "walt", kamailio, "wrong-pw", Transport.UDP, 600));

      RegistryEvent error = agent.awaitEvent("walt",
          e -> e.type() == RegistryEvent.Type.REGISTRATION_FAILED);
      assertEquals(RegistrationError.Kind.AUTHENTICATION, error.error().kind());
      assertEquals(401, error.error().sipStatus());
      // Rule 16: wrong credentials wait sip.auth-retry (5 min, up to 25 % less), never a storm.
      Duration retryIn = error.error().retryIn();
      assertTrue(retryIn != null && retryIn.compareTo(Duration.ofMinutes(5)) <= 0
          && retryIn.compareTo(Duration.ofSeconds(225)) >= 0, "retry in " + retryIn);
      assertEquals(ProfileStatus.UNREGISTERED, agent.registry.status("walt"));
      // The unauthenticated REGISTER and the one with (wrong) credentials, and nothing more for
      // longer than the whole backoff range of this agent.
      await().during(Duration.ofSeconds(5)).atMost(Duration.ofSeconds(6))
          .until(() -> kamailio.registerCount("walt") == 2);
      assertEquals(1, agent.events("walt", RegistryEvent.Type.REGISTRATION_FAILED).size());
      assertTrue(kamailio.lookup("walt").isEmpty());
    }
  }

  @Test
  void fixingTheCredentialsRegistersAgain() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AgentHarness agent = new AgentHarness(AGENT)) {
      kamailio.addUser("fred", REALM_PASSWORD);
      SipProfile fred = agent.registry.create(
          profile("fred", "fred", kamailio, "wrong-pw", Transport.UDP, 600));
      agent.awaitEvent("fred", e -> e.type() == RegistryEvent.Type.REGISTRATION_FAILED);
      assertEquals(ProfileStatus.UNREGISTERED, agent.registry.status("fred"));

      // Rule 16: changing the profile is what lets it try again.
      agent.registry.save(SipProfileBuilder.copyOf(fred).password(REALM_PASSWORD).build());
      agent.awaitStatus("fred", ProfileStatus.REGISTERED);
      assertEquals(1, kamailio.lookup("fred").size());
      assertNull(agent.registry.info("fred").lastError());
    }
  }

  @Test
  void forceDisableAndDestroyRemoveTheBinding() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AgentHarness agent = new AgentHarness(AGENT)) {
      kamailio.addUser("gina", REALM_PASSWORD);
      agent.registry.create(profile("gina", "gina", kamailio, REALM_PASSWORD, Transport.UDP, 600));
      agent.awaitStatus("gina", ProfileStatus.REGISTERED);

      agent.registry.forceDisable("gina").get();
      assertTrue(kamailio.lookup("gina").isEmpty());
      assertEquals(1, agent.events("gina", RegistryEvent.Type.FORCIBLY_DISABLED).size());
      assertEquals(ProfileStatus.UNREGISTERED, agent.registry.status("gina"));

      agent.registry.enable("gina");
      agent.awaitStatus("gina", ProfileStatus.REGISTERED);
      assertEquals(1, kamailio.lookup("gina").size());

      // Destroying a registered profile deregisters it first, then removes it from the store.
      agent.registry.destroy("gina").get();
      assertTrue(kamailio.lookup("gina").isEmpty());
      assertTrue(agent.store.get("gina").isEmpty());
      List<RegistryEvent.Type> types = agent.events.stream()
          .filter(e -> e.profileId().equals("gina")).map(RegistryEvent::type).toList();
      assertEquals(List.of(RegistryEvent.Type.CREATED, RegistryEvent.Type.REGISTERED,
          RegistryEvent.Type.DEREGISTERED, RegistryEvent.Type.FORCIBLY_DISABLED,
          RegistryEvent.Type.REGISTERED, RegistryEvent.Type.DEREGISTERED,
          RegistryEvent.Type.DESTROYED), types);
    }
  }

  @Test
  void sha256Digest() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().sha256().start();
         AgentHarness agent = new AgentHarness(AGENT)) {
      kamailio.addUser("sam", REALM_PASSWORD);
      agent.registry.create(profile("sam", "sam", kamailio, REALM_PASSWORD, Transport.UDP, 600));
      agent.awaitStatus("sam", ProfileStatus.REGISTERED);
      assertEquals(1, kamailio.lookup("sam").size());
      assertEquals(1, kamailio.challengeCount("sam"));
    }
  }

  @Test
  void refreshWithPreemptiveCredentialsNeedsNoNewChallenge() throws Exception {
    int granted = 2;
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().nonceCount().minExpires(1)
            .maxExpires(granted).start();
         AgentHarness agent = new AgentHarness(shortGrants())) {
      kamailio.addUser("nina", REALM_PASSWORD);
      agent.registry.create(profile("nina", "nina", kamailio, REALM_PASSWORD, Transport.UDP, 600));
      agent.awaitStatus("nina", ProfileStatus.REGISTERED);
      long firstCseq = kamailio.lookup("nina").get(0).cseq();
      assertEquals(1, kamailio.challengeCount("nina"));

      // Several refreshes, each answered 200 at once: credentials went out pre-emptively with
      // the next nonce count, which the registrar checks.
      await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100))
          .until(() -> kamailio.lookup("nina").get(0).cseq() >= firstCseq + 3);
      assertEquals(1, kamailio.challengeCount("nina"), "no 401 after the first");
      assertEquals(1, kamailio.lookup("nina").size());
    }
  }

  @Test
  void intervalTooBriefIsRetriedWithMinExpires() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().mode423().minExpires(120)
            .start();
         AgentHarness agent = new AgentHarness(AGENT)) {
      kamailio.addUser("ivan", REALM_PASSWORD);
      agent.registry.create(profile("ivan", "ivan", kamailio, REALM_PASSWORD, Transport.UDP, 30));
      agent.awaitStatus("ivan", ProfileStatus.REGISTERED);
      List<Binding> bindings = kamailio.lookup("ivan");
      assertEquals(1, bindings.size());
      assertTrue(bindings.get(0).expires() > 30, "registered for Min-Expires: " + bindings);
      assertEquals(120, agent.registry.info("ivan").grantedExpires());
      assertTrue(kamailio.intervalTooBriefCount("ivan") >= 1, "a 423 was answered");
    }
  }

  @Test
  void withoutOutboundTheOldContactIsRemovedAfterAContactChange() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().noOutbound().start();
         AgentHarness agent = new AgentHarness(AGENT)) {
      kamailio.addUser("olga", REALM_PASSWORD);
      SipProfile olga = agent.registry.create(
          profile("olga", "olga", kamailio, REALM_PASSWORD, Transport.UDP, 600));
      agent.awaitStatus("olga", ProfileStatus.REGISTERED);
      assertEquals(1, kamailio.lookup("olga").size());
      assertTrue(kamailio.lookup("olga").get(0).instance() == null
          || kamailio.lookup("olga").get(0).instance().isEmpty(), "variant strips the instance");

      // Same profile over TCP: a new Contact (";transport=tcp"), which this registrar would keep
      // beside the old one.
      agent.registry.save(SipProfileBuilder.copyOf(olga).transport(Transport.TCP).build());
      await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).until(() -> {
        List<Binding> b = kamailio.lookup("olga");
        return b.size() == 1 && b.get(0).address().contains("transport=tcp");
      });
      assertEquals(ProfileStatus.REGISTERED, agent.registry.status("olga"));
      assertEquals(1, kamailio.lookup("olga").size());
    }
  }

  @Test
  void unreachableRegistrarBacksOffThenRegisters() throws Exception {
    Duration base = Duration.ofMillis(200);
    Duration max = Duration.ofMillis(1600);
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AgentHarness agent = new AgentHarness(AGENT, Duration.ofMillis(400), base, max,
             Duration.ofSeconds(30))) {
      kamailio.addUser("uma", REALM_PASSWORD);
      kamailio.block(AGENT);
      agent.registry.create(profile("uma", "uma", kamailio, REALM_PASSWORD, Transport.UDP, 600));

      int failures = 5;
      await().atMost(Duration.ofSeconds(30)).until(
          () -> agent.events("uma", RegistryEvent.Type.REGISTRATION_FAILED).size() >= failures);
      // Each attempt reached the registrar (and was dropped there): no more than one attempt per
      // failure plus the one in flight.
      long attempts = kamailio.registerCount("uma");
      List<RegistryEvent> errors = agent.events("uma", RegistryEvent.Type.REGISTRATION_FAILED);
      assertTrue(attempts >= failures && attempts <= errors.size() + 1,
          "attempts " + attempts + " for " + errors.size() + " failures");
      SipConfig.Backoff backoff = new SipConfig.Backoff(base, base, max);
      for (int n = 1; n <= failures; n++) {
        RegistrationError e = errors.get(n - 1).error();
        assertEquals(RegistrationError.Kind.TIMEOUT, e.kind());
        long upper = backoff.upperBound(n, true).toMillis();
        long wait = e.retryIn().toMillis();
        assertTrue(wait >= upper / 2 && wait <= upper,
            "failure " + n + ": wait " + wait + " ms within 50-100 % of " + upper + " ms");
      }
      assertEquals(ProfileStatus.REGISTRATION_IN_PROGRESS, agent.registry.status("uma"));
      assertTrue(kamailio.lookup("uma").isEmpty());

      kamailio.unblock(AGENT);
      agent.awaitStatus("uma", ProfileStatus.REGISTERED);
      List<Binding> bindings = kamailio.lookup("uma");
      assertEquals(1, bindings.size());
      assertTrue(bindings.get(0).received().startsWith("sip:" + AGENT + ":"));
    }
  }

  @Test
  void serviceUnavailableIsRetriedAfterRetryAfter() throws Exception {
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().maxContacts(1).retryAfter(2)
            .start();
         AgentHarness agent = new AgentHarness(AGENT);
         AgentHarness otherDevice = new AgentHarness(OTHER_DEVICE)) {
      kamailio.addUser("mia", REALM_PASSWORD);
      otherDevice.registry.create(
          profile("mia-desk", "mia", kamailio, REALM_PASSWORD, Transport.UDP, 600));
      otherDevice.awaitStatus("mia-desk", ProfileStatus.REGISTERED);

      // One contact per AOR: this agent's is one too many, and the registrar says when to retry.
      agent.registry.create(profile("mia", "mia", kamailio, REALM_PASSWORD, Transport.UDP, 600));
      RegistryEvent busy = agent.awaitEvent("mia",
          e -> e.type() == RegistryEvent.Type.REGISTRATION_FAILED);
      assertEquals(RegistrationError.Kind.SERVICE_UNAVAILABLE, busy.error().kind());
      assertEquals(503, busy.error().sipStatus());
      assertEquals(Duration.ofSeconds(2), busy.error().retryIn(), "Retry-After honoured");

      otherDevice.registry.disable("mia-desk").get();
      agent.awaitStatus("mia", ProfileStatus.REGISTERED);
      List<Binding> bindings = kamailio.lookup("mia");
      assertEquals(1, bindings.size());
      assertTrue(bindings.get(0).address().startsWith(agent.contactPrefix("mia")));
    }
  }

  @Test
  void deadOutboundFlowIsNoticedByItsKeepAliveAndReRegisters() throws Exception {
    // NO_STUN: block() drops our SIP in Kamailio's script, but its stun module answers STUN
    // before any script runs, so a STUN keep-alive would (rightly) find the flow alive. Without
    // STUN the agent checks the path with OPTIONS, which the block drops.
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().noStun().start();
         AgentHarness agent = new AgentHarness(AGENT, Duration.ofMillis(500),
             Duration.ofMillis(200), Duration.ofMillis(800), Duration.ofMillis(300))) {
      kamailio.addUser("kate", REALM_PASSWORD);
      agent.registry.create(profile("kate", "kate", kamailio, REALM_PASSWORD, Transport.UDP, 600));
      agent.awaitStatus("kate", ProfileStatus.REGISTERED);
      assertTrue(agent.registry.info("kate").outbound());

      // The registrar stops answering this source: with a 600 s registration only the flow's
      // keep-alive can notice, and the profile must leave REGISTERED and try again.
      kamailio.block(AGENT);
      RegistryEvent lost = agent.awaitEvent("kate",
          e -> e.type() == RegistryEvent.Type.REGISTRATION_FAILED);
      assertEquals(RegistrationError.Kind.TRANSPORT, lost.error().kind());
      assertTrue(lost.error().reason().contains("keep-alive"), lost.error().reason());
      assertEquals(1, agent.events("kate", RegistryEvent.Type.DEREGISTERED).size());

      kamailio.unblock(AGENT);
      await().atMost(Duration.ofSeconds(30)).until(
          () -> agent.events("kate", RegistryEvent.Type.REGISTERED).size() == 2);
      assertEquals(1, kamailio.lookup("kate").size());
    }
  }

  @Test
  void twoHundredProfilesRegisterAtOnce() throws Exception {
    int count = 200;
    try (KamailioRegistrar kamailio = KamailioRegistrar.builder().start();
         AgentHarness agent = new AgentHarness(AGENT)) {
      List<String> users = IntStream.range(0, count).mapToObj(i -> String.format("u%03d", i))
          .toList();
      for (String user : users) {
        kamailio.addUser(user, REALM_PASSWORD);
      }
      for (String user : users) {
        agent.registry.create(profile(user, user, kamailio, REALM_PASSWORD, Transport.UDP, 600));
      }
      await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).until(
          () -> users.stream().allMatch(
              u -> agent.registry.status(u) == ProfileStatus.REGISTERED));
      Map<String, List<Binding>> dump = kamailio.dump();
      for (String user : users) {
        List<Binding> b = dump.getOrDefault(user, List.of());
        assertEquals(1, b.size(), () -> user + ": " + b);
        assertTrue(b.get(0).address().startsWith(agent.contactPrefix(user)), b.get(0).address());
      }
      assertEquals(count, dump.size());
    }
  }
}
