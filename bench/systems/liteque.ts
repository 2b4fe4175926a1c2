/**
 * liteque (SQLite), through its public API: `SqliteQueue` + `Runner` (concurrency 8), its schema
 * applied with its own `migrateDB`. liteque fails on better-sqlite3 >= 11.10 (its dequeue passes an
 * async function to a transaction, which 11.10 rejects), so it runs on better-sqlite3 11.9.1,
 * installed under the npm alias `better-sqlite3-11`: the drizzle database handed to `SqliteQueue`
 * is built here on a connection from that alias, with the pragmas liteque's `buildDBClient` sets
 * (WAL, synchronous=NORMAL, cache_size −65536, foreign_keys, temp_store MEMORY). No patching.
 * It deletes a job when it completes (scale: not applicable). It only polls: 50 ms here.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3-11';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrateDB, Runner, SqliteQueue } from 'liteque';
import { packageVersion } from '../lib/machine.js';
import { until } from '../lib/loops.js';
import { checkExactlyOnce, nowMs } from '../lib/stats.js';
import type { BenchEnv, DrainSystem, ScaleSystem, SystemInfo, WakeSystem } from '../lib/types.js';

const INFO: SystemInfo = {
  id: 'liteque',
  label: 'liteque',
  db: 'sqlite',
  kind: 'peer',
  version: `liteque ${packageVersion('liteque')} on better-sqlite3 ${packageVersion('better-sqlite3-11')}`,
  settings:
    "liteque's own pragmas (WAL, synchronous=NORMAL); one Runner, concurrency 8, pollIntervalMs 50, timeoutSecs 30, numRetries 0; jobs enqueued one by one (no bulk API); completed jobs are deleted",
};

type LitequeDb = ConstructorParameters<typeof SqliteQueue>[1];

let counter = 0;

function openQueue(env: BenchEnv): { queue: SqliteQueue<{ key: number }>; raw: Database.Database } {
  const raw = new Database(join(env.tmp, `liteque-${++counter}.db`));
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  raw.pragma('cache_size = -65536');
  raw.pragma('foreign_keys = ON');
  raw.pragma('temp_store = MEMORY');
  const db = drizzle(raw) as unknown as LitequeDb;
  migrateDB(db);
  const queue = new SqliteQueue<{ key: number }>('bench', db, {
    defaultJobArgs: { numRetries: 0 },
    keepFailedJobs: true,
  });
  return { queue, raw };
}

function remaining(raw: Database.Database): number {
  return raw.prepare('SELECT count(*) FROM tasks').pluck().get() as number;
}

async function enqueue(queue: SqliteQueue<{ key: number }>, n: number): Promise<number[]> {
  const keys: number[] = [];
  for (let i = 0; i < n; i++) {
    await queue.enqueue({ key: i });
    keys.push(i);
  }
  return keys;
}

export const litequeDrain: DrainSystem = {
  ...INFO,
  async drain(env, n, concurrency) {
    const { queue, raw } = openQueue(env);
    try {
      const keys = await enqueue(queue, n);
      const done: number[] = [];
      const runner = new Runner<{ key: number }>(
        queue,
        {
          run: async (job) => {
            done.push(job.data.key);
          },
        },
        { pollIntervalMs: 50, timeoutSecs: 30, concurrency },
      );
      const t0 = nowMs();
      await runner.runUntilEmpty();
      await until(() => remaining(raw) === 0, 30_000, 'liteque completions', 1);
      const seconds = (nowMs() - t0) / 1000;
      return {
        tasksPerSec: n / seconds,
        seconds,
        check: checkExactlyOnce(
          keys,
          done,
          'handler keys; tasks table empty (completed jobs are deleted)',
          remaining(raw) === 0,
        ),
      };
    } finally {
      raw.close();
    }
  },
};

export const litequeWake: WakeSystem = {
  ...INFO,
  settings: `${INFO.settings}; wake: one Runner with concurrency 1`,
  async open(env) {
    const { queue, raw } = openQueue(env);
    const completed: number[] = [];
    let runner: Runner<{ key: number }> | null = null;
    let running: Promise<void> = Promise.resolve();
    return {
      async start(onHeld) {
        runner = new Runner<{ key: number }>(
          queue,
          {
            run: async (job) => {
              onHeld(job.data.key, nowMs());
              completed.push(job.data.key);
            },
          },
          { pollIntervalMs: 50, timeoutSecs: 30, concurrency: 1 },
        );
        running = runner.run();
      },
      async enqueue(key) {
        await queue.enqueue({ key });
      },
      async stop(keys) {
        await until(() => remaining(raw) === 0, 5_000, 'liteque done').catch(() => undefined);
        runner?.stop();
        await running;
        const ok = remaining(raw) === 0 && completed.length === keys.length;
        raw.close();
        return { completed, databaseOk: ok };
      },
    };
  },
};

export const litequeScale: ScaleSystem = {
  ...INFO,
  notApplicable: 'deletes a job when it completes: its table never holds finished jobs, so nothing piles up',
  async prepare() {
    throw new Error('not applicable');
  },
};
