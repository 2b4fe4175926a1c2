/**
 * Scenario 1, drain: `n` tasks queued, then claimed and completed one at a time by `concurrency`
 * workers; tasks per second. Systems interleaved within each run.
 */
import type { ExactlyOnce } from '../lib/stats.js';
import type { BenchEnv, DrainSystem, SystemInfo } from '../lib/types.js';

export interface DrainResult {
  system: SystemInfo;
  /** Tasks per second of each run (NaN for a failed run). */
  tasksPerSec: number[];
  seconds: number[];
  checks: ExactlyOnce[];
  errors: string[];
}

function describe(s: DrainSystem): SystemInfo {
  const { id, label, db, kind, version, settings } = s;
  return { id, label, db, kind, version, settings };
}

export async function runDrain(
  env: BenchEnv,
  systems: DrainSystem[],
  options: { runs: number; n: number; concurrency: number },
): Promise<DrainResult[]> {
  const results = systems.map((s): DrainResult => ({
    system: describe(s),
    tasksPerSec: [],
    seconds: [],
    checks: [],
    errors: [],
  }));
  for (let r = 1; r <= options.runs; r++) {
    for (const [i, s] of systems.entries()) {
      const res = results[i]!;
      const started = Date.now();
      try {
        const run = await s.drain(env, options.n, options.concurrency);
        res.tasksPerSec.push(run.tasksPerSec);
        res.seconds.push(run.seconds);
        res.checks.push(run.check);
        env.log(
          `drain run ${r}/${options.runs} ${s.label}: ${Math.round(run.tasksPerSec)} tasks/s (${run.seconds.toFixed(2)} s; ${((Date.now() - started) / 1000).toFixed(1)} s with set-up) exactly-once ${run.check.ok ? 'ok' : `FAILED ${JSON.stringify(run.check)}`}`,
        );
      } catch (err) {
        res.tasksPerSec.push(Number.NaN);
        res.errors.push(String(err instanceof Error ? (err.stack ?? err.message) : err));
        env.log(`drain run ${r}/${options.runs} ${s.label}: ERROR ${String(err)}`);
      }
    }
  }
  return results;
}
