/** The shapes every system adapter and scenario share. */
import type { BenchPostgres } from './postgres.js';
import type { ExactlyOnce } from './stats.js';

export type DbKind = 'sqlite' | 'postgres';

/** cns itself, a peer queue, or the raw floor (the driver alone, the physical limit). */
export type SystemKind = 'cns' | 'peer' | 'floor';

export interface BenchEnv {
  pg: BenchPostgres;
  /** A scratch directory for SQLite files (removed at the end). */
  tmp: string;
  /** Project root. */
  root: string;
  /** Prints a progress line. */
  log(line: string): void;
}

export interface SystemInfo {
  id: string;
  label: string;
  db: DbKind;
  kind: SystemKind;
  /** Package and version, e.g. "pg-boss 12.38.0". */
  version: string;
  /** The settings used, in words (the report lists them). */
  settings: string;
}

export interface DrainRun {
  tasksPerSec: number;
  seconds: number;
  check: ExactlyOnce;
}

/** Scenario 1: `n` tasks queued, then claimed and completed one at a time by `concurrency` workers. */
export interface DrainSystem extends SystemInfo {
  drain(env: BenchEnv, n: number, concurrency: number): Promise<DrainRun>;
}

/** One waiting worker and a way to enqueue: what the wake-latency driver needs. */
export interface WakeHarness {
  /** Starts the idle worker; it calls `onHeld(key, atMs)` (nowMs clock) when it holds task `key`, then completes it. */
  start(onHeld: (key: number, atMs: number) => void): Promise<void>;
  /** Enqueues task `key`. */
  enqueue(key: number): Promise<void>;
  /** Stops the worker and checks the database: every key completed exactly once. */
  stop(keys: number[]): Promise<{ completed: number[]; databaseOk: boolean }>;
}

/** Scenario 2: an idle waiting worker, tasks enqueued one by one. */
export interface WakeSystem extends SystemInfo {
  open(env: BenchEnv): Promise<WakeHarness>;
}

/** A store prepared with `finished` finished tasks, measuring claim latency. */
export interface ScaleHarness {
  /** Queues `m` tasks, then claims (timed) and completes (untimed) them one at a time. Latencies in ms. */
  measure(m: number): Promise<{ latencies: number[]; completed: number[]; databaseOk: boolean }>;
  /** The query plan of one claim, where the system can show it (after the runs). */
  explain?(): Promise<string>;
  close(): Promise<void>;
}

/** Scenario 3: claim latency as finished tasks pile up. */
export interface ScaleSystem extends SystemInfo {
  /** Null when the system cannot have finished tasks in its table (it deletes them), with the reason. */
  notApplicable?: string;
  prepare(env: BenchEnv, finished: number): Promise<ScaleHarness>;
}
