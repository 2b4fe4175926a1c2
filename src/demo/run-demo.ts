/**
 * `cns demo`: cns at work with no model behind it. In this process: the HTTP server and dashboard
 * (the same `startServer` as `cns serve`, with the lease reaper) over a demo database, and the
 * supervisor (demo-supervisor.ts). As child processes: the agents (demo-fleet.ts), through the
 * paths real agents use — `cns mcp` over stdio, and AgentSession. Everything runs faster or slower
 * with the speed; SIGINT / SIGTERM stop every process started, and the database is removed unless
 * kept.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openCoordinator } from '../coordinator/open-coordinator.js';
import { resolveConfig } from '../core/config.js';
import { InvalidInputError } from '../core/errors.js';
import { TASK_STATUSES } from '../core/status.js';
import { startServer, type RunningServer } from '../http/http-server.js';
import { issueToken } from '../http/tokens.js';
import { DemoFleet, type CnsCommand } from './demo-fleet.js';
import { makePace } from './demo-pace.js';
import { DemoSupervisor } from './demo-supervisor.js';

export interface DemoOptions {
  /** The database given with --db, or null for a fresh one in the OS temp folder. */
  db: string | null;
  speed: number;
  agents: number;
  keep: boolean;
  port: number;
  /** Whether --port was given (else a taken default port falls back to a free one). */
  portGiven: boolean;
  host: string;
  verbose: boolean;
  /** How to run this cns (for the `cns mcp` agents). */
  cns: CnsCommand;
  /** Writes a line to stdout. */
  print: (line: string) => void;
}

function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function clock(): string {
  return new Date().toTimeString().slice(0, 8);
}

/** Runs the demo until SIGINT or SIGTERM. */
export async function runDemo(o: DemoOptions): Promise<void> {
  const tempDir = o.db === null ? mkdtempSync(join(tmpdir(), 'cns-demo-')) : null;
  const db = o.db ?? join(tempDir!, 'demo.db');
  const removeDb = tempDir !== null && !o.keep;
  const pace = makePace(o.speed);
  const log = (message: string) => o.print(`${clock()}  ${message}`);

  // The demo's settings only: CNS_* of the environment (a user's CNS_DB, CNS_SERVER…) do not apply.
  const coordinator = await openCoordinator({
    config: resolveConfig({ db, ...pace.config }, {}),
    reaper: true,
    onError: (err) => log(`background error: ${err instanceof Error ? err.message : String(err)}`),
  });
  let server: RunningServer;
  try {
    const serve = (port: number) =>
      startServer({
        coordinator,
        host: o.host,
        port,
        log: (m) => (o.verbose ? log(`server: ${m}`) : undefined),
      });
    server = await serve(o.port).catch((err: unknown) => {
      if (!o.portGiven && err instanceof InvalidInputError && err.details.code === 'EADDRINUSE')
        return serve(0);
      throw err;
    });
  } catch (err) {
    await coordinator.close().catch(() => {});
    if (removeDb) rmSync(tempDir!, { recursive: true, force: true });
    throw err;
  }
  const { secret } = await issueToken(coordinator, { role: 'supervisor', name: 'you' });
  const where = coordinator.backend === 'sqlite' ? resolve(db) : 'the PostgreSQL database given';
  o.print(`cns demo: a simulated fleet (no LLM), speed ${o.speed}, ${o.agents} agents (pid ${process.pid})`);
  o.print('');
  o.print(`  Dashboard:  ${server.url}`);
  o.print(`  Sign in with this token:  ${secret}`);
  o.print(`  Database:   ${where}${removeDb ? ' (removed on exit; --keep keeps it)' : ''}`);
  o.print('');
  o.print('Stop with Ctrl-C.');
  o.print('');

  const stop = new AbortController();
  const fleet = new DemoFleet({ db, agents: o.agents, pace, cns: o.cns, log, verbose: o.verbose });
  let stopping: Promise<void> | null = null;
  const shutdown = (why: string) => {
    stopping ??= (async () => {
      log(`stopping (${why}): ending the agents, then the server`);
      stop.abort();
      await fleet.stop();
      const counts = await coordinator.countTasks().catch(() => null);
      await server.close().catch(() => {});
      await coordinator.close().catch(() => {});
      if (counts) {
        const shown = TASK_STATUSES.filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${s}`);
        log(`tasks: ${shown.join(', ') || 'none'}`);
      }
      if (removeDb) {
        rmSync(tempDir!, { recursive: true, force: true });
        log(`removed the demo database (${db})`);
      } else {
        const dbArg = quote(coordinator.backend === 'sqlite' ? resolve(db) : db);
        o.print('');
        o.print(`The demo database is kept: ${where}. To look at it:`);
        o.print(`  cns --db ${dbArg} status       the fleet and task counts`);
        o.print(`  cns --db ${dbArg} events       what happened, event by event`);
        o.print(`  cns --db ${dbArg} serve        the dashboard again`);
      }
    })();
    return stopping;
  };
  const done = new Promise<void>((resolveDone) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        // A second Ctrl-C: no more waiting.
        for (const p of fleet.processes()) process.kill(p.pid, 'SIGKILL');
        process.exit(130);
      }
      void shutdown(signal).finally(resolveDone);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });

  try {
    await fleet.start();
  } catch (err) {
    log(`could not start the agents: ${err instanceof Error ? err.message : String(err)}`);
    await shutdown('error');
    throw err;
  }
  void new DemoSupervisor(coordinator, { pace, log, signal: stop.signal }).run();
  await done;
}
