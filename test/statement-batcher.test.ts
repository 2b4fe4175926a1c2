/**
 * The PostgreSQL store's group commit (src/store/postgres/statement-batcher.ts), as a mechanism:
 * which calls share a batch, when batches are sent, and how one bad call is kept from failing the
 * others. The store's behaviour on a real server is covered by the conformance suite.
 */
import { describe, expect, it } from 'vitest';
import { StatementBatcher, type BatchOutcome } from '../src/store/postgres/statement-batcher.js';

interface Call {
  key: string;
  id: number;
  value: number;
}

/** A batcher whose "statement" records each batch and resolves when `release()` is called. */
function recording(options: { fail?: (batch: Call[]) => boolean } = {}) {
  const batches: Call[][] = [];
  const gates: (() => void)[] = [];
  const batcher = new StatementBatcher<Call, number>(
    async (calls): Promise<BatchOutcome<number>[]> => {
      batches.push(calls);
      await new Promise<void>((resolve) => gates.push(resolve));
      if (options.fail?.(calls)) throw new Error(`batch of ${calls.length} failed`);
      return calls.map((c) =>
        c.value < 0 ? { ok: false, error: new Error(`bad ${c.value}`) } : { ok: true, value: c.value * 10 },
      );
    },
    { keyOf: (c) => c.key, idOf: (c) => c.id },
  );
  const releaseAll = async () => {
    // Let pending setImmediate flushes run, then open every gate (repeatedly: releasing a batch
    // sends the next one).
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setImmediate(r));
      while (gates.length > 0) gates.shift()!();
    }
  };
  return { batcher, batches, releaseAll };
}

const call = (key: string, id: number, value = id): Call => ({ key, id, value });

describe('StatementBatcher', () => {
  it('calls made in the same turn of the event loop share one batch, in order', async () => {
    const { batcher, batches, releaseAll } = recording();
    const results = Promise.all([1, 2, 3].map((i) => batcher.submit(call('a', i))));
    await releaseAll();
    expect(await results).toEqual([10, 20, 30]);
    expect(batches.map((b) => b.map((c) => c.id))).toEqual([[1, 2, 3]]);
  });

  it('calls arriving while a batch of their key runs wait and go together in the next one', async () => {
    const { batcher, batches, releaseAll } = recording();
    const first = batcher.submit(call('a', 1));
    await new Promise((r) => setImmediate(r));
    expect(batches).toHaveLength(1);
    const later = [2, 3].map((i) => batcher.submit(call('a', i)));
    await new Promise((r) => setImmediate(r));
    expect(batches).toHaveLength(1); // still waiting for the first batch
    await releaseAll();
    expect(await first).toBe(10);
    expect(await Promise.all(later)).toEqual([20, 30]);
    expect(batches.map((b) => b.map((c) => c.id))).toEqual([[1], [2, 3]]);
  });

  it('different keys never share a batch and run at the same time', async () => {
    const { batcher, batches, releaseAll } = recording();
    const results = Promise.all([
      batcher.submit(call('a', 1)),
      batcher.submit(call('b', 2)),
      batcher.submit(call('a', 3)),
    ]);
    await new Promise((r) => setImmediate(r));
    expect(batches.map((b) => b.map((c) => c.id))).toEqual([[1, 3], [2]]);
    await releaseAll();
    expect(await results).toEqual([10, 20, 30]);
  });

  it('two calls with the same id go in two batches, one after the other', async () => {
    const { batcher, batches, releaseAll } = recording();
    const results = Promise.all([
      batcher.submit(call('a', 7, 1)),
      batcher.submit(call('a', 7, 2)),
      batcher.submit(call('a', 8, 3)),
    ]);
    await releaseAll();
    expect(await results).toEqual([10, 20, 30]);
    expect(batches.map((b) => b.map((c) => c.value))).toEqual([[1, 3], [2]]);
  });

  it('a call the statement rejects fails alone', async () => {
    const { batcher, releaseAll } = recording();
    const outcomes = Promise.allSettled([
      batcher.submit(call('a', 1)),
      batcher.submit(call('a', 2, -2)),
      batcher.submit(call('a', 3)),
    ]);
    await releaseAll();
    const settled = await outcomes;
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(Error);
  });

  it('when the whole statement fails, each call is run again alone', async () => {
    const { batcher, batches, releaseAll } = recording({ fail: (b) => b.length > 1 });
    const results = Promise.all([1, 2, 3].map((i) => batcher.submit(call('a', i))));
    await releaseAll();
    expect(await results).toEqual([10, 20, 30]);
    expect(batches.map((b) => b.map((c) => c.id))).toEqual([[1, 2, 3], [1], [2], [3]]);
  });

  it('a call that fails alone rejects with the statement error', async () => {
    const { batcher, releaseAll } = recording({ fail: () => true });
    const rejected = expect(batcher.submit(call('a', 1))).rejects.toThrow('batch of 1 failed');
    await releaseAll();
    await rejected;
  });
});
