import type { ChangeHint, Store } from '../store/store.js';

/** Who waits to claim: the agent's id (for work assigned to it), type and capabilities. */
export interface ClaimWaiter {
  id: number;
  type: string;
  capabilities: readonly string[];
}

/**
 * A claim's place in the queue of waiting claims (openTicket … closeTicket). `hit` is set when work
 * it could take may have appeared since its last look, so a wake-up that arrives while its claim is
 * under way is not lost.
 */
export interface ClaimTicket {
  readonly agent: ClaimWaiter;
  hit: boolean;
  /** Whether it was woken by a hint (then a successful claim passes the turn on: passOn). */
  woken: boolean;
  /** Set while it sleeps. */
  wakeUp: (() => void) | null;
  /** While it sleeps: when it means to look again (ms since the epoch). */
  until: number;
}

/** What a process knows of a type's next scheduled task (ChangeSignal.nextScheduled). */
interface Schedule {
  /** The claimEpoch it holds for. */
  epoch: number;
  /** When the earliest pending task of the type scheduled for later becomes claimable; null: none. */
  at: number | null;
  /** Set while the store is being asked; times learnt meanwhile are kept in `learnt`. */
  asking: Promise<number | null> | null;
  learnt: number | null;
  /**
   * Whether the store was asked (else `at` is only what hints told since: a time by which to look
   * again, not the whole answer).
   */
  asked: boolean;
}

