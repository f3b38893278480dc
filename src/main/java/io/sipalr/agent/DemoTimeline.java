package io.sipalr.agent;

import io.sipalr.alr.AlrError;
import io.sipalr.alr.AlrEvent;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.RegistryEvent;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.IntFunction;

/**
 * What the demo saw, in order: its own actions, and the registry and ALR events of its profile,
 * each with the time it was seen. A step marks where it begins, waits here for what it expects,
 * and prints its part as a sequence diagram between the agent and the registrar, with times in
 * ms from the step's start. The arrows are what the events imply: REGISTERED and
 * MIGRATION_COMPLETED follow a 200 OK, MIGRATION_STARTED a REGISTER sent through the new IAP.
 */
final class DemoTimeline {
  private static final int LANE = 64;

  /** Where an entry is drawn. */
  enum Kind {
    /** Something the demo did (a network change, a controller's decision). */
    ACTION,
    /** An event inside the agent. */
    NOTE,
    /** A request from the agent to the registrar. */
    REQUEST,
    /** The registrar's answer. */
    ANSWER
  }

  /** One thing seen; {@code event} and {@code iapId} are for waiting (iapId 0: none). */
  record Entry(long nanos, Kind kind, String text, String event, int iapId) {}

  private final IntFunction<String> iapNames;
  private final List<Entry> entries = new ArrayList<>();

  /** @param iapNames how an IAP id reads in the diagram, e.g. "wlan 127.0.0.2" */
  DemoTimeline(IntFunction<String> iapNames) {
    this.iapNames = iapNames;
  }

  /** Where a step begins: pass it to {@link #render} and {@link #seenSince}. */
  synchronized int mark() {
    add(Kind.ACTION, "", "MARK", 0);
    return entries.size() - 1;
  }

  synchronized void action(String text) {
    add(Kind.ACTION, text, "ACTION", 0);
  }

  /** A registry event of the profile; {@code localAddress} is where it registers from now. */
  synchronized void registry(RegistryEvent event, String localAddress) {
    switch (event.type()) {
      case REGISTERED -> add(Kind.ANSWER, "200 OK: REGISTERED from " + localAddress,
          "REGISTERED", 0);
      // Leaving REGISTERED: by a REGISTER with expires=0 (stop), or because it was lost.
      case DEREGISTERED -> {
        if (event.status() == ProfileStatus.UNREGISTRATION_IN_PROGRESS) {
          add(Kind.REQUEST, "REGISTER expires=0 from " + localAddress + ": DEREGISTERED",
              "DEREGISTERED", 0);
        } else {
          add(Kind.NOTE, "DEREGISTERED: the registration is lost (" + event.status() + ")",
              "DEREGISTERED", 0);
        }
      }
      case REGISTRATION_FAILED -> add(Kind.NOTE, "REGISTRATION_FAILED: " + event.error(),
          "REGISTRATION_FAILED", 0);
      default -> add(Kind.NOTE, event.type().toString(), event.type().toString(), 0);
    }
  }

  synchronized void alrEvent(AlrEvent event, int iapId) {
    String iap = iapNames.apply(iapId);
    switch (event) {
      case IAP_AVAILABLE -> add(Kind.NOTE, "IAP_AVAILABLE: " + iap + " is better; controllers vote",
          event.name(), iapId);
      case MIGRATION_STARTED -> add(Kind.REQUEST, "REGISTER from " + iap + ": MIGRATION_STARTED",
          event.name(), iapId);
      case MIGRATION_COMPLETED -> add(Kind.ANSWER, "200 OK: MIGRATION_COMPLETED on " + iap,
          event.name(), iapId);
    }
  }

  synchronized void alrError(AlrError error, int iapId) {
    add(Kind.NOTE, error + " for " + iapNames.apply(iapId) + ": stays where it is",
        error.kind().name(), iapId);
  }

  /** A call event of the profile: what the agent's INVITE, re-INVITE or BYE came to. */
  synchronized void call(io.sipalr.calls.CallEvent e) {
    switch (e.type()) {
      case CALL_ESTABLISHED -> add(Kind.ANSWER, "200 OK to the INVITE: CALL_ESTABLISHED on "
          + e.localAddress(), e.type().name(), 0);
      case CALL_MOVED -> add(Kind.ANSWER, "200 OK to the re-INVITE: CALL_MOVED to "
          + e.localAddress(), e.type().name(), 0);
      case CALL_ENDED -> add(Kind.NOTE, "CALL_ENDED: " + e.reason(), e.type().name(), 0);
      default -> add(Kind.NOTE, e.type().name(), e.type().name(), 0);
    }
  }

  /** Whether {@code event} (on {@code iapId}, unless 0) was seen after {@code mark}. */
  synchronized boolean seenSince(int mark, String event, int iapId) {
    return entries.subList(mark, entries.size()).stream().anyMatch(
        e -> e.event().equals(event) && (iapId == 0 || e.iapId() == iapId));
  }

  /**
   * Waits until {@code condition} holds, looking again whenever something is seen; false when
   * it still does not after {@code bound}.
   */
  synchronized boolean await(BooleanSupplier condition, Duration bound)
      throws InterruptedException {
    long deadline = System.nanoTime() + bound.toNanos();
    while (!condition.getAsBoolean()) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return true;
  }

  /** The entries since {@code mark} as a sequence diagram. */
  synchronized String render(int mark, String registrar) {
    long start = entries.get(mark).nanos();
    StringBuilder out = new StringBuilder();
    out.append(String.format("  %6s  %-" + LANE + "s%s%n", "ms", "agent", registrar));
    for (Entry e : entries.subList(mark + 1, entries.size())) {
      long ms = TimeUnit.NANOSECONDS.toMillis(e.nanos() - start);
      out.append(String.format("  %6d  %s%n", ms, line(e)));
    }
    return out.toString();
  }

  static String line(Entry e) {
    String text = " " + e.text() + " ";
    return switch (e.kind()) {
      case ACTION -> "* " + e.text();
      case NOTE -> "| " + e.text();
      case REQUEST -> "|--" + text + "-".repeat(Math.max(2, LANE - 4 - text.length())) + ">|";
      case ANSWER -> "|<" + "-".repeat(Math.max(2, LANE - 4 - text.length())) + text + "--|";
    };
  }

  private void add(Kind kind, String text, String event, int iapId) {
    entries.add(new Entry(System.nanoTime(), kind, text, event, iapId));
    notifyAll();
  }
}
