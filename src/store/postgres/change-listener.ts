/**
 * Wake-ups for `Store.watch` on PostgreSQL: LISTEN on `cns_<schema>` over a dedicated connection
 * (not from the pool), held only while someone listens; reconnected with backoff after a loss, and
 * then the listeners are called once (a notification may have been missed). Calls are coalesced:
 * many notifications, one call per tick. There is no timer here: a hint is only a hint, and every
 * waiter re-checks on its own backstop (config pollBackstopMs), so nothing runs while nothing
 * happens.
 */
import pg from 'pg';

/** Reconnection backoff: starts here, doubles, capped at RECONNECT_MAX_MS. */
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

export class ChangeListener {
  private readonly listeners = new Set<() => void>();
  private scheduled = false;
  private closed = false;
  private client: pg.Client | null = null;
  /** Bumped whenever the current connection is abandoned, so stale callbacks do nothing. */
  private generation = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private backoffMs = RECONNECT_MIN_MS;

  constructor(
    private readonly connection: pg.ClientConfig,
    private readonly channel: string,
  ) {}

  add(listener: () => void): () => void {
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

  /** Calls the listeners soon (coalesced). Used for this process's own changes too. */
  notify(): void {
    if (this.scheduled || this.closed || this.listeners.size === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.closed) return;
      for (const listener of [...this.listeners]) {
        try {
          listener();
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
    client.on('notification', () => this.notify());
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
    this.notify();
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
