import { hostname } from 'node:os';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { AgentSession } from '../coordinator/agent-session.js';
import type { Actor } from '../coordinator/api-types.js';
import type { CnsApi } from '../coordinator/cns-api.js';
import { maskDatabaseUrl } from '../coordinator/database.js';
import { createMcpServer } from './mcp-server.js';
import type { McpContext, McpRole } from './tool-kit.js';

export interface RunMcpServerOptions {
  coordinator: CnsApi;
  role: McpRole;
  /** The agent to register (roles agent and both). */
  agent?: { type: string; capabilities?: string[]; name?: string };
  /**
   * Who the supervisor tools act as. Default: the agent (roles agent and both), else
   * `{ name: 'supervisor', agentId: null, role: 'supervisor' }`.
   */
  actor?: Actor;
  version: string;
  /** Where logs go. Default stderr (stdout carries only protocol messages). */
  log?: (message: string) => void;
}

export interface RunningMcpServer {
  /** The registered agent's name (roles agent and both). */
  agentName: string | null;
  /** Resolves when the server has stopped (stdin closed, SIGTERM, SIGINT or `stop()`), after cleaning up. */
  stopped: Promise<void>;
  stop(why: string): Promise<void>;
}

/** How long shutdown lets waits under way settle before releasing held tasks. */
const SETTLE_MS = 3_000;

/**
 * Runs `cns mcp` on stdio. The process is the agent's identity and liveness: it registers on
 * start, heartbeats in the background (renewing held leases) while it lives, and on a clean exit
 * (stdin closed, SIGTERM, SIGINT) releases what it holds and deregisters. Closes the coordinator
 * when stopped.
 */
export async function runMcpServer(options: RunMcpServerOptions): Promise<RunningMcpServer> {
  const { coordinator, role } = options;
  const log = options.log ?? ((m: string) => void process.stderr.write(`${m}\n`));
  const shutdown = new AbortController();

  let session: AgentSession | null = null;
  if (role !== 'supervisor') {
    if (!options.agent) throw new Error('the agent role needs an agent type');
    const { type, capabilities = [] } = options.agent;
    const name = options.agent.name ?? `${type}-${hostname()}-${process.pid}`;
    session = await AgentSession.start(
      coordinator,
      {
        name,
        type,
        capabilities,
        host: hostname(),
        pid: process.pid,
        clientInfo: { front: 'mcp', version: options.version },
      },
      { onError: (err) => log(`cns mcp: heartbeat failed: ${String(err)}`) },
    );
    log(
      `cns mcp: agent ${name} registered (type ${type}${capabilities.length ? `; ${capabilities.join(', ')}` : ''}), db ${maskDatabaseUrl(coordinator.config.db)}`,
    );
  }

  const ctx: McpContext = {
    coordinator,
    role,
    session,
    actor: options.actor ?? session?.actor ?? { name: 'supervisor', agentId: null, role: 'supervisor' },
    claimed: new Map(),
    shutdown: shutdown.signal,
    inflight: new Set(),
    log,
  };

  const handle = serveStdio(() => createMcpServer(ctx, options.version), {
    onerror: (err) => log(`cns mcp: ${err.message}`),
  });

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
  let stopping: Promise<void> | null = null;

  const stop = (why: string): Promise<void> => {
    stopping ??= (async () => {
      log(`cns mcp: stopping (${why})`);
      shutdown.abort();
      // Let waiting task_next calls return (a claim made at that instant is released below).
      await settle([...ctx.inflight], SETTLE_MS);
      if (session) {
        const held = session.held;
        try {
          await session.stop();
          log(
            `cns mcp: agent ${session.agent.name} deregistered${held.length ? `; released task(s) ${held.join(', ')}` : ''}`,
          );
        } catch (err) {
          log(`cns mcp: could not deregister cleanly (held leases will expire): ${String(err)}`);
        }
      }
      await handle.close().catch(() => {});
      await coordinator
        .close()
        .catch((err: unknown) => log(`cns mcp: closing the database failed: ${String(err)}`));
      resolveStopped();
    })();
    return stopping;
  };

  process.stdin.once('end', () => void stop('stdin closed'));
  process.stdin.once('close', () => void stop('stdin closed'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGHUP', () => void stop('SIGHUP'));

  return { agentName: session?.agent.name ?? null, stopped, stop };
}

/** Waits for the promises to settle, at most `ms` (the timer keeps the process alive meanwhile). */
async function settle(work: Promise<unknown>[], ms: number): Promise<void> {
  if (work.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled(work), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
