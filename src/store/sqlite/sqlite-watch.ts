/**
 * Change notification for the SQLite store. In-process: the store calls `notify()` after each
 * committed change and listeners run once, coalesced, on the next turn. Cross-process: while
 * anyone listens, `PRAGMA data_version` is polled on the store's connection (it changes when
 * another connection commits) every `pollMs`; the timer is unref'ed and stops with the last listener.
 */
import type Database from 'better-sqlite3';

/** Poll interval of the cross-process change check. */
export const DATA_VERSION_POLL_MS = 10;

export class SqliteWatch {
  private readonly listeners = new Set<() => void>();
  private scheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private lastVersion = 0;
  private readonly dataVersion: Database.Statement<[], number>;

  constructor(
    private readonly db: Database.Database,
    private readonly pollMs = DATA_VERSION_POLL_MS,
  ) {
    this.dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  }

  watch(listener: () => void): () => void {
    // Each subscription is its own entry, so the same function may be added twice and removed once.
    const entry = () => listener();
    this.listeners.add(entry);
    if (this.timer === null) this.start();
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.listeners.delete(entry);
      if (this.listeners.size === 0) this.stop();
    };
  }

  /** A change was committed (by this store, or seen from elsewhere): wake the listeners once. */
  notify(): void {
    if (this.scheduled || this.listeners.size === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      for (const listener of [...this.listeners]) {
        try {
          listener();
        } catch {
          // A listener's failure is its own; the others still run.
        }
      }
    });
  }

  close(): void {
    this.listeners.clear();
    this.stop();
  }

  private start(): void {
    this.lastVersion = this.readVersion();
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.timer.unref();
  }

  private stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private poll(): void {
    if (!this.db.open) return this.stop();
    const version = this.readVersion();
    if (version !== this.lastVersion) {
      this.lastVersion = version;
      this.notify();
    }
  }

  private readVersion(): number {
    try {
      return this.dataVersion.get() ?? 0;
    } catch {
      return this.lastVersion;
    }
  }
}
