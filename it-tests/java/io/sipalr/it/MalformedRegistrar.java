package io.sipalr.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A "registrar" that answers every REGISTER wrongly: a UDP socket in the test on a registrar's
 * address and port. Each REGISTER (retransmissions of one get the same answer) gets the next
 * {@link Answer} in the list; the profile whose REGISTER arrived first starts with the first,
 * the next one with the second, and so on, so that with as many profiles as answers every
 * answer is given from the first round on. Closing it frees the port for a real registrar.
 */
final class MalformedRegistrar implements AutoCloseable {

  /** The wrong answers, in the order each profile meets them (from its own offset). */
  enum Answer {
    /** Bytes that are no SIP message at all. */
    GARBAGE,
    /** A 200 cut off inside its Via: it can match no transaction. */
    TRUNCATED,
    /** A 200 without CSeq. */
    MISSING_CSEQ,
    /** 401 whose challenge has no nonce. */
    UNAUTHORIZED_WITHOUT_NONCE,
    /** 401 whose challenge has an unterminated quoted string. */
    UNAUTHORIZED_BROKEN_QUOTING,
    /** 401 without any WWW-Authenticate. */
    UNAUTHORIZED_WITHOUT_CHALLENGE,
    /** 401 with a plausible challenge: the agent answers it, and gets the next wrong answer. */
    UNAUTHORIZED_WITH_NONCE,
    /** 407 without Proxy-Authenticate. */
    PROXY_AUTH_WITHOUT_CHALLENGE,
    /** 302 to somewhere else. */
    MOVED,
    /** 423 without Min-Expires. */
    INTERVAL_TOO_BRIEF_WITHOUT_MIN_EXPIRES,
    /** 200 granting the contact expires=0. */
    OK_EXPIRES_ZERO,
    /** 403. */
    FORBIDDEN,
    /** 500. */
    SERVER_ERROR,
    /** 503 asking to come back in about 49 days. */
    UNAVAILABLE_FOR_WEEKS,
    /** 100 Trying, and nothing after it. */
    TRYING_ONLY
  }

  private static final Answer[] ANSWERS = Answer.values();

  private final DatagramSocket socket;
  private final Thread thread;
  private final AtomicLong nonces = new AtomicLong();
  /** Per Call-ID (a profile): its offset and the CSeqs answered, each with its answer. */
  private final Map<String, Map<String, Answer>> answered = new LinkedHashMap<>();
  private final Map<Answer, Integer> given = new EnumMap<>(Answer.class);
  /** The From user of each Call-ID. */
  private final Map<String, String> users = new java.util.HashMap<>();
  private volatile boolean closed;

  private MalformedRegistrar(DatagramSocket socket) {
    this.socket = socket;
    this.thread = new Thread(this::serve, "malformed-registrar");
    this.thread.setDaemon(true);
  }

  /** Listens on {@code address:port} (UDP) until closed. */
  static MalformedRegistrar start(String address, int port) {
    try {
      DatagramSocket socket = new DatagramSocket(new InetSocketAddress(address, port));
      MalformedRegistrar registrar = new MalformedRegistrar(socket);
      registrar.thread.start();
      return registrar;
    } catch (SocketException e) {
      throw new UncheckedIOException("cannot listen on " + address + ":" + port, e);
    }
  }

  /** How many distinct REGISTERs (Call-ID and CSeq) were answered, by From user. */
  synchronized Map<String, Integer> answersPerProfile() {
    Map<String, Integer> n = new LinkedHashMap<>();
    answered.forEach((callId, answers) -> n.put(users.get(callId), answers.size()));
    return n;
  }

  /** The answers {@code user}'s REGISTERs got, in order. */
  synchronized List<Answer> answersOf(String user) {
    return answered.entrySet().stream().filter(e -> user.equals(users.get(e.getKey())))
        .flatMap(e -> e.getValue().values().stream()).toList();
  }

  /** How many REGISTERs got each kind of answer. */
  synchronized Map<Answer, Integer> given() {
    return new EnumMap<>(given);
  }

  private void serve() {
    byte[] buffer = new byte[65535];
    while (!closed) {
      DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
      try {
        socket.receive(packet);
      } catch (IOException e) {
        if (closed) {
          return;
        }
        continue;
      }
      String text = new String(packet.getData(), 0, packet.getLength(), StandardCharsets.UTF_8);
      if (!text.startsWith("REGISTER ")) {
        continue; // keep-alives and anything else: silence
      }
      byte[] reply = answer(new Request(text));
      if (reply != null) {
        try {
          socket.send(new DatagramPacket(reply, reply.length, packet.getSocketAddress()));
        } catch (IOException e) {
          // the agent's socket is gone: nothing to answer
        }
      }
    }
  }

