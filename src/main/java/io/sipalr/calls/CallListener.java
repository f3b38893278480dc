package io.sipalr.calls;

/**
 * Hears every {@link CallEvent}. Called on SIP or timer threads: return quickly. With the
 * {@code application} policy, answer or reject a {@code CALL_INCOMING} by calling
 * {@link Calls#answer} or {@link Calls#reject} (now or later, within the policy's timeout).
 */
@FunctionalInterface
public interface CallListener {
  void onCallEvent(CallEvent event);
}
