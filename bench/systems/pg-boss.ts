/**
 * pg-boss (PostgreSQL), through its public API. Drain: 8 pull loops of `fetch()` (batch size 1) +
 * `complete()` with the attempt fence ({ id, retryCount }) — pg-boss's `work()` at batch size 1
 * would wait `pollingIntervalSeconds` (at least 0.5 s) after every job unless its burst mode
 * engages, and that mode keys off a queue-stats cache refreshed every 60 s by default; pulling
 * directly measures pg-boss's own claim and completion with no polling gap at all.
 * Wake: `work()` on a queue created with `notify: true` and `useListenNotify: true`, jobs sent from a
 * second pg-boss instance.
 */
import { PgBoss } from 'pg-boss';
import pg from 'pg';
import { packageVersion } from '../lib/machine.js';
import { runLoops } from '../lib/loops.js';
import { checkExactlyOnce, nowMs } from '../lib/stats.js';
import type { BenchEnv, DrainSystem, ScaleSystem, SystemInfo, WakeSystem } from '../lib/types.js';

const INFO: SystemInfo = {
  id: 'pg-boss',
  label: 'pg-boss',
  db: 'postgres',
  kind: 'peer',
  version: `pg-boss ${packageVersion('pg-boss')}`,
  settings:
    'pool max 10, supervise/schedule off in the timed instance; drain: 8 loops of fetch({ batchSize: 1 }) + complete({ id, retryCount }); wake: work() with batchSize 1 on a queue with notify: true, useListenNotify: true, notifyPollingIntervalSeconds 2 (default 30; the backstop when a NOTIFY goes unseen), jobs sent from a second instance',
};

const QUEUE = 'bench';

async function boss(url: string, extra: Record<string, unknown> = {}): Promise<PgBoss> {
  const b = new PgBoss({ connectionString: url, max: 10, supervise: false, schedule: false, ...extra });
  b.on('error', (err: unknown) => {
    if (process.env.CNS_BENCH_VERBOSE) console.error('pg-boss:', err);
  });
  await b.start();
  return b;
}

async function jobStates(url: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const res = await client.query<{ state: string; n: string }>(
      'SELECT state, count(*) AS n FROM pgboss.job GROUP BY state',
    );
    return Object.fromEntries(res.rows.map((r) => [r.state, Number(r.n)]));
  } finally {
    await client.end();
  }
}

function onlyCompleted(states: Record<string, number>, n: number): boolean {
  return Object.keys(states).every((s) => s === 'completed') && (states.completed ?? 0) === n;
}

async function insert(b: PgBoss, n: number, offset = 0): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 1000) {
    const jobs = Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ data: { key: offset + i + k } }));
    const res = await b.insert(QUEUE, jobs, { returnId: true });
    if (!res) throw new Error('pg-boss insert returned no ids');
    ids.push(...res);
  }
  return ids;
}

async function analyze(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('ANALYZE');
  await client.end();
}

export const pgBossDrain: DrainSystem = {
  ...INFO,
  async drain(env, n, concurrency) {
    const target = await env.pg.fresh('pgboss');
    const b = await boss(target.url);
    try {
      await b.createQueue(QUEUE);
      const ids = await insert(b, n);
      await analyze(target.url);
      const t0 = nowMs();
      const done = await runLoops(concurrency, async () => {
        const [job] = await b.fetch<{ key: number }>(QUEUE, { batchSize: 1 });
        if (!job) return null;
        await b.complete(QUEUE, { id: job.id, retryCount: job.retryCount });
        return job.id;
      });
      const seconds = (nowMs() - t0) / 1000;
      const states = await jobStates(target.url);
      return {
        tasksPerSec: n / seconds,
        seconds,
        check: checkExactlyOnce(ids, done, 'worker ids; every job row completed', onlyCompleted(states, n)),
      };
    } finally {
      await b.stop({ graceful: false }).catch(() => undefined);
      await target.drop();
    }
  },
};

export const pgBossWake: WakeSystem = {
  ...INFO,
  async open(env: BenchEnv) {
    const target = await env.pg.fresh('pgboss_wake');
    const worker = await boss(target.url, { useListenNotify: true });
    await worker.createQueue(QUEUE, { notify: true });
    const producer = await boss(target.url);
    const completed: number[] = [];
    return {
      async start(onHeld) {
        // notifyPollingIntervalSeconds 2 (default 30): the polling backstop when a NOTIFY goes unseen,
        // as pg-boss's own base poll (pollingIntervalSeconds, default 2).
        await worker.work<{ key: number }>(
          QUEUE,
          { batchSize: 1, notifyPollingIntervalSeconds: 2 },
          async ([job]) => {
            if (!job) return;
            onHeld(job.data.key, nowMs());
            completed.push(job.data.key);
          },
        );
        // Let the worker's first (empty) fetch pass and the listener settle before the clock runs.
        await new Promise((r) => setTimeout(r, 500));
      },
      async enqueue(key) {
        await producer.send(QUEUE, { key });
      },
      async stop(keys) {
        // Completion follows the handler asynchronously: wait until the rows say so.
        const deadline = Date.now() + 10_000;
        let states = await jobStates(target.url);
        while (!onlyCompleted(states, keys.length) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          states = await jobStates(target.url);
        }
        await worker.stop({ graceful: true }).catch(() => undefined);
        await producer.stop({ graceful: true }).catch(() => undefined);
        await target.drop();
        return { completed, databaseOk: onlyCompleted(states, keys.length) };
      },
    };
  },
};

export const pgBossScale: ScaleSystem = {
  ...INFO,
  settings: `${INFO.settings}; finished jobs: one job through insert(), then completed copies of its row inserted with SQL (pgboss.job, state completed); claims by fetch() + complete()`,
  async prepare(env, finished) {
    const target = await env.pg.fresh('pgboss_scale');
    const b = await boss(target.url);
    await b.createQueue(QUEUE);
    const client = new pg.Client({ connectionString: target.url });
    await client.connect();
    // One template job through the public API, then copies of its row marked completed.
    await insert(b, 1);
    await client.query(
      `INSERT INTO pgboss.job (name, data, state, started_on, completed_on)
       SELECT name, data, 'completed', now(), now() FROM pgboss.job, generate_series(1, $1::int) LIMIT $1`,
      [finished],
    );
    await client.query("DELETE FROM pgboss.job WHERE state = 'created'");
    await client.query('VACUUM ANALYZE');
    await client.end();
    let expected = finished;
    return {
      async measure(m) {
        await insert(b, m);
        expected += m;
        const latencies: number[] = [];
        const completed: number[] = [];
        for (;;) {
          const t0 = nowMs();
          const [job] = await b.fetch<{ key: number }>(QUEUE, { batchSize: 1 });
          const t1 = nowMs();
          if (!job) break;
          latencies.push(t1 - t0);
          await b.complete(QUEUE, { id: job.id, retryCount: job.retryCount });
          completed.push(job.data.key);
        }
        return { latencies, completed, databaseOk: onlyCompleted(await jobStates(target.url), expected) };
      },
      async close() {
        await b.stop({ graceful: false }).catch(() => undefined);
        await target.drop();
      },
    };
  },
};
