/**
 * The chaos run, shared by `npm run chaos` (scripts/chaos.ts: sizes from flags) and the short run in
 * `npm test` (test/chaos.test.ts).
 *
 * Real agent processes of every kind cns has work through one queue on SQLite or PostgreSQL:
 *   - "session": a TypeScript AgentSession in its own process (./session-agent.ts);
 *   - "mcp":     `cns mcp --role agent` over stdio, driven by an MCP SDK client in this process;
 *   - "remote":  `cns mcp --server URL` (agent token) over stdio, talking to a `cns serve` process;
 *   - "worker":  `cns worker --type chaos --exec CMD`: a headless agent running a shell command per task.
 * A killer SIGKILLs a random agent process every ~200 ms (most often one holding a task) and starts
 * it again, under the same name half of the time. In a second phase it also SIGKILLs `cns serve`
 * (restarted on the same port) and, when this run owns the PostgreSQL server, restarts PostgreSQL.
 * Tasks of the mix (./chaos-tasks.ts) fail once, ask questions (the supervisor, here, answers), need
 * review (the supervisor approves, or requests changes once), or are fencing probes: the agent
 * freezes past its lease (a session blocks its event loop; an MCP agent's process is SIGSTOPped) and
 * then completes late, which must be refused.
 *
 * At the end, from the database and its event log (`check`): every task final exactly once, no
 * duplicate completion, no accepted late completion, attempts within their limit, one claim event per
 * attempt, each task's status history continuous (no event missing) and ending at its status, the
 * completing agent the latest claimant, no accepted result lost, nothing stuck.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { openCoordinator } from '../../src/coordinator/open-coordinator.js';
import type { Coordinator } from '../../src/coordinator/coordinator.js';
import { isFinal, type TaskStatus } from '../../src/core/status.js';
import type { CnsEvent, Task } from '../../src/core/types.js';
import { issueToken } from '../../src/http/tokens.js';
import { cnsEntry, ROOT } from '../../test/support/mcp-harness.js';
import {
  startRestartablePostgres,
  type RestartablePostgres,
} from '../../test/support/restartable-postgres.js';
import { chaosTask, firstTry, type ChaosInput } from './chaos-tasks.js';

const SESSION_AGENT = fileURLToPath(new URL('./session-agent.ts', import.meta.url));
const SUPERVISOR = { name: 'chaos-supervisor', agentId: null, role: 'supervisor' as const };

export type AgentKind = 'session' | 'mcp' | 'remote' | 'worker';
export const AGENT_KINDS: readonly AgentKind[] = ['session', 'mcp', 'remote', 'worker'];

/**
 * The command `cns worker --exec` runs per task: it fails the first attempt of a fail-once task (a
 * non-zero exit), else works a while and prints its result. (A worker does not ask questions; a
 * fencing probe's task is plain work for it.)
 */
const WORKER_COMMAND = [
  'input=$(cat)',
  `case "$input" in *'"failOnce":true'*) if [ "$CNS_TASK_ATTEMPT" = 1 ]; then echo "failing once on purpose" >&2; exit 3; fi;; esac`,
  'sleep "$CHAOS_WORK_S"',
  'echo "done by $CNS_AGENT_NAME"',
].join('\n');

export interface ChaosOptions {
  backend: 'sqlite' | 'postgres';
  tasks: number;
  /** Agent processes running at once, spread over the kinds. */
  agents: number;
  /** How long the killer runs at most (the run ends sooner when every task is final). */
  seconds: number;
  /** Lease length. Default 1500 ms. */
  leaseMs?: number;
  /** How long an agent works on a task. Default 60 ms. */
  workMs?: number;
  /** Mean time between two kills. Default 200 ms. */
  killEveryMs?: number;
  /** Second phase: kill `cns serve` and restart PostgreSQL too. Default true. */
  serverFaults?: boolean;
  /** Use this PostgreSQL server (and schema) instead of starting a dedicated one (then PostgreSQL is never restarted). */
  postgres?: { url: string; schema?: string };
  /** The node arguments that run the cns CLI. Default: the built CLI when fresh, else the sources through tsx. */
  cli?: string[];
  /** Progress lines. */
  log?: (line: string) => void;
  seed?: number;
}

