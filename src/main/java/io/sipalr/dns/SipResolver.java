package io.sipalr.dns;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.random.RandomGenerator;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.ExtendedResolver;
import org.xbill.DNS.NAPTRRecord;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.Resolver;
import org.xbill.DNS.ResolverConfig;
import org.xbill.DNS.SRVRecord;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;
import org.xbill.DNS.lookup.LookupSession;
import org.xbill.DNS.lookup.NoSuchDomainException;
import org.xbill.DNS.lookup.NoSuchRRSetException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * RFC 3263 §4 on dnsjava: which transport, address and port a SIP URI's host stands for.
 *
 * <ul>
 *   <li>an IP literal is used as it is (no DNS);</li>
 *   <li>a port in the URI: A/AAAA of the host only;</li>
 *   <li>a transport fixed (profile or URI): SRV for it ({@code _sip._udp}, {@code _sip._tcp},
 *       {@code _sips._tcp}), else A/AAAA on the default port;</li>
 *   <li>else NAPTR (services SIP+D2U, SIP+D2T, SIPS+D2T, those we support), by order and
 *       preference, each to its SRV; without usable NAPTRs, SRV for each supported transport;
 *       without SRV, A/AAAA over UDP (TLS for sips).</li>
 * </ul>
 *
 * SRV targets are ordered by priority and, within one priority, by RFC 2782's weighted random
 * choice, anew for every caller (thousands of profiles spread over equal servers). Answers are
 * cached for the smallest TTL of the records they came from; lookups of the same query in flight
 * together are made once. Nothing blocks the caller: the queries go out on dnsjava's one NIO
 * thread and their answers are read on this resolver's executor.
 */
public final class SipResolver implements TargetResolver {
  private static final Logger log = LoggerFactory.getLogger(SipResolver.class);
  static final int SIP_PORT = 5060;
  static final int SIPS_PORT = 5061;
  /** No answer is kept longer than a day, whatever its TTL says. */
  private static final long MAX_TTL_SECONDS = 86_400;

  private final DnsConfig config;
  /** The transports the agent can send over, in the order it prefers without NAPTR. */
  private final List<String> transports;
  private final Function<InetAddress, Resolver> resolvers;
  private final Executor executor;
  private final Clock clock;
  private final RandomGenerator random;
  private final boolean hostsFile;
  /** One session per local address queries leave from ({@code null} key: system routing). */
  private final Map<Optional<InetAddress>, LookupSession> sessions = new HashMap<>();
  private final LinkedHashMap<TargetQuery, Cached> cache;
  private final Map<TargetQuery, CompletableFuture<Plan>> inFlight = new HashMap<>();

  /** One SRV target (or the URI's host) with its addresses. */
  record Candidate(int group, int priority, int weight, String name, int port, String transport,
      List<InetAddress> addresses) {}

  /** What a query resolved to, before the per-caller weighted order. */
  record Plan(List<Candidate> candidates, long ttlSeconds) {}

  private record Cached(Plan plan, Instant expires) {}

  /** What one lookup found: its records, or that the name does not exist. */
  private record Answer(List<Record> records, boolean noSuchName) {
    static final Answer NONE = new Answer(List.of(), false);
  }

