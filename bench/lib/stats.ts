/** Small statistics helpers: medians, percentiles, min–max, and a monotonic clock in ms. */

/** Milliseconds on the system-wide monotonic clock: comparable across processes on one machine. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The p-th percentile (0–100) by nearest rank of an unsorted list. NaN when empty. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median and range of one measure over several runs. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function summarize(runs: number[]): Summary {
  const ok = runs.filter((v) => Number.isFinite(v));
  return {
    median: median(ok),
    min: ok.length ? Math.min(...ok) : Number.NaN,
    max: ok.length ? Math.max(...ok) : Number.NaN,
    runs,
  };
}

/** Exactly-once check of one run: every task id handed out was completed once, none twice or never. */
export interface ExactlyOnce {
  ok: boolean;
  expected: number;
  completed: number;
  duplicates: number;
  missing: number;
  /** What was checked, e.g. "worker ids + database rows". */
  detail: string;
}

/** Compares the ids workers report having completed against the ids that were enqueued. */
export function checkExactlyOnce(
  expected: Iterable<number | string>,
  completed: Iterable<number | string>,
  detail: string,
  databaseOk = true,
): ExactlyOnce {
  const want = new Set<string>();
  for (const id of expected) want.add(String(id));
  const seen = new Map<string, number>();
  let total = 0;
  for (const id of completed) {
    total++;
    seen.set(String(id), (seen.get(String(id)) ?? 0) + 1);
  }
  let duplicates = 0;
  let missing = 0;
  let unknown = 0;
  for (const [id, n] of seen) {
    if (n > 1) duplicates += n - 1;
    if (!want.has(id)) unknown++;
  }
  for (const id of want) if (!seen.has(id)) missing++;
  return {
    ok: duplicates === 0 && missing === 0 && unknown === 0 && databaseOk,
    expected: want.size,
    completed: total,
    duplicates,
    missing,
    detail: databaseOk ? detail : `${detail} — DATABASE CHECK FAILED`,
  };
}
