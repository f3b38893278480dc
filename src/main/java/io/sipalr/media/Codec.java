package io.sipalr.media;

/**
 * The audio codecs the agent offers and accepts: G.711 µ-law and A-law (ITU-T G.711, static RTP
 * payload types of RFC 3551), 8 kHz, one byte per sample. Encoding and decoding of 16-bit
 * linear samples follow the recommendation's segment tables.
 */
public enum Codec {
  PCMU(0, "PCMU"),
  PCMA(8, "PCMA");

  public static final int CLOCK_RATE = 8000;

  private final int payloadType;
  private final String encodingName;

  Codec(int payloadType, String encodingName) {
    this.payloadType = payloadType;
    this.encodingName = encodingName;
  }

  public int payloadType() {
    return payloadType;
  }

  public String encodingName() {
    return encodingName;
  }

  /** The codec of a static payload type or an rtpmap encoding name, or null. */
  public static Codec of(int payloadType, String encodingName) {
    for (Codec c : values()) {
      if (encodingName != null ? c.encodingName.equalsIgnoreCase(encodingName)
          : c.payloadType == payloadType) {
        return c;
      }
    }
    return null;
  }

  public byte encode(short sample) {
    return this == PCMU ? ulaw(sample) : alaw(sample);
  }

  public short decode(byte value) {
    return this == PCMU ? unUlaw(value) : unAlaw(value);
  }

  private static final int BIAS = 0x84;
  private static final int CLIP = 32635;

  private static byte ulaw(short pcm) {
    int sample = pcm;
    int sign = (sample >> 8) & 0x80;
    if (sign != 0) {
      sample = -sample;
    }
    if (sample > CLIP) {
      sample = CLIP;
    }
    sample += BIAS;
    int exponent = 7;
    for (int mask = 0x4000; (sample & mask) == 0 && exponent > 0; mask >>= 1) {
      exponent--;
    }
    int mantissa = (sample >> (exponent + 3)) & 0x0F;
    return (byte) ~(sign | (exponent << 4) | mantissa);
  }

  private static short unUlaw(byte value) {
    int u = ~value & 0xFF;
    int sign = u & 0x80;
    int exponent = (u >> 4) & 0x07;
    int mantissa = u & 0x0F;
    int sample = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    return (short) (sign != 0 ? -sample : sample);
  }

  private static byte alaw(short pcm) {
    int sample = pcm;
    int sign = sample >= 0 ? 0x80 : 0;
    if (sign == 0) {
      sample = -sample - 1;
    }
    if (sample > 32767) {
      sample = 32767;
    }
    int exponent;
    int mantissa;
    if (sample < 256) {
      exponent = 0;
      mantissa = (sample >> 4) & 0x0F;
    } else {
      exponent = 1;
      for (int s = sample >> 8; s > 1 && exponent < 7; s >>= 1) {
        exponent++;
      }
      mantissa = (sample >> (exponent + 3)) & 0x0F;
    }
    return (byte) ((sign | (exponent << 4) | mantissa) ^ 0x55);
  }

  private static short unAlaw(byte value) {
    int a = (value ^ 0x55) & 0xFF;
    int sign = a & 0x80;
    int exponent = (a >> 4) & 0x07;
    int mantissa = a & 0x0F;
    int sample = exponent == 0 ? (mantissa << 4) + 8
        : ((mantissa << 4) + 0x108) << (exponent - 1);
    return (short) (sign != 0 ? sample : -sample);
  }
}
