package io.sipalr.media;

/**
 * What a call sends: one 20 ms frame (160 samples at 8 kHz, 16-bit linear) per tick. Called on
 * the media scheduler's thread only, so an implementation needs no locks; it must not block.
 */
public interface AudioSource {
  int FRAME_SAMPLES = 160;

  /** Fills {@code frame} with the next 20 ms to send. */
  void next(short[] frame);

  /** A frame received from the peer (decoded); echo sends it back, the others ignore it. */
  default void received(short[] frame) {
  }

  /** A sine tone (e.g. 440 Hz) at a fixed level. */
  static AudioSource tone(double hertz, double level) {
    return new AudioSource() {
      private double phase;
      private final double step = 2 * Math.PI * hertz / Codec.CLOCK_RATE;
      private final double amplitude = Math.max(0, Math.min(1, level)) * Short.MAX_VALUE;

      @Override
      public void next(short[] frame) {
        for (int i = 0; i < frame.length; i++) {
          frame[i] = (short) Math.round(amplitude * Math.sin(phase));
          phase += step;
          if (phase > 2 * Math.PI) {
            phase -= 2 * Math.PI;
          }
        }
      }
    };
  }

  /** The samples of a WAV file, looped (read once, before the call: see {@link Wav#read}). */
  static AudioSource loop(short[] samples) {
    if (samples.length == 0) {
      throw new IllegalArgumentException("an empty WAV file cannot be looped");
    }
    return new AudioSource() {
      private int position;

      @Override
      public void next(short[] frame) {
        for (int i = 0; i < frame.length; i++) {
          frame[i] = samples[position];
          position = (position + 1) % samples.length;
        }
      }
    };
  }

  /**
   * What is received, sent back about one frame later; silence while nothing waits. At most
   * {@code maxFrames} frames wait (older ones are dropped), so a peer sending faster than 50
   * packets a second cannot grow it.
   */
  static AudioSource echo(int maxFrames) {
    return new AudioSource() {
      private final java.util.ArrayDeque<short[]> waiting = new java.util.ArrayDeque<>();

      @Override
      public void next(short[] frame) {
        short[] next = waiting.poll();
        if (next == null) {
          java.util.Arrays.fill(frame, (short) 0);
        } else {
          System.arraycopy(next, 0, frame, 0, Math.min(frame.length, next.length));
        }
      }

      @Override
      public void received(short[] frame) {
        if (waiting.size() >= maxFrames) {
          waiting.poll();
        }
        waiting.add(frame.clone());
      }
    };
  }
}
