import type { Clock } from '../core/clock.js';
import { resolveConfig, type CnsConfig, type ConfigInput } from '../core/config.js';
import { openStore } from '../store/open.js';
import { Coordinator } from './coordinator.js';

export interface OpenCoordinatorOptions extends ConfigInput {
  /** A fully resolved configuration; when given, the other settings are ignored. */
  config?: Readonly<CnsConfig>;
  /** Run the lease reaper in this process. Default true. */
  reaper?: boolean;
  /** Replace the time source (tests). */
  clock?: Clock;
  /** PostgreSQL pool size when the configuration leaves it to the front (pgPoolSize null). Default 10. */
  defaultPoolSize?: number;
  /** Where background errors (reaper, watcher) go. Default: stderr. */
  onError?: (err: unknown) => void;
}

/**
 * Opens the database (SQLite file or postgres:// URL; migrations applied) and returns a
 * coordinator over it.
 *
 * ```ts
 * const cns = await openCoordinator({ db: '.cns/cns.db' });
 * ```
 */
export async function openCoordinator(options: OpenCoordinatorOptions = {}): Promise<Coordinator> {
  const { config: given, reaper, clock, onError, defaultPoolSize, ...input } = options;
  const config = given ?? resolveConfig(input);
  const store = await openStore(config.db, {
    policy: config.policy,
    clock,
    schema: config.schema,
    poolSize: config.pgPoolSize ?? defaultPoolSize ?? 10,
  });
  return new Coordinator(store, config, {
    reaper,
    onError: onError ?? ((err) => process.stderr.write(`cns: background error: ${String(err)}\n`)),
  });
}
