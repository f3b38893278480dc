package io.sipalr.alr;

import java.time.Instant;

/** A migration offer waiting for a decision through the control API (manual policy). */
public record PendingDecision(String profileId, int snapId, int iapId, Instant since,
    Instant decidedByDefaultAt) {}
