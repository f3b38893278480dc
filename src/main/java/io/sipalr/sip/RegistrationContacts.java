package io.sipalr.sip;

import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Objects;
import java.util.Set;
import javax.sip.ListeningPoint;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Contacts of one registration: the one it binds, the old ones it asks the registrar to
 * remove (without outbound the registrar keeps them beside the new one), and the public address
 * the registrar saw its REGISTERs come from (a NAT), which becomes the Contact when
 * {@code sip.nat.contact-rewrite} is on. Part of {@link Registration}'s state, used on its
 * executor only: no lock.
 */
final class RegistrationContacts {
  private static final Logger log = LoggerFactory.getLogger(RegistrationContacts.class);

  private final String profileId;
  /** The Contact of the last REGISTER, or {@code null} when nothing is bound or being bound. */
  private String current;
  /**
   * Where the registrar last saw our REGISTERs come from (host:port) when that is not our
   * local address, and the endpoint it was learned on: another uplink is another NAT.
   */
  private String seenAt;
  private SipEngine.Endpoint seenOn;
  private boolean rewrite;
  private final Set<String> stale = new LinkedHashSet<>();
  /** Stale contacts whose removal was asked for again once already: the next time, give up. */
  private final Set<String> staleRetried = new LinkedHashSet<>();

  RegistrationContacts(String profileId) {
    this.profileId = profileId;
  }

  String current() {
    return current;
  }

  /** The contacts the next REGISTER asks the registrar to remove (expires=0). */
  Set<String> stale() {
    return stale;
  }

  /** The public address learned on {@code endpoint}, or {@code null}. */
  String seenAt(SipEngine.Endpoint endpoint) {
    return seenOn == endpoint ? seenAt : null;
  }

  /**
   * The Contact of the REGISTER about to go from {@code endpoint} through {@code lp}: the
   * learned public address when rewriting, else the local one. A binding REGISTER makes the
   * previous Contact stale (unless it is the same); a removal ({@code removing}) removes the
   * current one and leaves the stale ones as they are.
   */
  String next(SipEngine.Endpoint endpoint, ListeningPoint lp, RegisterRequests requests,
      boolean removing) {
    if (seenOn != endpoint) {
      seenAt = null; // learned through another uplink (another NAT): learn again
      rewrite = false;
    }
    String next = rewrite && seenAt != null ? requests.contactUri(seenAt)
        : requests.contactUri(lp);
    if (current != null && !current.equals(next) && !removing) {
      stale.add(current);
    }
    current = next;
    if (!removing) {
      stale.remove(next); // binding it again, not removing it (a move back)
      staleRetried.remove(next);
    }
    return next;
  }

  /**
   * Keeps the stale contacts the registrar still {@code listed} in its 200. One still listed is
   * asked once more; one listed after that the registrar keeps whatever we send, and is left to
   * expire.
   *
   * @return whether a REGISTER should go now to remove some again
   */
  boolean removeStaleOnceMore(Set<String> listed) {
    stale.retainAll(listed);
    staleRetried.retainAll(stale);
    for (Iterator<String> it = stale.iterator(); it.hasNext(); ) {
      String contact = it.next();
      if (staleRetried.remove(contact)) {
        log.warn("{}: the registrar keeps listing {} after two removals; left to expire",
            profileId, contact);
        it.remove();
      }
    }
    staleRetried.addAll(stale);
    return !stale.isEmpty();
  }

  /** Nothing stale any more: removed, or replaced by instance and reg-id (outbound). */
  void clearStale() {
    stale.clear();
    staleRetried.clear();
  }

  /**
   * Learns where the registrar saw a REGISTER from {@code endpoint} come from ({@code seen},
   * from the 200's Via), against our {@code local} host:port.
   *
   * @param rewriteWanted whether a public address seen should become the Contact (contact
   *     rewrite on, and no outbound flow the registrar routes over)
   * @return whether to re-register now with the other Contact (the old one is removed in that
   *     REGISTER: still one binding)
   */
  boolean learn(SipEngine.Endpoint endpoint, String seen, String local, boolean rewriteWanted) {
    String learned = seen == null || seen.equals(local) ? null : seen;
    boolean changed = !Objects.equals(learned, seenAt);
    seenAt = learned;
    seenOn = endpoint;
    boolean rewriteNow = rewriteWanted && learned != null;
    if (rewriteNow == rewrite && !(rewriteNow && changed)) {
      return false;
    }
    rewrite = rewriteNow;
    log.info("{}: the registrar sees us at {}; registering {}", profileId, seen,
        rewriteNow ? "that address as the Contact" : "the local address as the Contact");
    return true;
  }

  /**
   * A NAT ping showed the flow from {@code endpoint} at {@code mapped}: the next REGISTER binds
   * that address (when {@code rewriteWanted}) and removes the old one.
   */
  void rebound(SipEngine.Endpoint endpoint, String mapped, boolean rewriteWanted) {
    if (seenOn == endpoint) {
      seenAt = mapped;
      rewrite = rewriteWanted;
    }
  }

  /** Back to {@code fallback} (a move that failed or was abandoned): the current one is stale. */
  void backTo(String fallback) {
    if (current != null && !current.equals(fallback)) {
      stale.add(current);
    }
    stale.remove(fallback);
    current = fallback;
  }

  /** {@code contact} may be bound at the registrar and is no longer wanted: remove it. */
  void markStale(String contact) {
    stale.add(contact);
  }

  /**
   * Nothing is bound any more: the current contact was {@code removed}, or its removal failed
   * and the next REGISTER asks again.
   */
  void unbound(boolean removed) {
    if (!removed && current != null) {
      stale.add(current);
    }
    current = null;
  }
}
