package io.sipalr.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.dockerjava.api.exception.NotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Assumptions;
import org.slf4j.LoggerFactory;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.AbstractWaitStrategy;
import org.testcontainers.images.builder.ImageFromDockerfile;
import org.testcontainers.utility.MountableFile;
import org.testcontainers.utility.DockerImageName;

/**
 * A Kamailio 5.6 registrar in a container, for integration tests (docker/kamailio/).
 *
 * <p>The container uses host networking and listens on one loopback address (or one address of
 * the test range 198.19.0.0/16 that the test put on this machine) and a free port,
 * the same number for UDP and TCP: Testcontainers maps UDP ports poorly, and a test must be
 * able to tell source addresses apart (the binding's {@code received}). Everything the
 * registrar holds is read over its JSON-RPC ({@code POST /RPC} on the SIP TCP port).
 *
 * <pre>{@code
 * try (var registrar = KamailioRegistrar.builder().sha256().start()) {
 *     registrar.addUser("alice", "secret");
 *     ... register the agent at registrar.sipUri() ...
 *     assertThat(registrar.lookup("alice")).hasSize(1);
 * }
 * }</pre>
 *
 * <p>No engine: with {@code CI=true} the fixture fails, otherwise it aborts the test (skip).
 * The image {@value #IMAGE} is built from docker/kamailio/ only when missing (CI builds it
 * first).
 *
 * <p>Engine set-up on the CI/development machines (docs/testing.md, "Skips and CI")
 * needs {@code TESTCONTAINERS_RYUK_DISABLED=true} (the Ryuk image cannot be pulled) and
 * {@code TESTCONTAINERS_HOST_OVERRIDE=localhost}. Tried: Testcontainers 2.0.5 reads both from
 * the environment only ({@code ResourceReaper.instance()} and
 * {@code DockerClientProviderStrategy.resolveDockerHostIpAddress} call {@code System.getenv});
 * {@code ryuk.disabled=true} in a {@code testcontainers.properties}, on the classpath or in the
 * home directory, has no effect. So export them, or have the failsafe plugin set them
 * ({@code <environmentVariables>}). Without the Ryuk variable Testcontainers retries the pull
 * for about seven minutes and {@link Builder#start()} then fails saying so (an engine that
 * answers is never a reason to skip). The host override does not matter to this fixture (host
 * networking, no mapped port; tried without it); other containers may need it.
 *
 * <p>Containers are stopped by {@link #close()}; with Ryuk disabled a killed JVM leaves them
 * running (label {@value #LABEL}).
 */
public final class KamailioRegistrar implements AutoCloseable {

    public static final String IMAGE = "sip-alr-agent/kamailio:test";
    /**
     * docker/kamailio/tls.cfg with a client certificate required of every TLS client, issued by
     * a CA of ca.pem ({@link Builder#requireClientCertificates}).
     */
    private static final String CLIENT_CERTIFICATES_TLS_CFG = String.join("\n",
            "[server:default]",
            "method = TLSv1.2+",
            "verify_certificate = yes",
            "require_certificate = yes",
            "ca_list = /etc/kamailio/tls/ca.pem",
            "certificate = /etc/kamailio/tls/server.pem",
            "private_key = /etc/kamailio/tls/server.key",
            "",
            "[client:default]",
            "method = TLSv1.2+",
            "verify_certificate = no",
            "require_certificate = no",
            "");

