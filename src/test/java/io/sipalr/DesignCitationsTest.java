package io.sipalr;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The design the code cites lives in the repository (docs/): every ALR rule a comment, a test
 * message or the README cites ("rule 7", "rules 7, 8, 15", "rules 1-16", "Rule 7 and 13") has a
 * {@code ## Rule N:} heading in docs/alr-rules.md, and nothing cites a document outside the
 * repository. Each failure names the file and line.
 */
class DesignCitationsTest {

  /** Where the code, its tests and its prose cite the design. */
  private static final List<String> CITING = List.of(
      "src/main/java", "src/test/java", "it-tests/java", "README.md", "docs", ".ci", "docker",
      "conf", "bin");

  private static final String RULES_DOC = "docs/alr-rules.md";

  /** "rule 7", "rules 7, 8, 15", "rules 7, 8 and 15", "rules 1-16", "rule 7 and 13". */
  private static final Pattern CITATION = Pattern.compile(
      "\\brules?\\s+(\\d+(?:\\s*(?:,\\s*and|,\\s*or|,|and|or|-|\\u2013|to)\\s*\\d+)*)",
      Pattern.CASE_INSENSITIVE);

  private static final Pattern NUMBER_OR_RANGE =
      Pattern.compile("(\\d+)(?:\\s*(?:-|\\u2013|to)\\s*(\\d+))?", Pattern.CASE_INSENSITIVE);

  private static final Pattern HEADING = Pattern.compile("^## Rule (\\d+): \\S.*$");

  /**
   * Documents outside the repository. Spelled in pieces so that this file does not match itself.
   */
  private static final Pattern OUTSIDE = Pattern.compile(
      "DESIGN" + "\\.md|\\.\\./" + "shared|/work/" + "shared|design" + " reference",
      Pattern.CASE_INSENSITIVE);

  private static final Path ROOT = root();

  @Test
  void everyCitedRuleHasAHeading() {
    Set<Integer> defined = definedRules();
    List<String> problems = new ArrayList<>();
    for (Path file : citingFiles()) {
      List<String> lines = read(file);
      for (int i = 0; i < lines.size(); i++) {
        for (int rule : citedRules(lines.get(i))) {
          if (!defined.contains(rule)) {
            problems.add(where(file, i) + ": cites rule " + rule + ", but " + RULES_DOC
                + " has no \"## Rule " + rule + ":\" heading");
          }
        }
      }
    }
    if (!problems.isEmpty()) {
      fail(problems.size() + " citation(s) of undefined rules:\n" + String.join("\n", problems));
    }
  }

  @Test
  void nothingCitesADocumentOutsideTheRepository() {
    List<String> problems = new ArrayList<>();
    for (Path file : citingFiles()) {
      List<String> lines = read(file);
      for (int i = 0; i < lines.size(); i++) {
        Matcher m = OUTSIDE.matcher(lines.get(i));
        if (m.find()) {
          problems.add(where(file, i) + ": cites \"" + m.group()
              + "\", which is not in the repository: cite docs/ instead");
        }
      }
    }
    if (!problems.isEmpty()) {
      fail(problems.size() + " citation(s) outside the repository:\n"
          + String.join("\n", problems));
    }
  }

  @Test
  void rulesAreNumberedOneToSixteenOnceEach() {
    List<Integer> headings = new ArrayList<>();
    for (String line : rulesDoc()) {
      Matcher m = HEADING.matcher(line);
      if (m.matches()) {
        headings.add(Integer.parseInt(m.group(1)));
      }
    }
    List<Integer> expected = new ArrayList<>();
    for (int n = 1; n <= 16; n++) {
      expected.add(n);
    }
    assertTrue(headings.equals(expected),
        RULES_DOC + " should have \"## Rule N:\" headings for 1..16 in order, has " + headings);
  }

  @Test
  void theCitationPatternReadsEveryForm() {
    assertTrue(citedRules("see rule 7.").equals(Set.of(7)));
    assertTrue(citedRules("(rules 7, 8, 15)").equals(Set.of(7, 8, 15)));
    assertTrue(citedRules("Rules 1, 2 and 11 apply").equals(Set.of(1, 2, 11)));
    assertTrue(citedRules("// Rule 7 and 13: no vote").equals(Set.of(7, 13)));
    assertTrue(citedRules("rules 1-16").equals(rangeSet(1, 16)));
    assertTrue(citedRules("RULES 3 to 5").equals(Set.of(3, 4, 5)));
    assertTrue(citedRules("ip rule add from 198.18.10.2 table 101").isEmpty());
  }

  /** The rule numbers cited on one line. */
  static Set<Integer> citedRules(String line) {
    Set<Integer> rules = new TreeSet<>();
    Matcher citation = CITATION.matcher(line);
    while (citation.find()) {
      Matcher part = NUMBER_OR_RANGE.matcher(citation.group(1));
      while (part.find()) {
        int from = Integer.parseInt(part.group(1));
        int to = part.group(2) == null ? from : Integer.parseInt(part.group(2));
        for (int n = Math.min(from, to); n <= Math.max(from, to); n++) {
          rules.add(n);
        }
      }
    }
    return rules;
  }

  private static Set<Integer> rangeSet(int from, int to) {
    Set<Integer> set = new TreeSet<>();
    for (int n = from; n <= to; n++) {
      set.add(n);
    }
    return set;
  }

  private static Set<Integer> definedRules() {
    Set<Integer> defined = new TreeSet<>();
    for (String line : rulesDoc()) {
      Matcher m = HEADING.matcher(line);
      if (m.matches()) {
        defined.add(Integer.parseInt(m.group(1)));
      }
    }
    return defined;
  }

  private static List<String> rulesDoc() {
    Path doc = ROOT.resolve(RULES_DOC);
    return Files.isRegularFile(doc) ? read(doc) : List.of();
  }

  private static List<Path> citingFiles() {
    Path self = ROOT.resolve("src/test/java/io/sipalr/DesignCitationsTest.java");
    List<Path> files = new ArrayList<>();
    for (String name : CITING) {
      Path start = ROOT.resolve(name);
      if (Files.isRegularFile(start)) {
        files.add(start);
      } else if (Files.isDirectory(start)) {
        try (Stream<Path> walk = Files.walk(start)) {
          walk.filter(Files::isRegularFile)
              .filter(p -> !p.equals(self))
              .filter(DesignCitationsTest::isText)
              .sorted()
              .forEach(files::add);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
    }
    assertTrue(files.stream().anyMatch(p -> p.toString().endsWith(".java")),
        "no sources found under " + ROOT + ": run from the project directory");
    return files;
  }

  private static boolean isText(Path file) {
    String name = file.getFileName().toString();
    int dot = name.lastIndexOf('.');
    String ext = dot < 0 ? "" : name.substring(dot + 1);
    return Set.of("java", "md", "sh", "conf", "cfg", "xml", "yaml", "yml", "txt", "").contains(ext)
        || name.equals("Dockerfile");
  }

  private static List<String> read(Path file) {
    try {
      return Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String where(Path file, int index) {
    return ROOT.relativize(file) + ":" + (index + 1);
  }

  private static Path root() {
    String basedir = System.getProperty("basedir");
    return Path.of(basedir != null ? basedir : System.getProperty("user.dir")).toAbsolutePath();
  }
}
