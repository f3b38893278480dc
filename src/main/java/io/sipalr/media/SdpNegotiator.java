package io.sipalr.media;

import java.util.ArrayList;
import java.util.List;
import java.util.Vector;
import javax.sdp.Attribute;
import javax.sdp.Connection;
import javax.sdp.MediaDescription;
import javax.sdp.SdpException;
import javax.sdp.SdpFactory;
import javax.sdp.SessionDescription;

/**
 * SDP offer/answer (RFC 3264) for one audio stream, with the SIP stack's SDP support (javax.sdp
 * of jain-sip-ri): G.711 µ-law and A-law, and telephone-event (RFC 4733) when the peer offers
 * it. Offers list PCMU, PCMA, telephone-event; an answer keeps the first codec of the offer that
 * we support (the offerer's preference), or rejects the stream (port 0) when there is none.
 */
public final class SdpNegotiator {
  /** The payload type this agent offers telephone-event on. */
  public static final int TELEPHONE_EVENT = 101;

  private final SdpFactory sdp = SdpFactory.getInstance();

  /** What a negotiation agreed: where to send, in which codec; the peer's DTMF type or -1. */
  public record Agreed(String remoteAddress, int remotePort, Codec codec, int telephoneEvent,
      String direction) {}

  /** An answer's text and what it agreed to. */
  public record Answer(String sdp, Agreed agreed) {}

  /** Not an offer or answer we can use; the message says why. */
  public static final class SdpNegotiationException extends Exception {
    public SdpNegotiationException(String message) {
      super(message);
    }
  }

  /**
   * An offer (or a re-offer of a session, with {@code version} one up) for audio on
   * {@code address:port}.
   */
  public String offer(long sessionId, long version, String address, int port) {
    return describe(sessionId, version, address, port, List.of(Codec.PCMU, Codec.PCMA), true,
        "sendrecv");
  }

  /**
   * The answer to {@code offer} for audio on {@code address:port}.
   *
   * @throws SdpNegotiationException when the offer cannot be read, has no audio stream, or no
   *     codec in common (the caller answers 488)
   */
  public Answer answer(String offer, long sessionId, long version, String address, int port)
      throws SdpNegotiationException {
    Agreed agreed = agree(offer);
    String text = describe(sessionId, version, address, port, List.of(agreed.codec()),
        agreed.telephoneEvent() >= 0, reverse(agreed.direction()));
    return new Answer(text, agreed);
  }

  /** What an answer to our offer agreed (the peer chose one of our codecs). */
  public Agreed agreedBy(String answer) throws SdpNegotiationException {
    return agree(answer);
  }

  private Agreed agree(String text) throws SdpNegotiationException {
    try {
      SessionDescription session = sdp.createSessionDescription(text);
      @SuppressWarnings("unchecked")
      Vector<MediaDescription> media = session.getMediaDescriptions(false);
      if (media == null) {
        throw new SdpNegotiationException("SDP without a media stream");
      }
      for (MediaDescription m : media) {
        if (!"audio".equalsIgnoreCase(m.getMedia().getMediaType())
            || m.getMedia().getMediaPort() == 0) {
          continue;
        }
        Connection c = m.getConnection() != null ? m.getConnection() : session.getConnection();
        if (c == null) {
          throw new SdpNegotiationException("SDP audio stream without a connection address");
        }
        Codec chosen = null;
        int telephoneEvent = -1;
        @SuppressWarnings("unchecked")
        Vector<String> formats = m.getMedia().getMediaFormats(false);
        for (String f : formats == null ? new Vector<String>() : formats) {
          int pt;
          try {
            pt = Integer.parseInt(f.trim());
          } catch (NumberFormatException e) {
            continue;
          }
          String name = rtpmapName(m, pt);
          if (name != null && name.equalsIgnoreCase("telephone-event")) {
            telephoneEvent = pt;
          } else if (chosen == null) {
            Codec codec = Codec.of(pt, name);
            if (codec != null && (name != null || pt < 96)) {
              chosen = codec;
            }
          }
        }
        if (chosen == null) {
          throw new SdpNegotiationException("no codec in common: offered " + formats
              + ", supported PCMU (0) and PCMA (8)");
        }
        return new Agreed(c.getAddress(), m.getMedia().getMediaPort(), chosen, telephoneEvent,
            direction(m, session));
      }
      throw new SdpNegotiationException("SDP without an active audio stream");
    } catch (SdpException e) {
      throw new SdpNegotiationException("unreadable SDP: " + e.getMessage());
    }
  }

