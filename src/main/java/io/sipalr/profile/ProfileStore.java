package io.sipalr.profile;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import java.io.Closeable;
import io.sipalr.config.IoReasons;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The truth for SIP profiles: one JSON file per profile under {@code <dataDir>/profiles/}, plus
 * {@code <dataDir>/store.json} naming the format version.
 *
 * <p>Every write replaces a whole file atomically and is on disk when its method returns, so a
 * crash or a kill at any moment leaves each profile at its previous or its new value. Reads are
 * served from memory. One process at a time: {@link #open} takes a lock on the data directory,
 * which {@link #close} (or the process's end) releases.
 *
 * <p>A profile gets its {@code instanceId} ({@code urn:uuid:}) and {@code regId} when first
 * stored; replacing it keeps them, since the registrar matches bindings on them.
 */
public final class ProfileStore implements Closeable {

  /** The version of {@code store.json} and of each profile file this code reads and writes. */
  public static final int FORMAT_VERSION = 1;
  /** The component added since format 1 began, optional in files: absent reads as null. */
  private static final String ADDED_LATER = "tlsClientCertificate";

  static final String STORE_FILE = "store.json";
  static final String LOCK_FILE = "store.lock";
  static final String PROFILES_DIR = "profiles";
  static final String PROFILE_SUFFIX = ".json";

  private static final Logger log = LoggerFactory.getLogger(ProfileStore.class);

  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(SerializationFeature.INDENT_OUTPUT)
      .enable(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES)
      .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  private final Path profilesDir;
  private final DurableFiles files;
  private final FileChannel lockChannel;
  private final NavigableMap<String, SipProfile> profiles = new ConcurrentSkipListMap<>();
  // Writes are rare (user edits, seeds): one at a time keeps memory and disk in step simply.
  private final Object writeLock = new Object();
  private volatile boolean closed;
  private volatile Runnable beforeWrite = () -> { };
  /** Hear how long each durable write (or delete) of profile files took, in nanoseconds. */
  private final java.util.List<java.util.function.LongConsumer> writeObservers =
      new java.util.concurrent.CopyOnWriteArrayList<>();

  private ProfileStore(Path profilesDir, DurableFiles files, FileChannel lockChannel) {
    this.profilesDir = profilesDir;
    this.files = files;
    this.lockChannel = lockChannel;
  }

  /**
   * Opens the store in {@code dataDir}, creating it (owner-only) when absent, and loads every
   * profile. Leftover temp files of interrupted writes are deleted.
   *
   * @throws ProfileStoreException naming the file when a file is corrupt, invalid or of an
   *     unknown format version, when another process has the store open, or on I/O failure
   */
  public static ProfileStore open(Path dataDir) {
    DurableFiles files = new DurableFiles(dataDir);
    Path profilesDir = dataDir.resolve(PROFILES_DIR);
    FileChannel lockChannel = lock(dataDir, files);
    try {
      checkStoreFile(dataDir.resolve(STORE_FILE), files);
      try {
        files.createDirectories(profilesDir);
      } catch (IOException e) {
        throw new ProfileStoreException(profilesDir,
            "cannot create the directory: " + IoReasons.of(e), e);
      }
      warnIfOpenToOthers(dataDir);
      warnIfOpenToOthers(profilesDir);
      ProfileStore store = new ProfileStore(profilesDir, files, lockChannel);
      store.loadAll();
      log.info("Opened profile store {} with {} profiles", dataDir, store.profiles.size());
      return store;
    } catch (RuntimeException e) {
      closeQuietly(lockChannel);
      throw e;
    }
  }

  /** Every profile, sorted by id. */
  public List<SipProfile> list() {
    ensureOpen();
    return List.copyOf(profiles.values());
  }

  public Optional<SipProfile> get(String id) {
    Objects.requireNonNull(id, "id");
    ensureOpen();
    return Optional.ofNullable(profiles.get(id));
  }

  /**
   * Stores a new profile; returns it as stored, with its instance id.
   *
   * @throws ProfileConflictException when a profile with that id exists
   * @throws ProfileValidationException when the profile breaks a rule of {@link ProfileValidator}
   */
  public SipProfile create(SipProfile profile) {
    synchronized (writeLock) {
      ensureOpen();
      if (profiles.containsKey(profile.id())) {
        throw new ProfileConflictException(profile.id());
      }
      return write(withNewInstance(profile));
    }
  }

  /**
   * Stores new profiles in one batch write, much faster than {@link #create} one by one (each
   * file is still replaced atomically and on disk when this returns); returns them as stored,
   * with their instance ids, in the order given. The whole batch is checked first, in order, as
   * {@link #create} checks one profile (id conflict, then rules); if one fails, none is stored.
   *
   * <p>The batch is not atomic on disk: a crash midway can leave some of its profiles stored
   * and the others not, each one whole.
   *
   * @throws ProfileConflictException naming the first id that the store holds or that the
   *     batch repeats
   * @throws ProfileValidationException naming the first profile that breaks a rule of {@link
   *     ProfileValidator}, and the field
   */
  public List<SipProfile> createAll(List<SipProfile> batch) {
    synchronized (writeLock) {
      ensureOpen();
      Map<String, SipProfile> news = new LinkedHashMap<>();
      for (SipProfile profile : batch) {
        if (profiles.containsKey(profile.id()) || news.containsKey(profile.id())) {
          throw new ProfileConflictException(profile.id());
        }
        news.put(profile.id(), ProfileValidator.validate(withNewInstance(profile)));
      }
      writeNew(news.values());
      return List.copyOf(news.values());
    }
  }

  /**
   * Creates or replaces a profile; returns it as stored. A replaced profile keeps its stored
   * {@code instanceId} and {@code regId}, whatever {@code profile} carries.
   *
   * @throws ProfileValidationException when the profile breaks a rule of {@link ProfileValidator}
   */
  public SipProfile save(SipProfile profile) {
    synchronized (writeLock) {
      ensureOpen();
      SipProfile stored = profiles.get(profile.id());
      return write(stored == null
          ? withNewInstance(profile)
          : profile.withInstance(stored.instanceId(), stored.regId()));
    }
  }

  /**
   * Replaces a profile the store holds; returns it as stored, with its stored {@code
   * instanceId} and {@code regId}. Never creates: a change racing a delete must not bring the
   * profile back with a new instance id.
   *
   * @throws java.util.NoSuchElementException when the store holds no profile with that id
   *     (never had one, or it was destroyed meanwhile)
   * @throws ProfileValidationException when the profile breaks a rule of {@link ProfileValidator}
   */
  public SipProfile update(SipProfile profile) {
    synchronized (writeLock) {
      ensureOpen();
      SipProfile stored = profiles.get(profile.id());
      if (stored == null) {
        throw new java.util.NoSuchElementException("no profile with id \"" + profile.id()
            + "\"");
      }
      return write(profile.withInstance(stored.instanceId(), stored.regId()));
    }
  }

  /** Deletes a profile; false when there was none with that id. */
  public boolean destroy(String id) {
    Objects.requireNonNull(id, "id");
    synchronized (writeLock) {
      ensureOpen();
      if (!profiles.containsKey(id)) {
        return false;
      }
      beforeWrite.run();
      Path file = fileOf(id);
      long began = System.nanoTime();
      try {
        files.delete(file);
      } catch (IOException e) {
        throw new ProfileStoreException(file,
            "cannot delete the profile file: " + IoReasons.of(e), e);
      } finally {
        wrote(began);
      }
      profiles.remove(id);
      log.info("Destroyed profile {}", id);
      return true;
    }
  }

  /**
   * Stores each seed whose id the store does not hold; returns how many. The store is the
   * truth: a seed never overwrites a profile, even one the user changed or created.
   *
   * @throws ProfileValidationException when a seed to import is invalid; then none is imported
   */
  public int importSeeds(List<SipProfile> seeds) {
    synchronized (writeLock) {
      ensureOpen();
      Map<String, SipProfile> absent = new LinkedHashMap<>();
      for (SipProfile seed : seeds) {
        if (!profiles.containsKey(seed.id())) {
          absent.putIfAbsent(seed.id(), ProfileValidator.validate(withNewInstance(seed)));
        }
      }
      writeNew(absent.values());
      if (!absent.isEmpty()) {
        log.info("Imported {} of {} seed profiles", absent.size(), seeds.size());
      }
      return absent.size();
    }
  }

  /** Releases the data directory for another process; the store cannot be used afterwards. */
  @Override
  public void close() {
    synchronized (writeLock) {
      closed = true;
      closeQuietly(lockChannel);
    }
  }

  /** False once {@link #close closed}: then nothing can be read or written. */
  public boolean isOpen() {
    return !closed;
  }

  /**
   * {@code nanos} hears how long each durable write of profile files took (a file replaced
   * with fsync, a batch, or a delete), failed ones included, on the writing thread: for the
   * metrics ({@code sipalr_store_write_seconds}). Must return quickly.
   */
  public void addWriteObserver(java.util.function.LongConsumer nanos) {
    writeObservers.add(Objects.requireNonNull(nanos, "nanos"));
  }

  public void removeWriteObserver(java.util.function.LongConsumer nanos) {
    writeObservers.remove(nanos);
  }

  private void wrote(long beganNanos) {
    if (writeObservers.isEmpty()) {
      return;
    }
    long took = System.nanoTime() - beganNanos;
    for (java.util.function.LongConsumer o : writeObservers) {
      try {
        o.accept(took);
      } catch (RuntimeException e) {
        log.warn("store write observer failed", e);
      }
    }
  }

  /**
   * For tests: {@code hook} runs before every write and delete of profile files, under the
   * write lock, as a disk that stalls in fsync would. Not for production use.
   */
  public void beforeEachWrite(Runnable hook) {
    beforeWrite = Objects.requireNonNull(hook, "hook");
  }

  private SipProfile write(SipProfile profile) {
    beforeWrite.run();
    ProfileValidator.validate(profile);
    Path file = fileOf(profile.id());
    byte[] json = json(profile, file);
    long began = System.nanoTime();
    try {
      files.replace(file, json);
    } catch (IOException e) {
      throw new ProfileStoreException(file, "cannot write the profile file: " + IoReasons.of(e), e);
    } finally {
      wrote(began);
    }
    profiles.put(profile.id(), profile);
    log.debug("Stored profile {}", profile.id());
    return profile;
  }

  /**
   * Writes validated profiles whose ids the store does not hold, in one batch. On failure none
   * of them is in memory, and their files are removed again as far as possible.
   */
  private void writeNew(Collection<SipProfile> news) {
    if (news.isEmpty()) {
      return;
    }
    beforeWrite.run();
    Map<Path, byte[]> contents = new LinkedHashMap<>();
    for (SipProfile profile : news) {
      Path file = fileOf(profile.id());
      contents.put(file, json(profile, file));
    }
    long began = System.nanoTime();
    try {
      files.replaceAll(contents);
      wrote(began);
    } catch (IOException e) {
      wrote(began);
      // Some renames may have landed. The ids were absent, so every file of the batch that
      // exists now is new: deleting it undoes the batch.
      List<Path> left = new ArrayList<>();
      for (Path file : contents.keySet()) {
        try {
          if (Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            files.delete(file);
          }
        } catch (IOException again) {
          left.add(file);
        }
      }
      String problem = "cannot write a batch of " + news.size() + " profile files, so none is"
          + " stored";
      if (!left.isEmpty()) {
        problem += ", but " + left.size() + " of them could not be removed again and will be"
            + " loaded when the store is next opened";
        log.warn("Profile files written by a failed batch and not removed: {}", left);
      }
      Path at = e instanceof FileSystemException failed && failed.getFile() != null
          ? Path.of(failed.getFile()) : profilesDir;
      throw new ProfileStoreException(at, problem, e);
    }
    for (SipProfile profile : news) {
      profiles.put(profile.id(), profile);
    }
    log.debug("Stored {} profiles", news.size());
  }

  /** The contents of {@code profile}'s file {@code file}. */
  private static byte[] json(SipProfile profile, Path file) {
    try {
      return JSON.writeValueAsBytes(ProfileDocument.of(profile));
    } catch (IOException e) {
      throw new ProfileStoreException(file, "cannot write the profile file: " + IoReasons.of(e), e);
    }
  }

  private static SipProfile withNewInstance(SipProfile profile) {
    if (profile.instanceId() != null) {
      // Brought along, e.g. from another device: the registrar already knows it.
      return profile.withInstance(profile.instanceId(), Math.max(1, profile.regId()));
    }
    return profile.withInstance("urn:uuid:" + UUID.randomUUID(), 1);
  }

  /** The file that holds (or would hold) profile {@code id}. */
  public Path fileOf(String id) {
    if (!ProfileValidator.ID.matcher(id).matches()) {
      // Checked before a path is built from it: "../x" must never reach the filesystem.
      throw new ProfileValidationException(id, "id", "is not a valid profile id");
    }
    return profilesDir.resolve(id + PROFILE_SUFFIX);
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("the profile store is closed");
    }
  }

  private void loadAll() {
    List<Path> leftovers = new ArrayList<>();
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(profilesDir)) {
      for (Path entry : entries) {
        String name = entry.getFileName().toString();
        if (name.endsWith(DurableFiles.TEMP_SUFFIX)) {
          leftovers.add(entry);
        } else if (name.endsWith(PROFILE_SUFFIX) && Files.isRegularFile(entry)) {
          SipProfile profile = load(entry);
          profiles.put(profile.id(), profile);
        } else {
          log.warn("Ignoring {}: not a profile file", entry);
        }
      }
    } catch (IOException e) {
      throw new ProfileStoreException(profilesDir,
          "cannot list the profile files: " + IoReasons.of(e), e);
    }
    for (Path leftover : leftovers) {
      try {
        // An interrupted write: its profile file still holds the value before that write.
        files.delete(leftover);
        log.info("Deleted {}, left over from an interrupted write", leftover);
      } catch (IOException e) {
        throw new ProfileStoreException(leftover,
            "cannot delete this leftover temp file: " + IoReasons.of(e), e);
      }
    }
  }

  private static SipProfile load(Path file) {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new ProfileStoreException(file, "cannot read the profile file: " + IoReasons.of(e), e);
    }
    com.fasterxml.jackson.databind.JsonNode tree = readTree(file, bytes);
    checkFormatVersion(file, tree);
    if (tree instanceof com.fasterxml.jackson.databind.node.ObjectNode o
        && !o.has(ADDED_LATER)) {
      o.putNull(ADDED_LATER); // written before profiles had it: none
    }
    ProfileDocument document;
    try {
      document = JSON.treeToValue(tree, ProfileDocument.class);
    } catch (IOException e) {
      throw corrupt(file, e);
    }
    SipProfile profile = document.toProfile();
    String expectedId = file.getFileName().toString();
    expectedId = expectedId.substring(0, expectedId.length() - PROFILE_SUFFIX.length());
    if (!expectedId.equals(profile.id())) {
      throw new ProfileStoreException(file, "holds profile "
          + ProfileValidationException.quote(profile.id()) + ", not the one its name says");
    }
    try {
      ProfileValidator.validate(profile);
    } catch (ProfileValidationException e) {
      throw new ProfileStoreException(file, "invalid profile: " + e.getMessage(), e);
    }
    if (profile.instanceId() == null) {
      throw new ProfileStoreException(file,
          "invalid profile: instanceId is null, but a stored profile always has one");
    }
    return profile;
  }

  private static void checkStoreFile(Path storeFile, DurableFiles files) {
    if (Files.exists(storeFile)) {
      byte[] bytes;
      try {
        bytes = Files.readAllBytes(storeFile);
      } catch (IOException e) {
        throw new ProfileStoreException(storeFile,
            "cannot read the store file: " + IoReasons.of(e), e);
      }
      JsonNode root = readTree(storeFile, bytes);
      checkFormatVersion(storeFile, root);
      Set<String> unknown = new TreeSet<>();
      root.fieldNames().forEachRemaining(unknown::add);
      unknown.remove("formatVersion");
      if (!unknown.isEmpty()) {
        throw new ProfileStoreException(storeFile, "unknown fields " + unknown);
      }
      return;
    }
    try {
      files.replace(storeFile, JSON.writeValueAsBytes(Map.of("formatVersion", FORMAT_VERSION)));
    } catch (IOException e) {
      throw new ProfileStoreException(storeFile,
          "cannot write the store file: " + IoReasons.of(e), e);
    }
  }

  private static JsonNode readTree(Path file, byte[] bytes) {
    try {
      JsonNode root = JSON.readTree(bytes);
      if (root == null || !root.isObject()) {
        throw new ProfileStoreException(file, "corrupt: not a JSON object");
      }
      return root;
    } catch (IOException e) {
      throw corrupt(file, e);
    }
  }

  private static void checkFormatVersion(Path file, JsonNode root) {
    JsonNode version = root.get("formatVersion");
    if (version == null || !version.isIntegralNumber() || !version.canConvertToLong()) {
      throw new ProfileStoreException(file, "corrupt: no integer formatVersion");
    }
    if (version.asLong() != FORMAT_VERSION) {
      throw new ProfileStoreException(file, "has format version " + version.asLong()
          + ", but this agent reads only version " + FORMAT_VERSION
          + (version.asLong() > FORMAT_VERSION ? " (written by a newer agent?)" : ""));
    }
  }

  /**
   * Names the file, the place and the field, but not Jackson's message, which can quote the
   * file's text, and so a password.
   */
  private static ProfileStoreException corrupt(Path file, IOException e) {
    StringBuilder problem = new StringBuilder("corrupt");
    if (e instanceof UnrecognizedPropertyException unknown) {
      problem.append(": unknown field \"").append(unknown.getPropertyName()).append('"');
    } else if (e instanceof JsonMappingException mapping && !mapping.getPath().isEmpty()) {
      String field = mapping.getPath().stream()
          .map(JsonMappingException.Reference::getFieldName)
          .filter(Objects::nonNull)
          .collect(Collectors.joining("."));
      problem.append(": field \"").append(field).append("\" is missing or has the wrong type");
    } else if (e instanceof JsonProcessingException) {
      problem.append(": not valid JSON");
    } else {
      return new ProfileStoreException(file, "cannot read the file: " + IoReasons.of(e), e);
    }
    if (e instanceof JsonProcessingException processing) {
      JsonLocation at = processing.getLocation();
      if (at != null && at.getLineNr() > 0) {
        problem.append(" (line ").append(at.getLineNr()).append(", column ")
            .append(at.getColumnNr()).append(')');
      }
    }
    return new ProfileStoreException(file, problem.toString());
  }

  private static FileChannel lock(Path dataDir, DurableFiles files) {
    Path lockFile = dataDir.resolve(LOCK_FILE);
    try {
      files.createDirectories(dataDir);
      files.createFileIfAbsent(lockFile);
    } catch (IOException e) {
      throw new ProfileStoreException(dataDir,
          "cannot create the data directory: " + IoReasons.of(e), e);
    }
    FileChannel channel = null;
    try {
      channel = FileChannel.open(lockFile, StandardOpenOption.WRITE);
      FileLock lock = channel.tryLock();
      if (lock == null) {
        throw new ProfileStoreException(lockFile, "another process has this profile store open");
      }
      return channel;
    } catch (OverlappingFileLockException e) {
      closeQuietly(channel);
      throw new ProfileStoreException(lockFile, "this profile store is already open in this process");
    } catch (IOException e) {
      closeQuietly(channel);
      throw new ProfileStoreException(lockFile, "cannot lock the profile store: " + IoReasons.of(e),
          e);
    } catch (RuntimeException e) {
      closeQuietly(channel);
      throw e;
    }
  }

  private static void warnIfOpenToOthers(Path dir) {
    try {
      Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(dir);
      if (permissions.stream().anyMatch(p -> !p.name().startsWith("OWNER_"))) {
        log.warn("{} is accessible to users other than its owner; the profile files in it are not",
            dir);
      }
    } catch (UnsupportedOperationException | IOException e) {
      // Not a POSIX filesystem: nothing to check.
    }
  }

  private static void closeQuietly(FileChannel channel) {
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException e) {
        // Closing releases the lock; the process's end would too.
      }
    }
  }
}
