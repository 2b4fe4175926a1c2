/**
 * A quick end-to-end check of the PostgreSQL backend against a real server (the full contract is
 * proven by the conformance suite): register, create, claim, progress, complete, unblock, events,
 * fencing, server clock, and wake-ups across connections.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';

import { Coordinator } from '../src/coordinator/coordinator.js';
import type { CreateTasksInput } from '../src/core/batch.js';
import { ManualClock } from '../src/core/clock.js';
import { resolveConfig } from '../src/core/config.js';
import { CnsError, LeaseLostError } from '../src/core/errors.js';
import { DEFAULT_POLICY } from '../src/core/policy.js';
import { migratePostgres, openPostgresStore } from '../src/store/postgres/postgres-store.js';
import type { Agent } from '../src/core/types.js';
import type { Store } from '../src/store/store.js';
import { freshPostgresSchema, type FreshPostgresSchema } from './support/postgres.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** The lifecycle's decisions live above the store: it is driven through a coordinator (`open` sets it). */
let cns: Coordinator;

async function open(clock?: ManualClock): Promise<{ store: Store; s: FreshPostgresSchema }> {
  const s = await freshPostgresSchema();
  const store = await openPostgresStore(s.url, {
    policy: DEFAULT_POLICY,
    schema: s.schema,
    ...(clock ? { clock } : {}),
  });
  cns = new Coordinator(store, resolveConfig({ ...DEFAULT_POLICY }, {}, '/'), { reaper: false });
  cleanups.push(async () => {
    await cns.close();
    await s.drop();
  });
  return { store, s };
}

const create = (input: Omit<CreateTasksInput, 'actor'>) => cns.createTasks({ actor: 'supervisor', ...input });
const claim = async (agent: Agent, leaseMs?: number) =>
  (await cns.claimNext(agent, leaseMs === undefined ? {} : { leaseMs })).claimed;

