/**
 * Scenario 3, scale: the latency of one claim (one worker, one task at a time) with `small` versus
 * `large` finished tasks already in the table. Each store is prepared once per size (finished rows
 * inserted in bulk with SQL, untimed); each run queues `claims` tasks and times every claim.
 */
import { checkExactlyOnce, median, percentile, type ExactlyOnce } from '../lib/stats.js';
import type { BenchEnv, ScaleHarness, ScaleSystem, SystemInfo } from '../lib/types.js';

export interface ScaleSizeResult {
  finished: number;
  /** Per run: median and p99 claim latency, ms. */
  p50: number[];
  p99: number[];
  prepareSeconds: number;
  /** The claim's query plan at this size, where the system shows it. */
  plan?: string;
}

export interface ScaleResult {
  system: SystemInfo;
  notApplicable?: string;
  sizes: ScaleSizeResult[];
  checks: ExactlyOnce[];
  errors: string[];
}

function describe(s: ScaleSystem): SystemInfo {
  const { id, label, db, kind, version, settings } = s;
  return { id, label, db, kind, version, settings };
}

export async function runScale(
  env: BenchEnv,
  systems: ScaleSystem[],
  options: { runs: number; sizes: number[]; claims: number },
): Promise<ScaleResult[]> {
  const results: ScaleResult[] = [];
  const harnesses: (ScaleHarness | null)[][] = [];
  for (const s of systems) {
    const res: ScaleResult = {
      system: describe(s),
      notApplicable: s.notApplicable,
      sizes: options.sizes.map((finished) => ({ finished, p50: [], p99: [], prepareSeconds: 0 })),
      checks: [],
      errors: [],
    };
    results.push(res);
    const hs: (ScaleHarness | null)[] = [];
    harnesses.push(hs);
    if (s.notApplicable) continue;
    for (const size of res.sizes) {
      const t0 = Date.now();
      try {
        hs.push(await s.prepare(env, size.finished));
        size.prepareSeconds = (Date.now() - t0) / 1000;
        env.log(
          `scale ${s.label}: ${size.finished.toLocaleString('en')} finished tasks ready in ${size.prepareSeconds.toFixed(1)} s`,
        );
      } catch (err) {
        hs.push(null);
        res.errors.push(String(err instanceof Error ? (err.stack ?? err.message) : err));
        env.log(`scale ${s.label}: prepare ERROR ${String(err)}`);
      }
    }
  }
  for (let r = 1; r <= options.runs; r++) {
    for (const [i, s] of systems.entries()) {
      const res = results[i]!;
      for (const [k, size] of res.sizes.entries()) {
        const h = harnesses[i]![k];
        if (!h) continue;
        try {
          const m = await h.measure(options.claims);
          size.p50.push(median(m.latencies));
          size.p99.push(percentile(m.latencies, 99));
          const check = checkExactlyOnce(
            m.completed,
            m.completed,
            'claims returned distinct tasks; all rows completed',
            m.databaseOk && m.completed.length === options.claims,
          );
          res.checks.push(check);
          env.log(
            `scale run ${r}/${options.runs} ${s.label} @ ${size.finished.toLocaleString('en')}: claim p50 ${median(m.latencies).toFixed(3)} ms p99 ${percentile(m.latencies, 99).toFixed(3)} ms; exactly-once ${check.ok ? 'ok' : 'FAILED'}`,
          );
        } catch (err) {
          res.errors.push(String(err instanceof Error ? (err.stack ?? err.message) : err));
          env.log(`scale run ${r} ${s.label}: ERROR ${String(err)}`);
        }
      }
    }
  }
  for (const [i, hs] of harnesses.entries()) {
    for (const [k, h] of hs.entries()) {
      if (h?.explain) {
        try {
          results[i]!.sizes[k]!.plan = await h.explain();
        } catch (err) {
          results[i]!.errors.push(`explain: ${String(err)}`);
        }
      }
      await h?.close().catch(() => undefined);
    }
  }
  return results;
}
