/**
 * A small router: `METHOD /path/:param` patterns → handlers. A path that exists under another
 * method is a 405 (with Allow); one that does not exist, a 404.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from './auth.js';

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  /** The caller (null: no credentials were presented; the handler decides whether that is fine). */
  principal: Principal | null;
  /**
   * The JSON body (an object; `{}` when empty). Every route's body is read and checked before the
   * handler runs, whether the handler uses it or not (http-server.ts readJsonBody): bounded in size
   * (413), UTF-8 JSON, an object, not too deeply nested (400).
   */
  body(): Promise<Record<string, unknown>>;
  /** Aborted when the client goes away or the server closes. */
  signal: AbortSignal;
}

/**
 * What a handler returns: a value sent as JSON with status 200, or `{ status, body, headers }` via
 * `reply()`; undefined when the handler wrote the response itself (SSE, MCP).
 */
export type RouteResult = unknown;
export type RouteHandler = (ctx: RouteContext) => Promise<RouteResult>;

export class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

export function reply(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return new Reply(status, body, headers);
}

/** Marks a handler that wrote its own response. */
export const HANDLED = Symbol('handled');

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: RouteHandler;
}

export type RouteMatch =
  | { kind: 'found'; handler: RouteHandler; params: Record<string, string> }
  | { kind: 'wrong_method'; allow: string[] }
  | { kind: 'none' };

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, path: string, handler: RouteHandler): this {
    const keys: string[] = [];
    const source = path
      .split('/')
      .map((seg) => {
        if (seg.startsWith(':')) {
          keys.push(seg.slice(1));
          return '([^/]+)';
        }
        return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    this.routes.push({ method, pattern: new RegExp(`^${source}/?$`), keys, handler });
    return this;
  }

  get(path: string, handler: RouteHandler): this {
    return this.add('GET', path, handler);
  }

  post(path: string, handler: RouteHandler): this {
    return this.add('POST', path, handler);
  }

  delete(path: string, handler: RouteHandler): this {
    return this.add('DELETE', path, handler);
  }

  match(method: string, pathname: string): RouteMatch {
    const allow = new Set<string>();
    for (const r of this.routes) {
      const m = r.pattern.exec(pathname);
      if (!m) continue;
      if (r.method === method || (method === 'HEAD' && r.method === 'GET')) {
        const params: Record<string, string> = {};
        r.keys.forEach((k, i) => {
          const raw = m[i + 1]!;
          try {
            params[k] = decodeURIComponent(raw);
          } catch {
            params[k] = raw;
          }
        });
        return { kind: 'found', handler: r.handler, params };
      }
      allow.add(r.method);
    }
    return allow.size > 0 ? { kind: 'wrong_method', allow: [...allow] } : { kind: 'none' };
  }
}
