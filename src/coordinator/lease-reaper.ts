import type { CnsConfig } from '../core/config.js';
import type { Leadership, ReapResult, Store } from '../store/store.js';
import { events } from './events.js';
import { decideExpire } from './lifecycle.js';

/**
 * Sweeps expired leases back to the queue (or to failed: src/coordinator/lifecycle.ts decides) and
 * marks silent agents offline, every `reaperIntervalMs` — in one process per database: every
 * coordinator campaigns for the lead (Store.campaign: an advisory lock on PostgreSQL, a leased row
 * on SQLite) and only the leader sweeps; when it dies another takes over. Sweeps are idempotent (an
 * expired lease is written under its own token), so the brief overlap a lost connection can cause
 * is safe.
 */
export class LeaseReaper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<ReapResult | null> | null = null;
  private leadership: Leadership | null = null;
  /** When the periodic sweep next looks for silent agents (see reapNow). */
  private nextAgentCheck = 0;

  constructor(
    private readonly store: Store,
    private readonly config: Pick<CnsConfig, 'reaperIntervalMs' | 'policy'>,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** Campaigns for the lead; sweeps while it leads. */
  start(): void {
    if (this.leadership) return;
    this.leadership = this.store.campaign('reaper', {
      checkMs: this.config.reaperIntervalMs,
      onChange: (leading) => (leading ? this.startSweeping() : this.stopSweeping()),
    });
  }

  /** Whether this process sweeps for the database now. */
  get leading(): boolean {
    return this.leadership?.leading ?? false;
  }

  private startSweeping(): void {
    if (this.timer) return;
    void this.sweep(); // a new leader sweeps at once: the old one may have died with leases due
    this.timer = setInterval(() => void this.sweep(), this.config.reaperIntervalMs);
    this.timer.unref();
  }

  private stopSweeping(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One sweep now (a sweep already under way is joined, not doubled). */
  sweep(): Promise<ReapResult | null> {
    if (!this.running) {
      const now = Date.now();
      const agents = now >= this.nextAgentCheck;
      if (agents) this.nextAgentCheck = now + Math.min(5_000, this.config.policy.offlineAfterMs / 10);
      this.running = this.reapNow({ agents })
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

  /**
   * One sweep, its failure thrown (sweep() reports it to onError instead). The periodic sweep
   * (`agents: false` when not due) looks for silent agents less often than for expired leases —
   * every tenth of `offlineAfterMs`, at most every 5 s — as marking an agent offline a few seconds
   * late changes nothing (its leases expire on their own), and an idle fleet's database should not
   * pay a statement a second for it.
   */
  async reapNow(options: { agents?: boolean } = {}): Promise<ReapResult> {
    const { policy } = this.config;
    const expired = await this.store.transition({ expiredLeases: true }, (tasks) => ({
      changes: tasks.map((t) => decideExpire(t, policy)),
    }));
    if (options.agents === false) return { expired, offline: [] };
    const offline = await this.store.markOffline(
      policy.offlineAfterMs,
      events.agentOffline(policy.offlineAfterMs),
    );
    return { expired, offline };
  }

  async stop(): Promise<void> {
    this.stopSweeping();
    const leadership = this.leadership;
    this.leadership = null;
    await this.running;
    await leadership?.stop();
  }
}
