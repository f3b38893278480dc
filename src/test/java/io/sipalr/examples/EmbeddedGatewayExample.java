package io.sipalr.examples;

import com.typesafe.config.ConfigFactory;
import io.sipalr.SipAlrAgent;
import io.sipalr.alr.AlrController;
import io.sipalr.alr.AlrError;
import io.sipalr.alr.AlrEvent;
import io.sipalr.alr.AlrObserver;
import io.sipalr.mobility.Bearer;
import io.sipalr.mobility.Iap;
import io.sipalr.mobility.MobilityConfig;
import io.sipalr.mobility.ScriptedIapProvider;
import io.sipalr.mobility.Snap;
import io.sipalr.profile.SipProfileBuilder;
import io.sipalr.sip.ProfileStatus;
import io.sipalr.sip.RegistryEvent;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A gateway that embeds the library through its façade, {@link SipAlrAgent}, and nothing else:
 * one profile on a SNAP that ranks Wi-Fi over cellular, registered through cellular first, then
 * moved to Wi-Fi when it comes up, with the gateway's own ALR controller allowing the move, and
 * deregistered at shutdown.
 *
 * <p>Runs anywhere, without Docker or real uplinks: the two uplinks are the scripted IAP
 * provider's, on loopback addresses (wlan 127.0.0.2, cellular 127.0.0.3), the SIP stack listens
 * on 127.0.0.1 and a free port, and {@link LoopbackRegistrar}, a stand-in registrar of a few
 * lines that accepts every REGISTER, plays the operator's. {@code EmbeddedGatewayExampleTest}
 * runs it in the unit suite, so it keeps compiling and working.
 *
 * <p>Run it with {@code mvn -B -q test -Dtest=EmbeddedGatewayExampleTest}, or its {@code main}
 * from an IDE (the test classpath).
 */
public final class EmbeddedGatewayExample {
  static final int WLAN = 1;
  static final int CELLULAR = 2;
  static final int SNAP = 1;
  /** The profile's password: never in a log line (see the JSON log test). */
  public static final String PASSWORD = "example-secret-8d1f";

  private EmbeddedGatewayExample() {}

  public static void main(String[] args) throws Exception {
    Path dataDir = Files.createTempDirectory("gateway-example");
    try (LoopbackRegistrar registrar = LoopbackRegistrar.start()) {
      for (String line : run(dataDir, registrar.uri())) {
        System.out.println(line);
      }
    }
  }

  /**
   * The gateway's life: build, start, one profile, two uplinks, one move, shutdown. Returns
   * what the gateway heard, in order: registry events ({@code registry: TYPE status}) and ALR
   * events ({@code alr: EVENT iap N}).
   */
  public static List<String> run(Path dataDir, String registrarUri) throws Exception {
    List<String> heard = new CopyOnWriteArrayList<>();

    // The uplinks. On a real host: provider = linux and interface names in the configuration,
    // or the gateway's own IapProvider passed to .iapProvider(...).
    List<Iap> iaps = List.of(
        new Iap(WLAN, "wlan", null, "127.0.0.2", Bearer.WLAN, 1),
        new Iap(CELLULAR, "cellular", null, "127.0.0.3", Bearer.CELLULAR, 10));
    MobilityConfig mobility = new MobilityConfig(MobilityConfig.Provider.SCRIPTED,
        Duration.ofSeconds(5), iaps, List.of(new Snap(SNAP, "internet", List.of(WLAN, CELLULAR))));
    ScriptedIapProvider uplinks = new ScriptedIapProvider(iaps);

    try (SipAlrAgent gateway = SipAlrAgent.builder()
        // Any setting left out keeps its default (reference.conf).
        .config(ConfigFactory.parseString(
            "sip { local-address = \"127.0.0.1\", port = 0, register-timeout = 2s }"))
        .mobility(mobility)
        .iapProvider(uplinks)
        .dataDir(dataDir)
        .shutdownTimeout(Duration.ofSeconds(5))
        .build()) {

      gateway.addListener((RegistryEvent e) ->
          heard.add("registry: " + e.type() + " " + e.status()));

      // The gateway's say in every move: here it allows each one as it is offered.
      AtomicReference<AlrController> controller = new AtomicReference<>();
      controller.set(gateway.newController(new AlrObserver() {
        @Override
        public void alrEvent(AlrEvent event, String profileId, int snapId, int iapId) {
          heard.add("alr: " + event + " iap " + iapId);
          if (event == AlrEvent.IAP_AVAILABLE) {
            controller.get().allowMigration(profileId, iapId);
          }
        }

        @Override
        public void alrError(AlrError error, String profileId, int snapId, int iapId) {
          heard.add("alr error: " + error.kind() + " iap " + iapId);
        }
      }));

      gateway.start();
      gateway.registry().create(SipProfileBuilder.forId("alice")
          .aor("sip:alice@example.test").registrar(registrarUri)
          .authUser("alice").password(PASSWORD)
          .snapId(SNAP).expires(600).autoRegister(true).build());

      uplinks.up(CELLULAR); // the first carrier: alice registers through it
      awaitTrue(() -> gateway.registry().status("alice") == ProfileStatus.REGISTERED
          && "127.0.0.3".equals(gateway.registry().localAddressOf("alice").orElse(null)));
      heard.add("registered through cellular");

      uplinks.up(WLAN); // better: offered, allowed by the controller, moved
      awaitTrue(() -> heard.contains("alr: MIGRATION_COMPLETED iap " + WLAN)
          && "127.0.0.2".equals(gateway.registry().localAddressOf("alice").orElse(null)));
      heard.add("registered through wlan");
    } // close(): alice deregisters, everything closes
    heard.add("shut down");
    return new ArrayList<>(heard);
  }

