import type { ReapResult, Store } from '../store/store.js';

/**
 * Sweeps expired leases back to the queue (or to failed) and marks silent agents offline, every
 * `intervalMs`. Every coordinator runs one by default; sweeps are idempotent, so several processes
 * sweeping the same database is safe.
 */
export class LeaseReaper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<ReapResult | null> | null = null;

  constructor(
    private readonly store: Store,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
  }

  /** One sweep now (a sweep already under way is joined, not doubled). */
  sweep(): Promise<ReapResult | null> {
    if (!this.running) {
      this.running = this.store
        .reap()
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

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
