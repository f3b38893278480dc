package io.sipalr.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.alr.AlrEvent;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.RegistryEvent;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class DemoTimelineTest {

  @Test
  void arrowsReachTheRegistrarsColumnWhateverTheirText() {
    DemoTimeline.Entry request = new DemoTimeline.Entry(0, DemoTimeline.Kind.REQUEST, "REGISTER",
        "X", 0);
    DemoTimeline.Entry answer = new DemoTimeline.Entry(0, DemoTimeline.Kind.ANSWER,
        "200 OK: REGISTERED from 127.0.0.3", "X", 0);
    String r = DemoTimeline.line(request);
    String a = DemoTimeline.line(answer);
    assertEquals(r.length(), a.length());
    assertTrue(r.startsWith("|-- REGISTER -") && r.endsWith("->|"), r);
    assertTrue(a.startsWith("|<-") && a.endsWith(" 200 OK: REGISTERED from 127.0.0.3 --|"), a);
  }

  @Test
  void aStepShowsItsOwnEntriesInOrderAndCanWaitForThem() throws Exception {
    DemoTimeline t = new DemoTimeline(iap -> iap == 1 ? "wlan" : "cellular");
    t.action("before");
    int mark = t.mark();
    t.action("wlan up");
    t.alrEvent(AlrEvent.MIGRATION_STARTED, 1);
    t.registry(new RegistryEvent(RegistryEvent.Type.DEREGISTERED, "p",
        ProfileStatus.REGISTRATION_IN_PROGRESS, null, Instant.now()), "127.0.0.3");
    assertTrue(t.seenSince(mark, "MIGRATION_STARTED", 1));
    assertFalse(t.seenSince(mark, "MIGRATION_STARTED", 2));
    assertTrue(t.await(() -> t.seenSince(mark, "DEREGISTERED", 0), Duration.ofSeconds(1)));

    List<String> lines = t.render(mark, "registrar").lines().toList();
    assertEquals(4, lines.size(), String.join("\n", lines));
    assertTrue(lines.get(0).matches(" +ms  agent +registrar"), lines.get(0));
    assertTrue(lines.get(1).matches(" +\\d+  \\* wlan up"), lines.get(1));
    assertTrue(lines.get(2).contains("|-- REGISTER from wlan: MIGRATION_STARTED -"),
        lines.get(2));
    assertTrue(lines.get(3).contains("| DEREGISTERED: the registration is lost"), lines.get(3));
  }

  @Test
  void callEventsAreTheAnswersToTheInviteAndReInviteAndCanBeWaitedFor() throws Exception {
    DemoTimeline t = new DemoTimeline(iap -> "IAP " + iap);
    int mark = t.mark();
    t.call(new io.sipalr.calls.CallEvent(io.sipalr.calls.CallEvent.Type.CALL_ESTABLISHED, "c1",
        "demo", "sip:buddy@x", "127.0.0.2", null, Instant.now()));
    t.call(new io.sipalr.calls.CallEvent(io.sipalr.calls.CallEvent.Type.CALL_MOVED, "c1",
        "demo", "sip:buddy@x", "127.0.0.3", "moved from 127.0.0.2 to 127.0.0.3", Instant.now()));
    t.call(new io.sipalr.calls.CallEvent(io.sipalr.calls.CallEvent.Type.CALL_ENDED, "c1",
        "demo", "sip:buddy@x", null, "hung up here", Instant.now()));
    assertTrue(t.await(() -> t.seenSince(mark, "CALL_MOVED", 0), Duration.ofSeconds(1)));
    List<String> lines = t.render(mark, "registrar").lines().toList();
    assertTrue(lines.get(1).contains("200 OK to the INVITE: CALL_ESTABLISHED on 127.0.0.2 --|"),
        lines.get(1));
    assertTrue(lines.get(2).contains("200 OK to the re-INVITE: CALL_MOVED to 127.0.0.3 --|"),
        lines.get(2));
    assertTrue(lines.get(3).contains("| CALL_ENDED: hung up here"), lines.get(3));
  }
}
