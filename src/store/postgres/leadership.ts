/**
 * Store.campaign on PostgreSQL: the leadership is a session-level advisory lock, held on a
 * connection of its own, so it ends the moment the leader's process or connection dies. Waiting
 * for it is cheap for the whole fleet: one standby (whoever holds a second advisory lock) blocks on
 * the leader's lock and takes over at once when it is released; every other campaigner holds no
 * connection and tries for the standby's place now and then (STANDBY_RETRY_MS, with jitter). The
 * leader records itself in `leaders` for people and tools (Store.leader).
 *
 * Both locks are keyed by the schema and the campaign's name, so schemas of one database (tests,
 * several deployments) elect separately.
 */
import { hostname } from 'node:os';
import pg from 'pg';
import type { Millis } from '../../core/types.js';
import type { Leadership } from '../store.js';

/** How often a campaigner that is neither leader nor standby tries again (× 0.5–1.5: 30–90 s). */
const STANDBY_RETRY_MS = 60_000;
/** After a lost or failed connection: wait this long (doubling to RECONNECT_MAX_MS). */
const RECONNECT_MIN_MS = 200;
const RECONNECT_MAX_MS = 5_000;

/**
 * The leader's record says until when it is known alive (renewed every RECORD_RENEW_MS), so that
 * one-shot commands can tell whether a reaper runs (Store.leader: expiresAt).
 */
const RECORD_TTL_MS = 30_000;
const RECORD_RENEW_MS = 10_000;

/**
 * SQL of the two locks: $1 namespace (schema), $2 the campaign (name, or name + ':standby').
 * TRY_LOCKS tries for the lead, else for the standby's place ($3), in one statement (one
 * transaction a round for a campaigner that gets neither); CASE evaluates in order, so the leader
 * does not take the standby's lock too.
 */
const TRY_LOCKS = `SELECT lead, CASE WHEN lead THEN false ELSE pg_try_advisory_lock(hashtext($1), hashtext($3)) END AS standby
  FROM (SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS lead) l`;
const LOCK = 'SELECT pg_advisory_lock(hashtext($1), hashtext($2))';
const UNLOCK = 'SELECT pg_advisory_unlock(hashtext($1), hashtext($2))';
const RECORD = `INSERT INTO leaders (name, holder, host, pid, since, expires_at)
  VALUES ($1, $2, $3, $4, now_ms(), now_ms() + ${RECORD_TTL_MS})
  ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, host = excluded.host, pid = excluded.pid,
    since = excluded.since, expires_at = excluded.expires_at`;
const RENEW = `UPDATE leaders SET expires_at = now_ms() + ${RECORD_TTL_MS} WHERE name = $1 AND holder = $2`;

export class PostgresCampaign implements Leadership {
  leading = false;
  private stopped = false;
  private client: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  private readonly done: Promise<void>;

  constructor(
    private readonly connection: pg.ClientConfig,
    private readonly schema: string,
    private readonly name: string,
    private readonly onChange: (leading: boolean) => void,
    private readonly holder: string,
  ) {
    this.done = this.run();
  }

  /** The campaign: take the lead, or wait as standby, or wait to try again; over and over. */
  private async run(): Promise<void> {
    let backoff = RECONNECT_MIN_MS;
    while (!this.stopped) {
      const outcome = await this.round().catch(() => 'lost' as const);
      this.set(false);
      if (this.stopped) break;
      if (outcome === 'lost') {
        await this.sleep(backoff);
        backoff = Math.min(RECONNECT_MAX_MS, backoff * 2);
      } else {
        backoff = RECONNECT_MIN_MS;
        await this.sleep(STANDBY_RETRY_MS * (0.5 + Math.random()));
      }
    }
  }

  /** One round on a fresh connection: 'busy' when someone else leads and someone else stands by. */
  private async round(): Promise<'busy' | 'lost'> {
    const client = new pg.Client({ ...this.connection, keepAlive: true, statement_timeout: 0 });
    const lost = new Promise<'lost'>((resolve) => {
      client.on('error', () => resolve('lost'));
      client.on('end', () => resolve('lost'));
    });
    this.client = client;
    try {
      await client.connect();
      if (this.stopped) return 'lost';
      const standby = `${this.name}:standby`;
      const tried = await client.query<{ lead: boolean; standby: boolean }>(TRY_LOCKS, [
        this.schema,
        this.name,
        standby,
      ]);
      if (tried.rows[0]?.lead !== true) {
        if (tried.rows[0]?.standby !== true) return 'busy';
        // The standby: block on the leader's lock (a session lock: released when its holder's
        // connection ends), then give the standby's place to the next campaigner.
        await client.query('SET lock_timeout = 0');
        const locking = client.query(LOCK, [this.schema, this.name]);
        locking.catch(() => undefined); // when the connection is lost first
        if ((await Promise.race([locking, lost])) === 'lost') return 'lost';
        if (this.stopped) return 'lost';
        await client.query(UNLOCK, [this.schema, standby]);
      }
      await client.query(RECORD, [this.name, this.holder, hostname(), process.pid]);
      this.set(true);
      const renew = setInterval(() => {
        client.query(RENEW, [this.name, this.holder]).catch(() => undefined);
      }, RECORD_RENEW_MS);
      renew.unref();
      try {
        return await lost;
      } finally {
        clearInterval(renew);
      }
    } finally {
      this.client = null;
      await client.end().catch(() => undefined);
    }
  }

  private set(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    try {
      this.onChange(leading);
    } catch {
      // the listener's failure is its own
    }
  }

  private sleep(ms: Millis): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms);
      this.timer.unref();
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    // Say the leader stepped down, then end the connection: that releases its locks (and ends a
    // standby's blocked wait).
    if (this.leading && this.client) {
      await this.client
        .query('UPDATE leaders SET expires_at = 0 WHERE name = $1 AND holder = $2', [this.name, this.holder])
        .catch(() => undefined);
    }
    await this.client?.end().catch(() => undefined);
    await this.done;
    this.set(false);
  }
}
