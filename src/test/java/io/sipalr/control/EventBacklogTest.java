package io.sipalr.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.control.EventBacklog.Dropped;
import io.sipalr.control.EventBacklog.Event;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class EventBacklogTest {

  private static List<EventBacklog.Entry> drain(EventBacklog backlog) {
    List<EventBacklog.Entry> out = new ArrayList<>();
    for (EventBacklog.Entry e = backlog.poll(); e != null; e = backlog.poll()) {
      out.add(e);
    }
    return out;
  }

  @Test
  void keepsOrderWhileThereIsRoom() {
    EventBacklog backlog = new EventBacklog(3);
    assertTrue(backlog.offer("a"));
    assertTrue(backlog.offer("b"));
    assertEquals(List.of(new Event("a"), new Event("b")), drain(backlog));
    assertNull(backlog.poll());
  }

  @Test
  void whenFullDropsAndTellsOnceDrained() {
    EventBacklog backlog = new EventBacklog(2);
    backlog.offer("a");
    backlog.offer("b");
    assertFalse(backlog.offer("c"));
    assertFalse(backlog.offer("d"));
    assertEquals(2, backlog.size());
    assertEquals(List.of(new Event("a"), new Event("b"), new Dropped(2)), drain(backlog));
  }

  @Test
  void theNoticeStandsWhereTheGapIs() {
    EventBacklog backlog = new EventBacklog(1);
    backlog.offer("a");
    backlog.offer("lost");
    assertEquals(new Event("a"), backlog.poll());
    backlog.offer("b"); // room again: the notice goes before it, and does not count
    backlog.offer("lost too");
    assertEquals(List.of(new Dropped(1), new Event("b"), new Dropped(1)), drain(backlog));
  }
}
