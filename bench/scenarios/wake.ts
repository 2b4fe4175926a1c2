/**
 * Scenario 2, wake latency: one idle waiting worker; `count` tasks enqueued `gapMs` apart; for each,
 * the time from the start of the enqueue call to the moment the worker holds the task (ms, on the
 * machine's monotonic clock, which child processes share).
 */
import { checkExactlyOnce, nowMs, percentile, type ExactlyOnce } from '../lib/stats.js';
import type { BenchEnv, SystemInfo, WakeSystem } from '../lib/types.js';

export interface WakeRunResult {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Tasks never held within the grace period. */
  lost: number;
}

export interface WakeResult {
  system: SystemInfo;
  runs: WakeRunResult[];
  checks: ExactlyOnce[];
  errors: string[];
}

function describe(s: WakeSystem): SystemInfo {
  const { id, label, db, kind, version, settings } = s;
  return { id, label, db, kind, version, settings };
}

async function sleepUntil(t: number): Promise<void> {
  const wait = t - nowMs();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

async function once(env: BenchEnv, s: WakeSystem, count: number, gapMs: number) {
  const h = await s.open(env);
  const sent = new Map<number, number>();
  const held = new Map<number, number>();
  await h.start((key, at) => {
    if (!held.has(key)) held.set(key, at);
  });
  const keys = Array.from({ length: count }, (_, i) => i + 1);
  const start = nowMs() + 50;
  for (const [i, key] of keys.entries()) {
    await sleepUntil(start + i * gapMs);
    sent.set(key, nowMs());
    await h.enqueue(key);
  }
  const deadline = nowMs() + 5_000;
  while (held.size < count && nowMs() < deadline) await new Promise((r) => setTimeout(r, 10));
  const { completed, databaseOk } = await h.stop(keys);
  const latencies = keys.filter((k) => held.has(k)).map((k) => held.get(k)! - sent.get(k)!);
  const run: WakeRunResult = {
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: Math.max(...latencies),
    lost: count - latencies.length,
  };
  return { run, check: checkExactlyOnce(keys, completed, 'worker keys; database rows', databaseOk) };
}

export async function runWake(
  env: BenchEnv,
  systems: WakeSystem[],
  options: { runs: number; count: number; gapMs: number },
): Promise<WakeResult[]> {
  const results = systems.map((s): WakeResult => ({ system: describe(s), runs: [], checks: [], errors: [] }));
  for (let r = 1; r <= options.runs; r++) {
    for (const [i, s] of systems.entries()) {
      const res = results[i]!;
      try {
        const { run, check } = await once(env, s, options.count, options.gapMs);
        res.runs.push(run);
        res.checks.push(check);
        env.log(
          `wake run ${r}/${options.runs} ${s.label}: p50 ${run.p50.toFixed(2)} p95 ${run.p95.toFixed(2)} p99 ${run.p99.toFixed(2)} ms; exactly-once ${check.ok ? 'ok' : `FAILED ${JSON.stringify(check)}`}`,
        );
      } catch (err) {
        res.errors.push(String(err instanceof Error ? (err.stack ?? err.message) : err));
        env.log(`wake run ${r}/${options.runs} ${s.label}: ERROR ${String(err)}`);
      }
    }
  }
  return results;
}
