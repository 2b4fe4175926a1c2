import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InvalidInputError } from './errors.js';
import { DEFAULT_POLICY, type Policy } from './policy.js';

/**
 * Configuration, resolved once (flags > environment > defaults), validated and frozen, then
 * passed down. Every default is documented here.
 */
export interface CnsConfig {
  /** A SQLite file path or a postgres:// URL. Default: `.cns/cns.db` in the nearest directory (upwards) that has a `.cns` folder, else in the current directory. Env CNS_DB. */
  db: string;
  /** PostgreSQL schema holding cns's tables. Default `cns`. Env CNS_PG_SCHEMA. */
  schema: string;
  policy: Policy;
  /** How long `task next` waits when no wait is given. Default 25 s. */
  waitDefaultMs: number;
  /** The longest wait accepted (MCP clients time calls out). Default 50 s. */
  waitMaxMs: number;
  /** How often the lease reaper sweeps. Default 1 s. Env CNS_REAPER_INTERVAL_MS. */
  reaperIntervalMs: number;
  /** How often a live agent process heartbeats (renewing its leases). Default 10 s (a third of the lease). Env CNS_HEARTBEAT_MS. */
  heartbeatIntervalMs: number;
  /**
   * Waits for a result or for events (task_wait, the event stream) re-check at least this often
   * even without a wake-up signal (on PostgreSQL claims and plain completions send none). Default 1 s.
   */
  pollBackstopMs: number;
  /**
   * A waiting claim re-checks at least this often without a wake-up signal. Everything that makes
   * work claimable signals (a new task, a release, an expiry, an assignment), and a task scheduled
   * for later wakes the waiter at its time, so this only bounds the delay of a missed signal.
   * Default 60 s on PostgreSQL (NOTIFY is transactional, and a lost LISTEN connection wakes every
   * waiter once it is back), 10 s on SQLite (its cross-process signal is a file-system event, which
   * some file systems — network mounts, some container volumes — do not deliver).
   */
  claimBackstopMs: number;
  /**
   * Called (POST, JSON) whenever an agent asks a question; a workflow's `metadata.questionWebhook`
   * is called too for its tasks. Default none. Env CNS_QUESTION_WEBHOOK.
   */
  questionWebhookUrl: string | null;
  /**
   * When set, each webhook body is signed: header `X-Cns-Signature: sha256=<hex HMAC-SHA256 of the
   * body>`. Default none. Env CNS_WEBHOOK_SECRET.
   */
  webhookSecret: string | null;
  /**
   * PostgreSQL: the most connections this process's pool opens (LISTEN and the reaper's lock have
   * their own). Default null: the front decides — 2 for an agent's process (`cns mcp`, `cns task`,
   * `cns worker`, `cns wait`), 10 for `cns serve` and the TypeScript API. Env CNS_PG_POOL_SIZE.
   */
  pgPoolSize: number | null;
}

export interface ConfigInput {
  db?: string;
  schema?: string;
  leaseMs?: number;
  heartbeatIntervalMs?: number;
  offlineAfterMs?: number;
  maxAttempts?: number;
  maxReviewRounds?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  preferAskerMs?: number;
  reaperIntervalMs?: number;
  waitDefaultMs?: number;
  waitMaxMs?: number;
  pollBackstopMs?: number;
  claimBackstopMs?: number;
  questionWebhookUrl?: string;
  webhookSecret?: string;
  pgPoolSize?: number;
}

const ENV: Record<string, keyof ConfigInput> = {
  CNS_DB: 'db',
  CNS_PG_SCHEMA: 'schema',
  CNS_LEASE_MS: 'leaseMs',
  CNS_HEARTBEAT_MS: 'heartbeatIntervalMs',
  CNS_OFFLINE_AFTER_MS: 'offlineAfterMs',
  CNS_MAX_ATTEMPTS: 'maxAttempts',
  CNS_MAX_REVIEW_ROUNDS: 'maxReviewRounds',
  CNS_RETRY_BASE_MS: 'retryBaseMs',
  CNS_RETRY_MAX_MS: 'retryMaxMs',
  CNS_REAPER_INTERVAL_MS: 'reaperIntervalMs',
  CNS_PREFER_ASKER_MS: 'preferAskerMs',
  CNS_QUESTION_WEBHOOK: 'questionWebhookUrl',
  CNS_WEBHOOK_SECRET: 'webhookSecret',
  CNS_PG_POOL_SIZE: 'pgPoolSize',
};

/** The settings that are text (the others are numbers). */
const TEXT_SETTINGS: readonly (keyof ConfigInput)[] = ['db', 'schema', 'questionWebhookUrl', 'webhookSecret'];

/** The environment variables cns reads, for --help texts. */
export const CONFIG_ENV_VARS = Object.keys(ENV);

