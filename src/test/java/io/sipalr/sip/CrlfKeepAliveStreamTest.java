package io.sipalr.sip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/**
 * The framing filter under JAIN-SIP's TCP/TLS reader: whatever the reads split, messages
 * (bodies full of CRLFs included) come through byte for byte, and every pong and ping between
 * them is taken out and told once, in order.
 */
class CrlfKeepAliveStreamTest {

  /** One thing on the wire. */
  sealed interface Item {
    byte[] bytes();
  }

  /** A SIP message; its body may hold anything, CRLFCRLF included. */
  record Message(String head, byte[] body) implements Item {
    @Override
    public byte[] bytes() {
      byte[] h = head.getBytes(StandardCharsets.ISO_8859_1);
      byte[] all = new byte[h.length + body.length];
      System.arraycopy(h, 0, all, 0, h.length);
      System.arraycopy(body, 0, all, h.length, body.length);
      return all;
    }
  }

  /** The registrar's pong to the agent's ping (the agent awaits it). */
  record Pong() implements Item {
    @Override
    public byte[] bytes() {
      return "\r\n".getBytes(StandardCharsets.US_ASCII);
    }
  }

  /** The registrar's own ping. */
  record Ping() implements Item {
    @Override
    public byte[] bytes() {
      return "\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    }
  }

  /** What the listener heard, in order. */
  private final List<String> heard = new ArrayList<>();

  private final CrlfKeepAliveStream.Listener listener = new CrlfKeepAliveStream.Listener() {
    @Override
    public void pong() {
      heard.add("pong");
    }

    @Override
    public void ping() {
      heard.add("ping");
    }
  };

  /**
   * Delivers {@code items} in reads of the sizes {@code splits} gives (cycled), the agent's ping
   * sent (expectPong) once everything before a pong is read, and a read never goes past a pong
   * (the next ping is only sent after it).
   */
  private static final class Wire extends InputStream {
    private final byte[] bytes;
    private final List<Integer> pongStarts = new ArrayList<>();
    private final List<Integer> splits;
    private int at;
    private int read;
    CrlfKeepAliveStream filter;

    Wire(List<Item> items, List<Integer> splits) {
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      for (Item item : items) {
        if (item instanceof Pong) {
          pongStarts.add(all.size());
        }
        all.writeBytes(item.bytes());
      }
      this.bytes = all.toByteArray();
      this.splits = splits;
    }

    @Override
    public int read() {
      throw new UnsupportedOperationException("the filter reads in blocks");
    }

    @Override
    public int read(byte[] b, int off, int len) {
      if (at >= bytes.length) {
        return -1;
      }
      int n = Math.min(len, Math.min(splits.get(read++ % splits.size()), bytes.length - at));
      for (int i = 0; i < pongStarts.size(); i++) {
        int start = pongStarts.get(i);
        if (start > at && start < at + n) {
          n = start - at; // the agent pings once what came before is read
          break;
        }
        if (start == at) {
          n = Math.min(n, 2); // this pong, whole or its first byte
          filter.expectPong();
          break;
        }
      }
      System.arraycopy(bytes, at, b, off, n);
      at += n;
      return n;
    }
  }

  private byte[] drain(List<Item> items, List<Integer> splits, int bufferSize)
      throws IOException {
    Wire wire = new Wire(items, splits);
    CrlfKeepAliveStream filter = new CrlfKeepAliveStream(wire, listener);
    wire.filter = filter;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buffer = new byte[bufferSize];
    for (int n; (n = filter.read(buffer, 0, buffer.length)) != -1; ) {
      assertTrue(n > 0, "a read returns at least one byte or -1");
      out.write(buffer, 0, n);
    }
    return out.toByteArray();
  }

  private static byte[] messages(List<Item> items) {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    items.stream().filter(i -> i instanceof Message).forEach(i -> all.writeBytes(i.bytes()));
    return all.toByteArray();
  }

  private static List<String> keepAlives(List<Item> items) {
    return items.stream().filter(i -> !(i instanceof Message))
        .map(i -> i instanceof Pong ? "pong" : "ping").toList();
  }

  @Property(tries = 500)
  void messagesComeThroughAndEveryKeepAliveIsToldOnce(
      @ForAll("wires") List<Item> items,
      @ForAll("splits") List<Integer> splits,
      @ForAll @IntRange(min = 1, max = 5000) int bufferSize) throws IOException {
    heard.clear();
    byte[] out = drain(items, splits, bufferSize);
    assertEquals(new String(messages(items), StandardCharsets.ISO_8859_1),
        new String(out, StandardCharsets.ISO_8859_1));
    assertEquals(keepAlives(items), heard);
  }

  @Provide
  Arbitrary<List<Integer>> splits() {
    return Arbitraries.integers().between(1, 700).list().ofMinSize(1).ofMaxSize(20);
  }

  @Provide
  Arbitrary<List<Item>> wires() {
    Arbitrary<Item> message = message().map(m -> m);
    Arbitrary<Item> pong = Arbitraries.just(new Pong());
    Arbitrary<Item> ping = Arbitraries.just(new Ping());
    return Arbitraries.frequencyOf(
        net.jqwik.api.Tuple.of(3, message), net.jqwik.api.Tuple.of(3, pong),
        net.jqwik.api.Tuple.of(1, ping)).list().ofMaxSize(12);
  }