  private static String rtpmapName(MediaDescription m, int pt) throws SdpException {
    @SuppressWarnings("unchecked")
    Vector<Attribute> attributes = m.getAttributes(false);
    if (attributes == null) {
      return null;
    }
    for (Attribute a : attributes) {
      if ("rtpmap".equalsIgnoreCase(a.getName()) && a.getValue() != null) {
        String[] parts = a.getValue().trim().split("\\s+", 2);
        if (parts.length == 2 && parts[0].equals(Integer.toString(pt))) {
          return parts[1].split("/")[0];
        }
      }
    }
    return null;
  }

  private static final List<String> DIRECTIONS =
      List.of("sendrecv", "sendonly", "recvonly", "inactive");

  /** The stream's direction attribute, else the session's, else sendrecv (RFC 3264 §5.1). */
  @SuppressWarnings("unchecked")
  private static String direction(MediaDescription m, SessionDescription s) throws SdpException {
    for (Vector<Attribute> attributes : List.of(m.getAttributes(true), s.getAttributes(true))) {
      for (Attribute a : attributes) {
        if (DIRECTIONS.contains(a.getName().toLowerCase(java.util.Locale.ROOT))) {
          return a.getName().toLowerCase(java.util.Locale.ROOT);
        }
      }
    }
    return "sendrecv";
  }

  /** Our direction in answer to the peer's (RFC 3264 §6.1). */
  private static String reverse(String peer) {
    return switch (peer) {
      case "sendonly" -> "recvonly";
      case "recvonly" -> "sendonly";
      default -> peer;
    };
  }

  private String describe(long sessionId, long version, String address, int port,
      List<Codec> codecs, boolean telephoneEvent, String direction) {
    try {
      String ipType = address.contains(":") ? "IP6" : "IP4";
      SessionDescription s = sdp.createSessionDescription();
      s.setVersion(sdp.createVersion(0));
      s.setOrigin(sdp.createOrigin("-", sessionId, version, "IN", ipType, address));
      s.setSessionName(sdp.createSessionName("sip-alr-agent"));
      s.setConnection(sdp.createConnection("IN", ipType, address));
      Vector<javax.sdp.TimeDescription> times = new Vector<>();
      times.add(sdp.createTimeDescription());
      s.setTimeDescriptions(times);
      List<Integer> types = new ArrayList<>();
      codecs.forEach(c -> types.add(c.payloadType()));
      if (telephoneEvent) {
        types.add(TELEPHONE_EVENT);
      }
      MediaDescription m = sdp.createMediaDescription("audio", port, 1, "RTP/AVP",
          types.stream().mapToInt(Integer::intValue).toArray());
      Vector<Attribute> attributes = new Vector<>();
      for (Codec c : codecs) {
        attributes.add(sdp.createAttribute("rtpmap", c.payloadType() + " " + c.encodingName()
            + "/" + Codec.CLOCK_RATE));
      }
      if (telephoneEvent) {
        attributes.add(sdp.createAttribute("rtpmap", TELEPHONE_EVENT + " telephone-event/8000"));
        attributes.add(sdp.createAttribute("fmtp", TELEPHONE_EVENT + " 0-16"));
      }
      attributes.add(sdp.createAttribute("ptime", "20"));
      attributes.add(sdp.createAttribute(direction, null));
      m.setAttributes(attributes);
      Vector<MediaDescription> media = new Vector<>();
      media.add(m);
      s.setMediaDescriptions(media);
      return s.toString();
    } catch (SdpException e) {
      throw new IllegalStateException("cannot write SDP: " + e.getMessage(), e);
    }
  }
}
