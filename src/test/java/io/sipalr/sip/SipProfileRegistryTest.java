package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.profile.ProfileConflictException;
import io.sipalr.profile.ProfileStore;
import io.sipalr.profile.ProfileValidationException;
import io.sipalr.profile.SipProfile;
import io.sipalr.profile.SipProfileBuilder;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The registry over a real store and SIP stack on loopback, with a UDP socket standing in for
 * the registrar (it never answers: only whether a REGISTER is sent matters here).
 */
class SipProfileRegistryTest {
  /** Bounds every wait; a wait that reaches it fails the test. */
  private static final long BOUND_MS = 10_000;

  @TempDir Path tmp;

  private ProfileStore store;
  private SipProfileRegistry registry;
  private DatagramSocket registrar;
  private final BlockingQueue<RegistryEvent> events = new LinkedBlockingQueue<>();

  @BeforeEach
  void start() throws Exception {
    registrar = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0));
    registrar.setSoTimeout((int) BOUND_MS);
    store = ProfileStore.open(tmp.resolve("data"));
    registry = new SipProfileRegistry(store, new SipConfig("127.0.0.1", 0,
        "sip-alr-agent-test", Duration.ofSeconds(5), new SipConfig.Backoff(Duration.ofSeconds(30),
        Duration.ofSeconds(30), Duration.ofSeconds(60)), Duration.ofSeconds(30), 2, 1,
        Duration.ZERO));
    registry.addListener(events::add);
    registry.start();
  }

  @AfterEach
  void stop() {
    registry.close();
    store.close();
    registrar.close();
  }

  private SipProfile profile(String id, boolean autoRegister) {
    return SipProfileBuilder.forId(id).aor("sip:" + id + "@sipalr.test")
        .registrar("sip:127.0.0.1:" + registrar.getLocalPort()).password("secret")
        .autoRegister(autoRegister).build();
  }

  /** The ids of the next {@code n} CREATED events. */
  private Set<String> created(int n) throws InterruptedException {
    Set<String> ids = new HashSet<>();
    while (ids.size() < n) {
      RegistryEvent e = events.poll(BOUND_MS, TimeUnit.MILLISECONDS);
      assertNotNull(e, "only CREATED of " + ids + " came");
      if (e.type() == RegistryEvent.Type.CREATED) {
        assertTrue(ids.add(e.profileId()), "CREATED twice for " + e.profileId());
      }
    }
    return ids;
  }

  @Test
  void createAllCreatesEachAndRegistersTheAutoRegisterOnes() throws Exception {
    List<SipProfile> stored = registry.createAll(List.of(profile("ann", false),
        profile("bob", true), profile("cid", false)));

    assertEquals(List.of("ann", "bob", "cid"), stored.stream().map(SipProfile::id).toList());
    assertEquals(stored, registry.profiles());
    assertEquals(Set.of("ann", "bob", "cid"), created(3));
    // Only bob registers: the registrar hears his REGISTER.
    DatagramPacket packet = new DatagramPacket(new byte[16 * 1024], 16 * 1024);
    registrar.receive(packet); // bounded by the socket timeout
    String register = new String(packet.getData(), 0, packet.getLength(),
        StandardCharsets.UTF_8);
    assertTrue(register.startsWith("REGISTER sip:127.0.0.1:" + registrar.getLocalPort()),
        register);
    assertTrue(register.contains("sip:bob@sipalr.test"), register);
    assertEquals(ProfileStatus.UNREGISTERED, registry.status("ann"));
    assertEquals(ProfileStatus.UNREGISTERED, registry.status("cid"));
  }

  @Test
  void aBatchWithAConflictOrAnInvalidProfileCreatesNone() throws Exception {
    registry.create(profile("ann", false));
    assertEquals(Set.of("ann"), created(1));

    ProfileConflictException conflict = assertThrows(ProfileConflictException.class,
        () -> registry.createAll(List.of(profile("dan", false), profile("ann", false))));
    assertEquals("ann", conflict.profileId());
    ProfileValidationException invalid = assertThrows(ProfileValidationException.class,
        () -> registry.createAll(List.of(profile("dan", false),
            SipProfileBuilder.copyOf(profile("eve", false)).expires(0).build())));
    assertEquals("eve", invalid.profileId());

    assertEquals(List.of("ann"), registry.profiles().stream().map(SipProfile::id).toList());
    assertThrows(NoSuchElementException.class, () -> registry.status("dan"));
  }

  @Test
  void aDestroyedProfileAnswersEmptyToTheQueriesThatLoopsUse() throws Exception {
    registry.create(profile("ann", false));
    assertEquals(java.util.Optional.of(ProfileStatus.UNREGISTERED),
        registry.statusIfPresent("ann"));
    registry.destroy("ann").get(BOUND_MS, TimeUnit.MILLISECONDS);

    assertEquals(java.util.Optional.empty(), registry.statusIfPresent("ann"));
    assertEquals(java.util.Optional.empty(), registry.localAddressOf("ann"));
    assertThrows(NoSuchElementException.class, () -> registry.status("ann"));
  }

  @Test
  void aChangeOfAProfileDestroyedMeanwhileIsRefusedAndDoesNotBringItBack() throws Exception {
    SipProfile ann = registry.create(profile("ann", false));
    SipProfile changed = SipProfileBuilder.copyOf(ann).expires(300).build(); // read before ...
    registry.destroy("ann").get(BOUND_MS, TimeUnit.MILLISECONDS); // ... the delete won

    assertThrows(NoSuchElementException.class, () -> registry.save(changed));
    assertEquals(List.of(), registry.profiles());
    assertEquals(java.util.Optional.empty(), store.get("ann"));
  }

  @Test
  void aChangeAfterItsDestroyBeganIsRefused() throws Exception {
    // Registered: its destroy deregisters first, and the registrar here never answers.
    SipProfile ann = registry.create(profile("ann", true));
    DatagramPacket packet = new DatagramPacket(new byte[16 * 1024], 16 * 1024);
    registrar.receive(packet); // its REGISTER (bounded by the socket timeout)
    registry.destroy("ann");

    NoSuchElementException refused = assertThrows(NoSuchElementException.class,
        () -> registry.save(SipProfileBuilder.copyOf(ann).expires(300).build()));
    assertTrue(refused.getMessage().contains("being deleted"), refused.getMessage());
    assertEquals(ann.instanceId(), store.get("ann").orElseThrow().instanceId());
    assertEquals(ann.expires(), store.get("ann").orElseThrow().expires());
  }

  @Test
  void aDestroyRemovesTheProfileFileOnTheExecutorItIsGiven() throws Exception {
    registry.create(profile("ann", false));
    java.util.concurrent.ExecutorService storeWork = java.util.concurrent.Executors
        .newSingleThreadExecutor(r -> new Thread(r, "test-store-writer"));
    java.util.concurrent.atomic.AtomicReference<String> destroyedOn =
        new java.util.concurrent.atomic.AtomicReference<>();
    registry.addListener(e -> {
      if (e.type() == RegistryEvent.Type.DESTROYED) {
        destroyedOn.set(Thread.currentThread().getName());
      }
    });
    try {
      registry.destroy("ann", storeWork).get(BOUND_MS, TimeUnit.MILLISECONDS);
    } finally {
      storeWork.shutdown();
    }
    assertEquals("test-store-writer", destroyedOn.get());
    assertEquals(java.util.Optional.empty(), store.get("ann"));
  }
}