  private static Arbitrary<Message> message() {
    Arbitrary<String> startLine = Arbitraries.of("INVITE sip:a@b SIP/2.0",
        "SIP/2.0 200 OK", "OPTIONS sip:agent@198.18.0.2:5060;transport=tcp SIP/2.0",
        "MESSAGE sip:x SIP/2.0");
    Arbitrary<String> lengthName = Arbitraries.of("Content-Length", "content-length", "l",
        "L", "CONTENT-LENGTH");
    Arbitrary<String> spaceAfterColon = Arbitraries.of("", " ", "  ", "\t");
    Arbitrary<byte[]> body = Arbitraries.frequencyOf(
        net.jqwik.api.Tuple.of(2, Arbitraries.just(new byte[0])),
        net.jqwik.api.Tuple.of(1, Arbitraries.bytes().array(byte[].class).ofMaxSize(300)),
        net.jqwik.api.Tuple.of(1, Arbitraries.of("\r\n", "\r\n\r\n", "v=0\r\n\r\n\r\n",
            "\r\n\r\nx", "Content-Length: 99\r\n\r\n").map(
                s -> s.getBytes(StandardCharsets.US_ASCII))));
    Arbitrary<List<String>> others = Arbitraries.of("Via: SIP/2.0/TCP 198.18.0.1;branch=z9hG4bK1",
        "Call-ID: a@b", "CSeq: 1 INVITE", "X-Length: 77", "Subject: l: 5",
        "Content-Type: text/plain", "Max-Forwards: 70").list().ofMaxSize(4);
    return Combinators.combine(startLine, lengthName, spaceAfterColon, body, others,
        Arbitraries.integers().between(0, 4)).as((start, name, space, b, hs, pos) -> {
          StringBuilder head = new StringBuilder(start).append("\r\n");
          List<String> lines = new ArrayList<>(hs);
          lines.add(Math.min(pos, lines.size()), name + space + ":" + space + b.length);
          lines.forEach(l -> head.append(l).append("\r\n"));
          head.append("\r\n");
          return new Message(head.toString(), b);
        });
  }

  // ------------------------------------------------------------------- examples

  private List<String> heardOf(List<Item> items, int... splits) throws IOException {
    heard.clear();
    List<Integer> s = new ArrayList<>();
    for (int n : splits) {
      s.add(n);
    }
    byte[] out = drain(items, s.isEmpty() ? List.of(4096) : s, 4096);
    assertEquals(new String(messages(items), StandardCharsets.ISO_8859_1),
        new String(out, StandardCharsets.ISO_8859_1));
    return List.copyOf(heard);
  }

  private static Message message(String body) {
    byte[] b = body.getBytes(StandardCharsets.US_ASCII);
    return new Message("SIP/2.0 200 OK\r\nCall-ID: x\r\nContent-Length: " + b.length
        + "\r\n\r\n", b);
  }

  @Test
  void twoPongsWithNothingBetweenAreTwoPongsNotAPing() throws IOException {
    // JAIN-SIP's own reader takes these for a double-CRLF ping.
    assertEquals(List.of("pong", "pong"), heardOf(List.of(new Pong(), new Pong())));
  }

  @Test
  void aPongSplitAcrossTwoReadsIsOnePong() throws IOException {
    assertEquals(List.of("pong"), heardOf(List.of(new Pong()), 1, 1));
  }

  @Test
  void aPingFromTheFarEndIsOnePingAlsoSplitByteByByte() throws IOException {
    assertEquals(List.of("ping"), heardOf(List.of(new Ping()), 1));
  }

  @Test
  void crlfsInABodyAreTheBodysNotKeepAlives() throws IOException {
    assertEquals(List.of("pong"), heardOf(List.of(message("\r\n\r\n\r\n"), new Pong(),
        message("a\r\n\r\n")), 3));
  }

  @Test
  void aPongRightAfterAMessageInTheSameReadIsTold() throws IOException {
    assertEquals(List.of("pong"), heardOf(List.of(message(""), new Pong(), message("x"))));
  }

  @Test
  void aLoneCrlfNobodyAwaitedIsDroppedQuietly() throws IOException {
    heard.clear();
    CrlfKeepAliveStream filter = new CrlfKeepAliveStream(new java.io.ByteArrayInputStream(
        "\r\nSIP/2.0 200 OK\r\nl: 0\r\n\r\n".getBytes(StandardCharsets.US_ASCII)), listener);
    byte[] out = filter.readAllBytes();
    assertEquals("SIP/2.0 200 OK\r\nl: 0\r\n\r\n", new String(out, StandardCharsets.US_ASCII));
    assertEquals(List.of(), heard);
    assertFalse(filter.pongAwaited());
  }

  @Test
  void contentLengthIsReadInEverySpelling() {
    assertEquals(12L, length("Content-Length: 12"));
    assertEquals(12L, length("l:12"));
    assertEquals(7L, length("CONTENT-LENGTH \t:\t 7 "));
    assertEquals(null, length("X-Content-Length: 12"));
    assertEquals(null, length("Content-Length: twelve"));
    assertEquals(null, length("Subject: l: 5"));
  }

  private static Long length(String line) {
    byte[] b = line.getBytes(StandardCharsets.US_ASCII);
    return CrlfKeepAliveStream.contentLength(b, b.length);
  }
}