export interface ChaosSummary {
  backend: 'sqlite' | 'postgres';
  tasks: number;
  completed: number;
  failed: number;
  agents: Record<AgentKind, number>;
  kills: number;
  killsOfHolders: number;
  restarts: number;
  restartsSameName: number;
  serveKills: number;
  postgresRestarts: number;
  attempts: number;
  leasesExpired: number;
  reviews: number;
  questionsAnswered: number;
  failuresOnPurpose: number;
  probes: number;
  staleRefused: number;
  staleAccepted: number;
  /** Probes whose lease no reaper took while the agent was frozen (so nothing was stale): not a probe. */
  probesUnreaped: number;
  /** Ordinary writes refused because the lease had been lost meanwhile (a kill, a restart). */
  lostLeaseWrites: number;
  duplicates: number;
  lost: number;
  stuck: number;
  /** Processes of the run (agents, cns serve, this one's store) that died without being killed. */
  unplannedExits: number;
  /** Of those, how many died of the known PostgreSQL client race (see docs/reliability.md). */
  knownRaceExits: number;
  /** What the unplanned exits said. */
  findings: string[];
  /** Agents that could not start because PostgreSQL was down just then (started again). */
  failedStarts: number;
  events: number;
  seconds: number;
  /** Every broken invariant, in words; empty when the run is clean. */
  violations: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Tallies the agents report (by stdout line or by their drivers here). */
interface Tally {
  ok: Map<number, number>;
  staleRefused: number;
  staleAccepted: number[];
  lost: number;
  probes: number;
  failed: number;
}

/**
 * A known bug (reported, not fixed here: src/store/postgres/ is not this suite's to change): a
 * pooled pg client checked out for a transaction has no 'error' listener between its queries, so a
 * PostgreSQL shutdown arriving in that gap ("terminating connection due to administrator command",
 * or "Connection terminated unexpectedly") is an unhandled 'error' event that ends the process.
 */
const KNOWN_PG_RACE =
  /57P01|terminating connection due to administrator command|Emitted 'error' event on Client instance|Connection terminated unexpectedly/;

interface RunningAgent {
  kind: AgentKind;
  name: string;
  pid: number;
  /** Set when the killer (or the end of the run) killed it: any other exit is unplanned. */
  killed?: boolean;
  startedAt?: number;
  /** A fencing probe is under way: the killer leaves this agent alone. */
  probing: boolean;
  kill(): void;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosSummary> {
  const log = options.log ?? (() => undefined);
  const leaseMs = options.leaseMs ?? 1500;
  const cli = options.cli ?? cnsEntry();
  const killEveryMs = options.killEveryMs ?? 200;
  const workMs = options.workMs ?? 60;
  const serverFaults = options.serverFaults ?? true;
  let seed = options.seed ?? 0xc4a05;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return ((seed >>> 8) % n) as number;
  };
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'cns-chaos-'));
  let pg: RestartablePostgres | null = null;
  let db: string;
  let schema: string | undefined;
  if (options.backend === 'sqlite') db = join(dir, 'chaos.db');
  else if (options.postgres) ({ url: db, schema } = options.postgres);
  else {
    pg = await startRestartablePostgres();
    db = pg.url;
  }
  const env: Record<string, string> = {
    ...getDefaultEnvironment(),
    PATH: process.env.PATH ?? '',
    CNS_DB: db,
    ...(schema ? { CNS_PG_SCHEMA: schema } : {}),
    CNS_LEASE_MS: String(leaseMs),
    CNS_HEARTBEAT_MS: String(Math.floor(leaseMs / 3)),
    CNS_REAPER_INTERVAL_MS: '100',
    CNS_RETRY_BASE_MS: '5',
    CNS_RETRY_MAX_MS: '50',
    CNS_MAX_ATTEMPTS: '100',
    CNS_PREFER_ASKER_MS: '200',
    CNS_OFFLINE_AFTER_MS: String(leaseMs),
    CHAOS_WORK_MS: String(workMs),
    CHAOS_WORK_S: (workMs / 1000).toFixed(3),
  };
  const sup = await openCoordinator({
    db,
    schema,
    leaseMs,
    reaperIntervalMs: 100,
    retryBaseMs: 5,
    retryMaxMs: 50,
    offlineAfterMs: leaseMs,
    preferAskerMs: 200,
    maxAttempts: 100,
    onError: () => undefined,
  });
  const crash = { unplanned: 0, knownRace: 0, findings: [] as string[], violations: [] as string[] };
  const tailOf = (stream: NodeJS.ReadableStream | null | undefined): (() => string) => {
    let tail = '';
    stream?.on('data', (d: Buffer) => (tail = (tail + d.toString()).slice(-4000)));
    return () => tail;
  };
  const unplanned = (what: string, tail: string) => {
    if (stopping) return;
    crash.unplanned++;
    const known = KNOWN_PG_RACE.test(tail);
    if (known) crash.knownRace++;
    const lines = tail.trim().split('\n');
    const errors = lines.filter((l) => /error|code:|severity|throw/i.test(l) && !/^\s+at /.test(l));
    const said = (errors.length > 0 ? errors.slice(0, 6) : lines.slice(-3)).join(' | ').slice(0, 600);
    const line = `${what} exited on its own${known ? ' (the known PostgreSQL client race)' : ''}: ${said}`;
    if (crash.findings.length < 30) crash.findings.push(line);
    // Since the store gives each checked-out client an error listener, no exit is expected: each is a
    // violation (the known race is still named, to recognise a regression).
    crash.violations.push(line);
    log(line);
  };
  // This process's own store met the same race before the fix: counted (a violation), not fatal.
  const onUncaught = (err: unknown) => {
    const text =
      err instanceof Error ? `${err.message} ${(err as { code?: string }).code ?? ''}` : String(err);
    if (!KNOWN_PG_RACE.test(text)) {
      console.error(err);
      process.exit(1);
    }
    unplanned("the supervisor's store (this process: an unhandled pg client error)", text);
  };
  process.on('uncaughtException', onUncaught);
  const tally: Tally = { ok: new Map(), staleRefused: 0, staleAccepted: [], lost: 0, probes: 0, failed: 0 };
  const agents: RunningAgent[] = [];
  const children = new Set<ChildProcess>();
  const counters = {
    kills: 0,
    killsOfHolders: 0,
    restarts: 0,
    restartsSameName: 0,
    serveKills: 0,
    postgresRestarts: 0,
    reviews: 0,
    answered: 0,
    /** Agents that could not start because PostgreSQL was restarting (started again). */
    failedStarts: 0,
  };
  let stopping = false;
  // Interrupted (Ctrl-C): no process of the run outlives it.
  const onSignal = () => {
    for (const a of agents) a.kill();
    for (const c of children) c.kill('SIGKILL');
    void pg?.close().finally(() => process.exit(130));
    if (!pg) process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let serve: ChildProcess | null = null;
  const servePort = await freePort();
  const serveUrl = `http://127.0.0.1:${servePort}`;
  const tokens = new Map<string, string>();

  try {
    // ── the tasks ──
    const taskIds: number[] = [];
    for (let i = 0; i < options.tasks; i += 500) {
      const batch = Array.from({ length: Math.min(500, options.tasks - i) }, (_, k) => {
        const spec = chaosTask(i + k);
        return {
          type: 'chaos',
          title: spec.title,
          review: spec.review,
          input: { ...spec.input },
          maxAttempts: 50,
        };
      });
      const res = await sup.createTasks({ actor: SUPERVISOR, tasks: batch });
      taskIds.push(...res.tasks.map((t) => t.id));
    }
    const inputOf = new Map<number, ChaosInput>();
    for (let i = 0; i < taskIds.length; i++) inputOf.set(taskIds[i]!, chaosTask(i).input);
    log(`${options.backend}: ${options.tasks} tasks created`);

    // ── cns serve ──
    const startServe = async (): Promise<void> => {
      const child = spawn(process.execPath, [...cli, 'serve', '--port', String(servePort)], {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.add(child);
      const tail = tailOf(child.stderr);
      child.on('exit', () => {
        children.delete(child);
        if (serve !== child || stopping) return;
        serve = null;
        unplanned('cns serve', tail());
        serveRestarting = restartServe(100);
      });
      const lines = createInterface({ input: child.stdout! });
      await new Promise<void>((resolve, reject) => {
        const onExit = () => reject(new Error('cns serve exited before it listened'));
        child.once('exit', onExit);
        lines.on('line', (l) => {
          if (l.includes('listening on')) {
            child.off('exit', onExit);
            resolve();
          }
        });
      });
      serve = child;
    };
    const restartServe = async (downMs: number): Promise<void> => {
      await sleep(downMs);
      while (!stopping) {
        try {
          await startServe();
          return;
        } catch (err) {
          log(`cns serve did not restart (trying again): ${String(err)}`);
          await sleep(200);
        }
      }
    };
    const kinds = AGENT_KINDS;
    await startServe();

    const tokenFor = async (name: string): Promise<string> => {
      let secret = tokens.get(name);
      if (!secret) {
        secret = (await issueToken(sup, { role: 'agent', name, type: 'chaos' })).secret;
        tokens.set(name, secret);
      }
      return secret;
    };

    // ── the agents ──
    /** An agent process spawned here: killed on purpose, or replaced when it dies on its own. */
    const trackChild = (kind: AgentKind, name: string, child: ChildProcess): RunningAgent => {
      children.add(child);
      const tail = tailOf(child.stderr);
      const agent: RunningAgent = {
        kind,
        name,
        pid: child.pid!,
        probing: false,
        startedAt: Date.now(),
        kill: () => {
          agent.killed = true;
          child.kill('SIGKILL');
        },
      };
      child.on('exit', () => {
        children.delete(child);
        if (!agent.killed) replaceCrashed(agent, tail());
      });
      return agent;
    };

    const startAgent = async (kind: AgentKind, name: string): Promise<RunningAgent> => {
      if (kind === 'session') {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', SESSION_AGENT, db, name, ...(schema ? [schema] : [])],
          { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] },
        );
        child.stdin!.on('error', () => undefined);
        const agent = trackChild(kind, name, child);
        createInterface({ input: child.stdout! }).on('line', (line) => {
          let o: Record<string, number>;
          try {
            o = JSON.parse(line) as Record<string, number>;
          } catch {
            return;
          }
          if (o.ok !== undefined) tally.ok.set(o.ok, (tally.ok.get(o.ok) ?? 0) + 1);
          if (o.stalling !== undefined) {
            agent.probing = true;
            tally.probes++;
          }
          if (o.staleRefused !== undefined) {
            agent.probing = false;
            tally.staleRefused++;
          }
          if (o.staleAccepted !== undefined) {
            agent.probing = false;
            tally.staleAccepted.push(o.staleAccepted);
          }
          if (o.lost !== undefined) tally.lost++;
        });
        return agent;
      }
      if (kind === 'worker') {
        const child = spawn(
          process.execPath,
          [...cli, 'worker', '--type', 'chaos', '--name', name, '--exec', WORKER_COMMAND],
          { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] },
        );
        return trackChild(kind, name, child);
      }
      const args =
        kind === 'mcp'
          ? [...cli, 'mcp', '--role', 'agent', '--type', 'chaos', '--name', name]
          : [...cli, 'mcp', '--server', serveUrl];
      const transport = new StdioClientTransport({
        command: process.execPath,
        args,
        env: kind === 'remote' ? { ...env, CNS_TOKEN: await tokenFor(name) } : env,
        stderr: 'pipe',
        cwd: ROOT,
      });
      const tail = tailOf(transport.stderr as NodeJS.ReadableStream | null);
      const client = new Client({ name: `chaos-${kind}`, version: '1.0.0' });
      await client.connect(transport);
      const pid = transport.pid!;
      let dead = false;
      const agent: RunningAgent = {
        kind,
        name,
        pid,
        probing: false,
        kill: () => {
          dead = true;
          agent.killed = true;
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone already */
          }
          void client.close().catch(() => undefined);
        },
      };
      client.onclose = () => {
        if (dead) return;
        dead = true;
        replaceCrashed(agent, tail());
      };
      void driveMcpAgent(client, agent, () => dead || stopping, tally, leaseMs, workMs);
      return agent;
    };

    let gen = 0;
    const restarting = new Set<Promise<void>>();
    /**
     * An agent that died on its own is recorded and started again under its name. One that could
     * not start because the database was down (restarted just then) is no crash: it starts again.
     */
    const replaceCrashed = (agent: RunningAgent, tail: string) => {
      if (stopping) return;
      // A clean refusal to start ("cns: cannot reach PostgreSQL …", the reason may quote the
      // driver's "Connection terminated unexpectedly"), not an unhandled error event.
      const failedStart =
        Date.now() - (agent.startedAt ?? 0) < 10_000 &&
        /cannot reach PostgreSQL/.test(tail) &&
        !/Emitted 'error' event|Unhandled|node:events/.test(tail);
      if (failedStart) counters.failedStarts++;
      else unplanned(`${agent.kind} agent ${agent.name}`, tail);
      const i = agents.indexOf(agent);
      if (i < 0) return;
      agents.splice(i, 1);
      const p: Promise<void> = sleep(failedStart ? 300 : 0)
        .then(() => restart(agent.kind, agent.name, true))
        .finally(() => restarting.delete(p));
      restarting.add(p);
    };
    const restart = async (kind: AgentKind, name: string, sameName: boolean): Promise<void> => {
      for (let tries = 0; !stopping; tries++) {
        try {
          const agent = await startAgent(kind, name);
          if (stopping) agent.kill();
          else agents.push(agent);
          counters.restarts++;
          if (sameName) counters.restartsSameName++;
          return;
        } catch (err) {
          if (tries % 10 === 0) log(`could not restart ${kind} agent ${name} (trying again): ${String(err)}`);
          await sleep(300);
        }
      }
    };
    const perKind = Object.fromEntries(kinds.map((k) => [k, 0])) as Record<AgentKind, number>;
    for (let i = 0; i < options.agents; i++) {
      const kind = kinds[i % kinds.length]!;
      perKind[kind]++;
      agents.push(await startAgent(kind, `${kind}-${i}`));
    }
    log(
      `${options.backend}: ${options.agents} agents started (${kinds.map((k) => `${perKind[k]} ${k}`).join(', ')})`,
    );

    // ── the supervisor: reviews and answers ──
    const supervise = async () => {
      while (!stopping) {
        try {
          const review = await sup.listTasks({ status: ['awaiting_review'], type: 'chaos', limit: 100 });
          for (const t of review.items) {
            const changes = inputOf.get(t.id)?.changesOnce && t.reviewRounds === 0;
            await sup
              .review(t.id, {
                reviewer: SUPERVISOR,
                approve: !changes,
                ...(changes ? { feedback: 'one more pass, please' } : {}),
              })
              .then(() => counters.reviews++)
              .catch(() => undefined);
          }
          const questions = await sup.listQuestions({ status: ['open'] });
          for (const q of questions) {
            await sup
              .answer(q.id, { answer: 'left', by: SUPERVISOR })
              .then(() => counters.answered++)
              .catch(() => undefined);
          }
        } catch {
          /* the database may be restarting */
        }
        await sleep(50);
      }
    };
    const supervising = supervise();

    // ── the killer ──
    const chaosStarted = Date.now();
    const chaosUntil = chaosStarted + options.seconds * 1000;
    const phase2At = chaosStarted + (options.seconds * 1000) / 2;
    let phase2 = false;
    let nextServeKill = 0;
    let nextPgRestart = 0;
    let pgRestarting: Promise<void> | null = null;
    let serveRestarting: Promise<void> | null = null;
    let finals = 0;
    let lastFinals = -1;
    let lastMove = Date.now();
    let lastLog = Date.now();
    const countFinals = async () => {
      const c = await sup.countTasks();
      return c.completed + c.failed + c.cancelled;
    };
    for (;;) {
      try {
        finals = await countFinals();
      } catch {
        /* restarting */
      }
      if (finals >= options.tasks) break;
      if (finals !== lastFinals) {
        lastFinals = finals;
        lastMove = Date.now();
      }
      if (Date.now() - lastMove > 30_000) {
        log(`${options.backend}: nothing moved for 30 s; stopping`);
        break;
      }
      if (Date.now() - lastLog > 5_000) {
        lastLog = Date.now();
        log(
          `${options.backend}: ${finals}/${options.tasks} final, ${counters.kills} kills, ` +
            `${counters.serveKills} serve kills, ${counters.postgresRestarts} PostgreSQL restarts`,
        );
      }
      await sleep(killEveryMs / 2 + rand(killEveryMs));
      const now = Date.now();
      if (now >= chaosUntil) continue;
      if (!phase2 && (now >= phase2At || finals >= options.tasks / 3)) {
        phase2 = true;
        nextServeKill = now;
        nextPgRestart = now + 1000;
        log(`${options.backend}: second phase (cns serve killed, PostgreSQL restarted) at ${finals} final`);
      }
      if (serverFaults && phase2 && now >= nextServeKill && serve) {
        nextServeKill = now + 3000 + rand(2000);
        (serve as ChildProcess).kill('SIGKILL');
        serve = null;
        counters.serveKills++;
        // Restarted in the background, on the same port, after a short outage.
        serveRestarting = restartServe(100 + rand(400));
        continue;
      }
      if (serverFaults && phase2 && pg && now >= nextPgRestart && !pgRestarting) {
        nextPgRestart = now + 6000 + rand(3000);
        counters.postgresRestarts++;
        pgRestarting = pg.restart(200 + rand(800)).finally(() => (pgRestarting = null));
        continue;
      }
      let holders: Set<number>;
      try {
        const live = await sup.listAgents();
        holders = new Set(live.filter((a) => a.heldTasks.length > 0).map((a) => a.pid ?? -1));
      } catch {
        holders = new Set();
      }
      const candidates = agents.filter((a) => !a.probing);
      if (candidates.length === 0) continue;
      const holding = candidates.filter((a) => holders.has(a.pid));
      const victim =
        holding.length > 0 && rand(10) < 7
          ? holding[rand(holding.length)]!
          : candidates[rand(candidates.length)]!;
      if (holders.has(victim.pid)) counters.killsOfHolders++;
      victim.kill();
      counters.kills++;
      const sameName = rand(2) === 0;
      const name = sameName ? victim.name : `${victim.kind}-${agents.length + ++gen}`;
      // Restarted in the background (an MCP agent takes a while to start): the killer goes on.
      agents.splice(agents.indexOf(victim), 1);
      const p: Promise<void> = restart(victim.kind, name, sameName).finally(() => restarting.delete(p));
      restarting.add(p);
    }
    await pgRestarting;
    await serveRestarting;
    stopping = true;
    await Promise.all(restarting);
    for (const a of agents) a.kill();
    await supervising;
    for (const c of children) c.kill('SIGKILL');

    // ── the checks ──
    const summary = await check(sup, taskIds, tally, options.backend);
    return {
      ...summary,
      violations: [...summary.violations, ...crash.violations],
      unplannedExits: crash.unplanned,
      knownRaceExits: crash.knownRace,
      findings: crash.findings,
      failedStarts: counters.failedStarts,
      agents: perKind,
      kills: counters.kills,
      killsOfHolders: counters.killsOfHolders,
      restarts: counters.restarts,
      restartsSameName: counters.restartsSameName,
      serveKills: counters.serveKills,
      postgresRestarts: counters.postgresRestarts,
      reviews: counters.reviews,
      questionsAnswered: counters.answered,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('uncaughtException', onUncaught);
    process.off('SIGTERM', onSignal);
    stopping = true;
    for (const a of agents) a.kill();
    for (const c of children) c.kill('SIGKILL');
    await sup.close().catch(() => undefined);
    await pg?.close().catch(() => undefined);
    if (process.env.CHAOS_KEEP_DIR) log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

interface McpTaskView {
  id: number;
  input: ChaosInput | null;
  handoff: { outcome: string }[];
  handoffOmitted: number;
  questions: unknown[];
}

/** One MCP agent's work loop (the model's part, played by this process). */
async function driveMcpAgent(
  client: Client,
  agent: RunningAgent,
  done: () => boolean,
  tally: Tally,
  leaseMs: number,
  workMs: number,
): Promise<void> {
  const callTool = async (name: string, args: Record<string, unknown>) => {
    const res = await client.callTool({ name, arguments: args }, { timeout: 60_000 });
    return {
      error: res.isError ? textOf(res) : null,
      data: res.structuredContent as Record<string, unknown>,
    };
  };
  while (!done()) {
    try {
      const next = await callTool('task_next', { wait_seconds: 1 });
      if (next.error) {
        await sleep(100); // the server or database may be restarting
        continue;
      }
      const task = next.data.task as McpTaskView | null;
      if (!task) continue;
      const handoff = task.handoffOmitted > 0 ? [{ outcome: 'expired' }, ...task.handoff] : task.handoff;
      const todo = firstTry(task.input ?? {}, handoff, task.questions.length);
      await callTool('task_update', { task_id: task.id, note: `working (${agent.name})`, percent: 50 });
      if (todo === 'stall') {
        // Freeze the agent's process past its lease: no heartbeat, another process reaps the lease.
        agent.probing = true;
        tally.probes++;
        process.kill(agent.pid, 'SIGSTOP');
        await sleep(leaseMs * 2 + 500);
        process.kill(agent.pid, 'SIGCONT');
        const late = await callTool('task_complete', { task_id: task.id, result: `late, by ${agent.name}` });
        agent.probing = false;
        if (late.error) tally.staleRefused++;
        else tally.staleAccepted.push(task.id);
        continue;
      }
      if (todo === 'fail') {
        await callTool('task_fail', { task_id: task.id, error: `failing once on purpose (${agent.name})` });
        continue;
      }
      if (todo === 'ask') {
        await callTool('task_ask', {
          task_id: task.id,
          question: `which way, ${agent.name}?`,
          choices: ['left', 'right'],
        });
        continue;
      }
      await sleep(workMs);
      const res = await callTool('task_complete', { task_id: task.id, result: `done by ${agent.name}` });
      if (!res.error) tally.ok.set(task.id, (tally.ok.get(task.id) ?? 0) + 1);
      else if (/lease/i.test(res.error)) tally.lost++;
    } catch {
      if (done()) return;
      await sleep(100);
    }
  }
}

function textOf(res: { content?: unknown }): string {
  return ((res.content ?? []) as { type: string; text?: string }[])
    .filter((c) => c.type === 'text')
    .map((c) => c.text ?? '')
    .join('\n');
}

async function allEvents(cns: Coordinator): Promise<CnsEvent[]> {
  const out: CnsEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await cns.listEvents({ after, limit: 1000 });
    out.push(...page);
    if (page.length < 1000) return out;
    after = page[page.length - 1]!.id;
  }
}

