/**
 * Group commit on the client: concurrent calls of one kind (claims, completions) made through one
 * store are sent to PostgreSQL as one statement over arrays, so that a process serving many agents
 * (`cns serve`, a library user with several workers) pays one round trip, one statement start-up
 * and one commit per batch instead of one per call. Each caller still gets its own answer only
 * after the statement has committed: durable, and atomic for its own row (one statement).
 *
 * - Calls are gathered until the end of the current turn of the event loop (setImmediate), then
 *   sent. While a batch of a key is running, new calls of that key wait and go together in the
 *   next one, sent as soon as it returns. A lone call therefore goes out at once, in a batch of one;
 *   under load, batches grow by themselves instead of statements queueing for connections. (One
 *   batch in flight per key measured best: two halves of a batch each pay the statement's fixed
 *   cost, which outweighs the overlap.)
 * - `keyOf`: only calls with the same key share a batch (claims: agent type and capabilities);
 *   batches of different keys run concurrently.
 * - `idOf`: a batch holds at most one call per id (claims: one per agent); a second call with the
 *   same id waits for the next batch, as if the two had been made one after the other.
 * - If a batch's statement fails as a whole, each of its calls is run again alone, so one bad call
 *   cannot fail the others.
 */

/** What `run` says about one call of the batch. */
export type BatchOutcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export interface StatementBatcherOptions<Q> {
  /** Calls per batch at most. Default 64. */
  maxBatch?: number;
  /** Calls with different keys never share a batch. Default: all share. */
  keyOf?: (call: Q) => string;
  /** Calls with the same id never share a batch. Default: no restriction. */
  idOf?: (call: Q) => string | number;
}

interface Pending<Q, R> {
  call: Q;
  key: string;
  id: string | number | undefined;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

export class StatementBatcher<Q, R> {
  private queue: Pending<Q, R>[] = [];
  /** Keys with a batch running. */
  private readonly running = new Set<string>();
  private scheduled = false;
  private readonly maxBatch: number;

  /** `run` executes one statement for the batch and returns one outcome per call, in order. */
  constructor(
    private readonly run: (calls: Q[]) => Promise<BatchOutcome<R>[]>,
    private readonly options: StatementBatcherOptions<Q> = {},
  ) {
    this.maxBatch = options.maxBatch ?? 64;
  }

  submit(call: Q): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({
        call,
        key: this.options.keyOf?.(call) ?? '',
        id: this.options.idOf?.(call),
        resolve,
        reject,
      });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    for (;;) {
      const batch = this.take();
      if (!batch) return;
      this.running.add(batch.key);
      void this.execute(batch.calls).finally(() => {
        this.running.delete(batch.key);
        // Calls that arrived while this batch ran have waited long enough: send them now.
        this.flush();
      });
    }
  }

  /**
   * The oldest call whose key has no batch running, with every later call that may join it (same
   * key, distinct ids), in order; null when every waiting call's key is busy.
   */
  private take(): { key: string; calls: Pending<Q, R>[] } | null {
    const first = this.queue.find((p) => !this.running.has(p.key));
    if (!first) return null;
    const key = first.key;
    const ids = new Set<string | number>();
    const calls: Pending<Q, R>[] = [];
    const rest: Pending<Q, R>[] = [];
    for (const p of this.queue) {
      const fits = calls.length < this.maxBatch && p.key === key && (p.id === undefined || !ids.has(p.id));
      if (fits) {
        calls.push(p);
        if (p.id !== undefined) ids.add(p.id);
      } else {
        rest.push(p);
      }
    }
    this.queue = rest;
    return { key, calls };
  }

  private async execute(batch: Pending<Q, R>[]): Promise<void> {
    let outcomes: BatchOutcome<R>[];
    try {
      outcomes = await this.run(batch.map((p) => p.call));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      // One statement for all failed: run each call alone, so that one bad call fails alone.
      await Promise.all(batch.map((p) => this.execute([p])));
      return;
    }
    batch.forEach((p, i) => {
      const outcome = outcomes[i];
      if (!outcome) p.reject(new Error('internal: a batched statement returned too few outcomes'));
      else if (outcome.ok) p.resolve(outcome.value);
      else p.reject(outcome.error);
    });
  }
}
