/**
 * PostgreSQL across processes: many OS processes on one database, a waiting agent whose LISTEN
 * connection is killed, and agents whose clocks are skewed by minutes.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Coordinator } from '../src/coordinator/coordinator.js';
import { setMaxListeners } from 'node:events';
import { AgentSession } from '../src/coordinator/agent-session.js';
import { Coordinator as CoordinatorClass } from '../src/coordinator/coordinator.js';
import { resolveConfig } from '../src/core/config.js';
import { DEFAULT_POLICY } from '../src/core/policy.js';
import { openPostgresStore } from '../src/store/postgres/postgres-store.js';
import type { Store } from '../src/store/store.js';
import { openCoordinator } from '../src/coordinator/open-coordinator.js';
import { runClaimWorkers } from './support/multiprocess.js';
import { freshPostgresSchema, type FreshPostgresSchema } from './support/postgres.js';

const run = promisify(execFile);

describe('postgres: many processes, lost connections, skewed clocks', () => {
  let s: FreshPostgresSchema;
  let admin: pg.Client;
  beforeAll(async () => {
    s = await freshPostgresSchema();
    admin = new pg.Client({ connectionString: s.url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin.end();
    await s.drop();
  });

  it('8 processes, each with its own pool, complete 5,000 tasks exactly once and refuse stale leases', async () => {
    const TASKS = 5_000;
    const cns = await openCoordinator({ db: s.url, schema: s.schema, reaper: false });
    for (let i = 0; i < TASKS; i += 1000) {
      await cns.createTasks({
        actor: 'test',
        tasks: Array.from({ length: 1000 }, (_, k) => ({ type: 'mp', title: `task ${i + k}` })),
      });
    }
    const reports = await runClaimWorkers(s.url, 8, { staleEvery: 100, schema: s.schema });
    const all = reports.flatMap((r) => r.completed);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(TASKS);
    expect(reports.flatMap((r) => r.staleAccepted)).toEqual([]);
    const staleRejected = reports.reduce((n, r) => n + r.staleRejected, 0);
    expect(staleRejected).toBeGreaterThan(0);
    expect((await cns.countTasks()).completed).toBe(TASKS);
    const { rows } = await admin.query<{ n: string }>(
      `SELECT count(*) AS n FROM "${s.schema}".events WHERE kind = 'task.completed'`,
    );
    expect(Number(rows[0]!.n)).toBe(TASKS);
    const dupes = await admin.query(
      `SELECT task_id FROM "${s.schema}".events WHERE kind = 'task.completed' GROUP BY task_id HAVING count(*) > 1`,
    );
    expect(dupes.rows).toEqual([]);
    await cns.close();
    console.log(
      `postgres multi-process: ${TASKS} tasks, 8 processes, ${staleRejected} stale completions refused`,
    );
  }, 300_000);

  it('a waiting agent still gets the next task after its LISTEN connection is killed', async () => {
    const channel = `cns_${s.schema}`;
    const waiter: Coordinator = await openCoordinator({ db: s.url, schema: s.schema, reaper: false });
    const queuer: Coordinator = await openCoordinator({ db: s.url, schema: s.schema, reaper: false });
    try {
      const agent = await waiter.registerAgent({ name: 'listener-victim', type: 'wake' });
      const waiting = waiter.claimNext(agent, { waitMs: 20_000 });
      const listeners = async () =>
        (
          await admin.query<{ pid: number }>(
            `SELECT pid FROM pg_stat_activity WHERE query = $1 AND pid <> pg_backend_pid()`,
            [`LISTEN "${channel}"`],
          )
        ).rows;
      let before: { pid: number }[] = [];
      for (let i = 0; i < 100 && before.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
        before = await listeners();
      }
      expect(before.length).toBe(1);
      await admin.query('SELECT pg_terminate_backend($1)', [before[0]!.pid]);
      // The listener reconnects (a new backend) …
      let after: { pid: number }[] = [];
      for (let i = 0; i < 100; i++) {
        await new Promise((r) => setTimeout(r, 50));
        after = await listeners();
        if (after.length === 1 && after[0]!.pid !== before[0]!.pid) break;
      }
      expect(after.length).toBe(1);
      expect(after[0]!.pid).not.toBe(before[0]!.pid);
      // … and the waiting agent receives a task queued by another process's connection.
      const queued = Date.now();
      const { task } = await queuer.createTask({ type: 'wake', title: 'after the kill' }, 'test');
      const out = await waiting;
      expect(out.claimed?.task.id).toBe(task.id);
      console.log(`postgres wake-up after listener kill: ${Date.now() - queued} ms`);
    } finally {
      await waiter.close();
      await queuer.close();
    }
  }, 60_000);

  it('agents with clocks skewed by ±10 minutes neither steal nor lose leases (database time)', async () => {
    const cns = await openCoordinator({ db: s.url, schema: s.schema, reaper: false, leaseMs: 60_000 });
    try {
      await cns.createTasks({
        actor: 'test',
        tasks: [1, 2, 3].map((i) => ({ type: 'skew', title: `skew ${i}` })),
      });
      const me = await cns.registerAgent({ name: 'on-time', type: 'skew' });
      const mine = await cns.claimNext(me);
      expect(mine.claimed).not.toBeNull();
      const skewed = async (skewMs: number, name: string) => {
        const { stdout } = await run(
          process.execPath,
          [
            '--import',
            'tsx',
            '--import',
            fileURLToPath(new URL('./support/skew-clock.ts', import.meta.url)),
            fileURLToPath(new URL('./support/skewed-agent.ts', import.meta.url)),
            s.url,
            s.schema,
            name,
          ],
          { env: { ...process.env, CNS_TEST_CLOCK_SKEW_MS: String(skewMs) } },
        );
        return JSON.parse(stdout.trim().split('\n').pop()!) as {
          localNow: number;
          taskId: number | null;
          leaseExpiresAt: number | null;
          reaped: number[];
        };
      };
      const ahead = await skewed(10 * 60_000, 'ahead');
      const behind = await skewed(-10 * 60_000, 'behind');
      const dbNow = await cns.now();

      // The clock really was skewed in the children.
      expect(ahead.localNow - Date.now()).toBeGreaterThan(9 * 60_000);
      expect(Date.now() - behind.localNow).toBeGreaterThan(9 * 60_000);
      // The process 10 minutes ahead swept expired leases and took nothing of ours.
      expect(ahead.reaped).toEqual([]);
      expect((await cns.getTask(mine.claimed!.task.id)).status).toBe('in_progress');
      // Both children's leases run 60 s from the database's time, not their own.
      for (const child of [ahead, behind]) {
        expect(child.taskId).not.toBeNull();
        expect(Math.abs(child.leaseExpiresAt! - (dbNow + 60_000))).toBeLessThan(30_000);
      }
      // An on-time sweep now does not expire the lease of the agent that is 10 minutes behind.
      const swept = await cns.reap();
      expect(swept.expired).toEqual([]);
      expect((await cns.getTask(behind.taskId!)).status).toBe('in_progress');
    } finally {
      await cns.close();
    }
  }, 60_000);

  it('a heartbeat blocked on a row lock, answering after a claim committed, does not lose that claim', async () => {
    const cns = await openCoordinator({
      db: s.url,
      schema: s.schema,
      reaper: false,
      leaseMs: 5_000,
      heartbeatIntervalMs: 100,
    });
    const locker = new pg.Client({ connectionString: s.url });
    await locker.connect();
    try {
      const { tasks } = await cns.createTasks({
        actor: 'test',
        tasks: [
          { type: 'hb-race', title: 'A' },
          { type: 'hb-race', title: 'B' },
        ],
      });
      const [a, b] = tasks;
      const session = await AgentSession.start(cns, { name: 'hb-racer', type: 'hb-race' });
      expect((await session.next()).claimed?.task.id).toBe(a!.id);
      // Another connection holds task A's row for 250 ms: the background heartbeat that starts
      // meanwhile waits on it, having read the held tasks before B's claim commits.
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM "${s.schema}".tasks WHERE id = $1 FOR UPDATE`, [a!.id]);
      await new Promise((r) => setTimeout(r, 120));
      // B is claimed for this session while the heartbeat waits (as through the API, one at a time
      // being task_next's rule, not the store's).
      const claimedB = await cns.claimNext(session.agent);
      expect(claimedB.claimed?.task.id).toBe(b!.id);
      session.adopt(claimedB.claimed!);
      await new Promise((r) => setTimeout(r, 130));
      await locker.query('COMMIT');
      await new Promise((r) => setTimeout(r, 300)); // the late heartbeat answers; more follow
      expect(session.held.sort((x, y) => x - y)).toEqual([a!.id, b!.id]);
      expect((await session.complete(b!.id, { result: 'B done' })).status).toBe('completed');
      expect((await session.complete(a!.id, { result: 'A done' })).status).toBe('completed');
      await session.stop();
    } finally {
      await locker.end().catch(() => undefined);
      await cns.close();
    }
  }, 60_000);

  it('waiting processes: a new task costs each one claim and no schedule query; a delayed one is learnt from its notification', async () => {
    // Four "processes": each its own store (pool and LISTEN connection) and coordinator, one
    // waiting claim each, on the database's own clock. Their store calls are counted.
    const calls = { claim: 0, untilNextScheduled: 0 };
    const policy = { ...DEFAULT_POLICY };
    const stores: Store[] = [];
    const fleet: Coordinator[] = [];
    for (let i = 0; i < 4; i++) {
      const store = await openPostgresStore(s.url, { policy, schema: s.schema, poolSize: 2 });
      stores.push(store);
      const counted = new Proxy(store, {
        get(target, key) {
          const value = Reflect.get(target, key, target) as unknown;
          if (key === 'claim' || key === 'untilNextScheduled') calls[key]++;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      fleet.push(
        new CoordinatorClass(
          counted,
          resolveConfig({ db: s.url, claimBackstopMs: 60_000, waitMaxMs: 60_000 }, {}, '/'),
          {
            reaper: false,
          },
        ),
      );
    }
    const supervisor = await openCoordinator({ db: s.url, schema: s.schema, reaper: false });
    const agents = await Promise.all(
      fleet.map((c, i) => c.registerAgent({ name: `sched-${i}`, type: 'sched', capabilities: [] })),
    );
    const stop = new AbortController();
    setMaxListeners(10, stop.signal);
    try {
      let waits = fleet.map((c, i) => c.claimNext(agents[i]!, { waitMs: 30_000, signal: stop.signal }));
      // Each looks, finds nothing, asks when something is scheduled, and sleeps (once more when its
      // LISTEN starts: a notification may have passed unheard). Then nothing, until work comes.
      let settled = '';
      await vi.waitFor(
        () => {
          const seen = JSON.stringify(calls);
          const quiet = seen === settled && calls.claim >= 4;
          settled = seen;
          expect(quiet).toBe(true);
        },
        { timeout: 10_000, interval: 500 },
      );
      const base = { ...calls };
      // A task for now: each process tries once (at most); nobody asks the store about the schedule.
      const now = await supervisor.createTask({ type: 'sched', title: 'now' }, 'test');
      const first = await Promise.race(waits.map((w, i) => w.then((o) => ({ o, i }))));
      expect(first.o.claimed?.task.id).toBe(now.task.id);
      await new Promise((r) => setTimeout(r, 500));
      expect(calls.claim - base.claim).toBeLessThanOrEqual(4);
      expect(calls.untilNextScheduled).toBe(base.untilNextScheduled);
      await fleet[first.i]!.complete(now.task.id, first.o.claimed!.leaseToken, { result: 'done' });
      const claimsSoFar = calls.claim;
      waits = waits.map((w, i) =>
        i === first.i ? fleet[i]!.claimNext(agents[i]!, { waitMs: 30_000, signal: stop.signal }) : w,
      );
      // The new wait looks once; what it knows of the schedule still holds (no query).
      await vi.waitFor(() => expect(calls.claim).toBe(claimsSoFar + 1), { timeout: 10_000 });
      await new Promise((r) => setTimeout(r, 300));
      expect(calls.untilNextScheduled).toBe(base.untilNextScheduled);
      const before = { ...calls };

      // A task due in 4 s: nobody looks before its time, nobody asks, and one of them gets it then —
      // long before the 60 s backstop.
      const due = Date.now() + 4_000;
      const later = await supervisor.createTask({ type: 'sched', title: 'later', runAfter: due }, 'test');
      await new Promise((r) => setTimeout(r, 1_000));
      // (On a machine so loaded that the task is nearly due already, there is nothing to see here.)
      if (Date.now() < due - 500) expect(calls).toEqual(before);
      const got = await Promise.race(waits.map((w) => w));
      expect(got.claimed?.task.id).toBe(later.task.id);
      // At its time each process looks once; those that lost it ask what comes next (what they
      // knew is past), once each.
      await new Promise((r) => setTimeout(r, 300));
      expect(calls.claim - before.claim).toBeLessThanOrEqual(4);
      expect(calls.untilNextScheduled - before.untilNextScheduled).toBeLessThanOrEqual(3);
    } finally {
      stop.abort();
      await Promise.allSettled(fleet.map((c) => c.close()));
      await Promise.allSettled(stores.map((st) => st.close()));
      await supervisor.close();
    }
  }, 60_000);
});