  private synchronized byte[] answer(Request request) {
    Map<String, Answer> ofProfile = answered.computeIfAbsent(request.callId,
        id -> new LinkedHashMap<>());
    users.put(request.callId, request.fromUser());
    Answer answer = ofProfile.get(request.cseq);
    if (answer == null) {
      int profile = new ArrayList<>(answered.keySet()).indexOf(request.callId);
      answer = ANSWERS[(profile + ofProfile.size()) % ANSWERS.length];
      ofProfile.put(request.cseq, answer);
      given.merge(answer, 1, Integer::sum);
    }
    String realm = "realm=\"" + KamailioRegistrar.DEFAULT_REALM + "\"";
    String reply = switch (answer) {
      case GARBAGE -> "\u0000\u00ff\u0001 this is not SIP ::: \r\n\r\n";
      case TRUNCATED -> {
        String full = request.response(200, "OK",
            "Contact: " + request.contact + ";expires=3600\r\n");
        yield full.substring(0, full.indexOf("Via: ") + 20);
      }
      case MISSING_CSEQ -> request.response(200, "OK",
          "Contact: " + request.contact + ";expires=3600\r\n").replaceFirst("CSeq: [^\r]*\r\n", "");
      case UNAUTHORIZED_WITHOUT_NONCE -> request.response(401, "Unauthorized",
          "WWW-Authenticate: Digest " + realm + ", qop=\"auth\", algorithm=MD5\r\n");
      case UNAUTHORIZED_BROKEN_QUOTING -> request.response(401, "Unauthorized",
          "WWW-Authenticate: Digest realm=\"" + KamailioRegistrar.DEFAULT_REALM
              + ", nonce=\"abc, qop=\"auth\r\n");
      case UNAUTHORIZED_WITHOUT_CHALLENGE -> request.response(401, "Unauthorized", "");
      case UNAUTHORIZED_WITH_NONCE -> request.response(401, "Unauthorized",
          "WWW-Authenticate: Digest " + realm + ", nonce=\"fault" + nonces.incrementAndGet()
              + "\", qop=\"auth\", algorithm=MD5\r\n");
      case PROXY_AUTH_WITHOUT_CHALLENGE -> request.response(407,
          "Proxy Authentication Required", "");
      case MOVED -> request.response(302, "Moved Temporarily",
          "Contact: <sip:elsewhere@127.0.0.99:5060>\r\n");
      case INTERVAL_TOO_BRIEF_WITHOUT_MIN_EXPIRES -> request.response(423,
          "Interval Too Brief", "");
      case OK_EXPIRES_ZERO -> request.response(200, "OK",
          "Contact: " + request.contact + ";expires=0\r\nExpires: 0\r\n");
      case FORBIDDEN -> request.response(403, "Forbidden", "");
      case SERVER_ERROR -> request.response(500, "Server Internal Error", "");
      case UNAVAILABLE_FOR_WEEKS -> request.response(503, "Service Unavailable",
          "Retry-After: 4233600\r\n");
      case TRYING_ONLY -> request.response(100, "Trying", "");
    };
    return reply.getBytes(StandardCharsets.ISO_8859_1);
  }

  /** The headers of a REGISTER a response needs (full or compact names). */
  private static final class Request {
    final List<String> vias = new ArrayList<>();
    String from = "";
    String to = "";
    String callId = "";
    String cseq = "";
    String contact = "<sip:nobody@127.0.0.1>";

    Request(String text) {
      int end = text.indexOf("\r\n\r\n");
      String head = end < 0 ? text : text.substring(0, end);
      for (String line : head.split("\r\n")) {
        int colon = line.indexOf(':');
        if (colon < 0) {
          continue;
        }
        String name = line.substring(0, colon).trim().toLowerCase(java.util.Locale.ROOT);
        String value = line.substring(colon + 1).trim();
        switch (name) {
          case "via", "v" -> vias.add(value);
          case "from", "f" -> from = value;
          case "to", "t" -> to = value;
          case "call-id", "i" -> callId = value;
          case "cseq" -> cseq = value;
          case "contact", "m" -> contact = value.split(";expires=")[0];
          default -> { }
        }
      }
    }

    /** The user part of From's URI ("sip:alice@..."), or the whole value. */
    String fromUser() {
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("sips?:([^@;>]+)@")
          .matcher(from);
      return m.find() ? m.group(1) : from;
    }

    String response(int code, String reason, String extraHeaders) {
      StringBuilder r = new StringBuilder("SIP/2.0 ").append(code).append(' ').append(reason)
          .append("\r\n");
      for (String via : vias) {
        r.append("Via: ").append(via).append("\r\n");
      }
      r.append("From: ").append(from).append("\r\n");
      r.append("To: ").append(to).append(to.contains(";tag=") ? "" : ";tag=fault")
          .append("\r\n");
      r.append("Call-ID: ").append(callId).append("\r\n");
      r.append("CSeq: ").append(cseq).append("\r\n");
      r.append(extraHeaders);
      r.append("Content-Length: 0\r\n\r\n");
      return r.toString();
    }
  }

  @Override
  public void close() {
    closed = true;
    socket.close();
    try {
      thread.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
