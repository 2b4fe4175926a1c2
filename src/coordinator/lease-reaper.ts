import type { CnsConfig } from '../core/config.js';
import type { ReapResult, Store } from '../store/store.js';
import { events } from './events.js';
import { decideExpire } from './lifecycle.js';

/**
 * Sweeps expired leases back to the queue (or to failed: src/coordinator/lifecycle.ts decides) and
 * marks silent agents offline, every `reaperIntervalMs`. Every coordinator runs one by default;
 * sweeps are idempotent (an expired lease is written under its own token), so several processes
 * sweeping the same database is safe.
 */
export class LeaseReaper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<ReapResult | null> | null = null;

  constructor(
    private readonly store: Store,
    private readonly config: Pick<CnsConfig, 'reaperIntervalMs' | 'policy'>,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sweep(), this.config.reaperIntervalMs);
    this.timer.unref();
  }

  /** One sweep now (a sweep already under way is joined, not doubled). */
  sweep(): Promise<ReapResult | null> {
    if (!this.running) {
      this.running = this.reapNow()
        .catch((err: unknown) => {
          this.onError(err);
          return null;
        })
        .finally(() => {
          this.running = null;
        });
    }
    return this.running;
  }

  /** One sweep, its failure thrown (sweep() reports it to onError instead). */
  async reapNow(): Promise<ReapResult> {
    const { policy } = this.config;
    const expired = await this.store.transition({ expiredLeases: true }, (tasks) => ({
      changes: tasks.map((t) => decideExpire(t, policy)),
    }));
    const offline = await this.store.markOffline(
      policy.offlineAfterMs,
      events.agentOffline(policy.offlineAfterMs),
    );
    return { expired, offline };
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
