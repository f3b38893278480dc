package io.sipalr.dns;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.EDNSOption;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.NAPTRRecord;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Resolver;
import org.xbill.DNS.SRVRecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.TSIG;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * A nameserver in memory, at dnsjava's {@link Resolver} seam: the zone the test writes is what
 * the resolver's LookupSession is answered, NXDOMAIN for a name it does not hold, NOERROR
 * without records for a type it lacks. Every question is recorded; none leaves the process.
 */
final class ScriptedDns implements Resolver {
  private final Map<Name, List<Record>> zone = new HashMap<>();
  /** Questions asked, as "name TYPE" (name without the final dot). */
  final List<String> asked = new ArrayList<>();
  /** Names whose questions get no answer at all (a nameserver that does not reply). */
  final Set<String> silent = new HashSet<>();

  private static Name name(String n) {
    try {
      return Name.fromString(n, Name.root);
    } catch (TextParseException e) {
      throw new IllegalArgumentException(e);
    }
  }

  private ScriptedDns add(Record r) {
    zone.computeIfAbsent(r.getName(), k -> new ArrayList<>()).add(r);
    return this;
  }

  ScriptedDns a(String host, String address, long ttl) {
    try {
      return add(new ARecord(name(host), DClass.IN, ttl,
          java.net.InetAddress.getByName(address)));
    } catch (java.net.UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
  }

  ScriptedDns aaaa(String host, String address, long ttl) {
    try {
      return add(new AAAARecord(name(host), DClass.IN, ttl,
          java.net.InetAddress.getByName(address)));
    } catch (java.net.UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
  }

  ScriptedDns srv(String at, int priority, int weight, int port, String target, long ttl) {
    return add(new SRVRecord(name(at), DClass.IN, ttl, priority, weight, port, name(target)));
  }

  ScriptedDns naptr(String at, int order, int preference, String service, String replacement,
      long ttl) {
    return add(new NAPTRRecord(name(at), DClass.IN, ttl, order, preference, "s", service, "",
        name(replacement)));
  }

  long count(String question) {
    return asked.stream().filter(question::equals).count();
  }

  @Override
  public CompletionStage<Message> sendAsync(Message query) {
    return sendAsync(query, Runnable::run);
  }

  @Override
  public CompletionStage<Message> sendAsync(Message query, Executor executor) {
    Record question = query.getQuestion();
    String text = question.getName().toString(true) + " " + Type.string(question.getType());
    asked.add(text);
    if (silent.contains(question.getName().toString(true))) {
      return CompletableFuture.failedFuture(new java.net.SocketTimeoutException("timed out"));
    }
    Message answer = new Message(query.getHeader().getID());
    answer.getHeader().setFlag(Flags.QR);
    answer.getHeader().setFlag(Flags.AA);
    answer.addRecord(question, Section.QUESTION);
    List<Record> records = zone.get(question.getName());
    if (records == null) {
      answer.getHeader().setRcode(Rcode.NXDOMAIN);
    } else {
      for (Record r : records) {
        if (r.getType() == question.getType()) {
          answer.addRecord(r, Section.ANSWER);
        }
      }
    }
    return CompletableFuture.completedFuture(answer);
  }

  @Override public void setPort(int port) {}
  @Override public void setTCP(boolean flag) {}
  @Override public void setIgnoreTruncation(boolean flag) {}
  @Override public void setEDNS(int version, int payloadSize, int flags, List<EDNSOption> options) {}
  @Override public void setTSIGKey(TSIG key) {}
  @Override public void setTimeout(Duration timeout) {}
}