  private static void awaitTrue(BooleanSupplier condition) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new TimeoutException("the gateway did not get there within 10 s");
      }
      Thread.sleep(20);
    }
  }

  /**
   * A stand-in for the operator's registrar, on 127.0.0.1 and a free UDP port: it accepts every
   * REGISTER, keeps the bindings per address-of-record and answers with all of them (RFC 3261
   * §10.3, without authentication). Not part of the library: just enough for the example.
   */
  public static final class LoopbackRegistrar implements AutoCloseable {
    private static final Pattern EXPIRES_PARAM = Pattern.compile(";\\s*expires\\s*=\\s*(\\d+)",
        Pattern.CASE_INSENSITIVE);
    private final DatagramSocket socket;
    private final Thread thread;
    /** Address-of-record to contact (without its expires) to granted seconds. */
    private final Map<String, Map<String, Integer>> bindings = new LinkedHashMap<>();
    private final List<String> requests = new CopyOnWriteArrayList<>();

    private LoopbackRegistrar(DatagramSocket socket) {
      this.socket = socket;
      this.thread = new Thread(this::serve, "loopback-registrar");
      thread.setDaemon(true);
      thread.start();
    }

    public static LoopbackRegistrar start() throws SocketException {
      return new LoopbackRegistrar(new DatagramSocket(0, InetAddress.getLoopbackAddress()));
    }

    public String uri() {
      return "sip:127.0.0.1:" + socket.getLocalPort();
    }

    /** Every REGISTER received, as text. */
    public List<String> requests() {
      return requests;
    }

    private void serve() {
      byte[] buffer = new byte[65_535];
      while (!socket.isClosed()) {
        DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
        try {
          socket.receive(packet);
          String request = new String(packet.getData(), 0, packet.getLength(),
              StandardCharsets.UTF_8);
          if (!request.startsWith("REGISTER ")) {
            continue; // keep-alives and anything else
          }
          requests.add(request);
          byte[] answer = answer(request).getBytes(StandardCharsets.UTF_8);
          socket.send(new DatagramPacket(answer, answer.length, packet.getSocketAddress()));
        } catch (IOException e) {
          return; // closed
        }
      }
    }

    private synchronized String answer(String request) {
      List<String> vias = new ArrayList<>();
      List<String> contacts = new ArrayList<>();
      String from = "";
      String to = "";
      String callId = "";
      String cseq = "";
      int expires = 3600;
      for (String line : request.split("\r\n")) {
        int colon = line.indexOf(':');
        if (line.isEmpty()) {
          break;
        }
        if (colon < 0) {
          continue;
        }
        String name = line.substring(0, colon).trim().toLowerCase();
        String value = line.substring(colon + 1).trim();
        switch (name) {
          case "via", "v" -> vias.add(value);
          case "from", "f" -> from = value;
          case "to", "t" -> to = value;
          case "call-id", "i" -> callId = value;
          case "cseq" -> cseq = value;
          case "contact", "m" -> contacts.addAll(splitContacts(value));
          case "expires" -> expires = Integer.parseInt(value);
          default -> { }
        }
      }
      String aor = to.replaceAll(";tag=.*", "");
      Map<String, Integer> held = bindings.computeIfAbsent(aor, k -> new LinkedHashMap<>());
      for (String contact : contacts) {
        if (contact.equals("*")) {
          held.clear();
          continue;
        }
        Matcher m = EXPIRES_PARAM.matcher(contact);
        int granted = m.find() ? Integer.parseInt(m.group(1)) : expires;
        // Bindings are matched by their URI (RFC 3261 §10.3); the latest parameters stay.
        String uri = contact.substring(0, contact.indexOf('>') + 1);
        held.keySet().removeIf(k -> k.startsWith(uri));
        if (granted != 0) {
          held.put(EXPIRES_PARAM.matcher(contact).replaceAll(""), granted);
        }
      }
      StringBuilder answer = new StringBuilder("SIP/2.0 200 OK\r\n");
      vias.forEach(v -> answer.append("Via: ").append(v).append("\r\n"));
      answer.append("From: ").append(from).append("\r\n")
          .append("To: ").append(to).append(to.contains(";tag=") ? "" : ";tag=registrar")
          .append("\r\n")
          .append("Call-ID: ").append(callId).append("\r\n")
          .append("CSeq: ").append(cseq).append("\r\n");
      held.forEach((contact, granted) ->
          answer.append("Contact: ").append(contact).append(";expires=").append(granted)
              .append("\r\n"));
      return answer.append("Content-Length: 0\r\n\r\n").toString();
    }

    /** A Contact header's values, split at the commas outside {@code <...>} and quotes. */
    private static List<String> splitContacts(String header) {
      List<String> values = new ArrayList<>();
      boolean quoted = false;
      int angle = 0;
      int start = 0;
      for (int i = 0; i < header.length(); i++) {
        char c = header.charAt(i);
        if (c == '"') {
          quoted = !quoted;
        } else if (!quoted && c == '<') {
          angle++;
        } else if (!quoted && c == '>') {
          angle--;
        } else if (!quoted && angle == 0 && c == ',') {
          values.add(header.substring(start, i).trim());
          start = i + 1;
        }
      }
      values.add(header.substring(start).trim());
      return values;
    }

    @Override
    public void close() throws InterruptedException {
      socket.close();
      thread.join(5_000);
    }
  }
}
