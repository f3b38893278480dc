package io.sipalr.alr;

import io.sipalr.profile.SipProfile;
import io.sipalr.sip.MigrationOrder;
import io.sipalr.sip.MigrationOutcome;
import io.sipalr.sip.ProfileMoves;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.RegistryListener;
import io.sipalr.sip.SipProfileRegistry;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import javax.sip.SipException;

/**
 * What ALR uses of the profile registry: {@link SipProfileRegistry} in the agent (see {@link
 * #of}), a fake in the unit tests, so that a session's flow runs without a SIP stack.
 *
 * <p>A profile can go at any moment (destroyed through the API while its move waits): the
 * queries answer empty for it, and the commands throw {@link java.util.NoSuchElementException}.
 */
interface AlrProfiles {

  void addListener(RegistryListener listener);

  List<SipProfile> profiles();

  Optional<SipProfile> profile(String id);

  /** The profile's status; empty when it is gone (destroyed, or being destroyed). */
  Optional<ProfileStatus> statusIfPresent(String id);

  /** The local address it registers from now; empty when none, or when it is gone. */
  Optional<String> localAddressOf(String id);

  CompletableFuture<Void> disable(String id);

  void enable(String id);

  /** See {@link ProfileMoves#rebind}. */
  CompletableFuture<Void> rebind(String id, String address) throws SipException;

  /** See {@link ProfileMoves#migrate}. */
  CompletableFuture<MigrationOutcome> migrate(String id, String address, MigrationOrder order,
      Runnable registerSent);

  /**
   * The registry itself, with its moves, which this claims ({@link
   * SipProfileRegistry#claimMoves()}): once per registry.
   */
  static AlrProfiles of(SipProfileRegistry registry) {
    ProfileMoves moves = registry.claimMoves();
    return new AlrProfiles() {
      @Override
      public void addListener(RegistryListener listener) {
        registry.addListener(listener);
      }

      @Override
      public List<SipProfile> profiles() {
        return registry.profiles();
      }

      @Override
      public Optional<SipProfile> profile(String id) {
        return registry.profile(id);
      }

      @Override
      public Optional<ProfileStatus> statusIfPresent(String id) {
        return registry.statusIfPresent(id);
      }

      @Override
      public Optional<String> localAddressOf(String id) {
        return registry.localAddressOf(id);
      }

      @Override
      public CompletableFuture<Void> disable(String id) {
        return registry.disable(id);
      }

      @Override
      public void enable(String id) {
        registry.enable(id);
      }

      @Override
      public CompletableFuture<Void> rebind(String id, String address) throws SipException {
        return moves.rebind(id, address);
      }

      @Override
      public CompletableFuture<MigrationOutcome> migrate(String id, String address,
          MigrationOrder order, Runnable registerSent) {
        return moves.migrate(id, address, order, registerSent);
      }
    };
  }
}
