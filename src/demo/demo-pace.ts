/**
 * The demo's clock rate: every delay of the simulated fleet (a step of work, the supervisor's
 * reaction time, the interval between workflows) and the cns settings that decide how fast a crash
 * is noticed (lease, heartbeat, reaper, retry backoff) scale with `--speed`.
 */
import type { ConfigInput } from '../core/config.js';

export interface Pace {
  speed: number;
  /** A delay of `baseMs` at speed 1, scaled, with ±30 % jitter. */
  ms(baseMs: number): number;
  /** The cns settings of every process of the demo. */
  config: Required<
    Pick<
      ConfigInput,
      | 'leaseMs'
      | 'heartbeatIntervalMs'
      | 'reaperIntervalMs'
      | 'retryBaseMs'
      | 'retryMaxMs'
      | 'preferAskerMs'
      | 'offlineAfterMs'
    >
  >;
}

/** A step of work at speed 1. */
export const STEP_MS = 2_000;

export function makePace(speed: number): Pace {
  const scaled = (ms: number, min: number) => Math.max(min, Math.round(ms / speed));
  const leaseMs = scaled(8_000, 2_000);
  return {
    speed,
    ms: (baseMs) => Math.max(10, Math.round((baseMs / speed) * (0.7 + Math.random() * 0.6))),
    config: {
      leaseMs,
      heartbeatIntervalMs: Math.max(100, Math.floor(leaseMs / 3)),
      reaperIntervalMs: scaled(1_000, 200),
      retryBaseMs: scaled(2_000, 200),
      retryMaxMs: scaled(30_000, 1_000),
      preferAskerMs: scaled(8_000, 1_000),
      offlineAfterMs: Math.max(leaseMs, scaled(15_000, 2_000)),
    },
  };
}

/** The same settings as environment variables (for `cns mcp` children: they read CNS_*). */
export function paceEnv(pace: Pace): Record<string, string> {
  const c = pace.config;
  return {
    CNS_LEASE_MS: String(c.leaseMs),
    CNS_HEARTBEAT_MS: String(c.heartbeatIntervalMs),
    CNS_REAPER_INTERVAL_MS: String(c.reaperIntervalMs),
    CNS_RETRY_BASE_MS: String(c.retryBaseMs),
    CNS_RETRY_MAX_MS: String(c.retryMaxMs),
    CNS_PREFER_ASKER_MS: String(c.preferAskerMs),
    CNS_OFFLINE_AFTER_MS: String(c.offlineAfterMs),
  };
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
