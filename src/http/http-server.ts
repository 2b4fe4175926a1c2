/**
 * `cns serve`: one node:http server for the JSON API (api-routes.ts, agent-routes.ts), the live
 * event stream (event-stream.ts), MCP over Streamable HTTP at /mcp (mcp-http.ts) and the dashboard
 * (dashboard-files.ts). In front of everything: the Host/Origin check (DNS rebinding), bearer-token
 * or session-cookie authentication (auth.ts), and a bound on request bodies. Errors become
 * responses in one place (http-errors.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { openCoordinator } from '../coordinator/open-coordinator.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import type { ConfigInput } from '../core/config.js';
import { InvalidInputError } from '../core/errors.js';
import { allowedActions, isTaskStatus, type TaskStatus } from '../core/status.js';
import { registerAgentRoutes } from './agent-routes.js';
import { registerApiRoutes } from './api-routes.js';
import {
  Authenticator,
  HostPolicy,
  isOAuthPath,
  sendOAuthNotUsed,
  sendUnauthorized,
  type Principal,
} from './auth.js';
import { CONTENT_SECURITY_POLICY, findDashboardDir, serveDashboardFile } from './dashboard-files.js';
import { registerEventStream } from './event-stream.js';
import { HttpError, sendError } from './http-errors.js';
import { createMcpEndpoint } from './mcp-http.js';
import { HANDLED, Reply, Router, type RouteContext } from './router.js';

/** Default port of `cns serve`. */
export const DEFAULT_PORT = 4747;
/** Default bind address: this machine only. */
export const DEFAULT_HOST = '127.0.0.1';
/** Default bound on a request body (bytes): larger bodies get 413. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export interface HttpHandlerOptions {
  /** The address the server is bound to (its Host header is accepted). Default 127.0.0.1. */
  host?: string;
  /** More accepted Host / Origin names: "name" (any port) or "name:port". */
  allowedHosts?: string[];
  /** Bound on request bodies in bytes. Default 1 MiB. */
  maxBodyBytes?: number;
  /** The dashboard folder; null serves none. Default: dashboard/ next to the code. */
  dashboardDir?: string | null;
  /** Reported by whoami and MCP. Default: package.json's version. */
  version?: string;
  /** Where the server logs. Default stderr. */
  log?: (message: string) => void;
  /** Interval of the SSE keep-alive comments (ms). Default 15 s. */
  sseHeartbeatMs?: number;
}

export interface HttpHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** Ends event streams and waits under way, and closes the MCP endpoint. */
  close(): Promise<void>;
}

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** Builds the request handler over a coordinator (which the caller owns and closes). */
export function createHttpHandler(coordinator: Coordinator, options: HttpHandlerOptions = {}): HttpHandler {
  const log = options.log ?? ((m: string) => void process.stderr.write(`${m}\n`));
  const version = options.version ?? packageVersion();
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const hosts = new HostPolicy(options.host ?? DEFAULT_HOST, options.allowedHosts ?? []);
  const auth = new Authenticator(coordinator);
  const dashboardDir = findDashboardDir(options.dashboardDir);
  const closing = new AbortController();
  const running = new Set<Promise<void>>();

  const router = new Router();
  registerApiRoutes(router, { coordinator, auth, version });
  registerEventStream(router, { coordinator, heartbeatMs: options.sseHeartbeatMs, log });
  registerAgentRoutes(router, { coordinator });
  const mcp = createMcpEndpoint(coordinator, { version, log, maxBodyBytes });

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://cns.invalid');
    const path = url.pathname;
    hosts.check(req);

    if (isOAuthPath(path)) {
      sendOAuthNotUsed(res, path);
      return;
    }

    if (path === '/mcp' || path.startsWith('/mcp/')) {
      const principal = await auth.identify(req);
      if (!principal || principal.via !== 'bearer')
        throw new HttpError(401, 'unauthorized', 'the MCP endpoint needs "Authorization: Bearer <token>"');
      await mcp.handle(req, res, principal);
      return;
    }

    if (path === '/api' || path.startsWith('/api/')) {
      const match = router.match(method, path);
      if (match.kind === 'none')
        throw new HttpError(404, 'not_found', `no such API route: ${method} ${path}`);
      if (match.kind === 'wrong_method')
        throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}`, {
          allow: match.allow.join(', '),
        });
      // Signing in and out works with a stale cookie: do not reject it before the handler runs.
      const principal: Principal | null = path === '/api/session' ? null : await auth.identify(req);
      const writes = method !== 'GET' && method !== 'HEAD';
      if (principal?.via === 'cookie' && writes) hosts.check(req, { cookieWrite: true });
      // Every route's body goes through the one bounded parser before the route runs, whether the
      // route reads it or not: an oversized (413) or malformed (400) body is refused before anything
      // happens, and a route that takes no body accepts only none or a JSON object (ignored).
      const body = await readJsonBody(req, maxBodyBytes);
      const aborted = new AbortController();
      const abort = () => aborted.abort();
      res.once('close', abort);
      closing.signal.addEventListener('abort', abort, { once: true });
      try {
        const ctx: RouteContext = {
          req,
          res,
          url,
          params: match.params,
          principal,
          body: () => Promise.resolve(body),
          signal: aborted.signal,
        };
        const result = await match.handler(ctx);
        if (result === HANDLED) return;
        if (result instanceof Reply) sendJson(res, result.status, result.body, result.headers);
        else sendJson(res, 200, result);
      } finally {
        closing.signal.removeEventListener('abort', abort);
      }
      return;
    }

    if (method !== 'GET' && method !== 'HEAD')
      throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}`, {
        allow: 'GET, HEAD',
      });
    if (dashboardDir && (await serveDashboardFile(dashboardDir, path, res, method === 'HEAD'))) return;
    throw new HttpError(
      404,
      'not_found',
      dashboardDir ? `no such file: ${path}` : 'this server has no dashboard',
    );
  };

  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    const work = serve(req, res).catch((err: unknown) => {
      if (err instanceof HttpError && err.status === 413) res.setHeader('connection', 'close');
      if (err instanceof HttpError && err.status === 401) sendUnauthorized(res, err);
      else sendError(res, err, log);
    });
    running.add(work);
    void work.finally(() => running.delete(work));
  }) as HttpHandler;

  handler.close = async () => {
    closing.abort();
    await mcp.close();
    await Promise.allSettled([...running]);
  };
  return handler;
}