export function defaultDbPath(cwd: string = process.cwd()): string {
  let dir = resolve(cwd);
  for (;;) {
    if (existsSync(join(dir, '.cns'))) return join(dir, '.cns', 'cns.db');
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return join(resolve(cwd), '.cns', 'cns.db');
}

/** A PostgreSQL URL (the store's own parse, store/open.ts, decides; this only picks defaults). */
const POSTGRES_URL = /^postgres(ql)?:\/\//i;

export function resolveConfig(
  flags: ConfigInput = {},
  env: Record<string, string | undefined> = process.env,
  cwd: string = process.cwd(),
): Readonly<CnsConfig> {
  const fromEnv: ConfigInput = {};
  for (const [name, key] of Object.entries(ENV)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    if (TEXT_SETTINGS.includes(key)) (fromEnv as Record<string, string>)[key] = raw;
    else {
      const n = Number(raw);
      if (!Number.isFinite(n)) throw new InvalidInputError(`${name} must be a number (got "${raw}")`);
      (fromEnv as Record<string, number>)[key] = n;
    }
  }
  const pick = <K extends keyof ConfigInput>(k: K): ConfigInput[K] => flags[k] ?? fromEnv[k];
  const leaseMs = pick('leaseMs') ?? DEFAULT_POLICY.leaseMs;
  const policy: Policy = {
    leaseMs,
    offlineAfterMs: pick('offlineAfterMs') ?? Math.max(DEFAULT_POLICY.offlineAfterMs, leaseMs),
    retryBaseMs: pick('retryBaseMs') ?? DEFAULT_POLICY.retryBaseMs,
    retryMaxMs: pick('retryMaxMs') ?? DEFAULT_POLICY.retryMaxMs,
    maxAttempts: pick('maxAttempts') ?? DEFAULT_POLICY.maxAttempts,
    maxReviewRounds: pick('maxReviewRounds') ?? DEFAULT_POLICY.maxReviewRounds,
    preferAskerMs: pick('preferAskerMs') ?? DEFAULT_POLICY.preferAskerMs,
  };
  const config: CnsConfig = {
    db: pick('db') ?? defaultDbPath(cwd),
    schema: pick('schema') ?? 'cns',
    policy,
    waitDefaultMs: pick('waitDefaultMs') ?? 25_000,
    waitMaxMs: pick('waitMaxMs') ?? 50_000,
    reaperIntervalMs: pick('reaperIntervalMs') ?? 1_000,
    heartbeatIntervalMs: pick('heartbeatIntervalMs') ?? Math.max(50, Math.floor(leaseMs / 3)),
    pollBackstopMs: pick('pollBackstopMs') ?? 1_000,
    claimBackstopMs: pick('claimBackstopMs') ?? (POSTGRES_URL.test(pick('db') ?? '') ? 60_000 : 10_000),
    questionWebhookUrl: pick('questionWebhookUrl') ?? null,
    webhookSecret: pick('webhookSecret') ?? null,
    pgPoolSize: pick('pgPoolSize') ?? null,
  };
  validate(config);
  return Object.freeze({ ...config, policy: Object.freeze(policy) });
}

function validate(c: CnsConfig): void {
  const positive: [string, number][] = [
    ['lease', c.policy.leaseMs],
    ['offline threshold', c.policy.offlineAfterMs],
    ['retry base', c.policy.retryBaseMs],
    ['retry max', c.policy.retryMaxMs],
    ['asker preference', c.policy.preferAskerMs],
    ['reaper interval', c.reaperIntervalMs],
    ['heartbeat interval', c.heartbeatIntervalMs],
    ['poll backstop', c.pollBackstopMs],
    ['claim backstop', c.claimBackstopMs],
  ];
  for (const [name, v] of positive) {
    if (!Number.isFinite(v) || v <= 0)
      throw new InvalidInputError(`${name} must be a positive number of milliseconds (got ${v})`);
  }
  if (c.heartbeatIntervalMs >= c.policy.leaseMs) {
    throw new InvalidInputError(
      `the heartbeat interval (${c.heartbeatIntervalMs} ms) must be shorter than the lease (${c.policy.leaseMs} ms), or leases expire between heartbeats`,
    );
  }
  if (!Number.isInteger(c.policy.maxAttempts) || c.policy.maxAttempts < 1)
    throw new InvalidInputError('max attempts must be an integer ≥ 1');
  if (!Number.isInteger(c.policy.maxReviewRounds) || c.policy.maxReviewRounds < 1) {
    throw new InvalidInputError('max review rounds must be an integer ≥ 1');
  }
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(c.schema))
    throw new InvalidInputError(`schema "${c.schema}" must be a lowercase SQL identifier`);
  if (c.questionWebhookUrl !== null && !/^https?:\/\/[^\s]+$/.test(c.questionWebhookUrl))
    throw new InvalidInputError(
      `the question webhook must be an http(s) URL (got ${JSON.stringify(c.questionWebhookUrl)})`,
    );
  if (c.pgPoolSize !== null && (!Number.isInteger(c.pgPoolSize) || c.pgPoolSize < 1 || c.pgPoolSize > 1000))
    throw new InvalidInputError(
      `the PostgreSQL pool size must be a whole number from 1 to 1000 (got ${c.pgPoolSize})`,
    );
  if (c.waitDefaultMs < 0 || c.waitMaxMs < c.waitDefaultMs)
    throw new InvalidInputError('the default wait must be between 0 and the maximum wait');
}
