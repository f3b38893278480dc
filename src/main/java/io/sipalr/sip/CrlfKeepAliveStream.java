package io.sipalr.sip;

import java.io.IOException;
import java.io.InputStream;
import java.util.Locale;

/**
 * The bytes a SIP connection (TCP, or TLS after decryption) brings, with RFC 5626 §4.4.1
 * keep-alives taken out before JAIN-SIP's reader sees them. It follows the stream's framing: a
 * message's header lines up to the blank line, then Content-Length bytes of body. CR and LF
 * bytes between messages are keep-alives: a CRLF while a pong is awaited ({@link #expectPong})
 * is the pong; otherwise two CRLFs in a row are a ping from the far end. Each is told to the
 * {@link Listener} as soon as its last byte is read, whatever the reads split.
 *
 * <p>Why: JAIN-SIP 1.3.0-91's {@code PipelinedMsgParser} takes two pongs with no message between
 * them for a ping (it answers it, and its pong timer fires on a healthy connection), and tells
 * nobody that a pong came. Here the stack never sees a keep-alive at all.
 */
final class CrlfKeepAliveStream extends InputStream {

  /** What the stream tells of the keep-alives it took out; called on the reading thread. */
  interface Listener {
    /** A pong (CRLF) to the awaited ping. */
    void pong();

    /** A ping (CRLFCRLF) from the far end: it wants a pong. */
    void ping();
  }

  /** Header lines longer than this are never Content-Length: only their start is kept. */
  private static final int LINE_KEPT = 64;

  private enum State { BETWEEN, HEADERS, BODY }

  private final InputStream in;
  private final Listener listener;
  private volatile boolean pongAwaited;

  private State state = State.BETWEEN;
  /** Between messages: CRLFs read and not yet told (0 or 1: half a ping). */
  private int crlfs;
  /** Headers: the start of the current line, its length, and the Content-Length seen. */
  private final byte[] line = new byte[LINE_KEPT];
  private int lineLength;
  private boolean lineBlank = true;
  private long contentLength;
  private long bodyLeft;
  private final byte[] one = new byte[1];

  CrlfKeepAliveStream(InputStream in, Listener listener) {
    this.in = in;
    this.listener = listener;
  }

  /** A ping went out: the next CRLF between messages is its pong. */
  void expectPong() {
    pongAwaited = true;
  }

  /** Whether a pong is awaited still (for the tests). */
  boolean pongAwaited() {
    return pongAwaited;
  }

  @Override
  public int read() throws IOException {
    int n = read(one, 0, 1);
    return n < 0 ? -1 : one[0] & 0xff;
  }

  /** Reads as the wrapped stream does, without the keep-alives; at least one byte, or -1. */
  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    java.util.Objects.checkFromIndexSize(off, len, b.length);
    if (len == 0) {
      return 0;
    }
    while (true) {
      int n = in.read(b, off, len);
      if (n <= 0) {
        return n;
      }
      int kept = filter(b, off, n);
      if (kept > 0) {
        return kept;
      }
      // Only keep-alives: read on, as a reader expects at least one byte.
    }
  }

  /** Moves the message bytes of {@code b[off, off+n)} to its front; returns how many. */
  private int filter(byte[] b, int off, int n) {
    int out = off;
    int end = off + n;
    for (int i = off; i < end; i++) {
      byte c = b[i];
      switch (state) {
        case BETWEEN -> {
          if (c == '\r' || c == '\n') {
            keepAlive(c);
            continue;
          }
          if (crlfs > 0) {
            // A lone CRLF nobody awaited (a late pong): dropped.
            crlfs = 0;
          }
          state = State.HEADERS;
          lineLength = 0;
          lineBlank = true;
          contentLength = 0;
          header(c);
        }
        case HEADERS -> header(c);
        case BODY -> {
          // The rest of the body goes through as it is; only its end matters.
          int take = (int) Math.min(bodyLeft, end - i);
          System.arraycopy(b, i, b, out, take);
          out += take;
          i += take - 1;
          bodyLeft -= take;
          if (bodyLeft == 0) {
            state = State.BETWEEN;
          }
          continue;
        }
        default -> throw new IllegalStateException(state.toString());
      }
      b[out++] = c;
    }
    return out - off;
  }

  /** A CR or LF between messages. A bare LF counts as a CRLF (as the stack reads lines). */
  private void keepAlive(byte c) {
    if (c == '\r') {
      return; // the LF tells
    }
    if (pongAwaited) {
      pongAwaited = false;
      crlfs = 0;
      listener.pong();
      return;
    }
    if (++crlfs == 2) {
      crlfs = 0;
      listener.ping();
    }
  }

  /** One byte of a message's header part. */
  private void header(byte c) {
    if (c == '\n') {
      endOfLine();
      return;
    }
    if (c != '\r' && c != ' ' && c != '\t') {
      lineBlank = false;
    }
    if (lineLength < LINE_KEPT) {
      line[lineLength] = c;
    }
    lineLength++;
  }

  private void endOfLine() {
    if (lineBlank) {
      // The blank line: the headers end (the stack, too, takes a whitespace-only line so).
      bodyLeft = contentLength;
      state = bodyLeft > 0 ? State.BODY : State.BETWEEN;
    } else {
      Long length = contentLength(line, Math.min(lineLength, LINE_KEPT));
      if (length != null) {
        contentLength = length;
      }
    }
    lineLength = 0;
    lineBlank = true;
  }

  /** The value of a Content-Length (or compact "l") header line, or {@code null}. */
  static Long contentLength(byte[] line, int length) {
    String s = new String(line, 0, length, java.nio.charset.StandardCharsets.ISO_8859_1);
    int colon = s.indexOf(':');
    if (colon < 0) {
      return null;
    }
    String name = s.substring(0, colon).strip().toLowerCase(Locale.ROOT);
    if (!name.equals("content-length") && !name.equals("l")) {
      return null;
    }
    String value = s.substring(colon + 1).strip();
    if (value.isEmpty() || value.length() > 12 || !value.chars().allMatch(Character::isDigit)) {
      return null; // the stack rejects the message; its framing is lost anyway
    }
    return Long.parseLong(value);
  }

  @Override
  public int available() throws IOException {
    return 0; // some of what the wrapped stream has may be keep-alives
  }

  @Override
  public void close() throws IOException {
    in.close();
  }
}