async function allTasks(cns: Coordinator): Promise<Task[]> {
  const out: Task[] = [];
  let after: number | undefined;
  for (;;) {
    const page = await cns.listTasks({ type: 'chaos', limit: 500, after });
    out.push(...page.items);
    if (page.nextCursor === null) return out;
    after = page.nextCursor;
  }
}

/** The end checks, from the database and the event log. */
export async function check(
  cns: Coordinator,
  taskIds: number[],
  tally: Tally,
  backend: 'sqlite' | 'postgres',
): Promise<
  Omit<
    ChaosSummary,
    | 'unplannedExits'
    | 'knownRaceExits'
    | 'findings'
    | 'failedStarts'
    | 'agents'
    | 'kills'
    | 'killsOfHolders'
    | 'restarts'
    | 'restartsSameName'
    | 'serveKills'
    | 'postgresRestarts'
    | 'reviews'
    | 'questionsAnswered'
    | 'seconds'
  >
> {
  const violations: string[] = [];
  const tasks = await allTasks(cns);
  const events = await allEvents(cns);
  const byTask = new Map<number, CnsEvent[]>();
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (i > 0 && e.id <= events[i - 1]!.id) violations.push(`event ${e.id} out of order`);
    if (e.taskId !== null) {
      let list = byTask.get(e.taskId);
      if (!list) byTask.set(e.taskId, (list = []));
      list.push(e);
    }
  }
  const found = new Set(tasks.map((t) => t.id));
  let lost = taskIds.filter((id) => !found.has(id)).length;
  if (lost > 0) violations.push(`${lost} tasks missing from the database`);
  let completed = 0;
  let failed = 0;
  let duplicates = 0;
  let stuck = 0;
  let attempts = 0;
  let claimsTotal = 0;
  let expired = 0;
  const say = (t: Task, what: string) => {
    if (violations.length < 50) violations.push(`task ${t.id}: ${what}`);
  };
  for (const t of tasks) {
    if (t.status === 'completed') completed++;
    if (t.status === 'failed') failed++;
    if (!isFinal(t.status)) {
      stuck++;
      const why = await cns.explain(t.id).catch(() => null);
      say(t, `not final (${t.status}, ${t.attempts} attempts): ${why?.summary ?? '?'}`);
    }
    if (t.attempts > t.maxAttempts) say(t, `attempts ${t.attempts} > max ${t.maxAttempts}`);
    const history = byTask.get(t.id) ?? [];
    // The status history: each change starts where the previous one ended (no event missing).
    let status: TaskStatus | null = null;
    let finals = 0;
    let completions = 0;
    let holder: number | null = null;
    let claims = 0;
    for (const e of history) {
      if (e.kind === 'task.claimed') {
        claims++;
        holder = e.agentId;
      }
      if (e.kind === 'task.expired') expired++;
      if ((e.kind === 'task.completed' || e.kind === 'task.submitted') && e.fromStatus === 'in_progress') {
        if (e.agentId !== holder)
          say(t, `event ${e.id}: completed by agent ${e.agentId}, not the latest claimant ${holder}`);
      }
      if (e.toStatus === null || (e.fromStatus !== null && e.fromStatus === e.toStatus)) continue;
      if (e.fromStatus !== status)
        say(t, `event ${e.id} (${e.kind}) starts from ${e.fromStatus}, the history is at ${status}`);
      status = e.toStatus;
      if (isFinal(status)) finals++;
      if (status === 'completed') completions++;
    }
    if (status !== t.status) say(t, `its events end at ${status}, the task is ${t.status}`);
    if (isFinal(t.status) && finals !== 1) say(t, `reached a final status ${finals} times`);
    if (completions > 1) {
      duplicates++;
      say(t, `completed ${completions} times`);
    }
    // An accepted completion is never lost: the task ends completed.
    if ((tally.ok.get(t.id) ?? 0) > 0 && t.status !== 'completed') {
      lost++;
      say(t, `a completion was accepted but the task is ${t.status}`);
    }
    const detail = await cns.getTaskDetail(t.id, { eventLimit: 1 });
    attempts += detail.attempts.length;
    claimsTotal += claims;
    if (claims !== detail.attempts.length)
      say(t, `${claims} claim events for ${detail.attempts.length} attempts`);
    if (detail.attempts.filter((a) => a.outcome === 'running').length > 0 && isFinal(t.status))
      say(t, 'a final task with an attempt still running');
  }
  // A late completion accepted is a fencing failure only if the frozen agent's lease had been taken
  // away first (expired by a reaper, the task claimed again). If no reaper got to it while the agent
  // was frozen (PostgreSQL or every reaper was down just then), the lease was still the agent's —
  // writes are guarded by status and token, and its heartbeat renewed it on waking — so the probe
  // did not happen: counted apart.
  let unreaped = 0;
  const staleAccepted: number[] = [];
  for (const id of tally.staleAccepted) {
    const history = byTask.get(id) ?? [];
    const done = history.findIndex(
      (e) => (e.kind === 'task.completed' || e.kind === 'task.submitted') && e.fromStatus === 'in_progress',
    );
    const before = done < 0 ? history : history.slice(0, done);
    const taken =
      before.some((e) => e.kind === 'task.expired') ||
      before.filter((e) => e.kind === 'task.claimed').length > 1;
    if (taken) staleAccepted.push(id);
    else unreaped++;
  }
  if (staleAccepted.length > 0)
    violations.push(
      `late completions accepted after the lease was taken away: tasks ${staleAccepted.join(', ')}`,
    );
  void backend;
  return {
    backend,
    tasks: tasks.length,
    completed,
    failed,
    attempts,
    leasesExpired: expired,
    failuresOnPurpose: tasks.filter((t) => (t.input as ChaosInput | null)?.failOnce).length,
    probes: tally.probes,
    staleRefused: tally.staleRefused,
    staleAccepted: staleAccepted.length,
    probesUnreaped: unreaped,
    lostLeaseWrites: tally.lost,
    duplicates,
    lost,
    stuck,
    events: events.length,
    violations: claimsTotal === attempts ? violations : [...violations, 'claim events differ from attempts'],
  };
}

