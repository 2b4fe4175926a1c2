/**
 * The recursion guard of `cns worker --exec` (DESIGN.md: agents do not spawn agents; the one
 * deliberate exception refuses to nest beyond a set depth). A worker tells the commands it runs
 * how deep they are (`CNS_WORKER_DEPTH`, its own depth + 1, and the limit it ran under); a worker
 * started at a depth that has reached the limit refuses to start.
 */
import { InvalidInputError } from '../core/errors.js';

/** How many `cns worker` processes are above this process (0 or absent: none). */
export const DEPTH_ENV = 'CNS_WORKER_DEPTH';
/** How deep a worker may be started (the flag `--max-depth` wins). Default 1: no nesting. */
export const MAX_DEPTH_ENV = 'CNS_WORKER_MAX_DEPTH';
/** The default limit: a worker may run at depth 0 only, so a worker's command cannot start another. */
export const DEFAULT_MAX_DEPTH = 1;

export interface WorkerDepth {
  /** This worker's depth: 0 when no worker started it. */
  depth: number;
  /** The limit: a worker starts only when depth < max. */
  max: number;
}

function nonNegativeInt(name: string, raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isSafeInteger(n) || n < 0)
    throw new InvalidInputError(`${name} must be a whole number ≥ 0 (got ${JSON.stringify(raw)})`);
  return n;
}

/** This process's depth and limit, from `--max-depth` (if given) and the environment. */
export function workerDepth(
  maxDepthFlag: number | undefined,
  env: Record<string, string | undefined> = process.env,
): WorkerDepth {
  const rawDepth = env[DEPTH_ENV];
  const depth = rawDepth === undefined || rawDepth === '' ? 0 : nonNegativeInt(DEPTH_ENV, rawDepth);
  const rawMax = env[MAX_DEPTH_ENV];
  const max =
    maxDepthFlag ??
    (rawMax === undefined || rawMax === '' ? DEFAULT_MAX_DEPTH : nonNegativeInt(MAX_DEPTH_ENV, rawMax));
  return { depth, max };
}

/** Why this worker must not start (its depth has reached the limit), or null when it may. */
export function nestingRefusal({ depth, max }: WorkerDepth): string | null {
  if (depth < max) return null;
  const where =
    depth === 0
      ? `the limit is ${max}, so no worker may run`
      : `this process runs inside the command of ${depth === 1 ? 'a cns worker' : `${depth} nested cns workers`} (${DEPTH_ENV}=${depth}) and the limit is ${max}`;
  return (
    `not starting a worker: ${where}. A worker's command starting another worker is how agents end up spawning agents. ` +
    `If this nesting is intended, raise the limit with --max-depth ${depth + 1} or ${MAX_DEPTH_ENV}=${depth + 1}.`
  );
}

/** The variables a worker at `depth` sets for the commands it runs. */
export function childDepthEnv({ depth, max }: WorkerDepth): Record<string, string> {
  return { [DEPTH_ENV]: String(depth + 1), [MAX_DEPTH_ENV]: String(max) };
}
