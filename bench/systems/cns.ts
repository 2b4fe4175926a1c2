/**
 * cns itself, driven through its public TypeScript API (openCoordinator → registerAgent,
 * claimNext, complete), on SQLite and on PostgreSQL, in one process or in several.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openCoordinator } from '../../src/coordinator/open-coordinator.js';
import { CLAIM } from '../../src/store/postgres/sql.js';
import { PLANNER_SETTINGS } from '../../src/store/postgres/postgres-store.js';
import type { Actor } from '../../src/coordinator/api-types.js';
import type { Coordinator } from '../../src/coordinator/coordinator.js';
import type { Agent } from '../../src/core/types.js';
import { projectVersion } from '../lib/machine.js';
import { runLoops } from '../lib/loops.js';
import { spawnWorker, type Child } from '../lib/children.js';
import { checkExactlyOnce, nowMs } from '../lib/stats.js';
import type {
  BenchEnv,
  DbKind,
  DrainSystem,
  ScaleSystem,
  SystemInfo,
  WakeHarness,
  WakeSystem,
} from '../lib/types.js';

const VERSION = `cns ${projectVersion()}`;

let counter = 0;

/** A fresh cns database: a SQLite file, or a fresh PostgreSQL database (schema `cns`). */
export async function freshCnsDb(
  env: BenchEnv,
  db: DbKind,
  label: string,
): Promise<{ db: string; drop(): Promise<void> }> {
  if (db === 'sqlite') return { db: join(env.tmp, `${label}-${++counter}.db`), drop: async () => undefined };
  const fresh = await env.pg.fresh(label);
  return { db: fresh.url, drop: fresh.drop };
}

/** Who queues the benchmark's tasks. */
export const BENCH: Actor = { name: 'bench', agentId: null, role: 'system' };

export async function enqueueCns(cns: Coordinator, n: number, type = 'bench'): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i += 1000) {
    const tasks = Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ type, title: `task ${i + k}` }));
    const res = await cns.createTasks({ tasks, actor: BENCH });
    for (const t of res.tasks) ids.push(t.id);
  }
  return ids;
}

/** Database-side exactly-once check: n tasks completed, each claimed once (one attempt, one completion event). */
export async function checkCnsDatabase(db: string, n: number): Promise<boolean> {
  const sql = `SELECT
    (SELECT count(*) FROM tasks) AS total,
    (SELECT count(*) FROM tasks WHERE status = 'completed' AND attempts = 1) AS done,
    (SELECT count(*) FROM attempts) AS attempts,
    (SELECT count(*) FROM events WHERE kind = 'task.completed') AS completions`;
  let row: { total: number; done: number; attempts: number; completions: number };
  if (/^postgres/.test(db)) {
    const client = new pg.Client({ connectionString: db, options: '-c search_path=cns' });
    await client.connect();
    try {
      const r = (await client.query<Record<string, string>>(sql)).rows[0]!;
      row = {
        total: Number(r.total),
        done: Number(r.done),
        attempts: Number(r.attempts),
        completions: Number(r.completions),
      };
    } finally {
      await client.end();
    }
  } else {
    const d = new Database(db, { readonly: true });
    try {
      row = d.prepare(sql).get() as typeof row;
    } finally {
      d.close();
    }
  }
  return row.total === n && row.done === n && row.attempts === n && row.completions === n;
}