  /**
   * @param transports what the agent can send over ("udp", "tcp", and "tls" once it can)
   * @param resolvers the dnsjava resolver for queries from a local address (null: any)
   * @param executor where answers are read (never a SIP or timer thread)
   * @param hostsFile whether A/AAAA lookups consult /etc/hosts first
   */
  public SipResolver(DnsConfig config, List<String> transports,
      Function<InetAddress, Resolver> resolvers, Executor executor, Clock clock,
      RandomGenerator random, boolean hostsFile) {
    this.config = config;
    this.transports = transports.stream().map(t -> t.toLowerCase(Locale.ROOT)).toList();
    this.resolvers = resolvers;
    this.executor = executor;
    this.clock = clock;
    this.random = random;
    this.hostsFile = hostsFile;
    int size = config.cacheSize();
    this.cache = new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<TargetQuery, Cached> eldest) {
        return size() > size;
      }
    };
  }

  /**
   * The agent's resolver: the configured nameserver, else the system's (/etc/resolv.conf, all of
   * them, dnsjava's ExtendedResolver trying each in turn).
   */
  public static SipResolver system(DnsConfig config, List<String> transports, Executor executor) {
    return new SipResolver(config, transports, via -> nameservers(config, via), executor,
        Clock.systemUTC(), RandomGenerator.getDefault(), true);
  }

  private static Resolver nameservers(DnsConfig config, InetAddress via) {
    List<InetSocketAddress> servers = config.nameserver() != null
        ? List.of(config.nameserver()) : ResolverConfig.getCurrentConfig().servers();
    List<Resolver> each = new ArrayList<>();
    for (InetSocketAddress server : servers) {
      SimpleResolver r = new SimpleResolver(server);
      r.setTimeout(config.timeout());
      if (via != null) {
        r.setLocalAddress(via); // through this uplink: its DNS may answer differently
      }
      each.add(r);
    }
    if (each.size() == 1) {
      return each.get(0);
    }
    ExtendedResolver all = new ExtendedResolver(each);
    all.setTimeout(config.timeout());
    return all;
  }

  /** Where the queries go, for messages. */
  String nameserverText() {
    return config.nameserver() != null ? config.nameserver().toString().replaceFirst("^/", "")
        : "the system's nameserver";
  }

  @Override
  public CompletableFuture<Resolved> resolve(TargetQuery query) {
    InetAddress literal = DnsConfig.literal(query.host());
    if (literal != null) {
      String transport = query.transport() != null ? query.transport()
          : query.secure() ? "tls" : "udp";
      return CompletableFuture.completedFuture(new Resolved(List.of(new SipTarget(query.host(),
          literal, query.port() > 0 ? query.port() : defaultPort(transport), transport)),
          Instant.MAX));
    }
    CompletableFuture<Plan> plan;
    boolean start = false;
    synchronized (this) {
      Cached cached = cache.get(query);
      if (cached != null && clock.instant().isBefore(cached.expires())) {
        return CompletableFuture.completedFuture(order(cached.plan(), cached.expires()));
      }
      plan = inFlight.get(query);
      if (plan == null) {
        plan = new CompletableFuture<>();
        inFlight.put(query, plan);
        start = true;
      }
    }
    if (start) {
      CompletableFuture<Plan> result = plan;
      CompletableFuture<Plan> lookups;
      try {
        lookups = plan(query);
      } catch (RuntimeException e) {
        lookups = CompletableFuture.failedFuture(e);
      }
      lookups.whenComplete((p, e) -> {
        synchronized (this) {
          inFlight.remove(query);
          if (p != null && p.ttlSeconds() > 0) {
            cache.put(query, new Cached(p, expiry(p)));
          }
        }
        if (e != null) {
          result.completeExceptionally(unwrap(query, e));
        } else {
          result.complete(p);
        }
      });
    }
    return plan.thenApply(p -> order(p, expiry(p)));
  }

  private Instant expiry(Plan p) {
    return clock.instant().plusSeconds(Math.min(p.ttlSeconds(), MAX_TTL_SECONDS));
  }

  /** Forgets every cached answer (a network change the caller knows of). */
  public synchronized void forget() {
    cache.clear();
  }

  private static int defaultPort(String transport) {
    return "tls".equals(transport) ? SIPS_PORT : SIP_PORT;
  }

  // ---------------------------------------------------------------- RFC 3263 §4

  private CompletableFuture<Plan> plan(TargetQuery q) {
    AtomicLong ttl = new AtomicLong(Long.MAX_VALUE);
    if (q.port() > 0) {
      // §4.1: a port but no transport: UDP for sip, TLS (over TCP) for sips.
      String transport = q.transport() != null ? q.transport() : q.secure() ? "tls" : "udp";
      return hostOnly(q, transport, q.port(), ttl);
    }
    if (q.transport() != null) {
      return srv(q, q.transport(), 0, ttl).thenCompose(found -> found.isEmpty()
          ? hostOnly(q, q.transport(), defaultPort(q.transport()), ttl)
          : CompletableFuture.completedFuture(plan(found, ttl)));
    }
    return naptr(q, ttl).thenCompose(found -> found.isEmpty() ? srvEach(q, ttl)
        : CompletableFuture.completedFuture(plan(found, ttl)));
  }

  private static Plan plan(List<Candidate> found, AtomicLong ttl) {
    long t = ttl.get();
    return new Plan(found, t == Long.MAX_VALUE ? 0 : t);
  }

  /** The host's own addresses on {@code port}: the last resort, and the URI-with-port case. */
  private CompletableFuture<Plan> hostOnly(TargetQuery q, String transport, int port,
      AtomicLong ttl) {
    return addresses(q, q.host(), ttl).thenApply(found -> {
      if (found.records().isEmpty()) {
        String what = q.family() == AddressFamily.IPV6 ? "AAAA" : q.family() == AddressFamily.IPV4
            ? "A" : "A or AAAA";
        throw new CompletionException(found.noSuchName()
            ? new DnsException(DnsException.Kind.NO_SUCH_NAME, q.host(), q.host()
                + ": no such name (NXDOMAIN from " + nameserverText() + ")", null)
            : new DnsException(DnsException.Kind.NO_RECORDS, q.host(), q.host() + ": no "
                + what + " record" + (q.port() > 0 ? "" : " and no SRV/NAPTR record") + " (from "
                + nameserverText() + ")", null));
      }
      return plan(List.of(new Candidate(0, 0, 0, q.host(), port, transport,
          addressesOf(found.records()))), ttl);
    });
  }

  /** NAPTR records we can use, each followed to its SRV targets, in NAPTR order. */
  private CompletableFuture<List<Candidate>> naptr(TargetQuery q, AtomicLong ttl) {
    return lookup(q, q.host(), Type.NAPTR, ttl).thenCompose(answer -> {
      List<NAPTRRecord> usable = new ArrayList<>();
      for (Record r : answer.records()) {
        if (r instanceof NAPTRRecord n && n.getFlags().equalsIgnoreCase("s")
            && transportOf(n.getService(), q.secure()) != null) {
          usable.add(n);
        }
      }
      usable.sort(Comparator.comparingInt(NAPTRRecord::getOrder)
          .thenComparingInt(NAPTRRecord::getPreference));
      List<CompletableFuture<List<Candidate>>> each = new ArrayList<>();
      for (int i = 0; i < usable.size(); i++) {
        NAPTRRecord n = usable.get(i);
        each.add(srvAt(q, n.getReplacement().toString(true), transportOf(n.getService(),
            q.secure()), i, ttl));
      }
      return concat(each);
    });
  }

  /** The transport a NAPTR service names, if we support it (RFC 3263 §4.1, RFC 3261 §26). */
  private String transportOf(String service, boolean secure) {
    String t = switch (service.toUpperCase(Locale.ROOT)) {
      case "SIP+D2U" -> secure ? null : "udp";
      case "SIP+D2T" -> secure ? null : "tcp";
      case "SIPS+D2T" -> "tls";
      default -> null;
    };
    return t != null && transports.contains(t) ? t : null;
  }

  /** No usable NAPTR: SRV for each transport we support, in our order (§4.1). */
  private CompletableFuture<Plan> srvEach(TargetQuery q, AtomicLong ttl) {
    List<CompletableFuture<List<Candidate>>> each = new ArrayList<>();
    int group = 0;
    for (String t : transports) {
      if (!q.secure() || t.equals("tls")) {
        each.add(srv(q, t, group++, ttl));
      }
    }
    String fallback = q.secure() ? "tls" : "udp";
    return concat(each).thenCompose(found -> found.isEmpty()
        ? hostOnly(q, fallback, defaultPort(fallback), ttl)
        : CompletableFuture.completedFuture(plan(found, ttl)));
  }

  private CompletableFuture<List<Candidate>> srv(TargetQuery q, String transport, int group,
      AtomicLong ttl) {
    String prefix = switch (transport) {
      case "tls" -> "_sips._tcp.";
      case "tcp" -> "_sip._tcp.";
      default -> "_sip._udp.";
    };
    return srvAt(q, prefix + q.host(), transport, group, ttl);
  }

  /** The SRV records at {@code name}, each target with its addresses. */
  private CompletableFuture<List<Candidate>> srvAt(TargetQuery q, String name, String transport,
      int group, AtomicLong ttl) {
    return lookup(q, name, Type.SRV, ttl).thenCompose(answer -> {
      List<CompletableFuture<List<Candidate>>> each = new ArrayList<>();
      for (Record r : answer.records()) {
        if (!(r instanceof SRVRecord s) || s.getTarget().equals(Name.root)) {
          continue; // "." : the service is decidedly not available there (RFC 2782)
        }
        String target = s.getTarget().toString(true);
        each.add(addresses(q, target, ttl).thenApply(found -> found.records().isEmpty()
            ? List.<Candidate>of()
            : List.of(new Candidate(group, s.getPriority(), s.getWeight(), target, s.getPort(),
                transport, addressesOf(found.records())))));
      }
      return concat(each);
    });
  }

  /** A and/or AAAA of {@code name}, as the family asks; IPv6 first when both. */
  private CompletableFuture<Answer> addresses(TargetQuery q, String name, AtomicLong ttl) {
    CompletableFuture<Answer> v6 = q.family() == AddressFamily.IPV4
        ? CompletableFuture.completedFuture(Answer.NONE) : lookup(q, name, Type.AAAA, ttl);
    CompletableFuture<Answer> v4 = q.family() == AddressFamily.IPV6
        ? CompletableFuture.completedFuture(Answer.NONE) : lookup(q, name, Type.A, ttl);
    return v6.thenCombine(v4, (a, b) -> {
      List<Record> all = new ArrayList<>(a.records());
      all.addAll(b.records());
      return new Answer(all, a.noSuchName() || b.noSuchName());
    });
  }

  private static List<InetAddress> addressesOf(List<Record> records) {
    List<InetAddress> out = new ArrayList<>();
    for (Record r : records) {
      if (r instanceof AAAARecord a) {
        out.add(a.getAddress());
      } else if (r instanceof ARecord a) {
        out.add(a.getAddress());
      }
    }
    return out;
  }

  private static CompletableFuture<List<Candidate>> concat(
      List<CompletableFuture<List<Candidate>>> each) {
    return CompletableFuture.allOf(each.toArray(CompletableFuture[]::new)).thenApply(v -> {
      List<Candidate> all = new ArrayList<>();
      each.forEach(f -> all.addAll(f.join()));
      return all;
    });
  }

  /**
   * One query. A name without records of the type is an empty answer (the next step of §4
   * follows); a name that does not exist is an empty answer that says so; anything else (no
   * answer in time, SERVFAIL) fails the whole resolution: the next attempt asks again.
   */
  private CompletableFuture<Answer> lookup(TargetQuery q, String name, int type, AtomicLong ttl) {
    Name n;
    try {
      n = Name.fromString(name, Name.root);
    } catch (TextParseException e) {
      return CompletableFuture.failedFuture(new DnsException(DnsException.Kind.NO_SUCH_NAME,
          name, name + ": not a valid host name (" + e.getMessage() + ")", e));
    }
    return session(q.via()).lookupAsync(n, type).toCompletableFuture()
        .orTimeout(config.timeout().toMillis() * 3, java.util.concurrent.TimeUnit.MILLISECONDS)
        .handle((result, failure) -> {
          if (failure == null) {
            List<Record> records = result.getRecords();
            records.forEach(r -> ttl.accumulateAndGet(r.getTTL(), Math::min));
            log.debug("DNS {} {}: {}", name, Type.string(type), records);
            return new Answer(records, false);
          }
          Throwable cause = failure instanceof CompletionException && failure.getCause() != null
              ? failure.getCause() : failure;
          if (cause instanceof NoSuchRRSetException) {
            return Answer.NONE;
          }
          if (cause instanceof NoSuchDomainException) {
            return new Answer(List.of(), true);
          }
          throw new CompletionException(new DnsException(DnsException.Kind.NO_ANSWER, name,
              name + " " + Type.string(type) + ": no usable answer from " + nameserverText()
                  + " (" + describe(cause) + ")", cause));
        });
  }

  private static String describe(Throwable cause) {
    if (cause instanceof java.util.concurrent.TimeoutException) {
      return "timed out";
    }
    String m = cause.getMessage();
    return cause.getClass().getSimpleName() + (m == null ? "" : ": " + m);
  }

  private synchronized LookupSession session(InetAddress via) {
    return sessions.computeIfAbsent(Optional.ofNullable(via), v -> {
      LookupSession.LookupSessionBuilder b = LookupSession.builder()
          .resolver(resolvers.apply(v.orElse(null)))
          .clearCaches() // ours caches the whole answer, by TTL, on our clock
          .clearSearchPath() // a SIP domain is a full name
          .executor(executor);
      if (hostsFile) {
        b.defaultHostsFileParser();
      }
      return b.build();
    });
  }

  private static Throwable unwrap(TargetQuery q, Throwable e) {
    Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
    if (cause instanceof DnsException) {
      return cause;
    }
    return new DnsException(DnsException.Kind.NO_ANSWER, q.host(), q.host() + ": "
        + describe(cause), cause);
  }

  // ---------------------------------------------------------------- order (RFC 2782)

  /** The plan's targets in the order to try: group, priority, then weighted random. */
  Resolved order(Plan plan, Instant expires) {
    List<Candidate> sorted = new ArrayList<>(plan.candidates());
    sorted.sort(Comparator.comparingInt(Candidate::group).thenComparingInt(Candidate::priority));
    List<SipTarget> targets = new ArrayList<>();
    int i = 0;
    while (i < sorted.size()) {
      int j = i;
      while (j < sorted.size() && sorted.get(j).group() == sorted.get(i).group()
          && sorted.get(j).priority() == sorted.get(i).priority()) {
        j++;
      }
      for (Candidate c : weighted(new ArrayList<>(sorted.subList(i, j)))) {
        for (InetAddress a : c.addresses()) {
          targets.add(new SipTarget(c.name(), a, c.port(), c.transport()));
        }
      }
      i = j;
    }
    return new Resolved(targets, expires);
  }

  /**
   * RFC 2782: weight-0 entries first, then repeatedly pick one with probability proportional to
   * its weight (a weight-0 one only when the running sum lands on it).
   */
  private List<Candidate> weighted(List<Candidate> group) {
    if (group.size() < 2) {
      return group;
    }
    group.sort(Comparator.comparingInt(c -> c.weight() == 0 ? 0 : 1));
    List<Candidate> out = new ArrayList<>();
    while (!group.isEmpty()) {
      long total = 0;
      for (Candidate c : group) {
        total += c.weight();
      }
      long pick = total == 0 ? 0 : random.nextLong(total + 1);
      long running = 0;
      int chosen = group.size() - 1;
      for (int k = 0; k < group.size(); k++) {
        running += group.get(k).weight();
        if (running >= pick) {
          chosen = k;
          break;
        }
      }
      out.add(group.remove(chosen));
    }
    return out;
  }
}
