package io.sipalr.sip;

import java.util.concurrent.CompletableFuture;
import javax.sip.SipException;

/**
 * The two commands that move a profile's binding from one local address to another: SIP ALR's
 * alone, so they are not methods of {@link SipProfileRegistry}. The registry hands them out once
 * ({@link SipProfileRegistry#claimMoves()}); the SIP ALR built over a registry claims them, so
 * that nothing else moves the bindings it keeps.
 */
public interface ProfileMoves {

  /**
   * Moves a profile's registration to the local address {@code address} (an IAP's), in
   * {@code order}; {@code registerSent} runs when the REGISTER through it is sent. A profile that
   * is not registered just follows. Completes with how it ended; never exceptionally.
   *
   * @throws java.util.NoSuchElementException when the profile is gone
   */
  CompletableFuture<MigrationOutcome> migrate(String id, String address, MigrationOrder order,
      Runnable registerSent);

  /**
   * Registers a profile through {@code address} at once, without asking anyone, or makes it
   * wait when {@code address} is {@code null}: its network was lost or changed (rules 7, 8, 15),
   * or it gets its first one. Fails only when the address cannot be bound. The stage completes
   * when the REGISTER exchange this starts is over (answered for good, failed or abandoned), at
   * once when none starts.
   *
   * @throws java.util.NoSuchElementException when the profile is gone
   */
  CompletableFuture<Void> rebind(String id, String address) throws SipException;
}
