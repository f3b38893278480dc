package io.sipalr.it;

import static org.awaitility.Awaitility.await;

import io.sipalr.profile.ProfileStore;
import io.sipalr.profile.SipProfile;
import io.sipalr.profile.SipProfileBuilder;
import io.sipalr.profile.Transport;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.RegistryEvent;
import io.sipalr.sip.SipConfig;
import io.sipalr.sip.SipProfileRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * One agent under test: a profile store in a temporary directory and a registry listening on a
 * loopback address of its own, with every event it emits recorded. Timings are short so that
 * backoff and refresh happen within a test.
 */
final class AgentHarness implements AutoCloseable {
  static final String REALM_PASSWORD = "s3cret-pw";

  /** Deletes {@code dir} and everything under it (an agent's data directory after a test). */
  static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  final Path dataDir;
  final ProfileStore store;
  final SipProfileRegistry registry;
  final List<RegistryEvent> events = new CopyOnWriteArrayList<>();

  AgentHarness(String localAddress) throws Exception {
    this(localAddress, Duration.ofSeconds(2), Duration.ofMillis(500), Duration.ofSeconds(4),
        Duration.ofSeconds(30));
  }

  AgentHarness(String localAddress, Duration registerTimeout, Duration backoffBase,
      Duration backoffMax, Duration keepAlive) throws Exception {
    this(new SipConfig(localAddress, 0, "sip-alr-agent-it", registerTimeout,
        new SipConfig.Backoff(backoffBase, backoffBase, backoffMax), keepAlive, 4, 2,
        Duration.ofSeconds(60)));
  }

  /** An agent with exactly these SIP settings (e.g. short register limits). */
  AgentHarness(SipConfig config) throws Exception {
    this(config, io.sipalr.dns.DnsConfig.DEFAULTS);
  }

  /** An agent with these SIP settings that resolves registrar names as {@code dns} says. */
  AgentHarness(SipConfig config, io.sipalr.dns.DnsConfig dns) throws Exception {
    dataDir = Files.createTempDirectory("sipalr-it");
    store = ProfileStore.open(dataDir);
    registry = new SipProfileRegistry(store, config, dns);
    registry.addListener(events::add);
    registry.start();
  }

  static SipProfile profile(String id, String user, KamailioRegistrar registrar,
      String password, Transport transport, int expires) {
    return SipProfileBuilder.forId(id).aor("sip:" + user + "@" + registrar.realm())
        .registrar(registrar.sipUri()).authUser(user).password(password).transport(transport)
        .expires(expires).autoRegister(true).build();
  }

  void awaitStatus(String profileId, ProfileStatus status) {
    await("profile " + profileId + " " + status).atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(20))
        .until(() -> registry.status(profileId) == status);
  }

  List<RegistryEvent> events(String profileId, RegistryEvent.Type type) {
    return events.stream()
        .filter(e -> e.profileId().equals(profileId) && e.type() == type).toList();
  }

  RegistryEvent awaitEvent(String profileId, Predicate<RegistryEvent> what) {
    return await("event of " + profileId).atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(20))
        .until(() -> events.stream().filter(e -> e.profileId().equals(profileId))
            .filter(what).findFirst().orElse(null), e -> e != null);
  }

  /** The Contact user part is the profile id; the host:port this agent listens on. */
  String contactPrefix(String profileId) {
    return "sip:" + profileId + "@" + registry.localAddress() + ":" + registry.port();
  }

  @Override
  public void close() throws IOException {
    registry.close();
    store.close();
    deleteTree(dataDir);
  }
}
