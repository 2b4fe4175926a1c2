/**
 * Change notification for the SQLite store. In-process: the store calls `notify()` after each
 * committed change and listeners run once, coalesced, on the next turn. Cross-process: while
 * anyone listens, the database's directory is watched (inotify on Linux, FSEvents/kqueue
 * elsewhere, through `fs.watch`): another process's commit writes the WAL file, and each such
 * event (coalesced per turn of the event loop) reads `PRAGMA data_version`, which changes when
 * another connection has committed (the event may come a moment before the writer has published its
 * commit in the shared index, so an event that shows no change is checked again a few times over
 * the next RECHECK_MS). Waiting thus costs nothing while nothing happens, and a wake-up arrives
 * within a millisecond or so. Where the directory cannot be watched (a file system without
 * change events, or the per-user limit of inotify instances reached), `PRAGMA data_version` is
 * polled every FALLBACK_POLL_MS instead. Either way this is a hint: waiters also re-check on their
 * own backstop (config pollBackstopMs), so a missed event delays a wake-up, it loses nothing.
 *
 * What changed: each wake-up reads `signals.claimable` (migration 0006), a counter that triggers bump
 * whenever a task becomes pending or assigned. When it moved, the listeners get `null` (anything may
 * have changed, new work included); when it did not, `[{ kind: 'other' }]`, so a waiting claim does
 * not try again for a heartbeat, a progress note or a completion.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type Database from 'better-sqlite3';
import type { ChangeHint } from '../store.js';

/** Poll interval of the cross-process change check when the directory cannot be watched. */
export const FALLBACK_POLL_MS = 10;
/** After a file event that showed no change yet: check again after these delays (ms). */
const RECHECK_MS = [1, 5, 25];
const NOTHING_CLAIMABLE: readonly ChangeHint[] = Object.freeze([{ kind: 'other' }]);

export class SqliteWatch {
  private readonly listeners = new Set<(hints: readonly ChangeHint[] | null) => void>();
  private scheduled = false;
  private checkScheduled = false;
  private recheck: NodeJS.Timeout | null = null;
  private timer: NodeJS.Timeout | null = null;
  private watcher: FSWatcher | null = null;
  private lastVersion = 0;
  private readonly dataVersion: Database.Statement<[], number>;
  private readonly claimableSeq: Database.Statement<[], number>;
  private lastClaimable = -1;

  constructor(
    private readonly db: Database.Database,
    private readonly pollMs = FALLBACK_POLL_MS,
  ) {
    this.dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
    this.claimableSeq = db.prepare<[], number>("SELECT seq FROM signals WHERE name = 'claimable'").pluck();
  }

  /** How other processes' changes are noticed right now (for tests and diagnostics). */
  get crossProcess(): 'watch' | 'poll' | 'none' {
    return this.watcher ? 'watch' : this.timer ? 'poll' : 'none';
  }

  watch(listener: (hints: readonly ChangeHint[] | null) => void): () => void {
    // Each subscription is its own entry, so the same function may be added twice and removed once.
    const entry = (hints: readonly ChangeHint[] | null) => listener(hints);
    this.listeners.add(entry);
    if (this.listeners.size === 1) this.start();
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
      if (this.listeners.size === 0) return;
      const hints = this.claimableMoved() ? null : NOTHING_CLAIMABLE;
      for (const listener of [...this.listeners]) {
        try {
          listener(hints);
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

  /** Whether work may have become claimable since the last look (true when it cannot tell). */
  private claimableMoved(): boolean {
    let seq: number;
    try {
      if (!this.db.open) return true;
      seq = this.claimableSeq.get() ?? 0;
    } catch {
      return true;
    }
    const moved = seq !== this.lastClaimable;
    this.lastClaimable = seq;
    return moved;
  }

  private start(): void {
    this.lastVersion = this.readVersion();
    this.claimableMoved();
    if (this.db.memory) return; // one connection: nobody else can change it
    const file = this.db.name;
    const base = basename(file);
    try {
      const watcher = watch(dirname(file), { persistent: false }, (_event, name) => {
        if (name === null || String(name).startsWith(base)) this.scheduleCheck();
      });
      watcher.on('error', () => {
        // The directory went away or the watch broke: keep noticing changes by polling.
        if (this.watcher !== watcher) return;
        watcher.close();
        this.watcher = null;
        if (this.listeners.size > 0) this.startPolling();
      });
      this.watcher = watcher;
    } catch {
      this.startPolling();
    }
  }

  private startPolling(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.check(), this.pollMs);
    this.timer.unref();
  }

  private stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.recheck !== null) clearTimeout(this.recheck);
    this.recheck = null;
    this.watcher?.close();
    this.watcher = null;
  }

  /** A file event: check now (coalesced per turn), and again a few times if nothing showed yet. */
  private scheduleCheck(): void {
    if (this.checkScheduled) return;
    this.checkScheduled = true;
    setImmediate(() => {
      this.checkScheduled = false;
      if (this.recheck !== null) clearTimeout(this.recheck);
      this.recheck = null;
      if (!this.check()) this.checkAgain(0);
    });
  }

  private checkAgain(step: number): void {
    const delay = RECHECK_MS[step];
    if (delay === undefined) return;
    this.recheck = setTimeout(() => {
      this.recheck = null;
      if (!this.check()) this.checkAgain(step + 1);
    }, delay);
    this.recheck.unref();
  }

  /** Reads data_version; wakes the listeners when another connection committed. True if it did. */
  private check(): boolean {
    if (!this.db.open) {
      this.stop();
      return true;
    }
    if (this.listeners.size === 0) return true;
    const version = this.readVersion();
    if (version === this.lastVersion) return false;
    this.lastVersion = version;
    this.notify();
    return true;
  }

  private readVersion(): number {
    try {
      return this.dataVersion.get() ?? 0;
    } catch {
      return this.lastVersion;
    }
  }
}
