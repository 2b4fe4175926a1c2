import type { Store } from '../store/store.js';

/**
 * Turns the store's change hints into something a waiter can await without missing a wake-up:
 * read `version` before looking for work, then `waitSince(version, …)` resolves at once if a
 * change arrived in between.
 */
export class ChangeSignal {
  private version = 0;
  private waiters = new Set<() => void>();
  private unwatch: (() => void) | null = null;

  constructor(private readonly store: Store) {}

  get current(): number {
    return this.version;
  }

  /**
   * The current version, after making sure the store is being watched: read it before looking
   * for work when a wait may follow, so that a change committed while looking is not missed (a
   * watch started only after the look could not see it).
   */
  watchFromNow(): number {
    this.ensureWatching();
    return this.version;
  }

  /** Resolves true on a change after `since`, false on timeout or abort. */
  waitSince(since: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    this.ensureWatching();
    if (this.version !== since) return Promise.resolve(true);
    if (signal?.aborted || timeoutMs <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const done = (changed: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(onChange);
        signal?.removeEventListener('abort', onAbort);
        this.maybeStop();
        resolve(changed);
      };
      const onChange = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.add(onChange);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  close(): void {
    for (const w of [...this.waiters]) w();
    this.unwatch?.();
    this.unwatch = null;
  }

  private ensureWatching(): void {
    if (this.unwatch) return;
    this.unwatch = this.store.watch(() => {
      this.version++;
      for (const w of [...this.waiters]) w();
    });
  }

  /** Keep the store's watcher only while someone waits (it may hold a connection or a timer). */
  private maybeStop(): void {
    if (this.waiters.size > 0 || !this.unwatch) return;
    // Stay subscribed briefly: a claim loop re-subscribes right away; dropping and re-creating a
    // LISTEN connection each time would be wasteful.
    const unwatch = this.unwatch;
    setTimeout(() => {
      if (this.waiters.size === 0 && this.unwatch === unwatch) {
        unwatch();
        this.unwatch = null;
      }
    }, 5_000).unref();
  }
}
