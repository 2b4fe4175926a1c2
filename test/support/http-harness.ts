/**
 * An in-process `cns serve` for tests: a real SQLite file in a temporary directory (or, with
 * `config.db` a postgres:// URL, that database: see `startPostgresHarness`), the server on an
 * ephemeral port of 127.0.0.1, and one token of each kind. `call()` makes a request and returns
 * status, headers and the parsed JSON body.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigInput } from '../../src/core/config.js';
import { startServer, type RunningServer, type StartServerOptions } from '../../src/http/http-server.js';
import { issueToken } from '../../src/http/tokens.js';
import { freshPostgresSchema } from './postgres.js';

export interface Harness {
  server: RunningServer;
  url: string;
  dir: string;
  tokens: { admin: string; supervisor: string; alice: string; bob: string; frontend: string };
  call(
    token: string | null,
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<CallResult>;
  close(): Promise<void>;
}

export interface CallResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

export async function startHarness(
  config: ConfigInput = {},
  options: Partial<StartServerOptions> = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'cns-http-'));
  const server = await startServer({
    db: config.db ?? join(dir, 'cns.db'),
    config: { reaperIntervalMs: 200, ...config },
    port: 0,
    host: '127.0.0.1',
    log: () => {},
    ...options,
  });
  const secret = async (input: Parameters<typeof issueToken>[1]) =>
    (await issueToken(server.coordinator, input)).secret;
  const tokens = {
    admin: await secret({ role: 'admin', name: 'root' }),
    supervisor: await secret({ role: 'supervisor', name: 'sue' }),
    alice: await secret({ role: 'agent', name: 'alice', type: 'backend', capabilities: ['node', 'sql'] }),
    bob: await secret({ role: 'agent', name: 'bob', type: 'backend' }),
    frontend: await secret({ role: 'agent', name: 'fred', type: 'frontend' }),
  };
  const call: Harness['call'] = (token, method, path, body, headers = {}) =>
    rawCall(
      server.port,
      method,
      path,
      {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    );
  return {
    server,
    url: server.url,
    dir,
    tokens,
    call,
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The same harness on a fresh schema of the test PostgreSQL server (dropped on close). */
export async function startPostgresHarness(
  config: ConfigInput = {},
  options: Partial<StartServerOptions> = {},
): Promise<Harness> {
  const pg = await freshPostgresSchema();
  const h = await startHarness({ ...config, db: pg.url, schema: pg.schema }, options);
  return {
    ...h,
    async close() {
      await h.close();
      await pg.drop();
    },
  };
}

/** A request with full control of the headers (Host included), via node:http. */
export function rawCall(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string | Buffer,
): Promise<CallResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: {
          host: `127.0.0.1:${port}`,
          ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = null;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            parsed = null;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text });
        });
        res.on('error', reject);
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      // The server may answer (413) and close before the whole body was sent.
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') return;
      reject(err);
    });
    if (body !== undefined) req.end(body);
    else req.end();
  });
}
