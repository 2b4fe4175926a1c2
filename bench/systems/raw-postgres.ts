/**
 * The PostgreSQL floor: the minimal single-statement claim (a `FOR UPDATE SKIP LOCKED` subquery
 * feeding an `UPDATE … RETURNING`) and fenced completion (`UPDATE … WHERE id = $1 AND token = $2`)
 * on a minimal table, as prepared statements on node-postgres, one autocommit statement each.
 * Wake-ups: the insert and a `pg_notify` in one statement; the worker LISTENs.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { packageVersion } from '../lib/machine.js';
import { runLoops } from '../lib/loops.js';
import { spawnWorker, type Child } from '../lib/children.js';
import { checkExactlyOnce, nowMs } from '../lib/stats.js';
import type { BenchEnv, DrainSystem, ScaleSystem, SystemInfo, WakeSystem } from '../lib/types.js';

const INFO: SystemInfo = {
  id: 'raw-postgres',
  label: 'raw floor (PostgreSQL)',
  db: 'postgres',
  kind: 'floor',
  version: `pg ${packageVersion('pg')}`,
  settings:
    'a pool with one connection per worker; table (id, status, priority, token, lease_expires_at, payload) with a partial index on pending; claim = one prepared UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED) RETURNING, complete = one prepared fenced UPDATE, autocommit',
};

/** The floor's claim (also run by its worker processes, workers/raw-worker.ts). */
export const CLAIM = `UPDATE jobs j SET status = 'running', token = $1, lease_expires_at = now() + interval '30 seconds'
  FROM (SELECT id FROM jobs WHERE status = 'pending' ORDER BY priority DESC, id LIMIT 1 FOR UPDATE SKIP LOCKED) n
  WHERE j.id = n.id
  RETURNING j.id, j.payload`;
/** The floor's fenced completion. */
export const COMPLETE = `UPDATE jobs SET status = 'done', token = NULL, lease_expires_at = NULL
  WHERE id = $1 AND status = 'running' AND token = $2`;

/**
 * The floor's claim and completion as the prepared statements "claim" and "complete", on a pool
 * (the in-process floor) or on one client (its worker processes, workers/raw-worker.ts).
 */
export function rawPostgresOps(db: pg.Pool | pg.Client) {
  const claim = async (): Promise<{ id: number; payload: unknown; token: string } | null> => {
    const token = randomBytes(16).toString('hex');
    const res = await db.query<{ id: string; payload: unknown }>({
      name: 'claim',
      text: CLAIM,
      values: [token],
    });
    const row = res.rows[0];
    return row ? { id: Number(row.id), payload: row.payload, token } : null;
  };
  const complete = async (id: number, token: string): Promise<void> => {
    const res = await db.query({ name: 'complete', text: COMPLETE, values: [id, token] });
    if (res.rowCount !== 1) throw new Error(`raw-postgres: lease lost on ${id}`);
  };
  return { claim, complete };
}

async function fresh(env: BenchEnv, poolSize: number) {
  const target = await env.pg.fresh('raw');
  const pool = new pg.Pool({ connectionString: target.url, max: poolSize });
  pool.on('error', () => undefined);
  await pool.query(`CREATE TABLE jobs (
      id bigserial PRIMARY KEY,
      status text NOT NULL DEFAULT 'pending',
      priority integer NOT NULL DEFAULT 0,
      token text,
      lease_expires_at timestamptz,
      payload jsonb
    );
    CREATE INDEX jobs_pending ON jobs (priority DESC, id) WHERE status = 'pending';`);
  const { claim, complete } = rawPostgresOps(pool);
  const counts = async () => {
    const r = (
      await pool.query<{ total: string; done: string }>(
        "SELECT count(*) AS total, count(*) FILTER (WHERE status = 'done') AS done FROM jobs",
      )
    ).rows[0]!;
    return { total: Number(r.total), done: Number(r.done) };
  };
  const enqueue = async (n: number): Promise<number[]> => {
    const res = await pool.query<{ id: string }>(
      'INSERT INTO jobs (payload) SELECT to_jsonb(i) FROM generate_series(1, $1::int) AS i RETURNING id',
      [n],
    );
    return res.rows.map((r) => Number(r.id));
  };
  return {
    url: target.url,
    pool,
    claim,
    complete,
    counts,
    enqueue,
    async close() {
      await pool.end();
      await target.drop();
    },
  };
}

export const rawPostgresDrain: DrainSystem = {
  ...INFO,
  async drain(env, n, concurrency) {
    const f = await fresh(env, concurrency);
    try {
      const ids = await f.enqueue(n);
      // As every PostgreSQL system: statistics after the enqueue, as autovacuum would soon gather.
      await f.pool.query('ANALYZE');
      // Open every connection (and prepare the statements) before the clock starts.
      await Promise.all(Array.from({ length: concurrency }, () => f.pool.query('SELECT 1')));
      const t0 = nowMs();
      const done = await runLoops(concurrency, async () => {
        const job = await f.claim();
        if (!job) return null;
        await f.complete(job.id, job.token);
        return job.id;
      });
      const seconds = (nowMs() - t0) / 1000;
      const c = await f.counts();
      return {
        tasksPerSec: n / seconds,
        seconds,
        check: checkExactlyOnce(ids, done, 'worker ids; rows done', c.total === n && c.done === n),
      };
    } finally {
      await f.close();
    }
  },
};

