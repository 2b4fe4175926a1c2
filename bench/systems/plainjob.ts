/**
 * plainjob (SQLite), through its public API: `defineQueue` on better-sqlite3 (it sets WAL,
 * synchronous=NORMAL and a busy timeout itself), `addMany` to enqueue, 8 `defineWorker` loops in
 * one process. It only polls: `pollIntervall` 50 ms for the wake scenario (default 1 s).
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { better, defineQueue, defineWorker, JobStatus, type Logger, type Queue, type Worker } from 'plainjob';
import { packageVersion } from '../lib/machine.js';
import { until } from '../lib/loops.js';
import { checkExactlyOnce, nowMs } from '../lib/stats.js';
import type { BenchEnv, DrainSystem, ScaleSystem, SystemInfo, WakeSystem } from '../lib/types.js';

const INFO: SystemInfo = {
  id: 'plainjob',
  label: 'plainjob',
  db: 'sqlite',
  kind: 'peer',
  version: `plainjob ${packageVersion('plainjob')}`,
  settings:
    'defineQueue defaults on better-sqlite3 (WAL, synchronous=NORMAL, busy_timeout 5 s, timeout 30 min); 8 defineWorker loops in one process, silent logger; wake: pollIntervall 50 ms (default 1 s)',
};

const quiet: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
};

let counter = 0;

function openQueue(env: BenchEnv): { queue: Queue; db: Database.Database } {
  const db = new Database(join(env.tmp, `plainjob-${++counter}.db`));
  const queue = defineQueue({ connection: better(db), logger: quiet });
  return { queue, db };
}

function addMany(queue: Queue, n: number, offset = 0): number[] {
  const keys: number[] = [];
  for (let i = 0; i < n; i += 1000) {
    const data = Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ key: offset + i + k }));
    queue.addMany('bench', data);
    for (const d of data) keys.push(d.key);
  }
  return keys;
}

function onlyDone(queue: Queue, n: number): boolean {
  return queue.countJobs({ status: JobStatus.Done }) === n && queue.countJobs() === n;
}

export const plainjobDrain: DrainSystem = {
  ...INFO,
  async drain(env, n, concurrency) {
    const { queue } = openQueue(env);
    const workers: Worker[] = [];
    try {
      const keys = addMany(queue, n);
      const done: number[] = [];
      for (let w = 0; w < concurrency; w++) {
        workers.push(
          defineWorker(
            'bench',
            (job) => {
              done.push((JSON.parse(job.data) as { key: number }).key);
            },
            { queue, logger: quiet },
          ),
        );
      }
      const t0 = nowMs();
      for (const w of workers) void w.start();
      // markJobAsDone follows the handler synchronously: done when every job row is done.
      await until(
        () => done.length >= n && queue.countJobs({ status: JobStatus.Done }) >= n,
        600_000,
        'plainjob',
        1,
      );
      const seconds = (nowMs() - t0) / 1000;
      return {
        tasksPerSec: n / seconds,
        seconds,
        check: checkExactlyOnce(keys, done, 'handler keys; every job row done', onlyDone(queue, n)),
      };
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      queue.close();
    }
  },
};

export const plainjobWake: WakeSystem = {
  ...INFO,
  async open(env) {
    const { queue } = openQueue(env);
    let worker: Worker | null = null;
    const completed: number[] = [];
    return {
      async start(onHeld) {
        worker = defineWorker(
          'bench',
          (job) => {
            const key = (JSON.parse(job.data) as { key: number }).key;
            onHeld(key, nowMs());
            completed.push(key);
          },
          { queue, logger: quiet, pollIntervall: 50 },
        );
        void worker.start();
      },
      async enqueue(key) {
        queue.add('bench', { key });
      },
      async stop(keys) {
        await until(
          () => queue.countJobs({ status: JobStatus.Done }) >= keys.length,
          5_000,
          'plainjob done',
        ).catch(() => undefined);
        await worker?.stop();
        const ok = onlyDone(queue, keys.length);
        queue.close();
        return { completed, databaseOk: ok };
      },
    };
  },
};

export const plainjobScale: ScaleSystem = {
  ...INFO,
  settings: `${INFO.settings}; finished jobs inserted with SQL (plainjob_jobs, status done); claims by getAndMarkJobAsProcessing + markJobAsDone`,
  async prepare(env, finished) {
    const { queue, db } = openQueue(env);
    db.prepare(
      `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?)
       INSERT INTO plainjob_jobs (type, data, status, next_run_at, created_at) SELECT 'bench', '{}', ?, ?, ? FROM s`,
    ).run(finished, JobStatus.Done, Date.now(), Date.now());
    let expected = finished;
    return {
      async measure(m) {
        addMany(queue, m);
        expected += m;
        const latencies: number[] = [];
        const completed: number[] = [];
        for (;;) {
          const t0 = nowMs();
          const job = queue.getAndMarkJobAsProcessing('bench');
          const t1 = nowMs();
          if (!job) break;
          latencies.push(t1 - t0);
          queue.markJobAsDone(job.id);
          completed.push(job.id);
          await Promise.resolve();
        }
        return { latencies, completed, databaseOk: onlyDone(queue, expected) };
      },
      async close() {
        queue.close();
      },
    };
  },
};
