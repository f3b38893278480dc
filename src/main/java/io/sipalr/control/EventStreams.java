package io.sipalr.control;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.sipalr.alr.AlrError;
import io.sipalr.alr.AlrEvent;
import io.sipalr.alr.AlrObserver;
import io.sipalr.profile.SipProfile;
import io.sipalr.sip.IncomingMessage;
import io.sipalr.sip.MessageListener;
import io.sipalr.sip.RegistryEvent;
import io.sipalr.sip.RegistryListener;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * The readers of {@code GET /v1/events}: every registry event and ALR event or error goes to
 * each as one Server-Sent Event whose data is a JSON object.
 *
 * <p>Events arrive on the registry's and the SNAPs' serial executors, which must never block:
 * each is queued in the reader's {@link EventBacklog} and written by the reader's event loop
 * while its channel is writable. A reader that does not keep up fills its channel's buffer
 * (bounded by the write-buffer water mark), then its backlog; after that its events are
 * dropped, and it is told how many once it has caught up.
 */
final class EventStreams implements RegistryListener, MessageListener, AlrObserver,
    io.sipalr.calls.CallListener {
  private final ObjectMapper json;
  private final int bufferSize;
  private final Function<String, SipProfile> profiles;
  private final Function<String, Integer> currentIap;
  private final Set<Subscriber> subscribers = ConcurrentHashMap.newKeySet();
  private final AtomicLong dropped = new AtomicLong();

  /**
   * @param profiles the stored profile of an id, or null
   * @param currentIap the IAP a profile registers through now, or null
   */
  EventStreams(ObjectMapper json, int bufferSize, Function<String, SipProfile> profiles,
      Function<String, Integer> currentIap) {
    this.json = json;
    this.bufferSize = bufferSize;
    this.profiles = profiles;
    this.currentIap = currentIap;
  }

  /** Streams every event from now on to {@code channel}, until it closes. */
  Subscriber subscribe(Channel channel) {
    Subscriber s = new Subscriber(channel);
    subscribers.add(s);
    channel.closeFuture().addListener(f -> subscribers.remove(s));
    return s;
  }

  int subscriberCount() {
    return subscribers.size();
  }

  /** Events dropped for slow readers since the start, all readers together. */
  long droppedCount() {
    return dropped.get();
  }

  // ------------------------------------------------------------ the sources

  @Override
  public void onEvent(RegistryEvent event) {
    if (subscribers.isEmpty()) {
      return;
    }
    SipProfile profile = profiles.apply(event.profileId());
    ObjectNode o = json.createObjectNode();
    o.put("source", "registry");
    o.put("type", event.type().name());
    o.put("profile", event.profileId());
    o.put("snap", profile == null ? null : profile.snapId());
    o.put("iap", currentIap.apply(event.profileId()));
    o.put("status", event.status() == null ? null : event.status().name());
    o.put("error", event.error() == null ? null : event.error().toString());
    o.put("time", event.time().toString());
    publish(o);
  }

  /** A MESSAGE that reached a profile (RFC 3428), with its body (bounded by the SIP layer). */
  @Override
  public void onMessage(IncomingMessage message) {
    if (subscribers.isEmpty()) {
      return;
    }
    ObjectNode o = json.createObjectNode();
    o.put("source", "sip");
    o.put("type", "MESSAGE_RECEIVED");
    o.put("profile", message.profileId());
    o.put("from", message.from());
    o.put("contentType", message.contentType());
    o.put("body", message.body());
    o.put("time", message.time().toString());
    publish(o);
  }

  /** A call ringing, established, moved or ended (docs/calls.md). */
  @Override
  public void onCallEvent(io.sipalr.calls.CallEvent event) {
    if (subscribers.isEmpty()) {
      return;
    }
    ObjectNode o = json.createObjectNode();
    o.put("source", "calls");
    o.put("type", event.type().name());
    o.put("call", event.callId());
    o.put("profile", event.profileId());
    o.put("peer", event.peer());
    o.put("localAddress", event.localAddress());
    o.put("reason", event.reason());
    o.put("time", event.time().toString());
    publish(o);
  }

  @Override
  public void alrEvent(AlrEvent event, String profileId, int snapId, int iapId) {
    publish(alr(event.name(), profileId, snapId, iapId, null));
  }

  /** With the calls the move touches: {@code calls} (how many) and {@code callIds}. */
  @Override
  public void alrEvent(AlrEvent event, String profileId, int snapId, int iapId,
      io.sipalr.alr.MigrationCalls calls) {
    if (subscribers.isEmpty()) {
      return;
    }
    publish(alrWithCalls(event, profileId, snapId, iapId, calls));
  }

  ObjectNode alrWithCalls(AlrEvent event, String profileId, int snapId, int iapId,
      io.sipalr.alr.MigrationCalls calls) {
    ObjectNode o = alr(event.name(), profileId, snapId, iapId, null);
    o.put("calls", calls.count());
    calls.callIds().forEach(o.putArray("callIds")::add);
    return o;
  }

  @Override
  public void alrError(AlrError error, String profileId, int snapId, int iapId) {
    publish(alr("ALR_ERROR", profileId, snapId, iapId, error.toString()));
  }

  private ObjectNode alr(String type, String profileId, int snapId, int iapId, String error) {
    ObjectNode o = json.createObjectNode();
    o.put("source", "alr");
    o.put("type", type);
    o.put("profile", profileId);
    o.put("snap", snapId);
    o.put("iap", iapId);
    o.put("status", (String) null);
    o.put("error", error);
    o.put("time", Instant.now().toString());
    return o;
  }

  private void publish(ObjectNode event) {
    if (subscribers.isEmpty()) {
      return;
    }
    String text = write(event);
    for (Subscriber s : subscribers) {
      s.publish(text);
    }
  }

  private String write(ObjectNode event) {
    try {
      return json.writeValueAsString(event);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write an event as JSON", e);
    }
  }

  /** One reader: its backlog, drained on its channel's event loop. */
  final class Subscriber {
    private final Channel channel;
    private final EventBacklog backlog = new EventBacklog(bufferSize);
    /** At most one drain task queued on the event loop per reader, however many events. */
    private final AtomicBoolean drainQueued = new AtomicBoolean();

    private Subscriber(Channel channel) {
      this.channel = channel;
    }

    void publish(String event) {
      if (!backlog.offer(event)) {
        dropped.incrementAndGet();
      }
      if (drainQueued.compareAndSet(false, true)) {
        channel.eventLoop().execute(this::drain);
      }
    }

    /** Writes what waits while the channel takes it; on the channel's event loop. */
    void drain() {
      drainQueued.set(false);
      boolean wrote = false;
      while (channel.isActive() && channel.isWritable()) {
        EventBacklog.Entry next = backlog.poll();
        if (next == null) {
          break;
        }
        String data = next instanceof EventBacklog.Event e ? e.json() : dropNotice(
            ((EventBacklog.Dropped) next).count());
        channel.write(new DefaultHttpContent(Unpooled.copiedBuffer(
            "data: " + data + "\n\n", StandardCharsets.UTF_8)));
        wrote = true;
      }
      if (wrote) {
        channel.flush();
      }
    }

    private String dropNotice(long count) {
      ObjectNode o = json.createObjectNode();
      o.put("type", "DROPPED");
      o.put("count", count);
      o.put("time", Instant.now().toString());
      return write(o);
    }
  }
}
