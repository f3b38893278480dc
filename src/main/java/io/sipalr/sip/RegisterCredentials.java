package io.sipalr.sip;

import io.sipalr.profile.SipProfile;
import java.text.ParseException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.ListIterator;
import java.util.Set;
import javax.sip.header.Header;
import javax.sip.header.HeaderFactory;
import javax.sip.message.Request;
import javax.sip.message.Response;

/**
 * One profile's digest credentials for its REGISTERs: the registrar's (401, Authorization) and
 * an outbound proxy's (407, Proxy-Authorization), sent pre-emptively while held, and the rule
 * that tells a stale or forgotten nonce from wrong credentials (rule 16). Used on the
 * profile's executor only.
 */
final class RegisterCredentials {
  /** Challenges answered within one attempt before we call it a loop. */
  static final int MAX_CHALLENGES_PER_ATTEMPT = 3;

  /** What to do about a 401/407. */
  enum Verdict {
    /** Send the REGISTER again with the credentials for the new challenge. */
    ANSWER,
    /** No challenge we can answer (no nonce, bad quoting, an unknown algorithm): back off. */
    UNUSABLE,
    /** Credentials for a challenge of this very attempt were refused: wrong credentials. */
    REFUSED,
    /** Challenged more than {@link #MAX_CHALLENGES_PER_ATTEMPT} times in one attempt. */
    LOOP
  }

  private DigestAuthenticator registrar;
  private DigestAuthenticator proxy;
  /** Status codes (401, 407) whose fresh challenge this attempt has answered already. */
  private final Set<Integer> answeredThisAttempt = new HashSet<>();
  private int challengesThisAttempt;

  RegisterCredentials(SipProfile profile) {
    renew(profile);
  }

  /** New credentials (the profile's changed): nothing held any more. */
  void renew(SipProfile p) {
    registrar = new DigestAuthenticator(p.authUser(), p.password(), p.realm());
    proxy = new DigestAuthenticator(p.authUser(), p.password(), p.realm());
  }

  /** Adds Authorization and Proxy-Authorization for each challenge held. */
  void authorize(Request request, HeaderFactory headers) throws ParseException {
    String uri = request.getRequestURI().toString();
    if (registrar.hasCredentials()) {
      request.addHeader(headers.createHeader("Authorization",
          registrar.authorization(Request.REGISTER, uri)));
    }
    if (proxy.hasCredentials()) {
      request.addHeader(headers.createHeader("Proxy-Authorization",
          proxy.authorization(Request.REGISTER, uri)));
    }
  }

  /**
   * Takes the challenge of a 401 or 407. A refusal of credentials computed for a challenge of
   * this very attempt means wrong credentials; the first refusal may only mean an expired nonce
   * without stale=true (a stock Kamailio, or one restarted with a new secret): that fresh
   * challenge is answered once.
   */
  Verdict challenged(Response response) {
    int code = response.getStatusCode();
    boolean fromProxy = code == Response.PROXY_AUTHENTICATION_REQUIRED;
    List<String> values = new ArrayList<>();
    ListIterator<?> it = response.getHeaders(
        fromProxy ? "Proxy-Authenticate" : "WWW-Authenticate");
    while (it.hasNext()) {
      values.add(RegisterRequests.headerValue((Header) it.next()));
    }
    DigestAuthenticator auth = fromProxy ? proxy : registrar;
    boolean refused = auth.refusesCredentials(values);
    if (auth.accept(values).isEmpty()) {
      auth.reset();
      return Verdict.UNUSABLE;
    }
    boolean firstOfAttempt = answeredThisAttempt.add(code);
    if (refused && !firstOfAttempt) {
      return Verdict.REFUSED;
    }
    return ++challengesThisAttempt > MAX_CHALLENGES_PER_ATTEMPT ? Verdict.LOOP : Verdict.ANSWER;
  }

  int challengesThisAttempt() {
    return challengesThisAttempt;
  }

  /** The attempt is over: the next REGISTER starts counting afresh. */
  void endAttempt() {
    challengesThisAttempt = 0;
    answeredThisAttempt.clear();
  }

  /** After a refusal: nothing is sent pre-emptively until challenged again. */
  void forget() {
    registrar.reset();
    proxy.reset();
  }
}
