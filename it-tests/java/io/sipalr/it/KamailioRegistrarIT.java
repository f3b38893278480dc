package io.sipalr.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sipalr.it.KamailioRegistrar.Binding;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Proves the registrar fixture and the configuration variants against a real Kamailio. */
class KamailioRegistrarIT {

    private static final Duration SETTLE = Duration.ofSeconds(5);

    private static KamailioRegistrar registrar;

    @BeforeAll
    static void startRegistrar() {
        registrar = KamailioRegistrar.builder().start();
    }

    @AfterAll
    static void stopRegistrar() {
        if (registrar != null) {
            registrar.close();
        }
    }

    @Test
    void listenAddressIsLoopbackOrTheTestRangeOnly() {
        for (String ok : List.of("127.0.0.1", "127.1.2.3", "198.19.30.1", "198.19.0.0", "198.19.255.255")) {
            assertTrue(KamailioRegistrar.Builder.isAllowedListenAddress(ok), ok);
            KamailioRegistrar.builder().listenAddress(ok);
        }
        for (String bad : List.of("10.0.0.1", "172.16.0.1", "192.168.1.1", "198.18.0.1", "198.20.0.1",
                "0.0.0.0", "127.0.0.256", "198.19.1", "::1", "localhost", "")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> KamailioRegistrar.builder().listenAddress(bad), bad);
            assertTrue(e.getMessage().contains("198.19.0.0/16"), e.getMessage());
        }
    }

    @Test
    void runTimeStateRoundTripsOverRpc() {
        assertTrue(registrar.sipUri().matches("sip:127\\.0\\.0\\.1:\\d+"), registrar.sipUri());
        assertEquals(KamailioRegistrar.DEFAULT_REALM, registrar.realm());

        registrar.addUser("alice", "secret");
        assertEquals("secret", registrar.rpc("htable.get", "creds", "alice").path("item").path("value").asText());
        registrar.removeUser("alice");
        assertThrows(KamailioRegistrar.RpcException.class, () -> registrar.rpc("htable.get", "creds", "alice"));

        assertEquals(List.of(), registrar.lookup("nobody"));
        assertFalse(registrar.dump().containsKey("nobody"));

        assertFalse(registrar.isBlocked("127.0.0.9"));
        registrar.block("127.0.0.9");
        assertEquals("1", registrar.rpc("htable.get", "blocked", "127.0.0.9").path("item").path("value").asText());
        assertTrue(registrar.isBlocked("127.0.0.9"));
        registrar.unblock("127.0.0.9");
        assertFalse(registrar.isBlocked("127.0.0.9"));

        assertEquals(0, registrar.registerCount("nobody"));
        assertEquals(0, registrar.challengeCount("nobody"));
        assertEquals(0, registrar.intervalTooBriefCount("nobody"));

        KamailioRegistrar.RpcException e =
                assertThrows(KamailioRegistrar.RpcException.class, () -> registrar.rpc("no.such.method"));
        assertEquals("no.such.method", e.method());
    }

    @Test
    void registerIsChallengedThenSavedWithItsSource() throws IOException {
        registrar.addUser("bob", "bobs-secret");
        try (UdpUa ua = new UdpUa("127.0.0.1", "bob", "bobs-secret")) {
            Response challenge = ua.register(60);
            assertEquals(401, challenge.status(), challenge.text());
            String www = challenge.header("WWW-Authenticate");
            assertTrue(www.contains("qop=\"auth\""), www);
            assertTrue(www.contains("realm=\"sipalr.test\""), www);
            await().atMost(SETTLE).untilAsserted(() -> {
                assertEquals(1, registrar.registerCount("bob"));
                assertEquals(1, registrar.challengeCount("bob"));
            });

            ua.challenge(www);
            Response ok = ua.register(60);
            assertEquals(200, ok.status(), ok.text());
            assertEquals("outbound", ok.header("Require"));

            List<Binding> bindings = registrar.lookup("bob");
            assertEquals(1, bindings.size(), bindings::toString);
            Binding b = bindings.get(0);
            assertEquals("sip:127.0.0.1:" + ua.port(), b.received());
            assertEquals("<" + ua.instance() + ">", b.instance());
            assertEquals(1, b.regId());
            assertEquals(ua.callId(), b.callId());
            assertEquals(2, b.cseq());
            assertEquals("udp:127.0.0.1:" + registrar.port(), b.socket());
            assertTrue(b.expires() > 0 && b.expires() <= 60, () -> "expires " + b.expires());
            // Expires counts down between two calls: compare the bindings' ids.
            assertEquals(List.of(b.ruid()), registrar.dump().get("bob").stream().map(Binding::ruid).toList());
            assertEquals(2, registrar.registerCount("bob"));
            assertEquals(1, registrar.challengeCount("bob"));
        }
    }

    @Test
    void blockedSourceIsCountedButNeverAnswered() throws IOException {
        registrar.block("127.0.0.2");
        try (UdpUa ua = new UdpUa("127.0.0.2", "carol", "x")) {
            assertNull(ua.register(60, Duration.ofSeconds(1)), "a blocked source got an answer");
            await().atMost(SETTLE).untilAsserted(() -> assertEquals(1, registrar.registerCount("carol")));
            assertEquals(0, registrar.challengeCount("carol"));

            registrar.unblock("127.0.0.2");
            assertEquals(401, ua.register(60).status());
        }
    }

    @Test
    void variantsSha256NonceCount423NoOutboundLargeMemory() throws IOException {
        try (KamailioRegistrar r = KamailioRegistrar.builder()
                .sha256().nonceCount().mode423().minExpires(30).noOutbound().largeMemory()
                .realm("other.test")
                .start();
             UdpUa ua = new UdpUa("127.0.0.1", "dave", "daves-secret", r)) {
            assertEquals(256, r.rpc("core.shmmem", "m").path("total").asInt());
            r.addUser("dave", "daves-secret");

            Response challenge = ua.register(60);
            assertEquals(401, challenge.status(), challenge.text());
            String www = challenge.header("WWW-Authenticate");
            assertTrue(www.contains("algorithm=SHA-256"), www);
            assertTrue(www.contains("realm=\"other.test\""), www);

            ua.challenge(www);
            Response tooBrief = ua.register(10);
            assertEquals(423, tooBrief.status(), tooBrief.text());
            assertEquals("30", tooBrief.header("Min-Expires"));
            await().atMost(SETTLE).untilAsserted(() -> assertEquals(1, r.intervalTooBriefCount("dave")));

            // Pre-emptive credentials, nc=2 on the same nonce.
            Response ok = ua.register(60);
            assertEquals(200, ok.status(), ok.text());
            assertNull(ok.header("Require"), "no outbound in this variant");
            Binding b = r.lookup("dave").get(0);
            assertNull(b.instance());
            assertEquals(0, b.regId());

            // The same nc again is a replay under nonce_count.
            ua.replayNonceCount();
            assertEquals(401, ua.register(60).status());
            await().atMost(SETTLE).untilAsserted(() -> assertEquals(2, r.challengeCount("dave")));
            assertEquals(4, r.registerCount("dave"));
        }
    }

    @Test
    void anExpiredNonceIsChallengedWithStaleTrueExceptByTheStockChallengeVariant()
            throws IOException {
        assertTrue(staleAfterTheNonceExpired(KamailioRegistrar.builder()), "default: stale=true");
        assertFalse(staleAfterTheNonceExpired(KamailioRegistrar.builder().stockChallenge()),
                "STOCK_CHALLENGE: a plain 401");
    }

    /** Registers, lets the nonce expire (2 s), and says whether the next 401 had stale=true. */
    private static boolean staleAfterTheNonceExpired(KamailioRegistrar.Builder variant)
            throws IOException {
        try (KamailioRegistrar r = variant.nonceExpire(2).start();
             UdpUa ua = new UdpUa("127.0.0.1", "erin", "erins-secret", r)) {
            r.addUser("erin", "erins-secret");
            ua.challenge(ua.register(60).header("WWW-Authenticate"));
            assertEquals(200, ua.register(60).status());
            // Pre-emptive credentials (nc counting up) until the nonce has expired.
            AtomicReference<Response> refused = new AtomicReference<>();
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(250)).until(() -> {
                Response next = ua.register(60);
                refused.set(next);
                return next.status() != 200;
            });
            assertEquals(401, refused.get().status(), refused.get().text());
            return refused.get().header("WWW-Authenticate").contains("stale=true");
        }
    }

    // ---- a minimal UDP user agent: just enough SIP to exercise the registrar -------------------

    record Response(int status, String text) {
        static Response parse(String text) {
            return new Response(Integer.parseInt(text.split(" ", 3)[1]), text);
        }

        String header(String name) {
            Matcher m = Pattern.compile("(?im)^" + Pattern.quote(name) + ":\\s*(.*?)\\r?$").matcher(text);
            return m.find() ? m.group(1) : null;
        }
    }

    static final class UdpUa implements AutoCloseable {
        private final DatagramSocket socket;
        private final KamailioRegistrar target;
        private final String ip;
        private final String user;
        private final String password;
        private final String callId = UUID.randomUUID().toString();
        private final String instance = "urn:uuid:" + UUID.randomUUID();
        private int cseq;
        private String challenge;
        private int nc;

        UdpUa(String ip, String user, String password) throws IOException {
            this(ip, user, password, registrar);
        }

        UdpUa(String ip, String user, String password, KamailioRegistrar target) throws IOException {
            this.socket = new DatagramSocket(new InetSocketAddress(InetAddress.getByName(ip), 0));
            this.target = target;
            this.ip = ip;
            this.user = user;
            this.password = password;
        }

        int port() {
            return socket.getLocalPort();
        }

        String callId() {
            return callId;
        }

        String instance() {
            return instance;
        }

        /** Answer this challenge from now on (and pre-emptively, counting nc up). */
        void challenge(String wwwAuthenticate) {
            challenge = wwwAuthenticate;
            nc = 0;
        }

        void replayNonceCount() {
            nc--;
        }

        Response register(int expires) throws IOException {
            Response r = register(expires, Duration.ofSeconds(5));
            assertNotNull(r, "no answer to REGISTER");
            return r;
        }

        /** Null when nothing came back in time. */
        Response register(int expires, Duration wait) throws IOException {
            String uri = target.sipUri();
            String contact = "<sip:" + user + "@" + ip + ":" + port() + ">;+sip.instance=\"<" + instance
                    + ">\";reg-id=1";
            String msg = "REGISTER " + uri + " SIP/2.0\r\n"
                    + "Via: SIP/2.0/UDP " + ip + ":" + port() + ";rport;branch=z9hG4bK" + UUID.randomUUID() + "\r\n"
                    + "Max-Forwards: 70\r\n"
                    + "From: <sip:" + user + "@" + target.realm() + ">;tag=" + callId.substring(0, 8) + "\r\n"
                    + "To: <sip:" + user + "@" + target.realm() + ">\r\n"
                    + "Call-ID: " + callId + "\r\n"
                    + "CSeq: " + (++cseq) + " REGISTER\r\n"
                    + "Contact: " + contact + "\r\n"
                    + "Expires: " + expires + "\r\n"
                    + "Supported: outbound, path\r\n"
                    + (challenge == null ? "" : "Authorization: " + authorization(uri) + "\r\n")
                    + "Content-Length: 0\r\n\r\n";
            byte[] out = msg.getBytes(StandardCharsets.UTF_8);
            socket.send(new DatagramPacket(out, out.length,
                    new InetSocketAddress(InetAddress.getByName(target.host()), target.port())));
            socket.setSoTimeout((int) wait.toMillis());
            byte[] in = new byte[65535];
            DatagramPacket packet = new DatagramPacket(in, in.length);
            try {
                socket.receive(packet);
            } catch (SocketTimeoutException e) {
                return null;
            }
            return Response.parse(new String(in, 0, packet.getLength(), StandardCharsets.UTF_8));
        }

        private String authorization(String uri) {
            String realm = param("realm");
            String nonce = param("nonce");
            String algorithm = challenge.contains("algorithm=SHA-256") ? "SHA-256" : "MD5";
            String ncHex = String.format("%08x", ++nc);
            String cnonce = UUID.randomUUID().toString().substring(0, 8);
            String ha1 = hash(algorithm, user + ":" + realm + ":" + password);
            String ha2 = hash(algorithm, "REGISTER:" + uri);
            String response = hash(algorithm, ha1 + ":" + nonce + ":" + ncHex + ":" + cnonce + ":auth:" + ha2);
            return "Digest username=\"" + user + "\", realm=\"" + realm + "\", nonce=\"" + nonce
                    + "\", uri=\"" + uri + "\", response=\"" + response + "\", algorithm=" + algorithm
                    + ", qop=auth, nc=" + ncHex + ", cnonce=\"" + cnonce + "\"";
        }

        private String param(String name) {
            Matcher m = Pattern.compile(name + "=\"([^\"]*)\"").matcher(challenge);
            if (!m.find()) {
                throw new AssertionError("no " + name + " in " + challenge);
            }
            return m.group(1);
        }

        private static String hash(String algorithm, String text) {
            try {
                MessageDigest md = MessageDigest.getInstance(algorithm.equals("MD5") ? "MD5" : "SHA-256");
                return HexFormat.of().formatHex(md.digest(text.getBytes(StandardCharsets.UTF_8)));
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void close() {
            socket.close();
        }
    }
}
