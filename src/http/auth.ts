/**
 * Who is calling, and may they: bearer tokens (or the dashboard's session cookie) → a principal
 * with a role and the `Actor` it acts as (resolved here, once per request, and passed down to the
 * coordinator); role checks; and the Host / Origin checks that keep a browser page on another site
 * (DNS rebinding, CSRF) from using the server.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Actor } from '../coordinator/api-types.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import { findLiveToken } from './tokens.js';
import type { TokenRecord, TokenRole } from '../core/types.js';
import { HttpError } from './http-errors.js';

/** The name of the dashboard's session cookie (HttpOnly, SameSite=Strict; its value is the token). */
export const SESSION_COOKIE = 'cns_session';

/** How often a token's lastUsedAt is written at most (a write per request would be wasteful). */
const TOUCH_EVERY_MS = 60_000;

/** Agent ids remembered by name (an agent keeps its id for good), at most this many. */
const AGENT_IDS_KEPT = 10_000;

/** The authenticated caller. */
export interface Principal {
  token: TokenRecord;
  role: TokenRole;
  /** The token's name: the actor recorded for supervisor and admin actions, the reviewer's name. */
  name: string;
  /** Agent tokens: the agent identity, type and allowed capabilities. */
  agent: { name: string; type: string; capabilities: string[] } | null;
  /**
   * Who acts for this request. An agent token: its agent (the agent's id once it has registered).
   * A supervisor or admin token: the token's name, with the id of the agent of that name if one
   * has registered (else null), as for `cns … --as NAME`: a name is one identity in cns.
   */
  actor: Actor;
  /** How the token came: the Authorization header or the session cookie. */
  via: 'bearer' | 'cookie';
  /** The presented secret (the MCP front passes it on as auth info). */
  secret: string;
}

export class Authenticator {
  private readonly touched = new Map<number, number>();
  private readonly agentIds = new Map<string, number>();

  constructor(
    private readonly coordinator: Pick<Coordinator, 'findTokenByHash' | 'touchToken' | 'findAgent'>,
  ) {}

  /** The principal of the request, or null when it presents no credentials. 401 for bad ones. */
  async identify(req: IncomingMessage): Promise<Principal | null> {
    const header = req.headers.authorization;
    let secret: string | null = null;
    let via: Principal['via'] = 'bearer';
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!m)
        throw new HttpError(401, 'unauthorized', 'the Authorization header must be "Bearer <token>"', {
          challenge: 'invalid_request',
        });
      secret = m[1]!;
    } else {
      const cookie = readCookie(req, SESSION_COOKIE);
      if (cookie) {
        secret = cookie;
        via = 'cookie';
      }
    }
    if (secret === null) return null;
    const principal = await this.verify(secret, via);
    if (!principal)
      throw new HttpError(401, 'unauthorized', 'the token is not valid (unknown or revoked)', {
        challenge: 'invalid_token',
      });
    return principal;
  }

  /** The principal a secret stands for, or null when it is unknown or revoked. */
  async verify(secret: string, via: Principal['via'] = 'bearer'): Promise<Principal | null> {
    const token = await findLiveToken(this.coordinator, secret);
    if (!token) return null;
    const now = Date.now();
    if (now - (this.touched.get(token.id) ?? 0) >= TOUCH_EVERY_MS) {
      this.touched.set(token.id, now);
      void this.coordinator.touchToken(token.id).catch(() => {});
    }
    return {
      token,
      role: token.role,
      name: token.name,
      actor: await this.actorOf(token),
      agent:
        token.role === 'agent'
          ? {
              name: token.agentName ?? token.name,
              type: token.agentType ?? '',
              capabilities: token.capabilities,
            }
          : null,
      via,
      secret,
    };
  }

  /** The Actor a token acts as: its agent (agent tokens) or its name (see Principal.actor). */
  private async actorOf(token: TokenRecord): Promise<Actor> {
    const name = token.role === 'agent' ? (token.agentName ?? token.name) : token.name;
    let agentId = this.agentIds.get(name) ?? null;
    if (agentId === null) {
      agentId = (await this.coordinator.findAgent(name))?.id ?? null;
      if (agentId !== null) {
        if (this.agentIds.size >= AGENT_IDS_KEPT) this.agentIds.clear();
        this.agentIds.set(name, agentId);
      }
    }
    return { name, agentId, role: token.role };
  }
}

/** 401 without credentials. */
export function requireAuth(p: Principal | null): Principal {
  if (!p)
    throw new HttpError(
      401,
      'unauthorized',
      'authentication required: send "Authorization: Bearer <token>" (cns token create)',
    );
  return p;
}

/** The realm of the bearer challenge of `cns serve`. */
export const REALM = 'cns';

/** How to make a token, as every 401 says (worded so that clients' log redaction keeps it). */
export const TOKEN_HOW_TO =
  'Make one where the database is, with "cns token create --role agent --type <type> --name <name>" (an agent) or "cns token create --role supervisor --name <you>", and give it to the client as a bearer token (the Authorization header)';

/**
 * A 401 that clients can show: `WWW-Authenticate: Bearer realm="cns", error_description="…"`
 * (RFC 6750; with `error="invalid_token"` for an unknown or revoked token) and the JSON error body,
 * whose message says that a cns token is needed and how to make one. cns uses its own tokens, not
 * OAuth: an MCP client that tries OAuth discovery finds no metadata (sendOAuthNotUsed).
 */
