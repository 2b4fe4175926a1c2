/**
 * A demo agent in a process of its own, on the TypeScript API: it opens the demo database, starts
 * an `AgentSession` (registered, heartbeating, holding its leases) and runs the worker loop. Started
 * by the demo fleet (demo-fleet.ts) with its settings as one JSON argument; writes its log lines to
 * stdout. It stops cleanly (releasing what it holds) when its stdin closes — its parent stopped or
 * died — or on SIGTERM / SIGINT.
 */
import { hostname } from 'node:os';
import { AgentSession } from '../coordinator/agent-session.js';
import { openCoordinator } from '../coordinator/open-coordinator.js';
import { resolveConfig } from '../core/config.js';
import { makePace } from './demo-pace.js';
import { SessionAgentPort } from './demo-ports.js';
import { runWorker } from './demo-worker.js';

/** What the fleet passes to the process. */
export interface AgentProcessSettings {
  db: string;
  name: string;
  type: string;
  speed: number;
}

async function main(): Promise<void> {
  const settings = JSON.parse(process.argv[2] ?? '{}') as AgentProcessSettings;
  const pace = makePace(settings.speed);
  const log = (message: string) => process.stdout.write(`${message}\n`);
  const coordinator = await openCoordinator({
    config: resolveConfig({ db: settings.db, ...pace.config }),
    // The server of the demo runs the reaper.
    reaper: false,
    onError: (err) => log(`${settings.name}: background error: ${String(err)}`),
  });
  const session = await AgentSession.start(coordinator, {
    name: settings.name,
    type: settings.type,
    capabilities: [],
    host: hostname(),
    pid: process.pid,
    clientInfo: { name: 'cns demo (AgentSession)' },
  });
  const stop = new AbortController();
  let stopping: Promise<void> | null = null;
  const shutdown = () => {
    stopping ??= (async () => {
      stop.abort();
      await session.stop().catch(() => {});
      await coordinator.close().catch(() => {});
      process.exit(0);
    })();
  };
  process.stdin.on('end', shutdown);
  process.stdin.on('close', shutdown);
  process.stdin.resume();
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  // Should stdin somehow stay open, a parent that is gone still ends this process.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) shutdown();
  }, 1_000).unref();

  await runWorker(new SessionAgentPort(session, stop.signal), {
    name: settings.name,
    type: settings.type,
    pace,
    log,
    signal: stop.signal,
  });
  shutdown();
}

main().catch((err: unknown) => {
  process.stderr.write(`demo agent: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
