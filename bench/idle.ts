/**
 * What a waiting agent costs while nothing happens: CPU per idle agent process, on SQLite and on
 * PostgreSQL, for the two ways an agent waits for work —
 *   - `cns task claim --wait 40` (a shell agent's long-poll), and
 *   - `cns mcp --role agent`, its MCP client calling `task_next` with wait_seconds 40 in a loop
 *     (the agent process is measured; the client lives in this process and is not counted).
 * Each agent process's CPU time (user + system, /proc/PID/stat) is read at the start and the end
 * of a quiet window; then one task is queued and the time until an agent holds it is measured.
 *
 *   npm run bench:idle            # CNS_IDLE_AGENTS (default 4), CNS_IDLE_WINDOW_S (default 30)
 *
 * Linux only (/proc). Run it on an otherwise idle machine: the figures are CPU time, not wall time,
 * but a loaded machine still delays the wake-up.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { openCoordinator } from '../src/coordinator/open-coordinator.js';
import { startPostgres } from './lib/postgres.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const AGENTS = Number(process.env.CNS_IDLE_AGENTS ?? 4);
const WINDOW_MS = Number(process.env.CNS_IDLE_WINDOW_S ?? 30) * 1000;
const WARM_UP_MS = 10_000; // start-up and the garbage collection that follows it
const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** CPU time of a process so far (user + system), in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of /proc/PID/stat (utime, stime) are the 12th and 13th after the name.
  return ((Number(fields[11]) + Number(fields[12])) / TICKS) * 1000;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Waiter {
  pid: number;
  stop(): Promise<void>;
}

function env(db: string, schema?: string): NodeJS.ProcessEnv {
  return { ...process.env, CNS_DB: db, ...(schema ? { CNS_PG_SCHEMA: schema } : {}) };
}

/** `cns task claim --wait 40` in a loop (a new process each 40 s would not be idle: one wait only). */
function startCliWaiter(db: string, schema: string | undefined, name: string): Waiter {
  const child: ChildProcess = spawn(
    process.execPath,
    [CLI, 'task', 'claim', '--agent', name, '--type', 'idle', '--wait', '40', '--json'],
    { env: env(db, schema), stdio: 'ignore' },
  );
  return {
    pid: child.pid!,
    async stop() {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

async function startMcpWaiter(db: string, schema: string | undefined, name: string): Promise<Waiter> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'mcp', '--role', 'agent', '--type', 'idle', '--name', name],
    env: env(db, schema) as Record<string, string>,
    stderr: 'ignore',
  });
  const client = new Client({ name: 'cns-bench-idle', version: '1.0.0' });
  await client.connect(transport);
  let running = true;
  const loop = (async () => {
    while (running) {
      await client
        .callTool({ name: 'task_next', arguments: { wait_seconds: 40 } }, { timeout: 60_000 })
        .catch(() => undefined);
    }
  })();
  return {
    pid: transport.pid!,
    async stop() {
      running = false;
      await client.close();
      await loop.catch(() => undefined);
    },
  };
}

async function measure(
  label: string,
  db: string,
  schema: string | undefined,
  kind: 'cli' | 'mcp',
): Promise<string> {
  const waiters: Waiter[] = [];
  for (let i = 0; i < AGENTS; i++) {
    const name = `${kind}-idle-${i}`;
    waiters.push(kind === 'cli' ? startCliWaiter(db, schema, name) : await startMcpWaiter(db, schema, name));
  }
  await sleep(WARM_UP_MS);
  const before = waiters.map((w) => cpuMs(w.pid));
  const t0 = Date.now();
  await sleep(WINDOW_MS);
  const elapsed = Date.now() - t0;
  const used = waiters.map((w, i) => cpuMs(w.pid) - before[i]!);
  const perAgent = used.map((ms) => (ms / elapsed) * 100);
  const mean = perAgent.reduce((a, b) => a + b, 0) / perAgent.length;

  // A wake-up: one task queued; how long until an agent holds it.
  const cns = await openCoordinator({ db, schema, reaper: false });
  const queued = Date.now();
  const { task } = await cns.createTask({ type: 'idle', title: 'wake up' }, 'bench');
  let wakeMs = NaN;
  while (Date.now() - queued < 10_000) {
    if ((await cns.getTask(task.id)).status === 'in_progress') {
      wakeMs = Date.now() - queued;
      break;
    }
    await sleep(1);
  }
  await cns.close();
  await Promise.all(waiters.map((w) => w.stop()));
  return (
    `| ${label} | ${kind === 'cli' ? '`cns task claim --wait 40`' : '`cns mcp` + `task_next` (40 s)'} | ${AGENTS} | ` +
    `${mean.toFixed(2)}% (max ${Math.max(...perAgent).toFixed(2)}%) | ${Number.isNaN(wakeMs) ? 'none in 10 s' : `${wakeMs} ms`} |`
  );
}

const rows: string[] = [];
const dir = mkdtempSync(join(tmpdir(), 'cns-idle-'));
try {
  for (const kind of ['cli', 'mcp'] as const) {
    const db = join(dir, `idle-${kind}.db`);
    execFileSync(process.execPath, [CLI, '--db', db, 'migrate'], { stdio: 'ignore' });
    rows.push(await measure('SQLite', db, undefined, kind));
  }
  const pg = await startPostgres();
  try {
    for (const kind of ['cli', 'mcp'] as const) {
      const fresh = await pg.fresh(`idle_${kind}`);
      try {
        rows.push(await measure('PostgreSQL', fresh.url, undefined, kind));
      } finally {
        await fresh.drop().catch(() => undefined);
      }
    }
  } finally {
    await pg.stop();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

console.log(
  `Idle agents: CPU per waiting agent process over ${WINDOW_MS / 1000} s with nothing to claim, ` +
    `then the wake-up of one queued task (node ${process.version})\n`,
);
console.log('| database | how the agent waits | agents | CPU per agent (mean, max) | wake-up |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
