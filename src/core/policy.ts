import type { Millis } from './types.js';

/** Retry and lease policy. Every default is documented here, where it is defined. */
export interface Policy {
  /** How long a claim's lease lasts before it must be renewed. Default 30 s. */
  leaseMs: Millis;
  /** An agent is offline when its last heartbeat is older than this. Default 30 s. */
  offlineAfterMs: Millis;
  /** Backoff after a failed or expired attempt: base × 2^(attempt−1), capped. Default base 1 s. */
  retryBaseMs: Millis;
  /** Cap of the backoff. Default 5 min. */
  retryMaxMs: Millis;
  /** Attempts a task gets unless it says otherwise. Default 3. */
  maxAttempts: number;
  /** Change requests a task may receive before it fails for a person to look at. Default 3. */
  maxReviewRounds: number;
  /**
   * Once a question is answered, the task waits this long for the agent that asked before anyone
   * of its type may take it. Default 60 s.
   */
  preferAskerMs: Millis;
}

export const DEFAULT_POLICY: Readonly<Policy> = Object.freeze({
  leaseMs: 30_000,
  offlineAfterMs: 30_000,
  retryBaseMs: 1_000,
  retryMaxMs: 300_000,
  maxAttempts: 3,
  maxReviewRounds: 3,
  preferAskerMs: 60_000,
});

/** Delay before attempt `attempts + 1` may start, after `attempts` attempts have failed or expired. */
export function retryDelayMs(attempts: number, policy: Pick<Policy, 'retryBaseMs' | 'retryMaxMs'>): Millis {
  const exp = Math.max(0, attempts - 1);
  return Math.min(policy.retryMaxMs, policy.retryBaseMs * 2 ** Math.min(exp, 30));
}
