/**
 * Store.campaign on SQLite: the leadership of a campaign is a row of `leaders` with a lease. The
 * leader renews it every RENEW_MS; every other campaigner reads the row every `checkMs` (a read,
 * no write) and takes over when the lease has run out or — the leader being on this host — when the
 * leader's process is gone (checked by its pid, so a SIGKILLed leader is replaced at the next check,
 * not after a whole lease). A recycled pid only delays a takeover to the end of the lease.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type Database from 'better-sqlite3';
import type { Clock } from '../../core/clock.js';
import type { Millis } from '../../core/types.js';
import type { LeaderInfo, Leadership } from '../store.js';

/** How long a leader's lease lasts without renewal. */
const LEASE_MS = 30_000;
/** How often a leader renews its lease. */
const RENEW_MS = 10_000;

interface LeaderRow {
  holder: string;
  host: string;
  pid: number;
  since: number;
  expires_at: number;
}

/** Whether a process of this host is alive (EPERM: alive, not ours). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class SqliteCampaigns {
  private readonly host = hostname();
  private readonly campaigns = new Set<SqliteCampaign>();
  /** Prepared once: every campaigner reads the row every check. */
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
    /** Runs `fn` in a write transaction (BEGIN IMMEDIATE, busy retries). */
    readonly write: <R>(fn: () => R) => R,
  ) {
    this.s = {
      row: db.prepare<[string], LeaderRow>(
        'SELECT holder, host, pid, since, expires_at FROM leaders WHERE name = ?',
      ),
      take: db.prepare<[string, string, string, number, number, number]>(
        `INSERT INTO leaders (name, holder, host, pid, since, expires_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, host = excluded.host,
           pid = excluded.pid, since = excluded.since, expires_at = excluded.expires_at`,
      ),
      renew: db.prepare<[number, string, string]>(
        'UPDATE leaders SET expires_at = ? WHERE name = ? AND holder = ?',
      ),
      release: db.prepare<[string, string]>(
        'UPDATE leaders SET expires_at = 0 WHERE name = ? AND holder = ?',
      ),
    };
  }

  campaign(name: string, checkMs: Millis, onChange: (leading: boolean) => void): Leadership {
    const campaign = new SqliteCampaign(this, name, randomUUID(), Math.max(10, checkMs), onChange);
    this.campaigns.add(campaign);
    campaign.start();
    return campaign;
  }

  leader(name: string): LeaderInfo | null {
    const row = this.row(name);
    return row ? { name, host: row.host, pid: row.pid, since: row.since, expiresAt: row.expires_at } : null;
  }

  /** Gives up every leadership (the store is closing). */
  closeAll(): void {
    for (const c of [...this.campaigns]) c.stopNow();
  }

  forget(campaign: SqliteCampaign): void {
    this.campaigns.delete(campaign);
  }

  row(name: string): LeaderRow | undefined {
    return this.s.row.get(name);
  }

  /** Takes the leadership if it is free, expired or held by a dead process of this host. */
  tryTake(name: string, holder: string): boolean {
    if (!this.db.open) return false;
    const now = this.clock.now();
    const current = this.row(name);
    if (current && current.holder !== holder && !this.vacant(current, now)) return false;
    return this.write(() => {
      // Read again under the write lock: another campaigner may have taken it meanwhile.
      const row = this.row(name);
      if (row && row.holder !== holder && !this.vacant(row, this.clock.now())) return false;
      const since = row?.holder === holder ? row.since : now;
      this.s.take.run(name, holder, this.host, process.pid, since, now + LEASE_MS);
      return true;
    });
  }

  /** Renews a held leadership; false when it was lost (taken over after an expiry). */
  renew(name: string, holder: string): boolean {
    if (!this.db.open) return false;
    return this.write(() => this.s.renew.run(this.clock.now() + LEASE_MS, name, holder).changes === 1);
  }

  release(name: string, holder: string): void {
    if (!this.db.open) return;
    this.write(() => this.s.release.run(name, holder));
  }

  private vacant(row: LeaderRow, now: Millis): boolean {
    if (row.expires_at <= now) return true;
    return row.host === this.host && row.pid !== process.pid && !processAlive(row.pid);
  }
}

class SqliteCampaign implements Leadership {
  leading = false;
  private timer: NodeJS.Timeout | null = null;
  private lastRenew = 0;
  private stopped = false;

  constructor(
    private readonly campaigns: SqliteCampaigns,
    private readonly name: string,
    private readonly holder: string,
    private readonly checkMs: Millis,
    private readonly onChange: (leading: boolean) => void,
  ) {}

  start(): void {
    this.check();
    this.timer = setInterval(() => this.check(), this.checkMs);
    this.timer.unref();
  }

  private check(): void {
    if (this.stopped) return;
    try {
      if (!this.leading) {
        if (this.campaigns.tryTake(this.name, this.holder)) this.set(true);
      } else if (Date.now() - this.lastRenew >= RENEW_MS) {
        if (!this.campaigns.renew(this.name, this.holder)) this.set(false);
        else this.lastRenew = Date.now();
      }
    } catch {
      // A busy or failing database: try again at the next check (a leader keeps leading until its
      // renewal fails for good: the lease is long enough to ride out a busy spell).
    }
  }

  private set(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    if (leading) this.lastRenew = Date.now();
    this.onChange(leading);
  }

  stopNow(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.campaigns.forget(this);
    if (this.leading) {
      try {
        this.campaigns.release(this.name, this.holder);
      } catch {
        // The lease will run out instead.
      }
      this.set(false);
    }
  }

  async stop(): Promise<void> {
    this.stopNow();
  }
}