/** The summary as a table (one row per backend). */
export function formatSummaries(rows: ChaosSummary[]): string {
  const cols: [string, (s: ChaosSummary) => string | number][] = [
    ['backend', (s) => s.backend],
    ['tasks', (s) => s.tasks],
    ['completed', (s) => s.completed],
    ['agents', (s) => AGENT_KINDS.map((k) => `${s.agents[k]} ${k}`).join('/')],
    ['kills', (s) => `${s.kills} (${s.killsOfHolders} holding)`],
    ['restarts', (s) => `${s.restarts} (${s.restartsSameName} same name)`],
    ['serve kills', (s) => s.serveKills],
    ['pg restarts', (s) => (s.backend === 'postgres' ? s.postgresRestarts : '-')],
    ['attempts', (s) => s.attempts],
    ['expired', (s) => s.leasesExpired],
    [
      'stale refused',
      (s) =>
        `${s.staleRefused}/${s.probes} probes${s.probesUnreaped ? ` (${s.probesUnreaped} unreaped)` : ''}`,
    ],
    ['stale accepted', (s) => s.staleAccepted],
    ['lease-lost writes', (s) => s.lostLeaseWrites],
    ['duplicates', (s) => s.duplicates],
    ['lost', (s) => s.lost],
    ['stuck', (s) => s.stuck],
    ['crashes', (s) => `${s.unplannedExits} (${s.knownRaceExits} pg race)`],
    ['events', (s) => s.events],
    ['seconds', (s) => s.seconds],
  ];
  const cells = [cols.map(([h]) => h), ...rows.map((r) => cols.map(([, f]) => String(f(r))))];
  const widths = cols.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n');
}
