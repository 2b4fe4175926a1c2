/**
 * MCP over Streamable HTTP at `/mcp`: the same tools, prompts and resources as `cns mcp`, built per
 * request by the v2 SDK's `createMcpHandler` (both protocol eras), mounted on node:http with
 * `toNodeHandler`. The role comes from the token: an agent token gets the agent tools and acts as
 * its agent; supervisor and admin tokens get the supervisor tools.
 *
 * An agent here has no local process to heartbeat for it: it is registered on first use, and every
 * request counts as a heartbeat (renewing its session's leases). Leases must be sized for the gaps
 * between its calls. One session per agent lives here, holding its lease tokens across requests.
 *
 * Cancellation: each POST is served by a fresh server, so a 2025-era `notifications/cancelled`
 * (its own POST) would reach none that runs the call it names. The JSON-RPC requests of every POST
 * are therefore registered here, by token and id, while the POST is served; a cancel from the same
 * token aborts that POST's `ctx.shutdown` (linked with the server's), which ends a waiting
 * `task_next` or `task_wait`; so does the POST's connection closing before its answer. (A 2026-07-28
 * client cancels by closing the call's own POST; the SDK also aborts `mcpReq.signal` then, in both
 * eras.) A cancel from another token aborts nothing; the requests of one POST (a batch) share one
 * signal.
 *
 * A refused request changes nothing: the agent's registration and heartbeat (writes) happen only
 * once the SDK has accepted the request. The 2026-07-28 path calls the server factory after its
 * checks; the 2025-era (legacy) fallback calls it before its transport checks the request
 * (Accept, Content-Type, size, JSON, JSON-RPC), so there the server is built only when the
 * transport delivers the request's first message (`deferredServer`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createMcpHandler,
  isJsonContentType,
  isJSONRPCRequest,
  type AuthInfo,
  type JSONRPCMessage,
  type McpServer,
  type MessageExtraInfo,
  type Transport,
} from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { AgentSession } from '../coordinator/agent-session.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import { createMcpServer } from '../mcp/mcp-server.js';
import { linkedSignal, type McpContext } from '../mcp/tool-kit.js';
import { registrationFor } from './agent-routes.js';
import type { Principal } from './auth.js';

interface AgentState {
  session: AgentSession;
  claimed: McpContext['claimed'];
}

/** One POST to /mcp, as passed to the SDK (in the auth info's `extra`) and back to the factory. */
interface Exchange {
  principal: Principal;
  /** Aborted by a cancel, from the same token, of a request this POST carries, or a disconnect. */
  cancel: AbortController;
  /** The tools' `ctx.shutdown`: the server's shutdown or this POST's cancel. */
  signal: AbortSignal;
  /** Its keys in the registry of requests in flight. */
  keys: string[];
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
    // Tasks an earlier session of this agent held (before a restart of this server) are not taken
    // over: a lease belongs to the session that claimed it. They expire and go back to the queue
    // with their handoff, and come back through task_next.
    const claimed: AgentState['claimed'] = new Map();
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
      const exchange = exchangeOf(reqCtx.authInfo);
      if (!exchange) throw new Error('internal: MCP request without a principal');
      const build = () => buildServer(exchange);
      // The legacy fallback only connects and closes what the factory returns (see deferredServer).
      return reqCtx.era === 'legacy' ? (deferredServer(build) as unknown as McpServer) : build();
    },
    {
      onerror: (err) => options.log(`cns serve: mcp: ${err.message}`),
      maxRequestBodySize: options.maxBodyBytes,
    },
  );

  /** The MCP server of one exchange; an agent token's agent is registered / heartbeated here. */
  async function buildServer(exchange: Exchange): Promise<McpServer> {
    const { principal } = exchange;
    const state = principal.role === 'agent' ? await agentState(principal) : null;
    const ctx: McpContext = {
      coordinator,
      role: principal.role === 'agent' ? 'agent' : 'supervisor',
      session: state?.session ?? null,
      // An agent token acts as its session's agent; a supervisor or admin token as the request's
      // actor (auth.ts).
      actor: state?.session.actor ?? principal.actor,
      claimed: state?.claimed ?? new Map(),
      shutdown: exchange.signal,
      inflight,
      log: options.log,
    };
    return createMcpServer(ctx, options.version);
  }
  // Requests in flight, by token and JSON-RPC id (ids are only unique per client: two clients of
  // one token may both have a call 5 in flight, and a cancel of 5 then aborts both).
  const inFlight = new Map<string, Set<AbortController>>();
  const keyOf = (principal: Principal, id: string | number) => `${principal.token.id}:${JSON.stringify(id)}`;

  /** Registers the requests of a POST body and applies its cancels (a batch may mix both). */
  const track = (exchange: Exchange, body: string): void => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return; // The SDK answers malformed JSON.
    }
    for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
      if (typeof m !== 'object' || m === null || typeof (m as { method?: unknown }).method !== 'string')
        continue;
      const { id, method, params } = m as { id?: unknown; method: string; params?: { requestId?: unknown } };
      if (typeof id === 'string' || typeof id === 'number') {
        const key = keyOf(exchange.principal, id);
        let set = inFlight.get(key);
        if (!set) inFlight.set(key, (set = new Set()));
        set.add(exchange.cancel);
        exchange.keys.push(key);
      } else if (method === 'notifications/cancelled') {
        const target = params?.requestId;
        if (typeof target !== 'string' && typeof target !== 'number') continue;
        for (const c of inFlight.get(keyOf(exchange.principal, target)) ?? []) c.abort();
      }
    }
  };

  const untrack = (exchange: Exchange): void => {
    for (const key of exchange.keys) {
      const set = inFlight.get(key);
      set?.delete(exchange.cancel);
      if (set?.size === 0) inFlight.delete(key);
    }
  };

  // The body is read (and bounded) by toNodeHandler; a clone of it is looked at before the SDK
  // reads it, so that the requests are registered before they run. The request's signal fires when
  // the client goes away before the answer is written: that ends the waits too.
  const node = toNodeHandler(
    {
      fetch: async (request, opts) => {
        const exchange = exchangeOf(opts?.authInfo);
        if (exchange) {
          request.signal.addEventListener('abort', () => exchange.cancel.abort(), { once: true });
          if (request.method === 'POST' && isJsonContentType(request.headers.get('content-type')))
            track(exchange, await request.clone().text());
        }
        return handler.fetch(request, opts);
      },
    },
    {
      maxRequestBodySize: options.maxBodyBytes,
      onerror: (err) => options.log(`cns serve: mcp: ${err.message}`),
    },
  );

  return {
    async handle(req, res, principal) {
      const cancel = new AbortController();
      const link = linkedSignal(shutdown.signal, cancel.signal);
      const exchange: Exchange = { principal, cancel, signal: link.signal, keys: [] };
      (req as IncomingMessage & { auth?: AuthInfo }).auth = {
        token: principal.secret,
        clientId: principal.name,
        scopes: [principal.role],
        extra: { exchange },
      };
      try {
        await node(req as IncomingMessage & { headers: Record<string, string | string[] | undefined> }, res);
      } finally {
        untrack(exchange);
        link.dispose();
      }
    },
    async close() {
      shutdown.abort();
      await Promise.allSettled([...inflight]);
      await handler.close().catch(() => {});
    },
  };
}

