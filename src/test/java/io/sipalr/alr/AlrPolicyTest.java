package io.sipalr.alr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import io.sipalr.config.AgentConfFile;
import io.sipalr.mobility.Bearer;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AlrPolicyTest {
  @TempDir Path dir;

  private Config load(String text) throws Exception {
    return AgentConfFile.load(dir, text);
  }

  /** Reads {@code text} expecting an error naming the file, a line and {@code keyPath}. */
  private String error(String text, String keyPath) throws Exception {
    return AgentConfFile.error(dir, text, keyPath, ConfigException.BadValue.class,
        AlrPolicy::from);
  }

  @Test
  void defaultIsAuto() throws Exception {
    assertEquals(new AlrPolicy.Auto(), AlrPolicy.from(load("")));
  }

  @Test
  void readsManual() throws Exception {
    assertEquals(new AlrPolicy.Manual(Duration.ofSeconds(30), true),
        AlrPolicy.from(load("alr.policy.mode = manual")));
    assertEquals(new AlrPolicy.Manual(Duration.ofMillis(1500), false), AlrPolicy.from(load(
        "alr.policy { mode = manual, manual { timeout = 1500ms, default = disallow } }")));
  }

  @Test
  void readsRules() throws Exception {
    assertEquals(new AlrPolicy.Rules(true, false, null, null),
        AlrPolicy.from(load("alr.policy.mode = rules")));
    assertEquals(new AlrPolicy.Rules(false, true, LocalTime.of(22, 0), LocalTime.of(7, 30)),
        AlrPolicy.from(load("""
            alr.policy {
              mode = rules
              rules { prefer-wlan = false, upgrades-only = true,
                      no-cellular-from = "22:00", no-cellular-until = "07:30" }
            }
            """)));
  }

  @Test
  void deferWhileCallsRefusesWhileTheProfileHasCallsAfterTheCellularWindowOnly()
      throws Exception {
    AlrPolicy.Rules rules = (AlrPolicy.Rules) AlrPolicy.from(load(
        "alr.policy { mode = rules, rules.defer-while-calls = true }"));
    assertEquals(new AlrPolicy.Rules(true, false, null, null, true), rules);
    LocalTime noon = LocalTime.NOON;
    MigrationCalls two = new MigrationCalls(List.of("c1", "c2"));
    AlrPolicy.Verdict held = rules.decide(Bearer.WLAN, true, noon, two);
    assertFalse(held.allow(), "prefer-wlan does not override the calls");
    assertEquals("2 call(s) under way [c1, c2]: the move waits until they end"
        + " (defer-while-calls)", held.reason());
    assertTrue(rules.decide(Bearer.WLAN, true, noon, MigrationCalls.NONE).allow());
    assertTrue(new AlrPolicy.Rules(true, false, null, null).decide(Bearer.WLAN, true, noon, two)
        .allow(), "off by default");
    AlrPolicy.Rules window = new AlrPolicy.Rules(false, false, LocalTime.of(9, 0),
        LocalTime.of(17, 0), true);
    assertTrue(window.decide(Bearer.CELLULAR, true, noon, two).reason().startsWith("cellular"));
    error("alr.policy { mode = rules, rules.defer-while-calls = maybe }",
        "alr.policy.rules.defer-while-calls");
  }

  @Test
  void errorsNameFileAndKey() throws Exception {
    assertTrue(error("alr.policy.mode = sometimes", "alr.policy.mode").contains("sometimes"));
    error("alr.policy { mode = manual, manual.timeout = soon }", "alr.policy.manual.timeout");
    error("alr.policy { mode = manual, manual.timeout = 0s }", "alr.policy.manual.timeout");
    error("alr.policy { mode = manual, manual.default = maybe }", "alr.policy.manual.default");
    error("alr.policy { mode = rules, rules.no-cellular-from = \"25:00\","
        + " rules.no-cellular-until = \"07:00\" }", "alr.policy.rules.no-cellular-from");
    error("alr.policy { mode = rules, rules.no-cellular-from = \"22:00\" }",
        "alr.policy.rules.no-cellular-until");
    error("alr.policy { mode = rules, rules.upgrades-only = 3 }", "alr.policy.rules.upgrades-only");
    assertTrue(error("alr.policy.moed = rules", "alr.policy.moed").contains("unknown key"));
    error("alr.policy { mode = rules, rules.prefer-lan = true }", "alr.policy.rules.prefer-lan");
  }

  @ParameterizedTest(name = "{0} from 22:00 until 07:00: {1}")
  @CsvSource({"21:59, false", "22:00, true", "23:59, true", "00:00, true", "06:59, true",
      "07:00, false", "12:00, false"})
  void windowWrapsPastMidnight(String now, boolean inside) {
    AlrPolicy.Rules rules = new AlrPolicy.Rules(false, false, LocalTime.of(22, 0),
        LocalTime.of(7, 0));
    assertEquals(inside, rules.inNoCellularWindow(LocalTime.parse(now)));
    assertEquals(!inside, rules.decide(Bearer.CELLULAR, true, LocalTime.parse(now)).allow());
    assertTrue(rules.decide(Bearer.WLAN, true, LocalTime.parse(now)).allow(), "only cellular");
  }

  @Test
  void windowWithinOneDay() {
    AlrPolicy.Rules rules = new AlrPolicy.Rules(false, false, LocalTime.of(9, 0),
        LocalTime.of(17, 0));
    assertFalse(rules.inNoCellularWindow(LocalTime.of(8, 59)));
    assertTrue(rules.inNoCellularWindow(LocalTime.of(9, 0)));
    assertFalse(rules.inNoCellularWindow(LocalTime.of(17, 0)));
  }

  @Test
  void ruleOrder() {
    LocalTime noon = LocalTime.NOON;
    AlrPolicy.Rules upgradesOnly = new AlrPolicy.Rules(false, true, null, null);
    assertTrue(upgradesOnly.decide(Bearer.ETHERNET, true, noon).allow());
    assertFalse(upgradesOnly.decide(Bearer.ETHERNET, false, noon).allow());
    assertFalse(upgradesOnly.decide(Bearer.WLAN, false, noon).allow());

    AlrPolicy.Rules preferWlan = new AlrPolicy.Rules(true, true, LocalTime.of(0, 0),
        LocalTime.of(23, 59));
    assertTrue(preferWlan.decide(Bearer.WLAN, false, noon).allow(), "WLAN beats upgrades-only");
    assertFalse(preferWlan.decide(Bearer.CELLULAR, true, noon).allow(), "the window forbids");
    assertFalse(preferWlan.decide(Bearer.OTHER, false, noon).allow());

    AlrPolicy.Rules none = new AlrPolicy.Rules(false, false, null, null);
    assertTrue(none.decide(Bearer.CELLULAR, false, noon).allow());
  }
}
