/**
 * The demo's agent processes: n agents of the roster's types, every other one a `cns mcp` process
 * driven over stdio by this process (as an MCP host drives it), the others processes of their own
 * on the TypeScript API (demo-agent-process.ts). An agent that dies (the staged crash) is restarted
 * under its name after a while, as a process supervisor would. `stop()` ends them all: stdin closed
 * first (each releases what it holds and deregisters), SIGKILL for any still alive after a grace
 * period. Every child also ends on its own when this process dies (its stdin closes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { AgentProcessSettings } from './demo-agent-process.js';
import { paceEnv, sleep, type Pace } from './demo-pace.js';
import { McpAgentPort } from './demo-ports.js';
import { ROSTER } from './demo-script.js';
import { runWorker } from './demo-worker.js';
import { McpStdioClient } from './mcp-stdio-client.js';

/** How to run this cns: node and its arguments before cns's own (from the CLI's selfCommand). */
export interface CnsCommand {
  command: string;
  args: string[];
}

export interface FleetOptions {
  db: string;
  agents: number;
  pace: Pace;
  cns: CnsCommand;
  log: (message: string) => void;
  /** Also show the agents' own stderr. */
  verbose: boolean;
}

type Kind = 'mcp' | 'session';

interface Agent {
  name: string;
  type: string;
  kind: Kind;
  child: ChildProcess | null;
  exited: Promise<unknown>;
  /** Ends its worker loop (MCP agents: the loop runs here). */
  stop: AbortController;
}

/** The environment of the children: this one without CNS_* (a CNS_SERVER or CNS_DB must not leak in), plus the demo's settings. */
function childEnv(pace: Pace): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CNS_')) env[k] = v;
  return { ...env, ...paceEnv(pace) };
}

/** The file of the agent process, next to this one (.ts when run from the sources through tsx). */
function agentProcessEntry(): { args: string[] } {
  const here = fileURLToPath(import.meta.url);
  const ext = extname(here);
  const entry = fileURLToPath(new URL(`./demo-agent-process${ext}`, import.meta.url));
  return { args: [...(ext === '.ts' ? process.execArgv : []), entry] };
}

export class DemoFleet {
  private readonly agents: Agent[] = [];
  private stopping = false;
  /** Every pid started, in order (restarts included). */
  readonly pids: number[] = [];

  constructor(private readonly o: FleetOptions) {}

  /** Starts the n agents; resolves once each has registered (MCP: handshake done; session: started). */
  async start(): Promise<void> {
    const perType = new Map<string, number>();
    const specs = Array.from({ length: this.o.agents }, (_, i) => {
      const type = ROSTER[i % ROSTER.length]!;
      const k = (perType.get(type) ?? 0) + 1;
      perType.set(type, k);
      const kind: Kind = i % 2 === 1 ? 'mcp' : 'session';
      return { name: `${type}-${k}`, type, kind };
    });
    await Promise.all(specs.map((s) => this.launch(s.name, s.type, s.kind)));
  }

  /** Live agent processes: name, kind, pid. */
  processes(): { name: string; kind: Kind; pid: number }[] {
    return this.agents
      .filter((a) => a.child && a.child.exitCode === null && a.child.signalCode === null)
      .map((a) => ({ name: a.name, kind: a.kind, pid: a.child!.pid! }));
  }

  private async launch(name: string, type: string, kind: Kind): Promise<void> {
    if (this.stopping) return;
    const agent: Agent = {
      name,
      type,
      kind,
      child: null,
      exited: Promise.resolve(),
      stop: new AbortController(),
    };
    const env = childEnv(this.o.pace);
    const stderr = (line: string) => {
      if (this.o.verbose) this.o.log(`  [${name}] ${line}`);
    };
    const c = this.o.pace.config;
    if (kind === 'mcp') {
      const client = await McpStdioClient.start(
        this.o.cns.command,
        [
          ...this.o.cns.args,
          '--db',
          this.o.db,
          'mcp',
          '--role',
          // A reviewer also reviews results: the supervisor tools come with role both.
          type === 'reviewer' ? 'both' : 'agent',
          '--type',
          type,
          '--name',
          name,
          '--lease-ms',
          String(c.leaseMs),
          '--heartbeat-ms',
          String(c.heartbeatIntervalMs),
        ],
        { env, onStderr: stderr, clientName: `cns-demo ${name}` },
      );
      agent.child = client.child;
      agent.exited = client.exited;
      void client.exited.then(() => agent.stop.abort());
      void runWorker(new McpAgentPort(client), {
        name,
        type,
        pace: this.o.pace,
        log: this.o.log,
        signal: agent.stop.signal,
      }).finally(() => client.close());
    } else {
      const entry = agentProcessEntry();
      const settings: AgentProcessSettings = { db: this.o.db, name, type, speed: this.o.pace.speed };
      const child = spawn(process.execPath, [...entry.args, JSON.stringify(settings)], {
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      child.stdin.on('error', () => {});
      child.on('error', (err) => this.o.log(`${name}: ${err.message}`));
      createInterface({ input: child.stdout }).on('line', (l) => this.o.log(l));
      createInterface({ input: child.stderr }).on('line', (l) => this.o.log(`  [${name}] ${l}`));
      agent.child = child;
      agent.exited = new Promise((resolve) => child.once('exit', resolve));
    }
    const child = agent.child!;
    this.agents.push(agent);
    // Started while the fleet was being stopped: stop it too (it releases and deregisters).
    if (this.stopping) child.kill('SIGTERM');
    this.pids.push(child.pid!);
    this.o.log(
      `started ${name} (${kind === 'mcp' ? 'cns mcp, driven over MCP' : 'AgentSession, TypeScript API'}, pid ${child.pid})`,
    );
    child.once('exit', (code, signal) => {
      agent.stop.abort();
      if (this.stopping) return;
      const restartIn = c.leaseMs + this.o.pace.ms(4_000);
      this.o.log(
        `${name} (pid ${child.pid}) died (${signal ?? `exit code ${code}`}); restarting it in ${(restartIn / 1000).toFixed(1)} s`,
      );
      void sleep(restartIn).then(() =>
        this.launch(name, type, kind).catch((err: unknown) => {
          if (!this.stopping)
            this.o.log(`could not restart ${name}: ${err instanceof Error ? err.message : String(err)}`);
        }),
      );
    });
  }

  /** Stops every agent: stdin closed (a clean stop), then SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopping = true;
    const live = this.agents.filter(
      (a) => a.child && a.child.exitCode === null && a.child.signalCode === null,
    );
    for (const a of live) {
      a.stop.abort();
      a.child!.stdin?.end();
    }
    const all = Promise.all(live.map((a) => a.exited));
    const timeout = sleep(graceMs).then(() => 'timeout' as const);
    if ((await Promise.race([all, timeout])) === 'timeout') {
      for (const a of live)
        if (a.child!.exitCode === null && a.child!.signalCode === null) a.child!.kill('SIGKILL');
      await all;
    }
  }
}
