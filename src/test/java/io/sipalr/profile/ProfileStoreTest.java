package io.sipalr.profile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProfileStoreTest {

  static final String PASSWORD = "s3cret-Passw0rd";
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;

  /** Not created yet: the store creates it. */
  Path dataDir() {
    return tmp.resolve("data");
  }

  Path profileFile(String id) {
    return dataDir().resolve("profiles").resolve(id + ".json");
  }

  static SipProfileBuilder profile(String id) {
    return SipProfileBuilder.forId(id).aor("sip:" + id + "@sipalr.test")
        .registrar("sip:127.0.0.1:5060").password(PASSWORD);
  }

  @Test
  void createGetSaveDestroyAndReopen() {
    SipProfile alice;
    SipProfile bob;
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      assertEquals(List.of(), store.list());

      alice = store.create(profile("alice").snapId(1).bearerFilter(BearerFilter.WLAN_ONLY).build());
      bob = store.create(profile("bob").iapId(3).transport(Transport.TCP)
          .outboundProxy("sip:proxy.sipalr.test;lr").realm("sipalr.test").build());
      store.create(profile("carol").build());

      assertTrue(alice.instanceId().matches("urn:uuid:[0-9a-f-]{36}"), alice.instanceId());
      assertEquals(1, alice.regId());
      assertNotEquals(alice.instanceId(), bob.instanceId());
      assertEquals(Optional.of(alice), store.get("alice"));
      assertEquals(Optional.empty(), store.get("nobody"));

      alice = store.save(SipProfileBuilder.copyOf(alice).expires(600).password("new").build());
      assertEquals(600, store.get("alice").orElseThrow().expires());

      assertTrue(store.destroy("carol"));
      assertFalse(store.destroy("carol"));
      assertEquals(List.of(alice, bob), store.list());
      assertFalse(Files.exists(profileFile("carol")));
    }

    try (ProfileStore reopened = ProfileStore.open(dataDir())) {
      assertEquals(List.of(alice, bob), reopened.list());
      assertEquals("new", reopened.get("alice").orElseThrow().password());
    }
  }

  @Test
  void listIsSortedById() {
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      for (String id : List.of("m", "B", "a", "z10", "z1")) {
        store.create(profile(id).build());
      }
      assertEquals(List.of("B", "a", "m", "z1", "z10"),
          store.list().stream().map(SipProfile::id).toList());
    }
  }

  @Test
  void saveKeepsTheStoredInstanceIdAndRegId() {
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      SipProfile created = store.create(profile("alice").build());

      SipProfile saved = store.save(SipProfileBuilder.copyOf(created).realm("r")
          .instanceId("urn:uuid:00000000-0000-4000-8000-000000000009").regId(7).build());
      SipProfile savedWithout = store.save(profile("alice").expires(120).build());

      assertEquals(created.instanceId(), saved.instanceId());
      assertEquals(1, saved.regId());
      assertEquals("r", saved.realm());
      assertEquals(created.instanceId(), savedWithout.instanceId());
      assertEquals(1, savedWithout.regId());
      assertEquals(120, savedWithout.expires());
      assertEquals(Optional.of(savedWithout), store.get("alice"));
    }
  }

  @Test
  void updateReplacesOnlyAStoredProfileAndNeverCreatesOne() {
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      SipProfile created = store.create(profile("alice").build());
      SipProfile updated = store.update(SipProfileBuilder.copyOf(created).realm("r")
          .instanceId("urn:uuid:00000000-0000-4000-8000-000000000009").build());
      assertEquals("r", updated.realm());
      assertEquals(created.instanceId(), updated.instanceId());

      store.destroy("alice");
      assertThrows(java.util.NoSuchElementException.class, () -> store.update(updated));
      assertEquals(Optional.empty(), store.get("alice"));
    }
  }

  @Test
  void saveCreatesAnAbsentProfileAndABroughtInstanceIsKept() {
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      SipProfile fresh = store.save(profile("alice").build());
      SipProfile brought = store.save(profile("bob")
          .instanceId("urn:uuid:00000000-0000-4000-8000-000000000009").build());

      assertNotNull(fresh.instanceId());
      assertEquals(1, fresh.regId());
      assertEquals("urn:uuid:00000000-0000-4000-8000-000000000009", brought.instanceId());
      assertEquals(1, brought.regId());
    }
  }

  @Test
  void createOnAnExistingIdConflicts() {
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      SipProfile alice = store.create(profile("alice").build());

      ProfileConflictException e = assertThrows(ProfileConflictException.class,
          () -> store.create(profile("alice").expires(60).build()));

      assertEquals("alice", e.profileId());
      assertEquals("profile \"alice\" already exists", e.getMessage());
      assertEquals(Optional.of(alice), store.get("alice"));
    }
  }

  @Test
  void createAllStoresTheBatchInOrderWithInstanceIds() throws IOException {
    List<SipProfile> created;
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      store.create(profile("alice").build());

      created = store.createAll(List.of(profile("carol").build(), profile("bob").snapId(2)
          .build(), profile("dave").instanceId("urn:uuid:00000000-0000-4000-8000-000000000009")
          .build()));

      assertEquals(List.of("carol", "bob", "dave"), created.stream().map(SipProfile::id)
          .toList(), "in the order given");
      assertEquals(3, created.stream().map(SipProfile::instanceId).distinct().count());
      for (SipProfile p : created) {
        assertTrue(p.instanceId().matches("urn:uuid:[0-9a-f-]{36}"), p.instanceId());
        assertEquals(1, p.regId());
        assertEquals(Optional.of(p), store.get(p.id()));
      }
      assertEquals("urn:uuid:00000000-0000-4000-8000-000000000009", created.get(2).instanceId(),
          "a brought instance is kept");
      assertEquals(List.of("alice", "bob", "carol", "dave"),
          store.list().stream().map(SipProfile::id).toList());
      assertEquals(List.of(), store.createAll(List.of()));
    }
    try (Stream<Path> files = Files.list(dataDir().resolve("profiles"))) {
      assertEquals(4, files.filter(f -> f.toString().endsWith(".json")).count());
    }

    try (ProfileStore reopened = ProfileStore.open(dataDir())) {
      for (SipProfile p : created) {
        assertEquals(Optional.of(p), reopened.get(p.id()));
      }
      assertEquals(4, reopened.list().size());
    }
  }

  @Test
  void createAllWithAStoredIdStoresNone() {
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      SipProfile alice = store.create(profile("alice").build());

      ProfileConflictException e = assertThrows(ProfileConflictException.class,
          () -> store.createAll(List.of(profile("bob").build(), profile("alice").expires(60)
              .build(), profile("carol").build())));

      assertEquals("alice", e.profileId());
      assertEquals("profile \"alice\" already exists", e.getMessage());
      assertEquals(List.of(alice), store.list());
      assertFalse(Files.exists(profileFile("bob")));
      assertFalse(Files.exists(profileFile("carol")));
    }
  }

  @Test
  void createAllWithAnIdTwiceStoresNone() {
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      ProfileConflictException e = assertThrows(ProfileConflictException.class,
          () -> store.createAll(List.of(profile("bob").build(), profile("carol").build(),
              profile("bob").expires(60).build())));

      assertEquals("bob", e.profileId());
      assertEquals(List.of(), store.list());
      assertFalse(Files.exists(profileFile("bob")));
      assertFalse(Files.exists(profileFile("carol")));
    }
  }

  @Test
  void createAllWithAnInvalidProfileStoresNoneAndNamesProfileAndField() throws IOException {
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      ProfileValidationException e = assertThrows(ProfileValidationException.class,
          () -> store.createAll(List.of(profile("bob").build(), profile("carol").expires(0)
              .build(), profile("dave").build())));

      assertEquals("carol", e.profileId());
      assertEquals("expires", e.field());
      // As create says it of a single profile.
      assertEquals(assertThrows(ProfileValidationException.class,
          () -> store.create(profile("carol").expires(0).build())).getMessage(), e.getMessage());
      assertThrows(ProfileValidationException.class,
          () -> store.createAll(List.of(profile("bob").build(), profile("../escape").build())));

      assertEquals(List.of(), store.list());
      try (Stream<Path> files = Files.list(dataDir().resolve("profiles"))) {
        assertEquals(List.of(), files.toList());
      }
    }
    assertFalse(Files.exists(tmp.resolve("escape.json")));
  }

  @Test
  void aBatchThatFailsOnDiskIsUndone() throws IOException {
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      // carol's file cannot be renamed into place: a directory has its name.
      Files.createDirectory(profileFile("carol"));

      ProfileStoreException e = assertThrows(ProfileStoreException.class,
          () -> store.createAll(List.of(profile("bob").build(), profile("carol").build(),
              profile("dave").build())));

      assertTrue(e.getMessage().contains("cannot write a batch of 3 profile files, so none is"
          + " stored"), e.getMessage());
      assertEquals(List.of(), store.list());
      try (Stream<Path> files = Files.list(dataDir().resolve("profiles"))) {
        assertEquals(List.of(profileFile("carol")), files.toList(),
            "bob's file, renamed before the failure, is removed again; no temp file is left");
      }

      Files.delete(profileFile("carol"));
      assertEquals(3, store.createAll(List.of(profile("bob").build(), profile("carol").build(),
          profile("dave").build())).size());
    }
  }

  @Test
  void anInvalidProfileIsNotStored() {
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      ProfileValidationException e = assertThrows(ProfileValidationException.class,
          () -> store.save(profile("alice").expires(0).build()));
      assertEquals("expires", e.field());

      assertThrows(ProfileValidationException.class,
          () -> store.create(profile("../escape").build()));
      assertFalse(store.destroy("../escape"));

      assertEquals(List.of(), store.list());
      assertFalse(Files.exists(profileFile("alice")));
    }
    assertFalse(Files.exists(tmp.resolve("escape.json")));
  }

  @Test
  void seedsImportOnlyAbsentIds() {
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      SipProfile edited = store.create(profile("alice").expires(120).build());

      int imported = store.importSeeds(List.of(profile("alice").build(), profile("bob").build()));
      assertEquals(1, imported);
      assertEquals(Optional.of(edited), store.get("alice"));
      SipProfile bob = store.get("bob").orElseThrow();
      assertNotNull(bob.instanceId());

      // The next start imports the same seeds again: nothing changes, bob keeps his instance.
      assertEquals(0, store.importSeeds(List.of(profile("alice").build(), profile("bob").build())));
      assertEquals(Optional.of(bob), store.get("bob"));
    }
  }

  @Test
  void anInvalidSeedImportsNone() {
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      ProfileValidationException e = assertThrows(ProfileValidationException.class,
          () -> store.importSeeds(List.of(profile("alice").build(), profile("bob").expires(0).build())));

      assertEquals("bob", e.profileId());
      assertEquals(List.of(), store.list());
    }
  }

  @Test
  void filesAndDirectoriesAreOwnerOnly() throws IOException {
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      store.create(profile("alice").build());
      store.save(profile("alice").expires(60).build());
    }
    assertEquals("rwx------", permissions(dataDir()));
    assertEquals("rwx------", permissions(dataDir().resolve("profiles")));
    assertEquals("rw-------", permissions(dataDir().resolve("store.json")));
    assertEquals("rw-------", permissions(profileFile("alice")));
  }

  @Test
  void theFileFormatHoldsEveryField() throws IOException {
    SipProfile alice;
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      alice = store.create(profile("alice").snapId(4).build());
    }

    assertEquals(JSON.readTree("{\"formatVersion\":1}"),
        JSON.readTree(dataDir().resolve("store.json").toFile()));
    JsonNode file = JSON.readTree(profileFile("alice").toFile());
    assertEquals(List.of("formatVersion", "id", "aor", "registrar", "outboundProxy", "authUser",
        "password", "realm", "transport", "expires", "autoRegister", "snapId", "iapId",
        "bearerFilter", "instanceId", "regId", "tlsClientCertificate"), fieldNames(file));
    assertEquals(1, file.get("formatVersion").asInt());
    assertEquals(PASSWORD, file.get("password").asText());
    assertEquals(alice.instanceId(), file.get("instanceId").asText());
    assertEquals(1, file.get("regId").asInt());
    assertEquals(4, file.get("snapId").asInt());
    assertTrue(file.get("iapId").isNull());
    assertEquals("AUTO", file.get("transport").asText(), "no transport given: RFC 3263 chooses");
  }

  @Test
  void aFileWrittenBeforeProfilesHadAClientCertificateReadsAsWithoutOne() throws IOException {
    writeProfileFileWith("alice", node -> node.remove("tlsClientCertificate"));
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      assertEquals(null, store.get("alice").orElseThrow().tlsClientCertificate());
      store.update(SipProfileBuilder.copyOf(store.get("alice").orElseThrow())
          .transport(Transport.TLS).tlsClientCertificate("alice-device").build());
    }
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      assertEquals("alice-device", store.get("alice").orElseThrow().tlsClientCertificate());
    }
    assertEquals("alice-device",
        JSON.readTree(profileFile("alice").toFile()).get("tlsClientCertificate").asText());
  }

  @Test
  void aCorruptFileIsAnErrorNamingIt() throws IOException {
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      store.create(profile("alice").build());
      store.create(profile("bob").build());
    }
    String text = Files.readString(profileFile("bob"));
    Files.writeString(profileFile("bob"), text.substring(0, text.length() / 2));

    ProfileStoreException e =
        assertThrows(ProfileStoreException.class, () -> ProfileStore.open(dataDir()));

    assertEquals(profileFile("bob"), e.file());
    assertTrue(e.getMessage().startsWith(profileFile("bob") + ": corrupt: not valid JSON (line "),
        e.getMessage());
    assertFalse(e.getMessage().contains(PASSWORD), e.getMessage());
    // Nothing was dropped: alice's file is untouched and the store opens once bob is repaired.
    Files.writeString(profileFile("bob"), text);
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      assertEquals(2, store.list().size());
    }
  }

  @Test
  void aPasswordInACorruptFileIsNotQuoted() throws IOException {
    writeProfileFileWith("alice", node -> node.put("expires", "%s-%s".formatted(PASSWORD, PASSWORD)));
    assertNoPasswordIn(assertThrows(ProfileStoreException.class, () -> ProfileStore.open(dataDir())));

    Files.writeString(profileFile("alice"), "{\"formatVersion\": 1, \"password\": " + PASSWORD + "}");
    assertNoPasswordIn(assertThrows(ProfileStoreException.class, () -> ProfileStore.open(dataDir())));
  }

  @Test
  void anInvalidOrMismatchedProfileFileIsAnErrorNamingIt() throws IOException {
    writeProfileFileWith("alice", node -> node.put("aor", "alice@sipalr.test"));
    ProfileStoreException invalid =
        assertThrows(ProfileStoreException.class, () -> ProfileStore.open(dataDir()));
    assertEquals(profileFile("alice") + ": invalid profile: profile \"alice\": aor: must be a sip:"
        + " or sips: URI", invalid.getMessage());

    writeProfileFileWith("alice", node -> node.put("id", "bob"));
    ProfileStoreException mismatched =
        assertThrows(ProfileStoreException.class, () -> ProfileStore.open(dataDir()));
    assertTrue(mismatched.getMessage().contains("holds profile \"bob\""), mismatched.getMessage());

    writeProfileFileWith("alice", node -> node.remove("realm"));
    ProfileStoreException missing =
        assertThrows(ProfileStoreException.class, () -> ProfileStore.open(dataDir()));
    assertTrue(missing.getMessage().startsWith(profileFile("alice") + ": corrupt: field \"realm\""),
        missing.getMessage());

    writeProfileFileWith("alice", node -> node.put("colour", "blue"));
    ProfileStoreException unknown =
        assertThrows(ProfileStoreException.class, () -> ProfileStore.open(dataDir()));
    assertTrue(unknown.getMessage().startsWith(profileFile("alice") + ": corrupt: unknown field"
        + " \"colour\""), unknown.getMessage());

    writeProfileFileWith("alice", node -> node.putNull("instanceId").put("regId", 0));
    ProfileStoreException noInstance =
        assertThrows(ProfileStoreException.class, () -> ProfileStore.open(dataDir()));
    assertTrue(noInstance.getMessage().contains("instanceId"), noInstance.getMessage());
  }

  @Test
  void leftoverTempFilesAreIgnoredAndDeleted() throws IOException {
    SipProfile alice;
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      alice = store.create(profile("alice").build());
    }
    Path profiles = dataDir().resolve("profiles");
    // An interrupted rewrite of alice, and one of a profile that was never stored: half-written.
    Files.writeString(profiles.resolve("alice.json.tmp"), "{\"formatVersion\": 1, \"id\": \"al");
    Files.copy(profileFile("alice"), profiles.resolve("ghost.json.tmp"));

    try (ProfileStore store = ProfileStore.open(dataDir())) {
      assertEquals(List.of(alice), store.list());
    }
    try (Stream<Path> files = Files.list(profiles)) {
      assertEquals(List.of(profileFile("alice")), files.toList());
    }
  }

  @Test
  void otherFilesAreIgnored() throws IOException {
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      store.create(profile("alice").build());
    }
    Files.writeString(dataDir().resolve("profiles").resolve("alice.json~"), "editor backup");

    try (ProfileStore store = ProfileStore.open(dataDir())) {
      assertEquals(1, store.list().size());
    }
  }

  @Test
  void anUnknownFormatVersionIsRefused() throws IOException {
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      store.create(profile("alice").build());
    }
    Path storeFile = dataDir().resolve("store.json");
    Files.writeString(storeFile, "{\"formatVersion\": 2}");

    ProfileStoreException e =
        assertThrows(ProfileStoreException.class, () -> ProfileStore.open(dataDir()));

    assertEquals(storeFile, e.file());
    assertEquals(storeFile + ": has format version 2, but this agent reads only version 1"
        + " (written by a newer agent?)", e.getMessage());
    assertEquals("{\"formatVersion\": 2}", Files.readString(storeFile));
  }

  @Test
  void anUnknownFormatVersionOfAProfileFileIsRefused() throws IOException {
    writeProfileFileWith("alice", node -> node.put("formatVersion", 2).put("newField", "x"));

    ProfileStoreException e =
        assertThrows(ProfileStoreException.class, () -> ProfileStore.open(dataDir()));

    assertEquals(profileFile("alice"), e.file());
    assertTrue(e.getMessage().contains("has format version 2"), e.getMessage());
  }

  @Test
  void aCorruptStoreFileIsAnErrorNamingIt() throws IOException {
    ProfileStore.open(dataDir()).close();
    Path storeFile = dataDir().resolve("store.json");
    Files.writeString(storeFile, "{\"version\": 1}");

    ProfileStoreException e =
        assertThrows(ProfileStoreException.class, () -> ProfileStore.open(dataDir()));

    assertEquals(storeFile + ": corrupt: no integer formatVersion", e.getMessage());
  }

  @Test
  void oneStoreAtATimePerDataDirectory() {
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      ProfileStoreException e =
          assertThrows(ProfileStoreException.class, () -> ProfileStore.open(dataDir()));
      assertTrue(e.getMessage().contains("already open"), e.getMessage());
      store.create(profile("alice").build());
    }
    try (ProfileStore reopened = ProfileStore.open(dataDir())) {
      assertEquals(1, reopened.list().size());
    }
  }

  @Test
  void aClosedStoreRefusesUse() {
    ProfileStore store = ProfileStore.open(dataDir());
    store.close();

    assertThrows(IllegalStateException.class, store::list);
    assertThrows(IllegalStateException.class, () -> store.create(profile("alice").build()));
    assertThrows(IllegalStateException.class,
        () -> store.createAll(List.of(profile("alice").build())));
  }

  @Test
  void concurrentWritersAllLand() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try (ProfileStore store = ProfileStore.open(dataDir())) {
      List<Future<?>> writes = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        int thread = t;
        writes.add(pool.submit(() -> {
          for (int i = 0; i < 25; i++) {
            store.create(profile("t" + thread + "-" + i).build());
            store.save(profile("shared").expires(100 + i).build());
          }
        }));
      }
      for (Future<?> write : writes) {
        write.get();
      }
      assertEquals(101, store.list().size());
    } finally {
      pool.shutdownNow();
    }
    try (ProfileStore reopened = ProfileStore.open(dataDir())) {
      assertEquals(101, reopened.list().size());
    }
  }

  private void writeProfileFileWith(String id, java.util.function.Consumer<ObjectNode> change)
      throws IOException {
    if (!Files.exists(profileFile(id))) {
      try (ProfileStore store = ProfileStore.open(dataDir())) {
        store.create(profile(id).build());
      }
    }
    ObjectNode node = (ObjectNode) JSON.readTree(profileFile(id).toFile());
    // Start each change from a valid file.
    node.put("formatVersion", 1).put("id", id).put("aor", "sip:" + id + "@sipalr.test")
        .put("realm", (String) null);
    node.remove("colour");
    node.put("instanceId", "urn:uuid:00000000-0000-4000-8000-000000000001").put("regId", 1);
    node.remove("newField");
    change.accept(node);
    Files.write(profileFile(id), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(node));
  }

  private static void assertNoPasswordIn(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      assertFalse(String.valueOf(t.getMessage()).contains(PASSWORD), t.getMessage());
    }
  }

  private static String permissions(Path path) throws IOException {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(path));
  }

  private static List<String> fieldNames(JsonNode node) {
    List<String> names = new ArrayList<>();
    node.fieldNames().forEachRemaining(names::add);
    return names;
  }
}