    /** Where {@link Builder#tls} puts the certificate and key in the container. */
    static final String TLS_DIR = "/etc/kamailio/tls/";
    public static final String DEFAULT_REALM = "sipalr.test";
    static final String LABEL = "io.sipalr.it.registrar";

    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);
    private static final int RPC_ATTEMPTS = 3;
    private static final Duration RPC_TIMEOUT = Duration.ofSeconds(10);
    private static final int START_ATTEMPTS = 3;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final GenericContainer<?> container;
    private final String host;
    private final int port;
    private final String realm;
    private final HttpClient http;
    private final URI rpcUri;
    private final AtomicLong rpcIds = new AtomicLong();
    private int tlsPort;
    private volatile boolean paused;

    private KamailioRegistrar(GenericContainer<?> container, String host, int port, String realm) {
        this.container = container;
        this.host = host;
        this.port = port;
        this.realm = realm;
        // HTTP/1.1: Kamailio's xhttp knows nothing of the h2c upgrade.
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(RPC_TIMEOUT)
                .build();
        this.rpcUri = URI.create("http://" + host + ":" + port + "/RPC");
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Variants of the one configuration, as -A defines (docker/kamailio/README.md). */
    public static final class Builder {
        private final List<String> defines = new ArrayList<>();
        private String listenAddress = "127.0.0.1";
        private String listenIpv6;
        private String realm = DEFAULT_REALM;
        private boolean largeMemory;
        private int port;
        private java.nio.file.Path tlsFiles;
        private boolean clientCertificates;

        private Builder() {}

        /**
         * Also listens on TLS (a port of its own, {@link #tlsPort()}) with the certificate
         * chain {@code server.pem} and key {@code server.key} in {@code dir}, copied to
         * /etc/kamailio/tls (-A WITH_TLS).
         */
        public Builder tls(java.nio.file.Path dir) {
            this.tlsFiles = dir;
            return define("WITH_TLS");
        }

        /**
         * Its TLS listener requires a client certificate issued by a CA of {@code ca.pem} in the
         * {@link #tls} directory (tls.cfg's verify_certificate and require_certificate, ca_list):
         * a tls.cfg saying so replaces the image's.
         */
        public Builder requireClientCertificates() {
            this.clientCertificates = true;
            return this;
        }

        /**
         * One TCP/TLS worker process (-A ONE_TCP_WORKER): OpenSSL's session cache is per
         * process, so only then can a new TLS connection resume the session of an old one that
         * is still open in another worker.
         */
        public Builder oneTcpWorker() {
            return define("ONE_TCP_WORKER");
        }

        /** Challenges with algorithm=SHA-256 instead of MD5. */
        public Builder sha256() {
            return define("WITH_SHA256");
        }

        /**
         * Checks nc, so pre-emptive credentials must count up (replays are challenged); REGISTER
         * is then handled statefully (about 14 KB of shared memory per REGISTER for 5 s).
         */
        public Builder nonceCount() {
            return define("WITH_NONCE_COUNT");
        }

        /** Shortest expires granted; shorter ones are raised silently unless {@link #mode423()}. */
        public Builder minExpires(int seconds) {
            return define("MIN_EXPIRES=" + seconds);
        }

        public Builder maxExpires(int seconds) {
            return define("MAX_EXPIRES=" + seconds);
        }

        /** Expires granted when the REGISTER asks for none. */
        public Builder defaultExpires(int seconds) {
            return define("DEFAULT_EXPIRES=" + seconds);
        }

        /** Answers too short an expires with 423 Interval Too Brief and Min-Expires. */
        public Builder mode423() {
            return define("WITH_423");
        }

        /** A registrar without outbound: strips +sip.instance and reg-id before saving. */
        public Builder noOutbound() {
            return define("NO_OUTBOUND");
        }

        /** Lifetime of a nonce (Kamailio's default 300 s), to provoke stale=true. */
        public Builder nonceExpire(int seconds) {
            return define("NONCE_EXPIRE=" + seconds);
        }

        /**
         * Challenges as a stock configuration does: never {@code stale=true}, so an expired
         * nonce (see {@link #nonceExpire}) gets the same 401 as wrong credentials.
         */
        public Builder stockChallenge() {
            return define("STOCK_CHALLENGE");
        }

        /**
         * Routes requests for a registered user to its binding ({@code lookup("location")},
         * {@code t_relay()}), as every operator's registrar does; 404 for a user it does not
         * have. Without it, anything but REGISTER and OPTIONS is answered 405.
         */
        public Builder routing() {
            return define("ROUTING");
        }

        /**
         * A registrar that answers no STUN: the stun module not loaded, so STUN Binding
         * requests on the SIP UDP port go unanswered (RFC 5626 keep-alives fall back).
         */
        public Builder noStun() {
            return define("NO_STUN");
        }

        /** Flow-Timer header in the 200 (outbound variants only). */
        public Builder flowTimer(int seconds) {
            return define("FLOW_TIMER=" + seconds);
        }

        /** Bindings per AOR; beyond that the registrar answers 503 (it never evicts). */
        public Builder maxContacts(int contacts) {
            return define("MAX_CONTACTS=" + contacts);
        }

        /** With {@link #maxContacts}: the 503 for one contact too many says Retry-After. */
        public Builder retryAfter(int seconds) {
            return define("RETRY_AFTER=" + seconds);
        }

        /** Default {@value KamailioRegistrar#DEFAULT_REALM}; a host-name-like token (a define). */
        public Builder realm(String realm) {
            if (!realm.matches("[A-Za-z0-9.-]+")) {
                throw new IllegalArgumentException("realm must be a host-name-like token: " + realm);
            }
            this.realm = realm;
            return define("REALM=\"" + realm + "\"");
        }

        /** Shared memory 256 MB, per-process 32 MB: for about 10,000 bindings and ul.dump. */
        public Builder largeMemory() {
            this.largeMemory = true;
            return this;
        }

        /**
         * An IPv4 loopback address (127.0.0.0/8), or an address in 198.19.0.0/16, the test
         * networks' range (e.g. 198.19.30.1 added to {@code lo} for {@link LinuxRoamingIT}: host
         * networking, so the address must exist in this machine's network namespace before
         * {@link #start()}); default 127.0.0.1.
         */
        public Builder listenAddress(String address) {
            // Test traffic stays on loopback or in 198.19.0.0/16: never any other network.
            if (!isAllowedListenAddress(address)) {
                throw new IllegalArgumentException("listen address must be a dotted-quad IPv4"
                        + " address in 127.0.0.0/8 (loopback) or 198.19.0.0/16 (the test networks),"
                        + " was: " + address);
            }
            this.listenAddress = address;
            return this;
        }

        /**
         * Listens on this IPv6 address too (UDP and TCP, the same port), in 2001:2::/48 only;
         * JSON-RPC stays on the IPv4 listen address.
         */
        public Builder listenIpv6(String address) {
            if (address == null || !address.toLowerCase(java.util.Locale.ROOT).startsWith("2001:2:")) {
                throw new IllegalArgumentException("IPv6 listen address must be in 2001:2::/48,"
                        + " was: " + address);
            }
            this.listenIpv6 = address;
            return this;
        }

        /** 127.x.y.z or 198.19.y.z, written as four decimal octets of 0-255. */
        static boolean isAllowedListenAddress(String address) {
            if (address == null || !address.matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
                return false;
            }
            int[] octets = Arrays.stream(address.split("\\.")).mapToInt(Integer::parseInt).toArray();
            if (Arrays.stream(octets).anyMatch(o -> o > 255)) {
                return false;
            }
            return octets[0] == 127 || (octets[0] == 198 && octets[1] == 19);
        }

        /**
         * Listens on this port (UDP and TCP) instead of a free one picked at start: a registrar
         * that comes back where the agent knew it (a restart, or after something else answered
         * there). Start fails when the port is taken.
         */
        public Builder port(int port) {
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("port must be 1..65535, was " + port);
            }
            this.port = port;
            return this;
        }

        private Builder define(String define) {
            defines.add(define);
            return this;
        }

        /** Starts the registrar and waits until it is ready (at most 60 s). */
        public KamailioRegistrar start() {
            requireDocker();
            ensureImage();
            RuntimeException last = null;
            // A free port can be taken between the probe and Kamailio's bind: try another.
            for (int attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
                int port = this.port != 0 ? this.port : freeUdpAndTcpPort(listenAddress);
                int tlsPort = tlsFiles == null ? 0 : freeUdpAndTcpPort(listenAddress);
                List<String> cmd = new ArrayList<>(List.of(command(port)));
                if (tlsPort != 0) {
                    // A define, not -l: "-l tls:..." is parsed before enable_tls (kamailio.cfg).
                    cmd.addAll(List.of("-A", "TLS_LISTEN=tls:" + listenAddress + ":" + tlsPort));
                }
                GenericContainer<?> container = new GenericContainer<>(DockerImageName.parse(IMAGE))
                        .withNetworkMode("host")
                        .withLabel(LABEL, "true")
                        .withCommand(cmd.toArray(String[]::new))
                        // The configuration of this tree, not the one baked into the image
                        // when it was built: a branch's routing changes are tested as written.
                        .withCopyFileToContainer(MountableFile.forHostPath(
                                java.nio.file.Path.of("docker", "kamailio", "kamailio.cfg")),
                                "/etc/kamailio/kamailio.cfg")
                        .waitingFor(new ReadyOrExited().withStartupTimeout(STARTUP_TIMEOUT));
                if (tlsFiles != null) {
                    // Copied, not bind-mounted: a bind makes Testcontainers pull a helper image.
                    for (String file : List.of("server.pem", "server.key")) {
                        container.withCopyFileToContainer(MountableFile.forHostPath(
                                tlsFiles.resolve(file), 0644), TLS_DIR + file);
                    }
                }
                if (clientCertificates) {
                    container.withCopyFileToContainer(MountableFile.forHostPath(
                            tlsFiles.resolve("ca.pem"), 0644), TLS_DIR + "ca.pem");
                    container.withCopyToContainer(org.testcontainers.images.builder.Transferable
                            .of(CLIENT_CERTIFICATES_TLS_CFG), "/etc/kamailio/tls.cfg");
                }
                try {
                    container.start();
                    KamailioRegistrar started =
                            new KamailioRegistrar(container, listenAddress, port, realm);
                    started.tlsPort = tlsPort;
                    return started;
                } catch (RuntimeException e) {
                    container.stop();
                    last = new IllegalStateException("Kamailio did not start: "
                            + String.join(" ", cmd), e);
                    if (this.port != 0 || !causeMentions(e, "Address already in use")) {
                        throw last;
                    }
                }
            }
            throw last;
        }

        private String[] command(int port) {
            List<String> args = new ArrayList<>(List.of(
                    "-l", "udp:" + listenAddress + ":" + port,
                    "-l", "tcp:" + listenAddress + ":" + port));
            if (listenIpv6 != null) {
                args.addAll(List.of("-l", "udp:[" + listenIpv6 + "]:" + port,
                        "-l", "tcp:[" + listenIpv6 + "]:" + port));
            }
            if (largeMemory) {
                // The image's entrypoint says -m 64 -M 8; later options win.
                args.addAll(List.of("-m", "256", "-M", "32"));
            }
            for (String define : defines) {
                args.add("-A");
                args.add(define);
            }
            return args.toArray(String[]::new);
        }
    }

    // ---- accessors -------------------------------------------------------------------------

    public String host() {
        return host;
    }

    public int port() {
        return port;
    }

    /**
     * Replaces the TLS certificate and key with those now in {@code dir} and has Kamailio load
     * them ({@code tls.reload}): the registrar's certificate fixed while the agent runs.
     */
    public void reloadTls(java.nio.file.Path dir) {
        for (String file : List.of("server.pem", "server.key")) {
            container.copyFileToContainer(MountableFile.forHostPath(dir.resolve(file), 0644),
                    TLS_DIR + file);
        }
        rpc("tls.reload");
    }

    /** The TLS port ({@link Builder#tls}), 0 without TLS. */
    public int tlsPort() {
        return tlsPort;
    }

    /** The registrar's address as a SIP URI, e.g. {@code sip:127.0.0.1:40123}. */
    public String sipUri() {
        return "sip:" + host + ":" + port;
    }

    public String realm() {
        return realm;
    }

    /**
     * CPU time all of Kamailio's processes used so far (ns), from the container's cgroup
     * (v1 cpuacct, or v2 cpu.stat); -1 when neither is readable. For benchmarks: what the
     * registrar spent per request, beside what the client spent.
     */
    public long cpuNanos() {
        String id = container.getContainerId();
        List<Path> candidates = List.of(
            Path.of("/sys/fs/cgroup/cpuacct/docker", id, "cpuacct.usage"),
            Path.of("/sys/fs/cgroup/cpu,cpuacct/docker", id, "cpuacct.usage"),
            Path.of("/sys/fs/cgroup/system.slice", "docker-" + id + ".scope", "cpu.stat"),
            Path.of("/sys/fs/cgroup/docker", id, "cpu.stat"));
        for (Path p : candidates) {
            try {
                String text = Files.readString(p).trim();
                if (p.getFileName().toString().equals("cpuacct.usage")) {
                    return Long.parseLong(text);
                }
                for (String line : text.split("\n")) {
                    if (line.startsWith("usage_usec ")) {
                        return Long.parseLong(line.substring(11).trim()) * 1000;
                    }
                }
            } catch (IOException | NumberFormatException e) {
                // not this cgroup layout
            }
        }
        return -1;
    }

    /** Everything Kamailio logged so far (stdout and stderr). */
    public String logs() {
        return container.getLogs();
    }

    // ---- users, reachability, counters ----------------------------------------------------

    public void addUser(String user, String password) {
        rpc("htable.sets", "creds", user, password);
    }

    public void removeUser(String user) {
        rpc("htable.delete", "creds", user);
    }

    /** From now on every request from this source address is dropped (after being counted). */
    /** Open TCP connections to the registrar whose far end is {@code sourceIp}. */
    public long tcpConnectionsFrom(String sourceIp) {
        JsonNode list = rpc("core.tcp_list");
        long n = 0;
        for (JsonNode c : list) {
            if (sourceIp.equals(c.path("src_ip").asText()) && !c.path("state").asText().contains("BAD")) {
                n++;
            }
        }
        return n;
    }

    /** Kamailio's TLS connections from {@code sourceIp} ({@code core.tcp_list}, type TLS). */
    public long tlsConnectionsFrom(String sourceIp) {
        long n = 0;
        for (JsonNode c : rpc("core.tcp_list")) {
            if (sourceIp.equals(c.path("src_ip").asText())
                    && "TLS".equalsIgnoreCase(c.path("type").asText())
                    && !c.path("state").asText().contains("BAD")) {
                n++;
            }
        }
        return n;
    }

    /** Authenticated REGISTERs of {@code user} get 500 until {@link #accept}. */
    public void reject(String user) {
        rpc("htable.sets", "rejected", user, "1");
    }

    public void accept(String user) {
        rpc("htable.delete", "rejected", user);
    }

    public void block(String sourceIp) {
        rpc("htable.sets", "blocked", sourceIp, "1");
    }

    public void unblock(String sourceIp) {
        rpc("htable.delete", "blocked", sourceIp);
    }

    public boolean isBlocked(String sourceIp) {
        return htableGet("blocked", sourceIp) != null;
    }

    /** REGISTERs received with this From user, retransmissions and dropped ones included. */
    public long registerCount(String user) {
        return counter("reg::" + user);
    }

    /** 401 challenges sent for this From user. */
    public long challengeCount(String user) {
        return counter("401::" + user);
    }

    /** 423 Interval Too Brief answers sent for this From user ({@link Builder#mode423()}). */
    public long intervalTooBriefCount(String user) {
        return counter("423::" + user);
    }

    /** Sets every counter back to 0. */
    public void resetCounters() {
        rpc("htable.flush", "stats");
    }

    private long counter(String key) {
        JsonNode item = htableGet("stats", key);
        return item == null ? 0 : item.path("value").asLong();
    }

    /** The item ({@code name}, {@code value}, ...) or null when the key is not set. */
    private JsonNode htableGet(String table, String key) {
        try {
            return rpc("htable.get", table, key).path("item");
        } catch (RpcException e) {
            if (e.getMessage().startsWith("Key name doesn't exist")) {
                return null;
            }
            throw e;
        }
    }

    // ---- location table --------------------------------------------------------------------

    /**
     * One contact of an AOR as {@code ul.lookup} / {@code ul.dump} show it. Absent values
     * ("[not set]") are null; {@code regId} 0 and {@code tcpConnectionId} -1 mean none;
     * {@code expires} is the number of seconds left, -1 for a permanent binding. {@code
     * received} is the REGISTER's source, {@code sip:IP:PORT} with {@code ;transport=tcp}
     * added for TCP; {@code socket} is the registrar's own, e.g. {@code udp:127.0.0.1:5060}.
     */
    public record Binding(
            String address,
            long expires,
            String received,
            String callId,
            long cseq,
            String socket,
            String instance,
            int regId,
            String userAgent,
            String path,
            long tcpConnectionId,
            String ruid,
            long lastModified) {

        static Binding fromJson(JsonNode c) {
            JsonNode expires = c.path("Expires");
            return new Binding(
                    text(c, "Address"),
                    expires.isNumber() ? expires.asLong() : -1,
                    text(c, "Received"),
                    text(c, "Call-ID"),
                    c.path("CSeq").asLong(),
                    text(c, "Socket"),
                    text(c, "Instance"),
                    c.path("Reg-Id").asInt(),
                    text(c, "User-Agent"),
                    text(c, "Path"),
                    c.path("Tcpconn-Id").asLong(-1),
                    text(c, "Ruid"),
                    c.path("Last-Modified").asLong());
        }

        /** Whether the registrar still counts it: ul.dump also lists "expired" and "deleted". */
        static boolean isLive(JsonNode c) {
            JsonNode expires = c.path("Expires");
            return expires.isNumber() || "permanent".equals(expires.asText());
        }

        private static String text(JsonNode c, String field) {
            JsonNode v = c.get(field);
            return v == null || v.isNull() || "[not set]".equals(v.asText()) ? null : v.asText();
        }
    }

    /** The live bindings of {@code user}; empty when the registrar holds none. */
    public List<Binding> lookup(String user) {
        JsonNode result;
        try {
            result = rpc("ul.lookup", "location", user);
        } catch (RpcException e) {
            // Only these two mean "no binding"; anything else is a broken test set-up.
            if (e.getMessage().equals("AOR not found in location table")
                    || e.getMessage().equals("AOR has no contacts")) {
                return List.of();
            }
            throw e;
        }
        return bindings(result.path("Contacts"));
    }

    /**
     * All live bindings by user (AOR); users with none left are omitted. Beyond a few thousand
     * bindings only with {@link Builder#largeMemory()}: otherwise Kamailio cannot build the
     * answer (10,000 bindings make 5 MB of JSON), sends none, and the RPC times out.
     */
    public Map<String, List<Binding>> dump() {
        Map<String, List<Binding>> all = new LinkedHashMap<>();
        for (JsonNode domain : rpc("ul.dump").path("Domains")) {
            if (!"location".equals(domain.path("Domain").path("Domain").asText())) {
                continue;
            }
            for (JsonNode aor : domain.path("Domain").path("AoRs")) {
                List<Binding> live = bindings(aor.path("Info").path("Contacts"));
                if (!live.isEmpty()) {
                    all.put(aor.path("Info").path("AoR").asText(), live);
                }
            }
        }
        return all;
    }

    private static List<Binding> bindings(JsonNode contacts) {
        List<Binding> list = new ArrayList<>();
        for (JsonNode wrapper : contacts) {
            JsonNode c = wrapper.path("Contact");
            if (Binding.isLive(c)) {
                list.add(Binding.fromJson(c));
            }
        }
        return List.copyOf(list);
    }

    // ---- JSON-RPC --------------------------------------------------------------------------

    /** A JSON-RPC error answered by Kamailio; {@link #getMessage()} is Kamailio's own text. */
    public static final class RpcException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final String method;
        private final int code;

        RpcException(String method, int code, String message) {
            super(message);
            this.method = method;
            this.code = code;
        }

        public String method() {
            return method;
        }

        public int code() {
            return code;
        }

        @Override
        public String toString() {
            return "RpcException: " + method + " answered " + code + " " + getMessage();
        }
    }

    /**
     * Calls any Kamailio RPC (e.g. {@code core.shmmem}, {@code htable.dump}); returns its
     * {@code result}, throws {@link RpcException} for an {@code error}.
     */
    public JsonNode rpc(String method, Object... params) {
        ObjectNode request = JSON.createObjectNode()
                .put("jsonrpc", "2.0")
                .put("method", method)
                .put("id", rpcIds.incrementAndGet());
        request.set("params", JSON.valueToTree(Arrays.asList(params)));
        HttpResponse<String> response = null;
        // Kamailio's HTTP server may close a kept-alive connection just as the client reuses it
        // ("header parser received no bytes"): the calls used here set or read, so one is
        // simply made again, at most RPC_ATTEMPTS times.
        for (int attempt = 1; response == null; attempt++) {
            try {
                response = http.send(
                        HttpRequest.newBuilder(rpcUri)
                                .timeout(RPC_TIMEOUT)
                                .header("Content-Type", "application/json")
                                .POST(HttpRequest.BodyPublishers.ofString(request.toString()))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
            } catch (IOException e) {
                if (attempt >= RPC_ATTEMPTS) {
                    throw new UncheckedIOException("RPC " + method + " to " + rpcUri + " failed"
                            + " (" + attempt + " attempts)", e);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted during RPC " + method, e);
            }
        }
        JsonNode body;
        try {
            body = JSON.readTree(response.body());
        } catch (IOException e) {
            throw new IllegalStateException("RPC " + method + ": HTTP " + response.statusCode()
                    + ", not JSON: " + response.body(), e);
        }
        JsonNode error = body.get("error");
        if (error != null) {
            throw new RpcException(method, error.path("code").asInt(), error.path("message").asText());
        }
        return body.path("result");
    }

    /**
     * Freezes every Kamailio process ({@code docker pause}: the cgroup freezer): a dead server as
     * a client sees one. Its sockets stay bound, so nothing answers, not even an ICMP port
     * unreachable; what arrives meanwhile waits in the socket buffers and is handled after
     * {@link #unpause()} (a server that was unreachable for a while, not one that restarted).
     * No RPC until then: it would wait out its timeout.
     */
    public void pause() {
        DockerClientFactory.instance().client().pauseContainerCmd(container.getContainerId())
                .exec();
        paused = true;
    }

    /** Thaws a {@link #pause()}d Kamailio: it goes on where it stopped. */
    public void unpause() {
        DockerClientFactory.instance().client().unpauseContainerCmd(container.getContainerId())
                .exec();
        paused = false;
    }

    @Override
    public void close() {
        if (paused) {
            try {
                unpause(); // the engine refuses to kill a paused container
            } catch (RuntimeException e) {
                LoggerFactory.getLogger(KamailioRegistrar.class).warn("unpause before stop", e);
            }
        }
        container.stop();
    }

    // ---- start-up helpers ------------------------------------------------------------------

    private static void requireDocker() {
        try {
            // Finds an engine that answers, before Testcontainers starts Ryuk or anything else.
            DockerClientFactory.instance().getTransportConfig();
        } catch (RuntimeException e) {
            String message = "No Docker engine answers, so the Kamailio registrar cannot run (" + e + ").";
            if ("true".equals(System.getenv("CI"))) {
                throw new IllegalStateException(message + " CI=true: failing instead of skipping.", e);
            }
            message += " Skipping; with CI=true this fails.";
            // Surefire does not show why a whole class was skipped: say it here.
            LoggerFactory.getLogger(KamailioRegistrar.class).warn(message);
            Assumptions.abort(message);
        }
        try {
            DockerClientFactory.instance().client();
        } catch (RuntimeException e) {
            // An engine answers: not a reason to skip. Most likely Ryuk's image cannot be pulled.
            throw new IllegalStateException("A Docker engine answers but Testcontainers could not set up"
                    + " (" + e + "). Where no image registry is reachable, set the environment variable"
                    + " TESTCONTAINERS_RYUK_DISABLED=true (Testcontainers reads it from nowhere else).", e);
        }
    }

    private static void ensureImage() {
        try {
            DockerClientFactory.instance().client().inspectImageCmd(IMAGE).exec();
            return;
        } catch (NotFoundException e) {
            // build it below
        }
        Path dir = findContextDirectory();
        // deleteOnExit false: the next run (and other fixtures) reuse it.
        new ImageFromDockerfile(IMAGE, false)
                .withFileFromPath(".", dir)
                // No registry is reachable: apt in the build talks to the machine's mirror.
                .withBuildImageCmdModifier(cmd -> cmd.withNetworkMode("host"))
                .get();
    }

    /** docker/kamailio/ under the working directory or one of its parents. */
    private static Path findContextDirectory() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("docker/kamailio");
            if (Files.isRegularFile(candidate.resolve("Dockerfile"))) {
                return candidate;
            }
        }
        throw new IllegalStateException("Image " + IMAGE + " is missing and docker/kamailio/Dockerfile"
                + " was not found above " + Path.of("").toAbsolutePath());
    }

    /** A port free for both UDP and TCP on {@code address} at the time of asking. */
    static int freeUdpAndTcpPort(String address) {
        try {
            InetAddress inet = InetAddress.getByName(address);
            for (int i = 0; i < 50; i++) {
                try (ServerSocket tcp = new ServerSocket()) {
                    tcp.setReuseAddress(false);
                    tcp.bind(new InetSocketAddress(inet, 0));
                    int port = tcp.getLocalPort();
                    try (DatagramSocket udp = new DatagramSocket(new InetSocketAddress(inet, port))) {
                        return udp.getLocalPort();
                    } catch (IOException taken) {
                        // UDP side in use: next candidate
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot probe ports on " + address, e);
        }
        throw new IllegalStateException("no port free for both UDP and TCP on " + address);
    }

    private static boolean causeMentions(Throwable e, String text) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && t.getMessage().contains(text)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Ready once the ctl module logs {@code io_listen_loop} (every process has forked); fails at
     * once, with Kamailio's log, when it exits instead (bad configuration, port taken): a log
     * wait alone would sit out its whole timeout.
     */
    private static final class ReadyOrExited extends AbstractWaitStrategy {
        @Override
        protected void waitUntilReady() {
            try {
                Awaitility.await("Kamailio ready")
                        .atMost(startupTimeout)
                        .pollInterval(Duration.ofMillis(100))
                        .until(() -> {
                            String logs = waitStrategyTarget.getLogs();
                            if (logs.contains("io_listen_loop")) {
                                return true;
                            }
                            if (!waitStrategyTarget.isRunning()) {
                                throw new IllegalStateException("Kamailio exited; its log:\n" + logs);
                            }
                            return false;
                        });
            } catch (ConditionTimeoutException e) {
                throw new IllegalStateException("Kamailio not ready after " + startupTimeout
                        + "; its log:\n" + waitStrategyTarget.getLogs(), e);
            }
        }
    }

}
