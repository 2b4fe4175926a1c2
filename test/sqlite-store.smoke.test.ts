import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Coordinator } from '../src/coordinator/coordinator.js';
import type { CreateTasksInput } from '../src/core/batch.js';
import { ManualClock } from '../src/core/clock.js';
import { resolveConfig } from '../src/core/config.js';
import { LeaseLostError } from '../src/core/errors.js';
import { DEFAULT_POLICY } from '../src/core/policy.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { Store } from '../src/store/store.js';
import type { Agent } from '../src/core/types.js';

const policy = { ...DEFAULT_POLICY };
let dir: string;
let file: string;
let clock: ManualClock;
let store: Store;
/** The lifecycle's decisions live above the store: it is driven through a coordinator. */
let cns: Coordinator;

const create = (input: Omit<CreateTasksInput, 'actor'>) => cns.createTasks({ actor: 'test', ...input });
const claim = async (agent: Agent, leaseMs?: number) =>
  (await cns.claimNext(agent, leaseMs === undefined ? {} : { leaseMs })).claimed;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cns-sqlite-'));
  file = path.join(dir, 'nested', 'cns.db');
  clock = new ManualClock();
  store = await openSqliteStore(file, { policy, clock });
  cns = new Coordinator(store, resolveConfig({ ...policy }, {}, '/'), { reaper: false });
});

afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('sqlite store (smoke)', () => {
  it('runs a workflow through claim, handoff, review and unblocking', async () => {
    const a = await cns.registerAgent({ name: 'a1', type: 'dev', capabilities: ['ts'] });
    const b = await cns.registerAgent({ name: 'b1', type: 'dev', capabilities: [] });
    const { workflow, tasks, created } = await create({
      workflow: { name: 'wf', review: false },
      tasks: [
        { ref: 'second', type: 'dev', title: 'Second', dependsOn: ['first'] },
        { ref: 'first', type: 'dev', title: 'First', requires: ['ts'], review: true, idempotencyKey: 'k1' },
      ],
    });
    expect(created).toEqual([true, true]);
    expect(tasks.map((t) => [t.ref, t.status])).toEqual([
      ['second', 'blocked'],
      ['first', 'pending'],
    ]);
    expect(tasks[0]!.dependsOn).toEqual([tasks[1]!.id]);
    expect(workflow?.counts).toEqual({ blocked: 1, pending: 1 });

    expect(await claim(b)).toBeNull(); // lacks capability "ts"
    const c1 = (await claim(a))!;
    expect(c1.task.ref).toBe('first');
    expect(c1.task.lease?.agentName).toBe('a1');
    await cns.progress(c1.task.id, c1.leaseToken, {
      note: 'halfway',
      percent: 50,
      checkpoint: { step: 2 },
    });
    const released = await cns.release(c1.task.id, c1.leaseToken, 'restart');
    expect(released.attempts).toBe(0);
    await expect(cns.complete(c1.task.id, c1.leaseToken, { result: 'x' })).rejects.toMatchObject({
      reason: 'released',
    });

    const c2 = (await claim(a))!;
    expect(c2.handoff.map((h) => [h.seq, h.outcome, h.note, h.checkpoint])).toEqual([
      [1, 'released', 'halfway', { step: 2 }],
    ]);
    const submitted = await cns.complete(c2.task.id, c2.leaseToken, { result: 'done' });
    expect(submitted.status).toBe('awaiting_review');
    await expect(cns.review(c2.task.id, { reviewer: 'a1', approve: true })).rejects.toMatchObject({
      code: 'forbidden',
    });
    const back = await cns.review(c2.task.id, { reviewer: 'boss', approve: false, feedback: 'more tests' });
    expect([back.status, back.reviewRounds, back.attempts]).toEqual(['pending', 1, 0]);

    const c3 = (await claim(a))!;
    expect(c3.handoff.at(-1)?.feedback).toBe('more tests');
    await cns.complete(c3.task.id, c3.leaseToken, { result: 'done again', data: { ok: true } });
    const approved = await cns.review(c3.task.id, { reviewer: 'boss', approve: true });
    expect(approved.status).toBe('completed');

    const second = await store.getTask(tasks[0]!.id);
    expect(second?.status).toBe('pending');
    const c4 = (await claim(b))!;
    expect(c4.dependencies).toEqual([
      {
        taskId: tasks[1]!.id,
        ref: 'first',
        title: 'First',
        status: 'completed',
        result: 'done again',
        resultData: { ok: true },
      },
    ]);
    await cns.complete(c4.task.id, c4.leaseToken, { result: 'ok' });
    expect((await store.getWorkflow(workflow!.id))?.status).toBe('completed');

    const again = await create({ tasks: [{ type: 'dev', title: 'dup', idempotencyKey: 'k1' }] });
    expect(again.created).toEqual([false]);
    expect(again.tasks[0]!.id).toBe(tasks[1]!.id);

    const kinds = (await store.listEvents({ taskId: tasks[0]!.id })).map((e) => e.kind);
    expect(kinds).toEqual(['task.created', 'task.unblocked', 'task.claimed', 'task.completed']);
  });

  it('fences, expires, fails, cancels, retries and pages', async () => {
    const a = await cns.registerAgent({ name: 'a1', type: 'dev' });
    const b = await cns.registerAgent({ name: 'b1', type: 'dev' });
    const { tasks } = await create({
      tasks: [
        { ref: 'p', type: 'dev', title: 'Parent task', maxAttempts: 2, priority: 5 },
        { ref: 'c', type: 'dev', title: 'Child 100%_x', dependsOn: ['p'] },
      ],
    });
    const [p, c] = tasks as [(typeof tasks)[0], (typeof tasks)[0]];
    const l1 = (await claim(a, 1_000))!;
    expect(l1.task.id).toBe(p.id);
    clock.advance(1_500);
    await cns.heartbeatTask(p.id, l1.leaseToken); // expired but not reaped: still valid
    clock.advance(policy.leaseMs + 1);
    const reaped = await cns.reap();
    expect(reaped.expired.map((t) => [t.id, t.status])).toEqual([[p.id, 'pending']]);
    expect(reaped.offline.map((x) => x.name).sort()).toEqual(['a1', 'b1']);
    expect((await cns.reap()).offline).toEqual([]);
    const err = await cns.progress(p.id, l1.leaseToken, { note: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LeaseLostError);
    expect((err as LeaseLostError).reason).toBe('expired');

    expect(await claim(b)).toBeNull(); // backoff
    clock.advance(policy.retryBaseMs);
    const l2 = (await claim(b))!;
    expect(l2.task.attempts).toBe(2);
    await expect(cns.heartbeatTask(p.id, l1.leaseToken)).rejects.toMatchObject({ reason: 'reassigned' });
    const failed = await cns.fail(p.id, l2.leaseToken, { error: 'boom' });
    expect(failed.status).toBe('failed');

    const cancelled = await cns.cancel(c.id, 'cli', 'no longer needed');
    expect(cancelled.map((t) => t.status)).toEqual(['cancelled']);
    await expect(cns.cancel(c.id, 'cli')).rejects.toMatchObject({ code: 'conflict' });
    const retried = await cns.retry(c.id, 'cli');
    expect(retried.status).toBe('blocked');
    expect((await cns.retry(p.id, 'cli')).status).toBe('pending');

    expect((await store.listTasks({ search: '100%_' })).items.map((t) => t.id)).toEqual([c.id]);
    expect((await store.listTasks({ search: '100%x' })).items).toEqual([]);
    const page1 = await store.listTasks({ limit: 1 });
    expect(page1.items[0]!.id).toBe(p.id);
    const page2 = await store.listTasks({ limit: 1, after: page1.nextCursor! });
    expect([page2.items[0]!.id, page2.items[0]!.dependsOn, page2.nextCursor]).toEqual([c.id, [p.id], null]);
    expect(await store.countTasks()).toEqual({
      blocked: 1,
      pending: 1,
      assigned: 0,
      in_progress: 0,
      waiting_input: 0,
      awaiting_review: 0,
      completed: 0,
      failed: 0,
      cancelled: 0,
    });
  });

  it('enforces transitions in the schema and refuses a newer schema', async () => {
    const { tasks } = await create({ tasks: [{ type: 'dev', title: 't' }] });
    await store.close();
    const db = new Database(file);
    expect(() =>
      db.prepare("UPDATE tasks SET status = 'completed', finished_at = 1 WHERE id = ?").run(tasks[0]!.id),
    ).toThrow(/illegal task status transition/);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, ?, 0)').run('future');
    db.close();
    await expect(openSqliteStore(file, { policy, clock })).rejects.toMatchObject({ code: 'schema_too_new' });
    store = await openSqliteStore(path.join(dir, 'other.db'), { policy, clock });
  });

  it('notifies watchers in-process and across connections', async () => {
    let calls = 0;
    const stop = store.watch(() => calls++);
    await create({ tasks: [{ type: 'dev', title: 't1' }] });
    await create({ tasks: [{ type: 'dev', title: 't2' }] });
    await new Promise((r) => setImmediate(r));
    expect(calls).toBe(1); // coalesced
    const other = new Coordinator(await openSqliteStore(file, { policy, clock }), cns.config, {
      reaper: false,
    });
    await other.createTasks({ actor: 'test', tasks: [{ type: 'dev', title: 't3' }] });
    await other.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(2);
    stop();
  });
});