/**
 * The same prepared claim and completion from `concurrency` worker processes
 * (workers/raw-worker.ts), each on its own connection (a `pg.Client`), one task at a time: the
 * floor for `cns (PostgreSQL, 8 processes)`.
 */
export const rawPostgresDrainProcesses: DrainSystem = {
  ...INFO,
  id: 'raw-postgres-procs',
  label: 'raw floor (PostgreSQL, 8 processes)',
  settings: `${INFO.settings}; one worker process per worker, each with its own connection (a pg.Client) and one claim or completion at a time`,
  async drain(env, n, concurrency) {
    const f = await fresh(env, 1);
    const children: Child[] = [];
    try {
      const ids = await f.enqueue(n);
      await f.pool.query('ANALYZE');
      for (let w = 0; w < concurrency; w++) children.push(spawnWorker('raw-worker.ts', ['postgres', f.url]));
      await Promise.all(children.map((c) => c.next((m) => (m.ready ? true : undefined))));
      const reports = children.map((c) =>
        c.next((m) => (m.completed ? (m.completed as number[]) : undefined)),
      );
      const t0 = nowMs();
      for (const c of children) c.go();
      const done = (await Promise.all(reports)).flat();
      const seconds = (nowMs() - t0) / 1000;
      await Promise.all(children.map((c) => c.exited));
      const c = await f.counts();
      return {
        tasksPerSec: n / seconds,
        seconds,
        check: checkExactlyOnce(
          ids,
          done,
          'worker ids from 8 processes; rows done',
          c.total === n && c.done === n,
        ),
      };
    } finally {
      for (const c of children) if (c.proc.exitCode === null) c.proc.kill();
      await f.close();
    }
  },
};

export const rawPostgresWake: WakeSystem = {
  ...INFO,
  settings: `${INFO.settings}; wake-up: INSERT and pg_notify in one statement, the worker LISTENs on its own connection`,
  async open(env) {
    const f = await fresh(env, 2);
    const listener = new pg.Client({ connectionString: f.url });
    listener.on('error', () => undefined);
    let stopped = false;
    let wake: (() => void) | null = null;
    let loop: Promise<number[]> = Promise.resolve([]);
    return {
      async start(onHeld) {
        await listener.connect();
        listener.on('notification', () => wake?.());
        await listener.query('LISTEN jobs');
        loop = (async () => {
          const completed: number[] = [];
          while (!stopped) {
            const job = await f.claim();
            if (job) {
              onHeld(Number(job.payload), nowMs());
              await f.complete(job.id, job.token);
              completed.push(Number(job.payload));
              continue;
            }
            await new Promise<void>((resolve) => {
              const t = setTimeout(() => {
                wake = null;
                resolve();
              }, 5_000);
              wake = () => {
                clearTimeout(t);
                wake = null;
                resolve();
              };
            });
          }
          return completed;
        })();
      },
      async enqueue(key) {
        await f.pool.query({
          name: 'enqueue',
          text: "WITH j AS (INSERT INTO jobs (payload) VALUES ($1::jsonb) RETURNING id) SELECT pg_notify('jobs', '') FROM j",
          values: [JSON.stringify(key)],
        });
      },
      async stop(keys) {
        stopped = true;
        wake?.();
        const completed = await loop;
        await listener.end();
        const c = await f.counts();
        await f.close();
        return { completed, databaseOk: c.total === keys.length && c.done === keys.length };
      },
    };
  },
};

export const rawPostgresScale: ScaleSystem = {
  ...INFO,
  settings: `${INFO.settings}; finished rows inserted with generate_series, then VACUUM ANALYZE`,
  async prepare(env, finished) {
    const f = await fresh(env, 2);
    await f.pool.query(
      "INSERT INTO jobs (status, payload) SELECT 'done', NULL FROM generate_series(1, $1::int)",
      [finished],
    );
    await f.pool.query('VACUUM ANALYZE jobs');
    let expected = finished;
    return {
      async measure(m) {
        await f.enqueue(m);
        expected += m;
        const latencies: number[] = [];
        const completed: number[] = [];
        for (;;) {
          const t0 = nowMs();
          const job = await f.claim();
          const t1 = nowMs();
          if (!job) break;
          latencies.push(t1 - t0);
          await f.complete(job.id, job.token);
          completed.push(job.id);
        }
        const c = await f.counts();
        return { latencies, completed, databaseOk: c.total === expected && c.done === expected };
      },
      close: () => f.close(),
    };
  },
};
