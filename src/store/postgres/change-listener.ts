/**
 * Wake-ups for `Store.watch` on PostgreSQL: LISTEN on `cns_<schema>` over a dedicated connection
 * (not from the pool), held only while someone listens; reconnected with backoff after a loss, and
 * then the listeners are called once (a notification may have been missed). Calls are coalesced:
 * many notifications, one call per tick. There is no timer here: a hint is only a hint, and every
 * waiter re-checks on its own backstop (config pollBackstopMs), so nothing runs while nothing
 * happens.
 *
 * Each notification's payload says what changed (migrations 0007, 0008: `{"type","requires","in"}`
 * when a task became pending, claimable by any agent of its type in "in" ms, `{"agent"}` when one became claimable by one agent only, '' for anything else);
 * the listeners get the hints of the tick, or null when anything may have changed (after a
 * reconnection, or a payload it cannot read).
 */
import pg from 'pg';
import type { ChangeHint } from '../store.js';

type Listener = (hints: readonly ChangeHint[] | null) => void;

/**
 * Reads one notification's payload; null when it cannot tell. `timed`: whether the payload's "in"
 * (ms until any agent of the type may claim the task, by the database's clock; migration 0008) can
 * be used — not when the store runs on an injected clock (tests), which the database's does not
 * follow.
 */
export function parseHint(payload: string | undefined, timed = true): ChangeHint | null {
  if (payload === undefined || payload === '') return { kind: 'other' };
  try {
    const p = JSON.parse(payload) as { type?: unknown; requires?: unknown; agent?: unknown; in?: unknown };
    if (typeof p.agent === 'number') return { kind: 'assigned', agentId: p.agent };
    if (typeof p.type === 'string') {
      const requires = Array.isArray(p.requires) ? p.requires.filter((r) => typeof r === 'string') : [];
      // A payload cut short for size carries no capabilities: treat it as needing none (a waiter
      // tries, at worst, one claim that finds nothing).
      const inMs = typeof p.in === 'number' && Number.isFinite(p.in) && p.in >= 0 ? p.in : undefined;
      return {
        kind: 'claimable',
        type: p.type,
        requires,
        ...(timed && inMs !== undefined ? { inMs } : {}),
      };
    }
  } catch {
    // fall through
  }
  return null;
}

/** Reconnection backoff: starts here, doubles, capped at RECONNECT_MAX_MS. */
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

export class ChangeListener {
  private readonly listeners = new Set<Listener>();
  private scheduled = false;
  /** The hints gathered for the next call; null: anything may have changed. */
  private pending: ChangeHint[] | null = [];
  private closed = false;
  private client: pg.Client | null = null;
  /** Bumped whenever the current connection is abandoned, so stale callbacks do nothing. */
  private generation = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private backoffMs = RECONNECT_MIN_MS;

  constructor(
    private readonly connection: pg.ClientConfig,
    private readonly channel: string,
    /** Whether the payloads' times follow the store's clock (see parseHint). */
    private readonly timed = true,
  ) {}

  add(listener: Listener): () => void {
    if (this.closed) return () => undefined;
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.start();
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  /**
   * Calls the listeners soon (coalesced) with `hint` among the tick's hints; null: anything may have
   * changed. This process's own changes come with `{ kind: 'other' }` (they wake waits for results
   * and events at once; work they make claimable is announced by the database's notification).
   */
  notify(hint: ChangeHint | null = { kind: 'other' }): void {
    if (this.closed || this.listeners.size === 0) return;
    if (hint === null) this.pending = null;
    else if (
      this.pending !== null &&
      !(hint.kind === 'other' && this.pending.some((h) => h.kind === 'other'))
    )
      this.pending.push(hint);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const hints = this.pending;
      this.pending = [];
      if (this.closed) return;
      for (const listener of [...this.listeners]) {
        try {
          listener(hints);
        } catch {
          // A listener's failure is its own; the others still run.
        }
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    await this.stop();
  }

  private start(): void {
    this.backoffMs = RECONNECT_MIN_MS;
    void this.connect();
  }

  private async stop(): Promise<void> {
    this.generation++;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const client = this.client;
    this.client = null;
    if (client) await client.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const gen = ++this.generation;
    const client = new pg.Client(this.connection);
    let lost = false;
    const onLost = () => {
      if (lost) return;
      lost = true;
      void client.end().catch(() => undefined);
      if (gen !== this.generation || this.closed || this.listeners.size === 0) return;
      this.client = null;
      this.scheduleReconnect();
    };
    client.on('error', onLost);
    client.on('end', onLost);
    client.on('notification', (msg) => this.notify(parseHint(msg.payload, this.timed)));
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
    } catch {
      onLost();
      return;
    }
    if (gen !== this.generation || this.closed || this.listeners.size === 0) {
      lost = true;
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.backoffMs = RECONNECT_MIN_MS;
    // Something may have changed before we were listening (a waiter looked, then LISTEN began).
    this.notify(null);
  }

  private scheduleReconnect(): void {
    const delay = this.backoffMs;
    this.backoffMs = Math.min(RECONNECT_MAX_MS, this.backoffMs * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.closed || this.listeners.size === 0) return;
      void this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }
}
