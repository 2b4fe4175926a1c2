/**
 * MCP over Streamable HTTP at `/mcp`: the same tools, prompts and resources as `cns mcp`, built per
 * request by the v2 SDK's `createMcpHandler` (both protocol eras), mounted on node:http with
 * `toNodeHandler`. The role comes from the token: an agent token gets the agent tools and acts as
 * its agent; supervisor and admin tokens get the supervisor tools.
 *
 * An agent here has no local process to heartbeat for it: it is registered on first use, and every
 * request counts as a heartbeat (renewing its leases). Leases must be sized for the gaps between
 * its calls. The lease tokens of the tasks it holds are kept here, per agent, across requests.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { AgentSession } from '../coordinator/agent-session.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import { createMcpServer } from '../mcp/mcp-server.js';
import type { McpContext } from '../mcp/tool-kit.js';
import { registrationFor } from './agent-routes.js';
import type { Principal } from './auth.js';

interface AgentState {
  session: AgentSession;
  claimed: McpContext['claimed'];
}

export interface McpEndpoint {
  handle(req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void>;
  close(): Promise<void>;
}

export function createMcpEndpoint(
  coordinator: Coordinator,
  options: { version: string; log: (m: string) => void; maxBodyBytes: number },
): McpEndpoint {
  const shutdown = new AbortController();
  const inflight = new Set<Promise<unknown>>();
  const agents = new Map<string, Promise<AgentState>>();

  const startAgent = async (principal: Principal): Promise<AgentState> => {
    const session = await AgentSession.start(
      coordinator,
      registrationFor(principal, { clientInfo: { front: 'mcp-http' } }),
      {
        background: false,
        onError: (err) => options.log(`cns serve: mcp agent heartbeat failed: ${String(err)}`),
      },
    );
    const claimed: AgentState['claimed'] = new Map();
    // Tasks it already holds (e.g. claimed before a server restart) stay usable by id.
    for (const id of session.agent.heldTasks) {
      const task = await coordinator.getTask(id).catch(() => null);
      if (task?.lease && task.lease.agentId === session.agent.id) {
        session.adopt({
          task,
          leaseToken: task.lease.token,
          leaseExpiresAt: task.lease.expiresAt,
          dependencies: [],
          handoff: [],
        });
        claimed.set(id, 'held');
      }
    }
    return { session, claimed };
  };

  const agentState = async (principal: Principal): Promise<AgentState> => {
    const name = principal.agent!.name;
    let state = agents.get(name);
    if (!state) {
      state = startAgent(principal);
      agents.set(name, state);
      state.catch(() => agents.delete(name));
    }
    const s = await state;
    await s.session.beat();
    if (s.session.agent.deregisteredAt !== null) {
      // Deregistered meanwhile (e.g. POST /api/agent/deregister): start over as a fresh registration.
      agents.delete(name);
      return agentState(principal);
    }
    return s;
  };

  const handler = createMcpHandler(
    async (reqCtx) => {
      const principal = (reqCtx.authInfo?.extra as { principal?: Principal } | undefined)?.principal;
      if (!principal) throw new Error('internal: MCP request without a principal');
      const state = principal.role === 'agent' ? await agentState(principal) : null;
      const ctx: McpContext = {
        coordinator,
        role: principal.role === 'agent' ? 'agent' : 'supervisor',
        session: state?.session ?? null,
        actor: principal.name,
        claimed: state?.claimed ?? new Map(),
        shutdown: shutdown.signal,
        inflight,
        log: options.log,
      };
      return createMcpServer(ctx, options.version);
    },
    {
      onerror: (err) => options.log(`cns serve: mcp: ${err.message}`),
      maxRequestBodySize: options.maxBodyBytes,
    },
  );
  const node = toNodeHandler(handler, {
    maxRequestBodySize: options.maxBodyBytes,
    onerror: (err) => options.log(`cns serve: mcp: ${err.message}`),
  });

  return {
    async handle(req, res, principal) {
      (req as IncomingMessage & { auth?: unknown }).auth = {
        token: principal.secret,
        clientId: principal.name,
        scopes: [principal.role],
        extra: { principal },
      };
      await node(req as IncomingMessage & { headers: Record<string, string | string[] | undefined> }, res);
    },
    async close() {
      shutdown.abort();
      await Promise.allSettled([...inflight]);
      await handler.close().catch(() => {});
    },
  };
}