export function sendUnauthorized(res: ServerResponse, err: HttpError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const challenge = typeof err.details.challenge === 'string' ? err.details.challenge : null;
  const description = challenge
    ? `${err.message}; a cns token is needed`
    : 'a cns token is needed as a bearer token; make one with cns token create';
  const params = [
    `realm="${REALM}"`,
    ...(challenge ? [`error="${challenge}"`] : []),
    `error_description="${headerText(description)}"`,
  ];
  const { challenge: _challenge, ...details } = err.details;
  const body = {
    error: {
      code: 'unauthorized',
      message: `${err.message}. A cns token is needed. ${TOKEN_HOW_TO}. cns uses its own tokens, not OAuth.`,
      details: { ...details, tokenHowTo: TOKEN_HOW_TO },
    },
  };
  res.writeHead(401, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'www-authenticate': `Bearer ${params.join(', ')}`,
  });
  res.end(JSON.stringify(body));
}

/**
 * The OAuth paths MCP clients try before connecting (RFC 9728 protected-resource metadata, RFC 8414
 * authorization-server metadata, OpenID discovery, and the registration, authorization and token
 * endpoints a client falls back to without metadata).
 */
export function isOAuthPath(path: string): boolean {
  return (
    path.startsWith('/.well-known/oauth-') ||
    path.startsWith('/.well-known/openid-configuration') ||
    path === '/register' ||
    path === '/authorize' ||
    path === '/token'
  );
}

/**
 * cns uses its own tokens, not OAuth: every OAuth path answers 404, for any method (a 405 was shown
 * by clients as a refused client registration), with an OAuth error body (RFC 6749 §5.2:
 * `error`, `error_description`, which OAuth clients parse and show) that says to use a cns token.
 */
export function sendOAuthNotUsed(res: ServerResponse, path: string): void {
  res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(
    JSON.stringify({
      error: 'invalid_request',
      error_description: `cns serve does not use OAuth (no ${path}); it needs a cns token. ${TOKEN_HOW_TO}.`,
    }),
  );
}

/** Text fit for a quoted-string of a header: printable ASCII, no quotes or backslashes. */
function headerText(text: string): string {
  return text.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '?');
}

/** 403 unless the principal has one of the roles. */
export function requireRole(p: Principal | null, roles: readonly TokenRole[], what: string): Principal {
  const principal = requireAuth(p);
  if (!roles.includes(principal.role)) {
    throw new HttpError(
      403,
      'forbidden',
      `${what} needs a ${roles.join(' or ')} token (this one is ${principal.role})`,
      {
        role: principal.role,
        allowed: roles,
      },
    );
  }
  return principal;
}

export function readCookie(req: IncomingMessage, name: string): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) {
      const value = part.slice(i + 1).trim();
      try {
        return decodeURIComponent(value);
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** The Set-Cookie value that signs the browser in (the token, HttpOnly, SameSite=Strict, path /). */
export function sessionCookie(secret: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${encodeURIComponent(secret)}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
}

// ── Host and Origin (DNS rebinding, cross-site requests) ─────────────────────────────────────────

/**
 * Which Host headers (and Origins) are accepted: the bound host and the loopback names on the port
 * the request came in on, plus `extra` entries ("name" = any port, "name:port" = that port).
 */
export class HostPolicy {
  private readonly extra: { host: string; port: string | null }[];

  constructor(
    private readonly boundHost: string,
    extra: readonly string[] = [],
  ) {
    this.extra = extra.map((e) => splitHost(e.trim().toLowerCase())).filter((e) => e.host !== '');
  }

  allows(hostHeader: string, localPort: number | undefined): boolean {
    const { host, port } = splitHost(hostHeader.trim().toLowerCase());
    if (host === '') return false;
    const local = new Set(['localhost', '127.0.0.1', '[::1]', bracket(this.boundHost.toLowerCase())]);
    if (local.has(host) && localPort !== undefined && port === String(localPort)) return true;
    return this.extra.some((e) => e.host === host && (e.port === null || e.port === port));
  }

  /**
   * Refuses (403) a request whose Host is not allowed, or whose Origin (when sent) is not an allowed
   * host, or — for a state-changing request authenticated by cookie — is missing or not this host.
   */
  check(req: IncomingMessage, options: { cookieWrite?: boolean } = {}): void {
    const host = req.headers.host;
    const localPort = req.socket.localPort;
    if (!host || !this.allows(host, localPort)) {
      throw new HttpError(
        403,
        'forbidden',
        `host ${JSON.stringify(host ?? '')} is not allowed (start cns serve with --allowed-host to add it)`,
        {
          host: host ?? null,
        },
      );
    }
    const origin = req.headers.origin;
    if (origin !== undefined) {
      const originHost = hostOfOrigin(origin);
      if (originHost === null || !this.allows(originHost, localPort))
        throw new HttpError(403, 'forbidden', `origin ${JSON.stringify(origin)} is not allowed`, { origin });
    }
    if (options.cookieWrite) {
      const originHost = origin === undefined ? null : hostOfOrigin(origin);
      if (originHost === null || originHost.toLowerCase() !== host.toLowerCase())
        throw new HttpError(
          403,
          'forbidden',
          'a request signed in by cookie that changes something must come from this origin (Origin header)',
          {
            origin: origin ?? null,
          },
        );
    }
  }
}

function bracket(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function splitHost(value: string): { host: string; port: string | null } {
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    if (end < 0) return { host: '', port: null };
    const rest = value.slice(end + 1);
    return { host: value.slice(0, end + 1), port: rest.startsWith(':') ? rest.slice(1) : null };
  }
  const i = value.lastIndexOf(':');
  if (i >= 0 && value.indexOf(':') === i) return { host: value.slice(0, i), port: value.slice(i + 1) };
  if (i >= 0) return { host: bracket(value), port: null }; // a bare IPv6 address
  return { host: value, port: null };
}

/** `http://host:port` → `host:port` (the default port left implicit, as in a Host header); null if not http(s). */
function hostOfOrigin(origin: string): string | null {
  try {
    const u = new URL(origin);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    return u.host;
  } catch {
    return null;
  }
}
