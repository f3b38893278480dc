package io.sipalr.control;

import java.util.ArrayDeque;

/**
 * The events waiting for one slow event-stream reader, at most {@code capacity}. When full,
 * new events are dropped and counted; the reader then gets one notice with the count, placed
 * where the gap is: before the next event that fits, or at the end once it has read
 * everything. So memory stays bounded (at most one notice between two events) and the reader
 * always learns what it missed, and where.
 */
final class EventBacklog {

  /** What to send next: an event, or a notice that {@code count} events were dropped here. */
  sealed interface Entry permits Event, Dropped {}

  record Event(String json) implements Entry {}

  record Dropped(long count) implements Entry {}

  private final int capacity;
  private final ArrayDeque<Entry> queue = new ArrayDeque<>();
  private int events;
  private long droppedSinceNotice;

  EventBacklog(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be at least 1");
    }
    this.capacity = capacity;
  }

  /** Queues an event; false when the backlog is full and the event was dropped. */
  synchronized boolean offer(String json) {
    if (events >= capacity) {
      droppedSinceNotice++;
      return false;
    }
    if (droppedSinceNotice > 0) {
      queue.add(new Dropped(droppedSinceNotice));
      droppedSinceNotice = 0;
    }
    queue.add(new Event(json));
    events++;
    return true;
  }

  /** The next entry to send, or {@code null} when nothing waits. */
  synchronized Entry poll() {
    Entry next = queue.poll();
    if (next == null && droppedSinceNotice > 0) {
      next = new Dropped(droppedSinceNotice);
      droppedSinceNotice = 0;
    } else if (next instanceof Event) {
      events--;
    }
    return next;
  }

  synchronized int size() {
    return events;
  }
}
