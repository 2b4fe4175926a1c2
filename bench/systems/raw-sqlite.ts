/**
 * The SQLite floor: the minimal single-statement claim (`UPDATE … WHERE id = (SELECT … LIMIT 1)
 * RETURNING`) and fenced completion (`UPDATE … WHERE id = ? AND token = ?`) on a minimal table,
 * straight on better-sqlite3, with the same connection settings as cns (WAL, synchronous=NORMAL).
 * Nothing else: no history, no events. The physical limit of a one-task-at-a-time claim.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { packageVersion } from '../lib/machine.js';
import { runLoops } from '../lib/loops.js';
import { spawnWorker, type Child } from '../lib/children.js';
import { checkExactlyOnce, nowMs } from '../lib/stats.js';
import type { BenchEnv, DrainSystem, ScaleSystem, SystemInfo, WakeSystem } from '../lib/types.js';

const INFO: SystemInfo = {
  id: 'raw-sqlite',
  label: 'raw floor (SQLite)',
  db: 'sqlite',
  kind: 'floor',
  version: `better-sqlite3 ${packageVersion('better-sqlite3')}`,
  settings:
    'one connection, WAL, synchronous=NORMAL; table (id, status, token, lease_expires_at, payload) with a partial index on pending; claim = one UPDATE … RETURNING, complete = one fenced UPDATE, each its own transaction',
};

let counter = 0;

/** The floor's connection settings (also those of its worker processes, workers/raw-worker.ts). */
export function configureRawSqlite(db: Database.Database): void {
  db.pragma('busy_timeout = 10000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
}

function open(env: BenchEnv): { db: Database.Database; path: string } {
  const path = join(env.tmp, `raw-sqlite-${++counter}.db`);
  const db = new Database(path);
  configureRawSqlite(db);
  db.exec(`CREATE TABLE jobs (
      id INTEGER PRIMARY KEY,
      status INTEGER NOT NULL DEFAULT 0, -- 0 pending, 1 running, 2 done
      token TEXT,
      lease_expires_at INTEGER,
      payload TEXT
    );
    CREATE INDEX jobs_pending ON jobs (id) WHERE status = 0;`);
  return { db, path };
}

/** The floor's claim and fenced completion (also run by its worker processes, workers/raw-worker.ts). */
export function rawSqliteStatements(db: Database.Database): {
  claim(): { id: number; payload: string | null; token: string } | null;
  complete(id: number, token: string): void;
  insert: Database.Statement<[string | null], unknown>;
} {
  const claim = db.prepare<[string, number], { id: number; payload: string | null }>(
    `UPDATE jobs SET status = 1, token = ?, lease_expires_at = ?
       WHERE id = (SELECT id FROM jobs WHERE status = 0 ORDER BY id LIMIT 1)
       RETURNING id, payload`,
  );
  const complete = db.prepare<[number, string], unknown>(
    'UPDATE jobs SET status = 2, token = NULL, lease_expires_at = NULL WHERE id = ? AND status = 1 AND token = ?',
  );
  const insert = db.prepare<[string | null], unknown>('INSERT INTO jobs (payload) VALUES (?)');
  return {
    claim(): { id: number; payload: string | null; token: string } | null {
      const token = randomBytes(16).toString('hex');
      const row = claim.get(token, Date.now() + 30_000);
      return row ? { ...row, token } : null;
    },
    complete(id: number, token: string): void {
      if (complete.run(id, token).changes !== 1) throw new Error(`raw-sqlite: lease lost on ${id}`);
    },
    insert,
  };
}

function enqueue(db: Database.Database, n: number): number[] {
  const ins = db.prepare<[number], { id: number }>('INSERT INTO jobs (payload) VALUES (?) RETURNING id');
  return db.transaction(() => Array.from({ length: n }, (_, i) => ins.get(i)!.id))();
}

function countDone(db: Database.Database): { total: number; done: number } {
  return db
    .prepare('SELECT count(*) AS total, count(*) FILTER (WHERE status = 2) AS done FROM jobs')
    .get() as {
    total: number;
    done: number;
  };
}

export const rawSqliteDrain: DrainSystem = {
  ...INFO,
  async drain(env, n, concurrency) {
    const { db } = open(env);
    try {
      const ids = enqueue(db, n);
      const s = rawSqliteStatements(db);
      const t0 = nowMs();
      const done = await runLoops(concurrency, async () => {
        await Promise.resolve();
        const job = s.claim();
        if (!job) return null;
        s.complete(job.id, job.token);
        return job.id;
      });
      const seconds = (nowMs() - t0) / 1000;
      const c = countDone(db);
      return {
        tasksPerSec: n / seconds,
        seconds,
        check: checkExactlyOnce(ids, done, 'worker ids; rows done', c.total === n && c.done === n),
      };
    } finally {
      db.close();
    }
  },
};

/**
 * The same claim and completion from `concurrency` worker processes (workers/raw-worker.ts), each
 * with its own connection and one task at a time: the floor for `cns (SQLite, 8 processes)`.
 */
export const rawSqliteDrainProcesses: DrainSystem = {
  ...INFO,
  id: 'raw-sqlite-procs',
  label: 'raw floor (SQLite, 8 processes)',
  settings: `${INFO.settings}; one worker process per worker, each with its own connection and one claim or completion at a time; the write lock retried as cns retries it (busy timeout 0, sleeps of 0.1 ms doubling with jitter to 4 ms, for up to 10 s)`,
  async drain(env, n, concurrency) {
    const { db, path } = open(env);
    let ids: number[];
    try {
      ids = enqueue(db, n);
    } finally {
      db.close();
    }
    const children: Child[] = [];
    try {
      for (let w = 0; w < concurrency; w++) children.push(spawnWorker('raw-worker.ts', ['sqlite', path]));
      await Promise.all(children.map((c) => c.next((m) => (m.ready ? true : undefined))));
      const reports = children.map((c) =>
        c.next((m) => (m.completed ? (m.completed as number[]) : undefined)),
      );
      const t0 = nowMs();
      for (const c of children) c.go();
      const done = (await Promise.all(reports)).flat();
      const seconds = (nowMs() - t0) / 1000;
      await Promise.all(children.map((c) => c.exited));
      const check = new Database(path, { readonly: true });
      let c: { total: number; done: number };
      try {
        c = countDone(check);
      } finally {
        check.close();
      }
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
    }
  },
};

export const rawSqliteWake: WakeSystem = {
  ...INFO,
  settings: `${INFO.settings}; wake-up: an in-process event after the insert commits (same connection)`,
  async open(env) {
    const { db } = open(env);
    const s = rawSqliteStatements(db);
    const signal = new EventEmitter();
    let stopped = false;
    let loop: Promise<number[]> = Promise.resolve([]);
    return {
      async start(onHeld) {
        loop = (async () => {
          const completed: number[] = [];
          while (!stopped) {
            const job = s.claim();
            if (job) {
              onHeld(Number(job.payload), nowMs());
              s.complete(job.id, job.token);
              completed.push(Number(job.payload));
              continue;
            }
            await new Promise<void>((resolve) => {
              const t = setTimeout(done, 5_000);
              function done() {
                clearTimeout(t);
                signal.off('job', done);
                signal.off('stop', done);
                resolve();
              }
              signal.once('job', done);
              signal.once('stop', done);
            });
          }
          return completed;
        })();
      },
      async enqueue(key) {
        s.insert.run(String(key));
        signal.emit('job');
      },
      async stop(keys) {
        stopped = true;
        signal.emit('stop');
        const completed = await loop;
        const c = countDone(db);
        db.close();
        return { completed, databaseOk: c.total === keys.length && c.done === keys.length };
      },
    };
  },
};

export const rawSqliteScale: ScaleSystem = {
  ...INFO,
  settings: `${INFO.settings}; finished rows inserted with a recursive CTE`,
  async prepare(env, finished) {
    const { db } = open(env);
    db.prepare(
      `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?)
       INSERT INTO jobs (status, payload) SELECT 2, 'finished' FROM s`,
    ).run(finished);
    const s = rawSqliteStatements(db);
    let expected = finished;
    return {
      async measure(m) {
        enqueue(db, m);
        expected += m;
        const latencies: number[] = [];
        const completed: number[] = [];
        for (;;) {
          const t0 = nowMs();
          const job = s.claim();
          const t1 = nowMs();
          if (!job) break;
          latencies.push(t1 - t0);
          s.complete(job.id, job.token);
          completed.push(job.id);
        }
        const c = countDone(db);
        return { latencies, completed, databaseOk: c.total === expected && c.done === expected };
      },
      async close() {
        db.close();
      },
    };
  },
};
