/**
 * A fleet of real agent processes waiting for work: N `cns mcp --role agent` processes (each driven
 * by an MCP client in this process that calls `task_next` with a 40 s wait in a loop and completes
 * what it gets at once), on SQLite, on PostgreSQL directly, and through `cns serve`
 * (`cns mcp --server` with an agent token; the server on PostgreSQL). Measured:
 *
 *   - idle CPU per agent process (user + system from /proc over a quiet window; `cns serve`'s own
 *     CPU shown apart), and the resident memory of an idle agent process;
 *   - PostgreSQL: transactions per second per idle agent (pg_stat_database.xact_commit over the
 *     window; everything on the database, the reaper and heartbeats included) and connections per
 *     agent (pg_stat_activity);
 *   - tasks handed out one at a time: wake-up latency (task queued → `task_next` returned it, as the
 *     client sees it) p50/p99, and PostgreSQL transactions per task (create + claim + complete and
 *     every wasted try of every waiter, over all tasks).
 *
 *   npm run bench:fleet -- [--agents 50] [--window 20] [--tasks 100] [--only sqlite,postgres,serve]
 *                          [--cns DIR]   # another build of cns (a checkout with dist/), e.g. an older one
 *                          [--save LABEL] # keep the figures in bench/agent-fleet.json for RESULTS.md
 *                          [--max-connections N]  # PostgreSQL's max_connections (default 100, stock)
 *
 * Linux only (/proc). Run it on an otherwise idle machine.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import pg from 'pg';
import { startPostgres } from './lib/postgres.js';
import { fleetTable, type FleetRow, type FleetRun } from './lib/fleet-table.js';
import { percentile } from './lib/stats.js';

const args = process.argv.slice(2);
function flag(name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}
const AGENTS = Number(flag('agents', '50'));
const WINDOW_MS = Number(flag('window', '20')) * 1000;
const TASKS = Number(flag('tasks', '100'));
const ONLY = flag('only', 'sqlite,postgres,serve').split(',');
const SAVE = flag('save', '');
const CNS_DIR = resolve(flag('cns', fileURLToPath(new URL('..', import.meta.url))));
const CLI = join(CNS_DIR, 'dist', 'cli', 'main.js');
const WARM_UP_MS = 8_000;
const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / TICKS) * 1000;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}

function cnsEnv(db: string | null): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('CNS_')) env[k] = v;
  if (db) env.CNS_DB = db;
  return env;
}

function cnsSync(db: string, cliArgs: string[]): string {
  return execFileSync(process.execPath, [CLI, '--db', db, ...cliArgs], {
    env: cnsEnv(null),
    encoding: 'utf8',
  });
}

interface Agent {
  pid: number;
  /** Ids of the tasks this agent got, with the time task_next returned each. */
  got: Map<number, number>;
  stop(): Promise<void>;
}

async function startAgent(name: string, spawnArgs: string[], env: Record<string, string>): Promise<Agent> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, ...spawnArgs],
    env,
    stderr: 'ignore',
  });
  const client = new Client({ name: `fleet-${name}`, version: '1.0.0' });
  await client.connect(transport);
  const got = new Map<number, number>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const r = (await client
        .callTool({ name: 'task_next', arguments: { wait_seconds: 40 } }, { timeout: 60_000 })
        .catch(() => null)) as { structuredContent?: { task?: { id: number } | null } } | null;
      const claimed = r?.structuredContent;
      if (!running || !claimed?.task) continue;
      got.set(claimed.task.id, performance.now());
      await client
        .callTool({ name: 'task_complete', arguments: { task_id: claimed.task.id, result: 'done' } })
        .catch(() => undefined);
    }
  })();
  const agent: Agent = {
    pid: transport.pid!,
    got,
    async stop() {
      running = false;
      started.delete(agent);
      await client.close().catch(() => undefined);
      await loop.catch(() => undefined);
    },
  };
  started.add(agent);
  return agent;
}

/** Every agent started and not yet stopped (stopped when a topology fails half-way). */
const started = new Set<Agent>();

interface Topology {
  label: string;
  /** The database the agents' work lives in (for the bench's own reads and writes). */
  db: string;
  pgUrl: string | null;
  agentArgs(i: number): { args: string[]; env: Record<string, string> };
  server: ChildProcess | null;
  cleanup(): Promise<void>;
}

async function pgStats(url: string): Promise<{ commits: number; connections: number }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ commits: string; conns: string }>(
      `SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS commits,
              (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()) - 1 AS conns`,
    );
    return { commits: Number(r.rows[0]!.commits), connections: Number(r.rows[0]!.conns) };
  } finally {
    await c.end();
  }
}