const earliest = (a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : Math.min(a, b);

/**
 * One watcher of the store per coordinator, shared by everything in the process that waits:
 *
 * - Waits for anything (results, events): read `current` before looking, then `waitSince(version,
 *   …)` resolves at once if a change arrived in between.
 * - Waiting claims take a ticket and are offered new work one at a time, oldest first: a hint that
 *   a task of type T (needing capabilities C) became claimable wakes the first sleeping claim that
 *   could take it, not all of them; if that claim gets a task, it passes the turn on (`passOn`) to
 *   the next, as there may be more. A hint that names an agent wakes that agent's claims. When the
 *   store cannot tell what changed (null hints: SQLite's cross-process signal, a reconnection), the
 *   first sleeping claim of each type and set of capabilities is woken. Hints about anything else
 *   (progress notes, reviews, completions) wake no claim.
 */
export class ChangeSignal {
  private version = 0;
  /** Bumped by every hint that may concern claims (all but `other`): see `claimEpoch`. */
  private claims = 0;
  private waiters = new Set<() => void>();
  /** Waiting claims, oldest first. */
  private tickets: ClaimTicket[] = [];
  private unwatch: (() => void) | null = null;
  private readonly schedules = new Map<string, Schedule>();

  constructor(private readonly store: Store) {}

  get current(): number {
    return this.version;
  }

  /**
   * Changes when work may have become claimable (or scheduled) since: what was learnt about the
   * queue (the next scheduled task of a type) holds while it stays the same. Only meaningful while
   * watching (a claim's ticket is open).
   */
  get claimEpoch(): number {
    return this.claims;
  }

  /**
   * How long until the next task of `type` scheduled for later (a delayed task, a retry's backoff, a
   * task kept for a while for another agent) becomes claimable; null: none. Asked of the store once
   * per claimEpoch and shared by the process's waiting claims (a thousand long-polls on one
   * `cns serve`); hints that carry the time (PostgreSQL's `inMs`) update the answer without asking.
   */
  async nextScheduled(type: string): Promise<number | null> {
    const epoch = this.claims;
    let known = this.schedules.get(type);
    if (
      !known ||
      known.epoch !== epoch ||
      (known.asking === null && (!known.asked || (known.at !== null && known.at <= Date.now())))
    ) {
      if (this.schedules.size > 1_000) this.schedules.clear();
      const asked = Date.now();
      // What hints told since the last answer is kept (the store's answer may predate it).
      const told = known && known.epoch === epoch && !known.asked ? known.at : null;
      const entry: Schedule = { epoch, at: null, asking: null, learnt: told, asked: true };
      entry.asking = this.store.untilNextScheduled(type).then(
        (delay) => {
          entry.at = earliest(delay === null ? null : asked + delay, entry.learnt);
          entry.asking = null;
          return entry.at;
        },
        (err: unknown) => {
          if (this.schedules.get(type) === entry) this.schedules.delete(type);
          throw err;
        },
      );
      this.schedules.set(type, entry);
      known = entry;
    }
    const at = known.asking ? await known.asking : known.at;
    return at === null ? null : Math.max(0, at - Date.now());
  }

  /**
   * By when a sleeper of `type` should look again for a scheduled task, as far as is known without
   * asking (the store's last answer, or what hints told since); null: nothing known.
   */
  knownScheduled(type: string): number | null {
    const known = this.schedules.get(type);
    return known && known.epoch === this.claims && known.asking === null ? known.at : null;
  }

  /**
   * A hint said a task of `type` becomes claimable at `at`: what is known takes it in. When nothing
   * is known for this epoch, the time is kept on its own: sleepers wake by then, and the next look
   * asks the store for the rest.
   */
  private learnScheduled(type: string, at: number): void {
    const known = this.schedules.get(type);
    if (!known || known.epoch !== this.claims) {
      if (this.schedules.size > 1_000) this.schedules.clear();
      this.schedules.set(type, { epoch: this.claims, at, asking: null, learnt: null, asked: false });
    } else if (known.asking) known.learnt = earliest(known.learnt, at);
    else known.at = earliest(known.at, at);
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

  /** Joins the queue of waiting claims; take it before the first look, close it when done. */
  openTicket(agent: ClaimWaiter): ClaimTicket {
    this.ensureWatching();
    const ticket: ClaimTicket = { agent, hit: false, woken: false, wakeUp: null, until: 0 };
    this.tickets.push(ticket);
    return ticket;
  }

  closeTicket(ticket: ClaimTicket): void {
    const i = this.tickets.indexOf(ticket);
    if (i >= 0) this.tickets.splice(i, 1);
    ticket.wakeUp?.();
    this.maybeStop();
  }

  /**
   * Sleeps until the ticket is offered work, the timeout or the abort. True when offered (at once if
   * work appeared since its last look), false otherwise. Clears `hit` before returning true.
   */
  waitForWork(ticket: ClaimTicket, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (ticket.hit) {
      ticket.hit = false;
      return Promise.resolve(true);
    }
    ticket.woken = false;
    if (signal?.aborted || timeoutMs <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        ticket.wakeUp = null;
        const offered = ticket.hit;
        ticket.hit = false;
        resolve(offered);
      };
      const timer = setTimeout(done, timeoutMs);
      ticket.until = Date.now() + timeoutMs;
      ticket.wakeUp = done;
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** A claim that was woken got a task: there may be more, so offer the turn to the next sleeper. */
  passOn(ticket: ClaimTicket): void {
    if (!ticket.woken) return;
    ticket.woken = false;
    const next = this.tickets.find(
      (t) => t !== ticket && t.wakeUp !== null && t.agent.type === ticket.agent.type,
    );
    if (next) this.offer(next);
  }

  close(): void {
    for (const w of [...this.waiters]) w();
    for (const t of [...this.tickets]) t.wakeUp?.();
    this.unwatch?.();
    this.unwatch = null;
  }

  private ensureWatching(): void {
    if (this.unwatch) return;
    // Whatever happened while nobody watched is unknown: what was learnt about the queue is stale.
    this.claims++;
    this.unwatch = this.store.watch((hints) => this.changed(hints));
  }

  private changed(hints: readonly ChangeHint[] | null): void {
    this.version++;
    // What is known of the queue's scheduled tasks holds unless a change could have moved them
    // unseen: one the store cannot describe, or a task become pending without its time.
    if (hints === null || hints.some((h) => h.kind === 'claimable' && h.inMs === undefined)) this.claims++;
    for (const w of [...this.waiters]) w();
    if (this.tickets.length === 0) return;
    if (hints === null) {
      // Anything may have changed: every claim under way looks again, and the first sleeper of each
      // kind of agent is woken.
      const seen = new Set<string>();
      for (const t of this.tickets) {
        if (t.wakeUp === null) {
          t.hit = true;
          continue;
        }
        const kind = JSON.stringify([t.agent.type, [...t.agent.capabilities].sort()]);
        if (seen.has(kind)) continue;
        seen.add(kind);
        this.offer(t);
      }
      return;
    }
    for (const hint of hints) {
      if (hint.kind === 'other') continue;
      if (hint.kind === 'claimable' && hint.inMs !== undefined && hint.inMs > 0) {
        // Claimable later: nobody is offered it now; sleepers of its type that would sleep past its
        // time wake to shorten their sleep (no look, no query).
        const at = Date.now() + hint.inMs;
        this.learnScheduled(hint.type, at);
        for (const t of this.tickets)
          if (t.wakeUp !== null && t.agent.type === hint.type && t.until > at) t.wakeUp();
        continue;
      }
      const fits = (t: ClaimTicket) =>
        hint.kind === 'assigned'
          ? t.agent.id === hint.agentId
          : t.agent.type === hint.type && hint.requires.every((c) => t.agent.capabilities.includes(c));
      const sleeper = this.tickets.find((t) => t.wakeUp !== null && !t.hit && fits(t));
      if (sleeper) this.offer(sleeper);
      // Claims under way may have looked before this work appeared: they look once more.
      for (const t of this.tickets) if (t.wakeUp === null && fits(t)) t.hit = true;
    }
  }

  private offer(ticket: ClaimTicket): void {
    ticket.hit = true;
    ticket.woken = true;
    ticket.wakeUp?.();
  }

  /** Keep the store's watcher only while someone waits (it may hold a connection or a timer). */
  private maybeStop(): void {
    if (this.waiters.size > 0 || this.tickets.length > 0 || !this.unwatch) return;
    // Stay subscribed briefly: a claim loop re-subscribes right away; dropping and re-creating a
    // LISTEN connection each time would be wasteful.
    const unwatch = this.unwatch;
    setTimeout(() => {
      if (this.waiters.size === 0 && this.tickets.length === 0 && this.unwatch === unwatch) {
        unwatch();
        this.unwatch = null;
      }
    }, 5_000).unref();
  }
}
