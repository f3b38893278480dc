package io.sipalr.sip;

/** Hears the MESSAGEs that reach the registry's profiles; called on a SIP stack thread. */
public interface MessageListener {
  void onMessage(IncomingMessage message);
}