/** Statistics are flushed to pg_stat_database asynchronously: wait for them to settle. */
async function settledCommits(url: string): Promise<number> {
  await sleep(1_200);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('SELECT pg_stat_force_next_flush()').catch(() => undefined);
  } finally {
    await c.end();
  }
  await sleep(600);
  return (await pgStats(url)).commits;
}

async function measure(t: Topology): Promise<FleetRow> {
  try {
    return await measureOnce(t);
  } catch (err) {
    const error = (err as Error).message.split('\n')[0]!;
    console.error(`${t.label}: ${error}`);
    await Promise.all([...started].map((a) => a.stop()));
    return {
      topology: t.label,
      agents: AGENTS,
      idleCpuPct: NaN,
      idleCpuMaxPct: NaN,
      serverCpuPct: null,
      rssMb: NaN,
      idleTxPerSecPerAgent: null,
      connections: null,
      txPerTask: null,
      wakeP50Ms: null,
      wakeP99Ms: null,
      handedOut: 0,
      tasks: TASKS,
      error,
    };
  }
}

async function measureOnce(t: Topology): Promise<FleetRow> {
  const agents: Agent[] = [];
  for (let i = 0; i < AGENTS; i++) {
    const { args: a, env } = t.agentArgs(i);
    agents.push(await startAgent(`a${i}`, a, env));
  }
  await sleep(WARM_UP_MS);
  const serverPid = t.server?.pid;
  const before = agents.map((a) => cpuMs(a.pid));
  const serverBefore = serverPid ? cpuMs(serverPid) : 0;
  const commitsBefore = t.pgUrl ? await settledCommits(t.pgUrl) : 0;
  const t0 = performance.now();
  await sleep(WINDOW_MS);
  const elapsed = performance.now() - t0;
  const perAgent = agents.map((a, i) => ((cpuMs(a.pid) - before[i]!) / elapsed) * 100);
  const serverCpu = serverPid ? ((cpuMs(serverPid) - serverBefore) / elapsed) * 100 : null;
  const idle = t.pgUrl ? await pgStats(t.pgUrl) : null;
  const commitsAfter = t.pgUrl ? await settledCommits(t.pgUrl) : 0;
  // The two settle pauses count too: commits over the window plus them.
  const idleSeconds = (performance.now() - t0) / 1000;
  const rss = agents.map((a) => rssMb(a.pid));

  // Tasks handed out one at a time: queued → task_next returned it. The supervisor is this process,
  // through the same build's TypeScript API (no reaper: one transaction per task created).
  const wakes: number[] = [];
  const api = (await import(pathToFileURL(join(CNS_DIR, 'dist', 'index.js')).href)) as {
    openCoordinator(o: { db: string; reaper: boolean }): Promise<{
      createTask(t: { type: string; title: string }, actor: string): Promise<{ task: { id: number } }>;
      close(): Promise<void>;
    }>;
  };
  const supervisor = await api.openCoordinator({ db: t.db, reaper: false });
  const commitsBeforeTasks = t.pgUrl ? await settledCommits(t.pgUrl) : 0;
  const handOutStart = performance.now();
  for (let k = 0; k < TASKS; k++) {
    const { task } = await supervisor.createTask({ type: 'fleet', title: `wake ${k}` }, 'bench');
    const queued = performance.now();
    const id = task.id;
    const deadline = queued + 10_000;
    let at: number | undefined;
    while (at === undefined && performance.now() < deadline) {
      for (const a of agents) at ??= a.got.get(id);
      if (at === undefined) await sleep(0.2);
    }
    wakes.push(at === undefined ? NaN : at - queued);
    await sleep(50);
  }
  const commitsAfterTasks = t.pgUrl ? await settledCommits(t.pgUrl) : 0;
  const handOutSeconds = (performance.now() - handOutStart) / 1000;
  await supervisor.close();
  await Promise.all(agents.map((a) => a.stop()));

  const ok = wakes.filter((w) => !Number.isNaN(w)).sort((a, b) => a - b);
  return {
    topology: t.label,
    agents: AGENTS,
    idleCpuPct: perAgent.reduce((sum, x) => sum + x, 0) / perAgent.length,
    idleCpuMaxPct: Math.max(...perAgent),
    serverCpuPct: serverCpu,
    rssMb: percentile(rss, 50),
    idleTxPerSecPerAgent: idle ? (commitsAfter - commitsBefore) / idleSeconds / AGENTS : null,
    connections: idle ? idle.connections : null,
    txPerTask: t.pgUrl ? (commitsAfterTasks - commitsBeforeTasks) / TASKS : null,
    // The background (heartbeats, reaper sweeps, re-polls) goes on while tasks are handed out:
    // take its idle rate over the hand-out's duration (settle pause included) away.
    txPerTaskMarginal: t.pgUrl
      ? (commitsAfterTasks -
          commitsBeforeTasks -
          ((commitsAfter - commitsBefore) / idleSeconds) * handOutSeconds) /
        TASKS
      : null,
    wakeP50Ms: ok.length ? percentile(ok, 50) : null,
    wakeP99Ms: ok.length ? percentile(ok, 99) : null,
    handedOut: ok.length,
    tasks: TASKS,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'cns-fleet-'));
