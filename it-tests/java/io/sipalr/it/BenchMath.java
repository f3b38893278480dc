package io.sipalr.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * What every benchmark does the same way: nearest-rank percentiles, a plain pause, and its
 * report printed and written to target/bench/.
 */
final class BenchMath {
  private BenchMath() {}

  /**
   * The p-th percentile of {@code sorted} (ascending), nearest rank: below 100 values p99 is
   * the maximum. NaN when there is none.
   */
  static double percentile(double[] sorted, double p) {
    if (sorted.length == 0) {
      return Double.NaN;
    }
    int index = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(index, sorted.length - 1))];
  }

  /** The same of {@code values} in any order. */
  static double percentile(List<Double> values, double p) {
    return percentile(values.stream().mapToDouble(Double::doubleValue).sorted().toArray(), p);
  }

  /** The same of durations in nanoseconds, in milliseconds. */
  static double percentile(long[] nanos, double p) {
    long[] sorted = nanos.clone();
    Arrays.sort(sorted);
    return percentile(Arrays.stream(sorted).mapToDouble(n -> n / 1e6).toArray(), p);
  }

  /**
   * Waits {@code millis} (the benchmarks' pacing and quiet periods, never a wait for work to
   * be done); an interrupt ends the benchmark.
   */
  static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  /**
   * Ends {@code md} with the {@code failures} (if any), prints it, and writes it and {@code csv}
   * as target/bench/{@code name}.md and .csv.
   */
  static void publish(String name, StringBuilder md, CharSequence csv, List<String> failures)
      throws IOException {
    if (!failures.isEmpty()) {
      md.append("\nFailures\n\n");
      failures.forEach(f -> md.append("- ").append(f).append('\n'));
    }
    System.out.println("\n" + md);
    Path out = Path.of("target", "bench");
    Files.createDirectories(out);
    Files.writeString(out.resolve(name + ".md"), md);
    Files.writeString(out.resolve(name + ".csv"), csv);
  }
}
