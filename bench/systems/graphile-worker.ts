/**
 * graphile-worker (PostgreSQL), through its public API with its defaults: `run()` with
 * concurrency 8 (no local queue, no completion batching: one `get_job` per job, completion as its
 * own statement), jobs added with WorkerUtils `addJobs`. It deletes a job when it completes, so the
 * drain ends when its jobs table is empty, and it keeps no finished jobs (scale: not applicable).
 */
import { Logger, makeWorkerUtils, run, type Runner, type WorkerUtils } from 'graphile-worker';
import pg from 'pg';
import { packageVersion } from '../lib/machine.js';
import { until } from '../lib/loops.js';
import { checkExactlyOnce, nowMs } from '../lib/stats.js';
import type { BenchEnv, DrainSystem, ScaleSystem, SystemInfo, WakeSystem } from '../lib/types.js';

const INFO: SystemInfo = {
  id: 'graphile-worker',
  label: 'graphile-worker',
  db: 'postgres',
  kind: 'peer',
  version: `graphile-worker ${packageVersion('graphile-worker')}`,
  settings:
    'defaults: run({ concurrency: 8 }) (pollInterval 2 s, LISTEN/NOTIFY wake-ups, no local queue, no completion batching); jobs added with WorkerUtils.addJobs; completed jobs are deleted',
};

/** Errors only, and only with CNS_BENCH_VERBOSE (its info log line per job would cost throughput). */
function logger(): Logger {
  return new Logger(() => (level, message) => {
    if (level === 'error' && process.env.CNS_BENCH_VERBOSE) console.error('graphile-worker:', message);
  });
}

async function remaining(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number(
      (await client.query<{ n: string }>('SELECT count(*) AS n FROM graphile_worker.jobs')).rows[0]!.n,
    );
  } finally {
    await client.end();
  }
}

async function addJobs(utils: WorkerUtils, n: number): Promise<number[]> {
  const keys: number[] = [];
  for (let i = 0; i < n; i += 1000) {
    const specs = Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({
      identifier: 'bench',
      payload: { key: i + k },
    }));
    await utils.addJobs(specs);
    for (const s of specs) keys.push(s.payload.key);
  }
  return keys;
}

export const graphileDrain: DrainSystem = {
  ...INFO,
  async drain(env, n, concurrency) {
    const target = await env.pg.fresh('graphile');
    const log = logger();
    const utils = await makeWorkerUtils({ connectionString: target.url, logger: log });
    let runner: Runner | null = null;
    try {
      await utils.migrate();
      const keys = await addJobs(utils, n);
      const client = new pg.Client({ connectionString: target.url });
      await client.connect();
      await client.query('ANALYZE');
      const done: number[] = [];
      // The runner starts before the clock: its first jobs wait at a gate until the clock runs.
      let open: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (open = resolve));
      let waiting = 0;
      runner = await run({
        connectionString: target.url,
        concurrency,
        noHandleSignals: true,
        logger: log,
        taskList: {
          bench: async (payload) => {
            waiting++;
            await gate;
            done.push((payload as { key: number }).key);
          },
        },
      });
      await until(() => waiting >= concurrency, 30_000, 'graphile-worker start');
      const t0 = nowMs();
      open();
      await until(() => done.length >= n, 600_000, 'graphile-worker handlers', 2);
      // Completion is its own statement after the handler returns: the drain ends when the table is empty.
      let left = 1;
      while (left > 0) {
        left = Number(
          (await client.query<{ n: string }>('SELECT count(*) AS n FROM graphile_worker.jobs')).rows[0]!.n,
        );
        if (left > 0) await new Promise((r) => setTimeout(r, 2));
      }
      const seconds = (nowMs() - t0) / 1000;
      await client.end();
      return {
        tasksPerSec: n / seconds,
        seconds,
        check: checkExactlyOnce(
          keys,
          done,
          'handler keys; jobs table empty (completed jobs are deleted)',
          left === 0,
        ),
      };
    } finally {
      await runner?.stop().catch(() => undefined);
      await utils.release();
      await target.drop();
    }
  },
};

export const graphileWake: WakeSystem = {
  ...INFO,
  settings: `${INFO.settings}; wake: one runner with concurrency 1, jobs added through a separate WorkerUtils`,
  async open(env: BenchEnv) {
    const target = await env.pg.fresh('graphile_wake');
    const log = logger();
    const utils = await makeWorkerUtils({ connectionString: target.url, logger: log });
    await utils.migrate();
    let runner: Runner | null = null;
    const completed: number[] = [];
    return {
      async start(onHeld) {
        runner = await run({
          connectionString: target.url,
          concurrency: 1,
          noHandleSignals: true,
          logger: log,
          taskList: {
            bench: async (payload) => {
              const key = (payload as { key: number }).key;
              onHeld(key, nowMs());
              completed.push(key);
            },
          },
        });
        await new Promise((r) => setTimeout(r, 500));
      },
      async enqueue(key) {
        await utils.addJob('bench', { key });
      },
      async stop(keys) {
        const deadline = Date.now() + 10_000;
        let left = await remaining(target.url);
        while (left > 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          left = await remaining(target.url);
        }
        await runner?.stop().catch(() => undefined);
        await utils.release();
        await target.drop();
        return { completed, databaseOk: left === 0 && completed.length === keys.length };
      },
    };
  },
};

export const graphileScale: ScaleSystem = {
  ...INFO,
  notApplicable: 'deletes a job when it completes: its table never holds finished jobs, so nothing piles up',
  async prepare() {
    throw new Error('not applicable');
  },
};
