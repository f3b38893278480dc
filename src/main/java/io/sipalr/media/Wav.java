package io.sipalr.media;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/** WAV files of 8 kHz, 16-bit, mono PCM: the audio the agent loops and records. */
public final class Wav {
  private Wav() {}

  /**
   * The samples of {@code file}.
   *
   * @throws IOException when it cannot be read or is not 8 kHz 16-bit mono PCM (named)
   */
  public static short[] read(Path file) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    if (b.remaining() < 12 || b.getInt(0) != 0x46464952 || b.getInt(8) != 0x45564157) {
      throw new IOException(file + ": not a RIFF/WAVE file");
    }
    b.position(12);
    boolean format = false;
    while (b.remaining() >= 8) {
      int id = b.getInt();
      int size = b.getInt();
      if (size < 0 || size > b.remaining()) {
        throw new IOException(file + ": truncated chunk");
      }
      if (id == 0x20746d66) { // "fmt "
        int encoding = b.getShort(b.position()) & 0xFFFF;
        int channels = b.getShort(b.position() + 2) & 0xFFFF;
        int rate = b.getInt(b.position() + 4);
        int bits = b.getShort(b.position() + 14) & 0xFFFF;
        if (encoding != 1 || channels != 1 || rate != Codec.CLOCK_RATE || bits != 16) {
          throw new IOException(file + ": " + rate + " Hz, " + bits + " bit, " + channels
              + " channels, format " + encoding + "; needs 8000 Hz 16-bit mono PCM");
        }
        format = true;
      } else if (id == 0x61746164) { // "data"
        if (!format) {
          throw new IOException(file + ": data before its format");
        }
        short[] samples = new short[size / 2];
        for (int i = 0; i < samples.length; i++) {
          samples[i] = b.getShort(b.position() + 2 * i);
        }
        return samples;
      }
      b.position(b.position() + size + (size & 1));
    }
    throw new IOException(file + ": no data chunk");
  }

  /** Writes {@code count} samples as an 8 kHz 16-bit mono PCM WAV file. */
  public static void write(Path file, short[] samples, int count) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(44 + 2 * count).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(0x46464952).putInt(36 + 2 * count).putInt(0x45564157);
    b.putInt(0x20746d66).putInt(16).putShort((short) 1).putShort((short) 1)
        .putInt(Codec.CLOCK_RATE).putInt(Codec.CLOCK_RATE * 2).putShort((short) 2)
        .putShort((short) 16);
    b.putInt(0x61746164).putInt(2 * count);
    for (int i = 0; i < count; i++) {
      b.putShort(samples[i]);
    }
    Files.write(file, b.array());
  }
}
