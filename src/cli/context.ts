/**
 * From the command line to a coordinator: global options (and the environment) → a resolved
 * config (`resolveConfig`: flags > env > defaults) → `openCoordinator`. Also the argument parsers
 * the command groups share. Another front (e.g. `cns mcp`) may reuse `openFromOptions`.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Actor } from '../coordinator/api-types.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import { parseDatabaseLocation } from '../coordinator/database.js';
import { resolveConfig, type CnsConfig, type ConfigInput } from '../core/config.js';
import { CnsError, InvalidInputError } from '../core/errors.js';
import { parseId } from '../core/ids.js';
import { messageFor } from './errors.js';
import { shellWord } from './self.js';
import type { Json } from '../core/types.js';

/** The global options (`cns --db …`) and any config overrides a command adds (e.g. `--lease-ms`). */
export interface GlobalOptions extends ConfigInput {
  /** A SQLite path or postgres:// URL. Default: env CNS_DB, else `.cns/cns.db` (core/config.ts). */
  db?: string;
}

export interface OpenFromOptions {
  /** Run the lease reaper in the background. Default false: one-shot commands sweep once instead. */
  reaper?: boolean;
  /**
   * Create a missing SQLite database at the default location (and its `.cns` folder). Default
   * false: without --db or CNS_DB, a missing `.cns/cns.db` is an error that says to run `cns init`
   * (so that a command run in the wrong folder does not silently start an empty database there).
   * An explicit path is created when its folder exists.
   */
  create?: boolean;
  /** PostgreSQL pool size unless configured (CNS_PG_POOL_SIZE). Default 2: an agent's process. */
  poolSize?: number;
  /** Create the folder of an explicit path too (`cns init` only). Default false: an error. */
  createFolder?: boolean;
}

const CONFIG_KEYS: (keyof ConfigInput)[] = [
  'db',
  'schema',
  'leaseMs',
  'heartbeatIntervalMs',
  'offlineAfterMs',
  'maxAttempts',
  'maxReviewRounds',
  'retryBaseMs',
  'retryMaxMs',
  'reaperIntervalMs',
  'waitDefaultMs',
  'waitMaxMs',
  'pollBackstopMs',
  'claimBackstopMs',
];

/** The resolved configuration for these options (flags > env > defaults). */
export function configFromOptions(globalOpts: GlobalOptions): Readonly<CnsConfig> {
  const flags: ConfigInput = {};
  for (const key of CONFIG_KEYS) {
    const v = globalOpts[key];
    if (v !== undefined) (flags as Record<string, unknown>)[key] = v;
  }
  return resolveConfig(flags);
}

/** Whether the database was chosen (--db or CNS_DB) rather than the default `.cns/cns.db`. */
export function explicitDatabase(globalOpts: GlobalOptions): boolean {
  return globalOpts.db !== undefined || (process.env.CNS_DB ?? '') !== '';
}

/**
 * Checks where the database is before anything opens it: an unknown URL scheme is an error
 * (parseDatabaseLocation), and so is a missing SQLite file at the default location (unless
 * `create`) or in a folder that does not exist (unless `createFolder`): a typo in --db must not
 * become a new database in new folders. Creates the folder when allowed.
 */
export function prepareDatabase(db: string, explicit: boolean, options: OpenFromOptions = {}): void {
  const loc = parseDatabaseLocation(db);
  if (loc.kind !== 'sqlite' || loc.path === ':memory:' || loc.path === '' || existsSync(loc.path)) return;
  const folder = dirname(resolve(loc.path));
  if (!explicit) {
    if (!options.create) {
      throw new CnsError(
        'store_unavailable',
        `no cns database here (${loc.path} does not exist): run "cns init" in the project folder, or pass --db PATH or set CNS_DB`,
      );
    }
  } else if (!existsSync(folder) && !options.createFolder) {
    throw new CnsError(
      'store_unavailable',
      `no folder ${folder} for the database ${loc.path}: check --db / CNS_DB for a typo, or create the database there with "cns --db ${shellWord(loc.path)} init"`,
      { file: loc.path, folder },
    );
  }
  mkdirSync(folder, { recursive: true });
}

/** A read-only SQLite file (migrate.ts sqliteFileError): reads work, writes are refused. */
function isReadOnly(err: unknown): boolean {
  return err instanceof CnsError && err.details.readOnly === true;
}

/** Opens the coordinator the global options name. The caller must `close()` it. */
export async function openFromOptions(
  globalOpts: GlobalOptions,
  options: OpenFromOptions = {},
): Promise<Coordinator> {
  const config = configFromOptions(globalOpts);
  prepareDatabase(config.db, explicitDatabase(globalOpts), options);
  const reported = new Set<string>();
  // Loaded here, not at the top: the coordinator (and, through the store, a database driver) is
  // paid for by the commands that open a database, not by `cns --help` or `cns --version`.
  const { openCoordinator } = await import('../coordinator/open-coordinator.js');
  return openCoordinator({
    config,
    reaper: options.reaper ?? false,
    // An agent's process: one connection for its calls (claims batch), one spare for a heartbeat.
    defaultPoolSize: options.poolSize ?? 2,
    onError: (err) => {
      // A read-only database fails every sweep of the background reaper the same way: say it once.
      const message = messageFor(err);
      if (isReadOnly(err) && reported.has(message)) return;
      reported.add(message);
      process.stderr.write(`cns: background error: ${message}
`);
    },
  });
}