/**
 * What the legacy fallback of the SDK is given in place of a server: it connects it to a transport
 * and closes it. The server is built (`build`: registration, heartbeat) only when the transport
 * delivers the first message — that is, once the transport has accepted the request — and then
 * connected to the same transport, which delivers the messages received meanwhile (those of one
 * POST arrive together) in order. A build that fails answers each request with an internal error.
 */
function deferredServer(build: () => Promise<McpServer>): Pick<McpServer, 'connect' | 'close'> {
  let server: McpServer | null = null;
  let closed = false;
  return {
    async connect(transport: Transport): Promise<void> {
      const waiting: [JSONRPCMessage, MessageExtraInfo | undefined][] = [];
      let building: Promise<void> | null = null;
      transport.onmessage = (message, extra) => {
        waiting.push([message, extra]);
        building ??= (async () => {
          try {
            const built = await build();
            if (closed) {
              await built.close();
              return;
            }
            server = built;
            await built.connect(transport); // the transport's onmessage is the server's from here on
            for (const [m, e] of waiting.splice(0)) transport.onmessage?.(m, e);
          } catch (err) {
            for (const [m] of waiting.splice(0)) {
              if (!isJSONRPCRequest(m)) continue;
              const message = `cns could not start this agent's session: ${err instanceof Error ? err.message : String(err)}`;
              await transport
                .send({ jsonrpc: '2.0', id: m.id, error: { code: -32603, message } })
                .catch(() => undefined);
            }
          }
        })();
      };
    },
    async close(): Promise<void> {
      closed = true;
      await server?.close();
    },
  };
}

function exchangeOf(authInfo: AuthInfo | undefined): Exchange | undefined {
  return (authInfo?.extra as { exchange?: Exchange } | undefined)?.exchange;
}