describe('postgres store (smoke)', () => {
  it('registers, creates, claims, completes, unblocks and logs events', async () => {
    const clock = new ManualClock();
    const { store } = await open(clock);
    expect(store.backend).toBe('postgres');
    expect(store.capabilities).toEqual({ crossProcessWatch: true, serverClock: false });

    const agent = await cns.registerAgent({ name: 'be-1', type: 'backend', capabilities: ['ts'] });
    expect(agent).toMatchObject({ name: 'be-1', status: 'idle', heldTasks: [] });

    const created = await create({
      workflow: { name: 'wf' },
      tasks: [
        { ref: 'b', type: 'backend', title: 'second', dependsOn: ['a'] },
        { ref: 'a', type: 'backend', title: 'first', requires: ['ts'], priority: 5 },
      ],
    });
    expect(created.created).toEqual([true, true]);
    expect(created.tasks.map((t) => [t.title, t.status])).toEqual([
      ['second', 'blocked'],
      ['first', 'pending'],
    ]);
    expect(created.workflow).toMatchObject({
      name: 'wf',
      status: 'running',
      counts: { blocked: 1, pending: 1 },
    });
    const [second, first] = created.tasks as [(typeof created.tasks)[0], (typeof created.tasks)[0]];
    expect(second.dependsOn).toEqual([first.id]);

    const claimed = await claim(agent);
    expect(claimed?.task).toMatchObject({ id: first.id, status: 'in_progress', attempts: 1 });
    expect(claimed?.leaseExpiresAt).toBe(clock.now() + DEFAULT_POLICY.leaseMs);
    expect(await claim(agent)).toBeNull();

    await cns.progress(first.id, claimed!.leaseToken, { note: 'half', percent: 50 });
    await expect(cns.complete(first.id, 'nope', { result: 'x' })).rejects.toBeInstanceOf(LeaseLostError);
    const done = await cns.complete(first.id, claimed!.leaseToken, { result: 'ok', data: { n: 1 } });
    expect(done).toMatchObject({
      status: 'completed',
      result: 'ok',
      resultData: { n: 1 },
      completedBy: agent.id,
      lease: null,
    });
    await expect(cns.complete(first.id, claimed!.leaseToken, { result: 'again' })).rejects.toMatchObject({
      reason: 'finished',
    });

    expect((await store.getTask(second.id))?.status).toBe('pending');
    const next = await claim(agent);
    expect(next?.task.id).toBe(second.id);
    expect(next?.dependencies).toEqual([
      { taskId: first.id, ref: 'a', title: 'first', status: 'completed', result: 'ok', resultData: { n: 1 } },
    ]);
    expect(await store.listAttempts(first.id)).toMatchObject([
      { seq: 1, outcome: 'completed', note: 'half', percent: 50 },
    ]);

    const kinds = (await store.listEvents()).map((e) => e.kind);
    expect(kinds).toEqual([
      'agent.registered',
      'workflow.created',
      'task.created',
      'task.created',
      'task.claimed',
      'task.progress',
      'task.completed',
      'task.unblocked',
      'task.claimed',
    ]);
  });

  it('uses the database clock when no clock is injected', async () => {
    const { store } = await open();
    expect(store.capabilities.serverClock).toBe(true);
    const before = Date.now();
    const now = await store.now();
    expect(Math.abs(now - before)).toBeLessThan(5_000);
    const agent = await cns.registerAgent({ name: 'a', type: 't' });
    await create({ tasks: [{ type: 't', title: 'x' }] });
    const c = await claim(agent, 60_000);
    expect(Math.abs(c!.leaseExpiresAt - (now + 60_000))).toBeLessThan(5_000);
  });

  it('wakes a watcher when another connection changes tasks, and after the listener connection is killed', async () => {
    const { store, s } = await open();
    const other = new Coordinator(
      await openPostgresStore(s.url, { policy: DEFAULT_POLICY, schema: s.schema }),
      cns.config,
      { reaper: false },
    );
    cleanups.push(() => other.close());
    let calls = 0;
    const stop = store.watch(() => calls++);
    await new Promise((r) => setTimeout(r, 200));
    const waitFor = async (cond: () => boolean, ms: number) => {
      const end = Date.now() + ms;
      while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      return cond();
    };
    calls = 0;
    await other.createTasks({ actor: 'supervisor', tasks: [{ type: 't', title: 'x' }] });
    expect(await waitFor(() => calls > 0, 500)).toBe(true);

    const admin = new pg.Client({ connectionString: s.url });
    await admin.connect();
    await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'LISTEN "cns_${s.schema}"'`,
    );
    await new Promise((r) => setTimeout(r, 800));
    calls = 0;
    await other.createTasks({ actor: 'supervisor', tasks: [{ type: 't', title: 'y' }] });
    expect(await waitFor(() => calls > 0, 500)).toBe(true);
    const listening = await admin.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query ILIKE 'LISTEN "cns_${s.schema}"'`,
    );
    expect(listening.rows[0].n).toBe(1);
    stop();
    await new Promise((r) => setTimeout(r, 100));
    const after = await admin.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query ILIKE 'LISTEN "cns_${s.schema}"'`,
    );
    expect(after.rows[0].n).toBe(0);
    await admin.end();
  });

  it('claims with the partial index and reports unreachable servers and newer schemas clearly', async () => {
    const { s } = await open();
    const admin = new pg.Client({ connectionString: s.url });
    await admin.connect();
    await admin.query(`UPDATE "${s.schema}".schema_migrations SET version = version + 998`);
    await expect(
      openPostgresStore(s.url, { policy: DEFAULT_POLICY, schema: s.schema }),
    ).rejects.toMatchObject({
      code: 'schema_too_new',
    });
    await admin.end();
    const err = await openPostgresStore('postgres://u:secret-pw@127.0.0.1:1/db', {
      policy: DEFAULT_POLICY,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CnsError);
    expect((err as CnsError).code).toBe('store_unavailable');
    expect((err as CnsError).message).toMatch(/^cannot reach PostgreSQL at 127\.0\.0\.1:1: /);
    expect((err as CnsError).message).not.toContain('secret-pw');
    const again = await migratePostgres(s.url, { schema: `${s.schema}_m` });
    expect(again.applied[0]).toBe('0001_initial');
    expect(again.applied.length).toBeGreaterThan(0);
    expect((await migratePostgres(s.url, { schema: `${s.schema}_m` })).applied).toEqual([]);
    const c = new pg.Client({ connectionString: s.url });
    await c.connect();
    await c.query(`DROP SCHEMA "${s.schema}_m" CASCADE`);
    await c.end();
  });
});