/**
 * Runs `fn` with a coordinator opened from the command's options (global ones included), and
 * always closes it, so the process exits promptly. `sweep`: run one lease-reaper sweep first, so
 * what is shown is current.
 */
export async function withCoordinator<T>(
  cmd: Command,
  fn: (c: Coordinator) => Promise<T>,
  options: { sweep?: boolean; config?: ConfigInput } = {},
): Promise<T> {
  const coordinator = await openFromOptions({
    ...(cmd.optsWithGlobals() as GlobalOptions),
    ...options.config,
  });
  try {
    // A read-only database can be read; its expired leases just stay as they are. When a reaper
    // runs somewhere (cns serve, cns mcp, a worker), it has swept within the last second.
    if (options.sweep && !(await coordinator.reaperRunning().catch(() => false)))
      await coordinator.reaper.reapNow().catch((err: unknown) => {
        if (!isReadOnly(err)) process.stderr.write(`cns: background error: ${messageFor(err)}\n`);
      });
    return await fn(coordinator);
  } finally {
    await coordinator.close();
  }
}

// ── who acts ────────────────────────────────────────────────────────────────────────────────────

/** Who a command acts as when `--as` is not given (recorded in the events). */
export const DEFAULT_ACTOR = 'cli';

/** The `--as` option's help (the commands that record who acts). */
export const AS_HELP = `who acts: recorded in the events; if an agent has this name, the command acts as that agent (it cannot then review its own work) (default "${DEFAULT_ACTOR}")`;

/**
 * The actor of a command, resolved once: `--as NAME` (default "cli") with a supervisor's
 * authority, and the id of the agent of that name if one has registered.
 */
export function resolveActor(c: Coordinator, name: string | undefined): Promise<Actor> {
  return c.resolveActor(name ?? DEFAULT_ACTOR, 'supervisor');
}

// ── argument parsing (errors are InvalidInputError → exit 2) ──────────────────────────────────────

/** `42` or `#42`. */
export function parseTaskId(value: string): number {
  const id = parseId(value);
  if (id === null)
    throw new InvalidInputError(`task id must be a number like 42 (got ${JSON.stringify(value)})`);
  return id;
}

export function parseWorkflowId(value: string): number {
  const id = parseId(value);
  if (id === null)
    throw new InvalidInputError(`workflow id must be a number like 3 (got ${JSON.stringify(value)})`);
  return id;
}

/** A commander option parser for an integer within bounds. */
export function intOption(name: string, min = -Infinity, max = Infinity): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      const range =
        min === -Infinity && max === Infinity
          ? 'an integer'
          : max === Infinity
            ? `an integer ≥ ${min}`
            : `an integer from ${min} to ${max}`;
      throw new InvalidInputError(`${name} must be ${range} (got ${JSON.stringify(value)})`);
    }
    return n;
  };
}

/** A commander option parser for a finite number within bounds. */
export function numberOption(name: string, min = -Infinity, max = Infinity): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidInputError(
        `${name} must be a number from ${min} to ${max} (got ${JSON.stringify(value)})`,
      );
    }
    return n;
  };
}

/** Collects a repeatable option; each value may also be a comma-separated list. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [
    ...(previous ?? []),
    ...value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  ];
}

/** Collects a repeatable task-id option. */
export function collectTaskIds(value: string, previous: number[] | undefined): number[] {
  return [...(previous ?? []), ...value.split(',').map((s) => parseTaskId(s))];
}

/** Parses a JSON option value. */
export function parseJson(name: string, value: string): Json {
  try {
    return JSON.parse(value) as Json;
  } catch (err) {
    throw new InvalidInputError(`${name} must be valid JSON: ${(err as Error).message}`);
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration like `30s`, `5m`, `2h`, `1d`, `500ms` (a bare number is seconds). */
export function parseDuration(name: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value.trim());
  if (!m)
    throw new InvalidInputError(
      `${name} must be a duration like 30s, 5m, 2h or 1d (got ${JSON.stringify(value)})`,
    );
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 's']!);
}

/** `+30s`, `+5m`, `+2h`, `+1d` (from now) or an ISO 8601 time. Returns epoch ms. */
export function parseTime(name: string, value: string, now = Date.now()): number {
  const v = value.trim();
  if (v.startsWith('+')) return now + parseDuration(name, v.slice(1));
  if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
    const t = Date.parse(v);
    if (Number.isFinite(t)) return t;
  }
  throw new InvalidInputError(
    `${name} must be an ISO time like 2026-05-01T12:00:00Z or a delay like +30s, +5m, +2h (got ${JSON.stringify(value)})`,
  );
}

/** Reads a file (or stdin for `-`) as UTF-8, with a clear error. */
export function readTextFile(path: string, what: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new InvalidInputError(`cannot read ${what} ${path}: ${why}`);
  }
}