/** PostgreSQL: statistics after the enqueue, for every system alike (as autovacuum would soon gather). */
export async function analyzePostgres(db: string): Promise<void> {
  if (!/^postgres/.test(db)) return;
  const client = new pg.Client({ connectionString: db });
  await client.connect();
  try {
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
}

function info(db: DbKind, procs: boolean): SystemInfo {
  const where = db === 'sqlite' ? 'SQLite' : 'PostgreSQL';
  return {
    id: `cns-${db}${procs ? '-procs' : ''}`,
    label: procs ? `cns (${where}, 8 processes)` : `cns (${where})`,
    db,
    kind: 'cns',
    version: VERSION,
    settings:
      db === 'sqlite'
        ? 'defaults: WAL, synchronous=NORMAL, the write lock retried in steps of 0.1 ms doubling to 4 ms, operations of one event-loop turn committed together; lease 30 s; reaper on (1 s); every claim writes an attempt row and a task.claimed event, every completion a task.completed event'
        : 'defaults: pool of 10; the claims (of agents of one type and capability set) and the completions that are in flight at once in a process each share one statement and one commit (with one worker per process: one each), prepared with generic plans; a batch of independent tasks is inserted by one statement; LISTEN/NOTIFY wake-ups; lease 30 s; reaper on (1 s); every claim writes an attempt row and a task.claimed event, every completion a task.completed event',
  };
}

/** 8 workers in this process sharing one coordinator (one SQLite connection / one pool). */
export function cnsDrain(db: DbKind): DrainSystem {
  return {
    ...info(db, false),
    async drain(env, n, concurrency) {
      const target = await freshCnsDb(env, db, `cns-drain-${db}`);
      const cns = await openCoordinator({ db: target.db });
      try {
        const ids = await enqueueCns(cns, n);
        await analyzePostgres(target.db);
        const agents: Agent[] = [];
        for (let w = 0; w < concurrency; w++)
          agents.push(await cns.registerAgent({ name: `worker-${w}`, type: 'bench' }));
        const t0 = nowMs();
        const done = await runLoops(concurrency, async (w) => {
          const out = await cns.claimNext(agents[w]!);
          if (!out.claimed) return null;
          await cns.complete(out.claimed.task.id, out.claimed.leaseToken, { result: 'ok' });
          return out.claimed.task.id;
        });
        const seconds = (nowMs() - t0) / 1000;
        await cns.close();
        const dbOk = await checkCnsDatabase(target.db, n);
        return {
          tasksPerSec: n / seconds,
          seconds,
          check: checkExactlyOnce(
            ids,
            done,
            'worker ids; tasks completed with 1 attempt, attempt rows, task.completed events',
            dbOk,
          ),
        };
      } finally {
        await cns.close();
        await target.drop();
      }
    },
  };
}

/** 8 worker processes, each with its own coordinator, claiming from one database. */
export function cnsDrainProcesses(db: DbKind): DrainSystem {
  return {
    ...info(db, true),
    async drain(env, n, concurrency) {
      const target = await freshCnsDb(env, db, `cns-procs-${db}`);
      const cns = await openCoordinator({ db: target.db, reaper: false });
      const ids = await enqueueCns(cns, n);
      await analyzePostgres(target.db);
      await cns.close();
      const children: Child[] = [];
      try {
        for (let w = 0; w < concurrency; w++)
          children.push(spawnWorker('cns-worker.ts', ['drain', target.db, `worker-${w}`]));
        await Promise.all(children.map((c) => c.next((m) => (m.ready ? true : undefined))));
        const reports = children.map((c) =>
          c.next((m) => (m.completed ? (m.completed as number[]) : undefined)),
        );
        const t0 = nowMs();
        for (const c of children) c.go();
        const done = (await Promise.all(reports)).flat();
        const seconds = (nowMs() - t0) / 1000;
        await Promise.all(children.map((c) => c.exited));
        const dbOk = await checkCnsDatabase(target.db, n);
        return {
          tasksPerSec: n / seconds,
          seconds,
          check: checkExactlyOnce(
            ids,
            done,
            'worker ids from 8 processes; database rows as in-process',
            dbOk,
          ),
        };
      } finally {
        for (const c of children) if (c.proc.exitCode === null) c.proc.kill();
        await target.drop();
      }
    },
  };
}

/** One idle agent waiting in claimNext; the producer is a separate coordinator (PostgreSQL) or the same one (SQLite, in-process). */
export function cnsWake(db: DbKind, crossProcess = false): WakeSystem {
  const base = info(db, false);
  return {
    ...base,
    id: crossProcess ? `cns-${db}-xproc` : base.id,
    label: crossProcess ? `cns (${db === 'sqlite' ? 'SQLite' : 'PostgreSQL'}, across processes)` : base.label,
    settings:
      db === 'postgres'
        ? 'claimNext(waitMs 5 s) in one coordinator; tasks created through another coordinator (its own pool), one statement each: the wake-up travels by NOTIFY'
        : crossProcess
          ? 'the waiting agent in a child process (claimNext, waitMs 5 s); tasks created by the parent: the wake-up is the PRAGMA data_version check (every 10 ms)'
          : 'claimNext(waitMs 5 s) and createTask on the same coordinator: the in-process signal',
    async open(env): Promise<WakeHarness> {
      const target = await freshCnsDb(env, db, `cns-wake-${db}`);
      const producer = await openCoordinator({ db: target.db, reaper: false });
      let stopWaiter: () => Promise<number[]> = async () => [];
      return {
        async start(onHeld) {
          if (crossProcess) {
            const child = spawnWorker('cns-worker.ts', ['wake', target.db, 'waiter']);
            await child.next((m) => (m.ready ? true : undefined));
            child.onMessage((m) => {
              if (typeof m.held === 'number') onHeld(m.held, m.at as number);
            });
            const report = child.next((m) => (m.completed ? (m.completed as number[]) : undefined));
            child.go();
            stopWaiter = async () => {
              child.go('stop');
              const done = await report;
              await child.exited;
              return done;
            };
            return;
          }
          const waiter = db === 'sqlite' ? producer : await openCoordinator({ db: target.db, reaper: false });
          const agent = await waiter.registerAgent({ name: 'waiter', type: 'wake' });
          const stop = new AbortController();
          const completed: number[] = [];
          const loop = (async () => {
            while (!stop.signal.aborted) {
              const out = await waiter.claimNext(agent, { waitMs: 5_000, signal: stop.signal });
              if (!out.claimed) continue;
              const at = nowMs();
              const key = (out.claimed.task.input as { key: number }).key;
              onHeld(key, at);
              await waiter.complete(out.claimed.task.id, out.claimed.leaseToken, { result: 'ok' });
              completed.push(key);
            }
          })();
          stopWaiter = async () => {
            stop.abort();
            await loop;
            if (waiter !== producer) await waiter.close();
            return completed;
          };
        },
        async enqueue(key) {
          await producer.createTask({ type: 'wake', title: `wake ${key}`, input: { key } }, BENCH);
        },
        async stop(keys) {
          const completed = await stopWaiter();
          await producer.close();
          const dbOk = await checkCnsDatabase(target.db, keys.length);
          await target.drop();
          return { completed, databaseOk: dbOk };
        },
      };
    },
  };
}

/** Finished tasks inserted in bulk with SQL into cns's own tables, then claims timed one at a time. */
export function cnsScale(db: DbKind): ScaleSystem {
  return {
    ...info(db, false),
    settings: `${info(db, false).settings}. Finished tasks inserted with SQL (status completed, one attempt row and one task.completed event each)`,
    async prepare(env, finished) {
      const target = await freshCnsDb(env, db, `cns-scale-${db}`);
      const cns = await openCoordinator({ db: target.db, reaper: false });
      await insertFinishedCns(target.db, finished);
      const agent = await cns.registerAgent({ name: 'scale', type: 'bench' });
      let expected = 0;
      return {
        async measure(m) {
          await enqueueCns(cns, m);
          expected += m;
          const latencies: number[] = [];
          const completed: number[] = [];
          for (;;) {
            const t0 = nowMs();
            const out = await cns.claimNext(agent);
            const t1 = nowMs();
            if (!out.claimed) break;
            latencies.push(t1 - t0);
            await cns.complete(out.claimed.task.id, out.claimed.leaseToken, { result: 'ok' });
            completed.push(out.claimed.task.id);
          }
          const dbOk = await checkCnsDatabase(target.db, finished + expected);
          return { latencies, completed, databaseOk: dbOk };
        },
        explain: db === 'postgres' ? () => explainClaim(cns, target.db, agent) : undefined,
        async close() {
          await cns.close();
          await target.drop();
        },
      };
    },
  };
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of cns's PostgreSQL claim statement (src/store/postgres/sql.ts CLAIM)
 * for one agent, with ten tasks pending, inside a transaction that is rolled back; planned with the
 * store's own session settings (generic plan, see sessionOptions in postgres-store.ts).
 */
async function explainClaim(cns: Coordinator, db: string, agent: Agent): Promise<string> {
  await enqueueCns(cns, 10);
  const client = new pg.Client({ connectionString: db, options: `-c search_path=cns ${PLANNER_SETTINGS}` });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query({ name: 'claim', text: CLAIM, values: claimValues(agent, 'warm-up') });
    await client.query('ROLLBACK');
    await client.query('BEGIN');
    const values = claimValues(agent, 'explain-token').map((v) => (v === null ? 'NULL' : `'${literal(v)}'`));
    const res = await client.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE claim(${values.join(', ')})`,
    );
    await client.query('ROLLBACK');
    return res.rows.map((r) => r['QUERY PLAN']).join('\n');
  } finally {
    await client.end();
  }
}

/** The parameters of CLAIM for one agent (a batch of one). */
function claimValues(agent: Agent, token: string): unknown[] {
  return [null, [agent.id], [agent.name], [token], [30_000], agent.type, agent.capabilities, [agent.session]];
}

/** A bench-controlled value as the body of a SQL literal (arrays in PostgreSQL's text form). */
function literal(v: unknown): string {
  const text = Array.isArray(v) ? `{${v.map((x) => `"${String(x)}"`).join(',')}}` : String(v);
  return text.replace(/'/g, "''");
}

/** Inserts `n` finished tasks (with one attempt and one event each) straight into cns's tables. */
export async function insertFinishedCns(db: string, n: number): Promise<void> {
  const now = Date.now();
  if (/^postgres/.test(db)) {
    const client = new pg.Client({ connectionString: db, options: '-c search_path=cns' });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO tasks (type, title, run_after, status, attempts, max_attempts, max_review_rounds, result,
           completed_by, created_at, updated_at, started_at, finished_at)
         SELECT 'bench', 'finished ' || i, $2, 'completed', 1, 3, 3, 'ok', 1, $2, $2, $2, $2
         FROM generate_series(1, $1::int) AS i`,
        [n, now],
      );
      await client.query(
        `INSERT INTO attempts (task_id, seq, agent_id, agent_name, started_at, ended_at, outcome, result)
         SELECT id, 1, 1, 'old', $1, $1, 'completed', 'ok' FROM tasks WHERE status = 'completed'`,
        [now],
      );
      await client.query(
        `INSERT INTO events (at, kind, task_id, agent_id, actor, from_status, to_status)
         SELECT $1, 'task.completed', id, 1, 'old', 'in_progress', 'completed' FROM tasks WHERE status = 'completed'`,
        [now],
      );
      await client.query('VACUUM ANALYZE tasks');
      await client.query('VACUUM ANALYZE attempts');
      await client.query('VACUUM ANALYZE events');
    } finally {
      await client.end();
    }
    return;
  }
  const d = new Database(db);
  try {
    d.pragma('busy_timeout = 10000');
    d.exec('BEGIN IMMEDIATE');
    d.prepare(
      `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < @n)
       INSERT INTO tasks (type, title, run_after, status, attempts, max_attempts, max_review_rounds, result,
         completed_by, created_at, updated_at, started_at, finished_at)
       SELECT 'bench', 'finished ' || i, @now, 'completed', 1, 3, 3, 'ok', 1, @now, @now, @now, @now FROM s`,
    ).run({ n, now });
    d.prepare(
      `INSERT INTO attempts (task_id, seq, agent_id, agent_name, started_at, ended_at, outcome, result)
       SELECT id, 1, 1, 'old', ?, ?, 'completed', 'ok' FROM tasks WHERE status = 'completed'`,
    ).run(now, now);
    d.prepare(
      `INSERT INTO events (at, kind, task_id, agent_id, actor, from_status, to_status)
       SELECT ?, 'task.completed', id, 1, 'old', 'in_progress', 'completed' FROM tasks WHERE status = 'completed'`,
    ).run(now);
    d.exec('COMMIT');
    // No ANALYZE: cns never runs it, so the claim is measured with the plan a user gets.
  } finally {
    d.close();
  }
}