const rows: FleetRow[] = [];
const loadBefore = loadavg().map((x) => Number(x.toFixed(2)));
const version = JSON.parse(readFileSync(join(CNS_DIR, 'package.json'), 'utf8')) as { version: string };
let revision = '';
try {
  revision = execFileSync('git', ['-C', CNS_DIR, 'rev-parse', '--short', 'HEAD'], {
    encoding: 'utf8',
  }).trim();
} catch {
  revision = 'unknown';
}
// Stock settings but max_connections: agents that open PostgreSQL directly hold two connections each
// (their pool's one, and LISTEN), so 50 of them exceed the default 100.
const MAX_CONNECTIONS = Number(flag('max-connections', '100'));
const pgServer = ONLY.some((o) => o !== 'sqlite')
  ? await startPostgres(MAX_CONNECTIONS === 100 ? [] : ['-c', `max_connections=${MAX_CONNECTIONS}`])
  : null;
try {
  if (ONLY.includes('sqlite')) {
    const db = join(dir, 'fleet.db');
    cnsSync(db, ['migrate']);
    rows.push(
      await measure({
        label: 'SQLite, direct',
        db,
        pgUrl: null,
        server: null,
        agentArgs: (i) => ({
          args: ['mcp', '--role', 'agent', '--type', 'fleet', '--name', `f${i}`],
          env: cnsEnv(db),
        }),
        cleanup: async () => undefined,
      }),
    );
  }
  if (pgServer && ONLY.includes('postgres')) {
    const target = await pgServer.fresh('fleet');
    cnsSync(target.url, ['migrate']);
    rows.push(
      await measure({
        label: 'PostgreSQL, direct',
        db: target.url,
        pgUrl: target.url,
        server: null,
        agentArgs: (i) => ({
          args: ['mcp', '--role', 'agent', '--type', 'fleet', '--name', `f${i}`],
          env: cnsEnv(target.url),
        }),
        cleanup: async () => undefined,
      }),
    );
    await target.drop();
  }
  if (pgServer && ONLY.includes('serve')) {
    const target = await pgServer.fresh('fleet_serve');
    cnsSync(target.url, ['migrate']);
    const secrets = Array.from({ length: AGENTS }, (_, i) => {
      const out = cnsSync(target.url, [
        'token',
        'create',
        '--role',
        'agent',
        '--name',
        `s${i}`,
        '--type',
        'fleet',
        '--json',
      ]);
      return (JSON.parse(out) as { secret: string }).secret;
    });
    const server = spawn(process.execPath, [CLI, '--db', target.url, 'serve', '--port', '0'], {
      env: cnsEnv(null),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const url = await new Promise<string>((resolveUrl, reject) => {
      let out = '';
      server.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /(http:\/\/[\d.:a-z]+)/.exec(out);
        if (m) resolveUrl(m[1]!);
      });
      server.once('exit', () => reject(new Error(`cns serve exited: ${out}`)));
    });
    try {
      rows.push(
        await measure({
          label: 'PostgreSQL, via cns serve',
          db: target.url,
          pgUrl: target.url,
          server,
          agentArgs: (i) => ({
            args: ['mcp', '--server', url],
            env: { ...cnsEnv(null), CNS_TOKEN: secrets[i]! },
          }),
          cleanup: async () => undefined,
        }),
      );
    } finally {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
    await target.drop();
  }
} finally {
  await pgServer?.stop();
  rmSync(dir, { recursive: true, force: true });
}

const run: FleetRun = {
  maxConnections: MAX_CONNECTIONS,
  cns: `${version.version} (${revision})`,
  at: new Date().toISOString(),
  loadBefore,
  agents: AGENTS,
  windowS: WINDOW_MS / 1000,
  tasks: TASKS,
  rows,
};
console.log(
  `\ncns ${run.cns}, ${AGENTS} agent processes, idle window ${run.windowS} s, ${TASKS} tasks one at a time, load before ${loadBefore.join(', ')}\n`,
);
for (const line of fleetTable(rows)) console.log(line);
if (SAVE) {
  // Saved under a label (e.g. before / after) for bench/RESULTS.md (bench/report.ts renders them).
  const path = fileURLToPath(new URL('./agent-fleet.json', import.meta.url));
  const saved = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, FleetRun>) : {};
  saved[SAVE] = run;
  writeFileSync(path, `${JSON.stringify(saved, null, 2)}\n`);
  console.log(`saved as "${SAVE}" in ${path}`);
}
