package io.sipalr.media;

/**
 * DTMF as RTP telephone-events (RFC 4733 §2.3): the payload of one packet (event, end bit,
 * volume, duration) and the digits' event codes (§3.2: 0-9, then * 10, # 11, A-D 12-15).
 */
public record TelephoneEvent(int event, boolean end, int volume, int duration) {
  /** The digits a DTMF string may hold. */
  public static final String DIGITS = "0123456789*#ABCD";

  /** The event code of {@code digit} (case-insensitive A-D), or -1 when it is no DTMF digit. */
  public static int code(char digit) {
    return DIGITS.indexOf(Character.toUpperCase(digit));
  }

  /** The digit of an event code, or 0 when the event is not a DTMF digit (e.g. a fax tone). */
  public static char digit(int event) {
    return event >= 0 && event < DIGITS.length() ? DIGITS.charAt(event) : 0;
  }

  /** The four payload octets. */
  public byte[] payload() {
    return new byte[] {(byte) event, (byte) ((end ? 0x80 : 0) | (volume & 0x3F)),
        (byte) (duration >> 8), (byte) duration};
  }

  /** The event in a payload, or null when it is shorter than four octets. */
  public static TelephoneEvent read(byte[] payload) {
    if (payload.length < 4) {
      return null;
    }
    return new TelephoneEvent(payload[0] & 0xFF, (payload[1] & 0x80) != 0, payload[1] & 0x3F,
        (payload[2] & 0xFF) << 8 | payload[3] & 0xFF);
  }
}
