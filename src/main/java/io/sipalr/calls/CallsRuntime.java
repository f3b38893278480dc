package io.sipalr.calls;

import io.sipalr.concurrent.DaemonThreads;
import io.sipalr.media.RtpMedia;
import io.sipalr.sip.SipProfileRegistry;
import java.time.Clock;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledThreadPoolExecutor;

/**
 * Calls as the agent runs them: {@link Calls} over the registry's SIP core, and {@link RtpMedia}
 * on ONE scheduler thread ("calls-media") that also runs every call timer. Closing ends every
 * call (BYE, CANCEL or 603) and stops the media.
 */
public final class CallsRuntime implements AutoCloseable {
  private final ScheduledThreadPoolExecutor scheduler;
  private final RtpMedia media;
  private final Calls calls;
  private final SipProfileRegistry registry;
  private final io.sipalr.sip.RegistryListener profileEnds;

  public CallsRuntime(CallsConfig config, SipProfileRegistry registry, Executor files) {
    scheduler = new ScheduledThreadPoolExecutor(1, DaemonThreads.named("calls-media"));
    scheduler.setRemoveOnCancelPolicy(true);
    media = new RtpMedia(config.audio(), config.recordDir(), config.recordLimit(),
        config.maxCalls(), config.makeBeforeBreak(), scheduler, files);
    calls = new Calls(registry.callSignalling(), config::policyOf, config.maxCalls(),
        media::open, scheduler, Clock.systemUTC(), config.signalling());
    this.registry = registry;
    profileEnds = calls.profileEnds(); // a deleted or disabled profile's calls end
    registry.addListener(profileEnds);
  }

  public Calls calls() {
    return calls;
  }

  public RtpMedia media() {
    return media;
  }

  @Override
  public void close() {
    registry.removeListener(profileEnds);
    try {
      calls.close();
    } finally {
      media.close();
      scheduler.shutdown(); // the BYEs' timers may still run; the threads are daemons
    }
  }
}