export interface StartServerOptions extends HttpHandlerOptions {
  /** Serve this coordinator (the caller closes it). Otherwise one is opened from `db` / `config`. */
  coordinator?: Coordinator;
  /** A SQLite path or postgres:// URL, when no coordinator is given. */
  db?: string;
  /** More settings for the coordinator opened here. */
  config?: ConfigInput;
  /** Default 4747; 0 picks a free port. */
  port?: number;
}

export interface RunningServer {
  /** `http://host:port/` (a wildcard bind is shown as 127.0.0.1). */
  url: string;
  port: number;
  server: Server;
  coordinator: Coordinator;
  /** Stops accepting, ends streams and waits, closes connections (and the coordinator it opened). */
  close(): Promise<void>;
}

/** Opens (or takes) a coordinator with the lease reaper running, and serves it. */
export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidInputError(`port must be 0-65535 (got ${port})`);
  const owned = !options.coordinator;
  const coordinator =
    options.coordinator ??
    (await openCoordinator({ ...options.config, db: options.db ?? options.config?.db, reaper: true }));
  coordinator.reaper.start();
  const handler = createHttpHandler(coordinator, { ...options, host });
  const server = createServer({ keepAliveTimeout: 5_000 }, handler);
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    if (owned) await coordinator.close().catch(() => {});
    throw listenError(err, host, port);
  }
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  let closed: Promise<void> | null = null;
  return {
    url: `http://${shown}:${actualPort}/`,
    port: actualPort,
    server,
    coordinator,
    close() {
      closed ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await handler.close();
        server.closeIdleConnections();
        const force = setTimeout(() => sockets.forEach((s) => s.destroy()), 2_000);
        await stopped;
        clearTimeout(force);
        if (owned) await coordinator.close();
      })();
      return closed;
    },
  };
}

/** A failure to listen, in words that say what to do: a taken port names itself and --port. */
function listenError(err: unknown, host: string, port: number): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const details = { host, port, code };
  if (code === 'EADDRINUSE')
    return new InvalidInputError(
      `port ${port} is already in use on ${host} (another cns serve, or another program, listens on ${where}): stop it, or choose another port with --port (e.g. --port ${port === 65535 ? 4748 : port + 1}; --port 0 picks a free one)`,
      details,
    );
  if (code === 'EACCES')
    return new InvalidInputError(
      `not allowed to listen on ${where} (ports below 1024 need privileges): choose another port with --port`,
      details,
    );
  if (code === 'EADDRNOTAVAIL')
    return new InvalidInputError(
      `cannot listen on ${where}: ${host} is not an address of this machine (--host)`,
      details,
    );
  return err;
}

/** The deepest nesting of a request body (JSON values inside it are bounded lower: core/input.ts). */
export const MAX_BODY_DEPTH = 100;

/**
 * Reads the JSON body (an object), at most `max` bytes (413 beyond); `{}` when empty. Refused
 * (400, `details.field` "body"): bytes that are not UTF-8, text that is not JSON, JSON that is not
 * an object or is nested more than MAX_BODY_DEPTH levels deep.
 */
export async function readJsonBody(req: IncomingMessage, max: number): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > max) throw tooLarge(max);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw tooLarge(max);
    chunks.push(chunk);
  }
  const badBody = (why: string) => new InvalidInputError(`the request body ${why}`, { field: 'body' });
  let text: string;
  try {
    text = UTF8.decode(Buffer.concat(chunks)).trim();
  } catch {
    throw badBody('must be UTF-8 text (it has bytes that are not UTF-8)');
  }
  if (text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw badBody(`must be JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw badBody('must be a JSON object');
  if (jsonDepth(text) > MAX_BODY_DEPTH)
    throw badBody(`must not be nested more than ${MAX_BODY_DEPTH} levels deep`);
  return value as Record<string, unknown>;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** How deeply valid JSON text nests (brackets outside strings). */
function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

function tooLarge(max: number): HttpError {
  return new HttpError(413, 'too_large', `the request body is larger than ${max} bytes`, { maxBytes: max });
}

/**
 * The one place tasks are serialised for HTTP: JSON in which every task carries `allowedActions`
 * (core/status.ts: what a supervisor or person may do to it now; the dashboard's buttons) and lease
 * tokens are left out (only the holder, who got it from its claim, needs one).
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body, forHttp);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

function forHttp(key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (key === 'lease' && 'token' in value) {
    const { token: _token, ...rest } = value as Record<string, unknown>;
    return rest;
  }
  // The properties of what is returned pass through here too (its lease is redacted above).
  if (isTask(value) && !('allowedActions' in value))
    return { ...value, allowedActions: allowedActions(value.status) };
  return value;
}

/** A Task (core/types.ts), as opposed to the other objects with a status (workflows, agents, explanations). */
function isTask(value: object): value is { status: TaskStatus } {
  const v = value as Record<string, unknown>;
  return (
    typeof v.status === 'string' &&
    isTaskStatus(v.status) &&
    typeof v.maxAttempts === 'number' &&
    typeof v.reviewRounds === 'number' &&
    'lease' in v
  );
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
