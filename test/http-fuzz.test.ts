/**
 * Bad input against `cns serve`, on SQLite and on PostgreSQL (issue 12, "Bad input"): a regression
 * test for each defect found, then a seeded fuzz of hostile requests across every route.
 *
 * Both backends get the same requests: two in-process servers (test/support/http-harness.ts), one
 * on a SQLite file, one on a fresh PostgreSQL schema. The fuzz requires of every answer: no 5xx;
 * a refusal is a JSON error body with a code and a message naming the problem; a refused request
 * changes nothing (a snapshot of the event log, the task counts, the agents, the tokens and the
 * leases is the same before and after it); and both backends answer with the same status and code.
 * Seeded: a failure names its seed and request number, and CNS_FUZZ_SEED / CNS_FUZZ_REQUESTS replay
 * or widen it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Coordinator } from '../src/coordinator/coordinator.js';
import { normalizeBatch } from '../src/core/batch.js';
import { CnsError, InvalidInputError } from '../src/core/errors.js';
import { DEFAULT_POLICY } from '../src/core/policy.js';
import type { Store } from '../src/store/store.js';
import { openPostgresStore } from '../src/store/postgres/postgres-store.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { startHarness, startPostgresHarness, type Harness } from './support/http-harness.js';
import { freshPostgresSchema } from './support/postgres.js';

/** No reaper sweeps, no lease expiring, nobody going offline while the fuzz runs: only requests write. */
const QUIET = {
  reaperIntervalMs: 3_600_000,
  leaseMs: 3_600_000,
  offlineAfterMs: 7_200_000,
  heartbeatIntervalMs: 60_000,
};

const backends: Record<'sqlite' | 'postgres', Harness> = {} as never;

beforeAll(async () => {
  const [sqlite, postgres] = await Promise.all([startHarness(QUIET), startPostgresHarness(QUIET)]);
  backends.sqlite = sqlite;
  backends.postgres = postgres;
  for (const h of [sqlite, postgres]) {
    // Tasks 1-8, one workflow (tasks 9-10), two spare tokens (ids 6 and 7) the fuzz may revoke.
    for (let i = 1; i <= 8; i++) await sup(h, 'POST', '/api/tasks', { type: 'backend', title: `seed ${i}` });
    await sup(h, 'POST', '/api/workflows', {
      name: 'seed flow',
      tasks: [
        { ref: 'a', type: 'frontend', title: 'seed a' },
        { ref: 'b', type: 'frontend', title: 'seed b', dependsOn: ['a'] },
      ],
    });
    for (const name of ['spare-1', 'spare-2'])
      await h.call(h.tokens.admin, 'POST', '/api/tokens', { role: 'supervisor', name });
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(Object.values(backends).map((h) => h?.close()));
});

async function sup(h: Harness, method: string, path: string, body?: unknown) {
  const res = await h.call(h.tokens.supervisor, method, path, body);
  expect(res.status, res.text).toBeLessThan(300);
  return res;
}

/** What a refused request must leave as it was. */
async function snapshot(c: Coordinator): Promise<string> {
  const [eventId, counts, agents, tokens, open, workflows] = await Promise.all([
    c.latestEventId(),
    c.countTasks(),
    c.listAgents(),
    c.listTokens(),
    c.listTasks({ status: ['assigned', 'in_progress'], limit: 500 }),
    c.listWorkflows({ limit: 500 }),
  ]);
  return JSON.stringify({
    eventId,
    counts,
    agents: agents.map((a) => [
      a.id,
      a.name,
      a.session,
      a.lastHeartbeatAt,
      a.deregisteredAt,
      a.capabilities,
      a.host,
      a.pid,
      a.clientInfo,
    ]),
    tokens: tokens.map((t) => [t.id, t.name, t.revokedAt]),
    leases: open.items.map((t) => [t.id, t.status, t.assignedTo, t.lease?.expiresAt ?? null]),
    workflows: workflows.items.map((w) => w.id),
  });
}

/** The snapshot once it stops changing (two reads 50 ms apart agree; at most 5 s). */
async function settled(c: Coordinator): Promise<string> {
  let last = await snapshot(c);
  for (let i = 0; i < 100; i++) {
    await new Promise((ok) => setTimeout(ok, 50));
    const now = await snapshot(c);
    if (now === last) return now;
    last = now;
  }
  return last;
}

interface Answer {
  status: number;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON, checked field by field
  body: any;
  contentType: string;
}

/**
 * One request, with full control of method, path, headers and body bytes. An event stream is read
 * up to its first bytes and then closed; a request that gets no answer in 20 s fails the test.
 */
function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string | Buffer,
): Promise<Answer> {
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
        const contentType = String(res.headers['content-type'] ?? '');
        const chunks: Buffer[] = [];
        const done = () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = null;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            parsed = null;
          }
          resolve({ status: res.statusCode ?? 0, text, body: parsed, contentType });
        };
        if (contentType.startsWith('text/event-stream') && path.startsWith('/api/events/stream')) {
          res.once('data', (c: Buffer) => {
            chunks.push(c);
            res.destroy();
            done();
          });
          return;
        }
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', done);
        res.on('error', reject);
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer in 20 s: ${method} ${path}`));
    }, 20_000);
    req.on('error', (err: NodeJS.ErrnoException) => {
      // The server may answer (413) and close before the whole body was sent.
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') return;
      clearTimeout(timer);
      reject(err);
    });
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/** A JSON body with raw number literals (beyond what JSON.stringify can write) spliced in. */
function withRaw(value: unknown, raw: Record<string, string>): string {
  let text = JSON.stringify(value);
  for (const [marker, literal] of Object.entries(raw)) text = text.replace(`"${marker}"`, literal);
  return text;
}

// ── regressions (each failed before the fix) ─────────────────────────────────────────────────────

describe.each(['sqlite', 'postgres'] as const)('bad input is refused, nothing written (%s)', (backend) => {
  const h = () => backends[backend];
  const refused = async (
    token: string,
    method: string,
    path: string,
    body: unknown,
    field: string | RegExp,
    status = 400,
  ) => {
    const before = await snapshot(h().server.coordinator);
    const res = await h().call(token, method, path, body);
    expect(res.status, res.text).toBe(status);
    expect(res.body?.error?.code, res.text).toBe(status === 400 ? 'invalid_input' : expect.any(String));
    if (status === 400) {
      if (typeof field === 'string') expect(res.body.error.details.field, res.text).toBe(field);
      else expect(res.body.error.details.field, res.text).toMatch(field);
    }
    expect(await snapshot(h().server.coordinator)).toBe(before);
    return res;
  };

  it('a NUL character in a title, spec, reason, metadata or input', async () => {
    const s = h().tokens.supervisor;
    const r = await refused(s, 'POST', '/api/tasks', { type: 'x', title: 'a\u0000b' }, 'title');
    expect(r.body.error.message).toMatch(
      /title must be text of 1 to 500 characters without NUL characters or unpaired surrogates \(it has a NUL/,
    );
    await refused(s, 'POST', '/api/tasks', { type: 'x', title: 't', spec: 'a\u0000b' }, 'spec');
    await refused(s, 'POST', '/api/tasks', { type: 'x', title: 't', metadata: { k: 'a\u0000' } }, 'metadata');
    await refused(s, 'POST', '/api/tasks', { type: 'x', title: 't', input: { 'k\u0000': 1 } }, 'input');
    await refused(s, 'POST', '/api/tasks/1/cancel', { reason: 'why\u0000' }, 'reason');
    await refused(
      s,
      'POST',
      '/api/workflows',
      { name: 'w\u0000', tasks: [{ type: 'x', title: 't' }] },
      /name/,
    );
    await refused(h().tokens.alice, 'POST', '/api/agent/heartbeat', { session: 's\u0000' }, 'session');
    await refused(h().tokens.alice, 'POST', '/api/tasks/1/progress', { leaseToken: 't\u0000' }, 'leaseToken');
    await refused(h().tokens.admin, 'POST', '/api/tokens', { role: 'supervisor', name: 'n\u0000' }, 'name');
    const q = await h().call(s, 'GET', '/api/tasks?search=a%00');
    expect(q.status, q.text).toBe(400);
  });

  it('a lone surrogate in JSON input or text', async () => {
    const s = h().tokens.supervisor;
    const r = await refused(s, 'POST', '/api/tasks', '{"type":"x","title":"t","input":"\\ud800"}', 'input');
    expect(r.body.error.message).toMatch(/unpaired surrogate/);
    await refused(s, 'POST', '/api/tasks', '{"type":"x","title":"a\\udc00"}', 'title');
  });

  it('ids beyond 2^53 - 1 in paths and bodies', async () => {
    const s = h().tokens.supervisor;
    const r = await refused(s, 'GET', '/api/agents/9223372036854775808', undefined, 'agent id');
    expect(r.body.error.message).toMatch(/from 1 to 9007199254740991/);
    await refused(s, 'GET', '/api/tasks/9007199254740993', undefined, 'task id');
    for (const agent of ['1e20', '-1e308', '1.5', '9007199254740993']) {
      const res = await refused(s, 'POST', '/api/tasks/1/assign', `{"agent":${agent}}`, 'agent');
      expect(res.body.error.message).toMatch(/agent id \(an integer from 1 to 9007199254740991\)/);
    }
  });

  it('priorities beyond the accepted range are refused, not rounded', async () => {
    const s = h().tokens.supervisor;
    for (const p of [
      '9223372036854775807',
      '9007199254740993',
      '2147483648',
      '-2147483649',
      '1.5',
      '1e400',
    ]) {
      const res = await refused(
        s,
        'POST',
        '/api/tasks',
        `{"type":"x","title":"t","priority":${p}}`,
        'priority',
      );
      expect(res.body.error.message).toMatch(/priority must be an integer from -2147483648 to 2147483647/);
    }
    for (const [field, value] of [
      ['runAfter', '1e300'],
      ['runAfter', '1.5'],
      ['maxAttempts', '9007199254740993'],
    ] as const)
      await refused(s, 'POST', '/api/tasks', `{"type":"x","title":"t","${field}":${value}}`, field);
    const edge = await h().call(s, 'POST', '/api/tasks', { type: 'x', title: 'top', priority: 2147483647 });
    expect(edge.status, edge.text).toBe(201);
    expect(edge.body.task.priority).toBe(2147483647);
  });

  it('a refused /mcp request (406: Accept without text/event-stream) registers and heartbeats nothing', async () => {
    const init = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
    });
    const post = (token: string) =>
      send(
        h().server.port,
        'POST',
        '/mcp',
        {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          'content-type': 'application/json',
        },
        init,
      );
    // An agent that never registered …
    let before = await snapshot(h().server.coordinator);
    let res = await post(h().tokens.frontend);
    expect(res.status, res.text).toBe(406);
    expect(await snapshot(h().server.coordinator)).toBe(before);
    // … and one that registered, then deregistered.
    await h().call(h().tokens.bob, 'POST', '/api/agent/register', {});
    await h().call(h().tokens.bob, 'POST', '/api/agent/deregister', {});
    before = await snapshot(h().server.coordinator);
    res = await post(h().tokens.bob);
    expect(res.status, res.text).toBe(406);
    expect(await snapshot(h().server.coordinator)).toBe(before);
  });

  it('every route applies the body limit and rejects malformed JSON', async () => {
    const big = JSON.stringify({ x: 'a'.repeat(2 * 1024 * 1024) });
    const routes: [string, string, string][] = [
      [h().tokens.alice, 'DELETE', '/api/session'],
      [h().tokens.alice, 'POST', '/api/agent/deregister'],
      [h().tokens.alice, 'POST', '/api/agent/heartbeat'],
      [h().tokens.supervisor, 'POST', '/api/tasks/1/retry'],
      [h().tokens.admin, 'DELETE', '/api/tokens/6'],
      [h().tokens.supervisor, 'GET', '/api/tasks'],
    ];
    for (const [token, method, path] of routes) {
      const before = await snapshot(h().server.coordinator);
      const large = await h().call(token, method, path, big);
      expect(large.status, `${method} ${path}: ${large.text}`).toBe(413);
      expect(large.body.error.code).toBe('too_large');
      const bad = await h().call(token, method, path, '{not json');
      expect(bad.status, `${method} ${path}: ${bad.text}`).toBe(400);
      expect(bad.body.error).toMatchObject({ code: 'invalid_input', details: { field: 'body' } });
      expect(await snapshot(h().server.coordinator)).toBe(before);
    }
  });

  it('createTasks without an actor is an InvalidInputError, not a driver error', async () => {
    const c = h().server.coordinator;
    const before = await snapshot(c);
    const err = await c
      .createTasks({ tasks: [{ type: 'x', title: 't' }] } as unknown as Parameters<
        Coordinator['createTasks']
      >[0])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).message).toMatch(/^actor is required/);
    expect((err as InvalidInputError).details.field).toBe('actor');
    expect(await snapshot(c)).toBe(before);
  });

  it("a made-up lease token: the message says it is not the task's current lease", async () => {
    const created = await sup(h(), 'POST', '/api/tasks', { type: 'frontend', title: 'held', priority: 100 });
    const id = created.body.task.id as number;
    const claim = await h().call(h().tokens.frontend, 'POST', '/api/agent/claim', {});
    expect(claim.body.claimed?.task.id, claim.text).toBe(id);
    const res = await h().call(h().tokens.frontend, 'POST', `/api/tasks/${id}/complete`, {
      leaseToken: 'made-up',
      result: 'x',
    });
    expect(res.status, res.text).toBe(409);
    expect(res.body.error.details.reason).toBe('unknown_token');
    expect(res.body.error.message).toMatch(/this token is not the task's current lease/);
    const release = await h().call(h().tokens.frontend, 'POST', `/api/tasks/${id}/release`, {
      leaseToken: claim.body.claimed.leaseToken,
    });
    expect(release.status, release.text).toBe(200);
    await sup(h(), 'POST', `/api/tasks/${id}/cancel`, {});
  });
});

describe('driver errors never reach a caller raw', () => {
  /** A batch as the coordinator's checks would never pass it: one task field set to `value`. */
  const batch = (field: 'title' | 'priority', value: unknown) => {
    const b = normalizeBatch({ tasks: [{ type: 'x', title: 't' }], actor: 'me' }, DEFAULT_POLICY);
    (b.tasks[0] as unknown as Record<string, unknown>)[field] = value;
    return b;
  };
  const events = { workflow: null, tasks: [] };

  async function translated(store: Store): Promise<void> {
    // Handed to the store directly, values the database refuses: NOT NULL, an integer column.
    const refused = [
      await store.createTasks(batch('title', null), events).catch((e: unknown) => e),
      await store.createTasks(batch('priority', 1.5), events).catch((e: unknown) => e),
    ];
    for (const err of refused) {
      expect(err, String(err)).toBeInstanceOf(InvalidInputError);
      expect((err as InvalidInputError).details.operation).toBe('createTasks');
      expect((err as Error).message).toMatch(/createTasks/);
    }
    await store.close();
    const closed = await store.getTask(1).catch((e: unknown) => e);
    expect(closed, String(closed)).toBeInstanceOf(CnsError);
    expect((closed as CnsError).code).toBe('store_unavailable');
    expect((closed as CnsError).details.operation).toBe('getTask');
  }

  it('SQLite: a refused value is InvalidInputError, a closed store store_unavailable, each naming the operation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cns-fuzz-'));
    try {
      await translated(await openSqliteStore(join(dir, 'cns.db'), { policy: DEFAULT_POLICY }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL: the same', async () => {
    const pg = await freshPostgresSchema();
    try {
      await translated(await openPostgresStore(pg.url, { policy: DEFAULT_POLICY, schema: pg.schema }));
    } finally {
      await pg.drop();
    }
  });
});

describe('the CLI refuses a priority beyond the range', () => {
  const CLI = [
    '--import',
    pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
    fileURLToPath(new URL('../src/cli/main.ts', import.meta.url)),
  ];
  const run = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const clean: NodeJS.ProcessEnv = {};
      for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CNS_')) clean[k] = v;
      const child = spawn(process.execPath, [...CLI, ...args], { env: { ...clean, ...env } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  it.each(['sqlite', 'postgres'] as const)('exit 2 and one line, nothing created (%s)', async (backend) => {
    const dir = mkdtempSync(join(tmpdir(), 'cns-fuzz-cli-'));
    const pg = backend === 'postgres' ? await freshPostgresSchema() : null;
    try {
      const db = pg ? pg.url : join(dir, 'cns.db');
      const env: Record<string, string> = pg ? { CNS_PG_SCHEMA: pg.schema } : {};
      for (const p of ['9223372036854775807', '9007199254740993']) {
        const r = await run(['--db', db, 'task', 'add', '--type', 'x', '--title', 't', '--priority', p], env);
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(/^cns: .*priority must be an integer from -2147483648 to 2147483647/);
      }
      const list = await run(['--db', db, 'task', 'list', '--json'], env);
      expect(list.code, list.stderr).toBe(0);
      expect(JSON.parse(list.stdout)).toMatchObject({ items: [] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await pg?.drop();
    }
  });
});

// ── the fuzz ─────────────────────────────────────────────────────────────────────────────────────

/** mulberry32: a small seeded generator (the same seed, the same requests). */
function generator(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick<T>(xs: readonly T[]): T {
      return xs[Math.floor(next() * xs.length)]!;
    },
    chance: (p: number) => next() < p,
  };
}
type Rng = ReturnType<typeof generator>;

/** A value that stands for a raw JSON literal (numbers JSON.stringify cannot write, bad text). */
class Raw {
  constructor(readonly text: string) {}
}

const deep = (n: number, leaf: unknown = 1): unknown => {
  let v = leaf;
  for (let i = 0; i < n; i++) v = [v];
  return v;
};
const deepObject = (n: number): unknown => {
  let v: unknown = 'leaf';
  for (let i = 0; i < n; i++) v = { k: v };
  return v;
};

const HOSTILE_STRINGS = [
  'a\u0000b',
  '\u0000',
  '\ud800',
  'x\udc00y',
  'ok\udbff',
  '',
  '   ',
  'héllo wörld 🎉',
  "'; DROP TABLE tasks; --",
  '%00',
  '\\u0000',
  'a'.repeat(129),
  'a'.repeat(501),
  'a'.repeat(2_001),
  'a'.repeat(25_000),
  'a'.repeat(300_000),
  '#1',
  '9223372036854775808',
  'alice',
  'backend',
];
const HOSTILE_NUMBERS = [
  new Raw('9223372036854775807'),
  new Raw('9223372036854775808'),
  new Raw('9007199254740993'),
  new Raw('-9223372036854775809'),
  new Raw('1e400'),
  new Raw('-1e400'),
  new Raw('1e308'),
  new Raw('-1e308'),
  new Raw('1e20'),
  new Raw('5e-324'),
  new Raw('-0'),
  0,
  -1,
  1,
  1.5,
  -0.5,
  2147483647,
  2147483648,
  -2147483649,
  2 ** 53,
  Number.MAX_SAFE_INTEGER,
  1_000,
  50_001,
];
const HOSTILE_OTHER = [
  null,
  true,
  false,
  [],
  {},
  [1, 2, 3],
  ['a\u0000'],
  { a: 1 },
  { 'k\u0000': 'v' },
  { k: '\ud800' },
  deep(40),
  deep(70),
  deepObject(65),
  deep(150),
  { nested: deepObject(30) },
];

function hostileValue(r: Rng): unknown {
  const which = r.int(3);
  if (which === 0) return r.pick(HOSTILE_STRINGS);
  if (which === 1) return r.pick(HOSTILE_NUMBERS);
  return r.pick(HOSTILE_OTHER);
}

const HOSTILE_IDS = [
  '0',
  '-1',
  '1.5',
  '1e3',
  '0x10',
  '9223372036854775808',
  '9007199254740993',
  '9007199254740991',
  '99999999',
  '%00',
  '1%00',
  'abc',
  '%23',
  '%ZZ',
  '%ED%A0%80',
  'a'.repeat(300),
];
const SEED_IDS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '#3'];
const AGENT_REFS = [
  'alice',
  'bob',
  'fred',
  'ghost',
  '1',
  '2',
  'a%00b',
  '%ED%A0%80',
  'a'.repeat(200),
  '9223372036854775808',
];

interface Route {
  method: string;
  path: (r: Rng) => string;
  role: 'admin' | 'supervisor' | 'agent' | 'any' | 'none';
  /** A body the route accepts (or may), which the fuzz then spoils. */
  body?: (r: Rng) => Record<string, unknown>;
}

const id = (r: Rng) => (r.chance(0.5) ? r.pick(SEED_IDS) : r.pick(HOSTILE_IDS));
const query = (r: Rng, params: Record<string, readonly string[]>) => {
  const parts = Object.entries(params)
    .filter(() => r.chance(0.4))
    .map(([k, vs]) => `${k}=${r.pick(vs)}`);
  return parts.length > 0 ? `?${parts.join('&')}` : '';
};
const INTS = ['-1', '0', '1', '5', '1e3', 'abc', '9223372036854775808', '%00', '2.5', '0x10', ''];

const ROUTES: Route[] = [
  { method: 'GET', path: () => '/api/whoami', role: 'any' },
  { method: 'GET', path: (r) => `/api/status${query(r, { stuck: INTS })}`, role: 'any' },
  { method: 'GET', path: () => '/api/agents', role: 'any' },
  { method: 'GET', path: (r) => `/api/agents/${r.pick(AGENT_REFS)}`, role: 'any' },
  {
    method: 'GET',
    path: (r) =>
      `/api/tasks${query(r, {
        status: ['pending', 'bogus', 'pending,in_progress', '%00', ''],
        type: ['backend', '%00', '%ED%A0%80', 'a'.repeat(600)],
        search: ['seed', '%00', '%25', '_', '%ED%A0%80'],
        agent: AGENT_REFS,
        workflow: [...SEED_IDS, ...HOSTILE_IDS],
        limit: INTS,
        after: INTS,
        newest: ['1', 'no'],
      })}`,
    role: 'any',
  },
  {
    method: 'GET',
    path: (r) => `/api/tasks/${id(r)}${query(r, { view: ['task', 'x'], events: INTS })}`,
    role: 'any',
  },
  { method: 'GET', path: (r) => `/api/tasks/${id(r)}/explain`, role: 'any' },
  { method: 'GET', path: (r) => `/api/workflows${query(r, { limit: INTS, after: INTS })}`, role: 'any' },
  { method: 'GET', path: (r) => `/api/workflows/${id(r)}${query(r, { tasks: ['0', '1'] })}`, role: 'any' },
  {
    method: 'GET',
    path: (r) =>
      `/api/events${query(r, {
        task: [...SEED_IDS, ...HOSTILE_IDS],
        workflow: HOSTILE_IDS,
        agent: HOSTILE_IDS,
        kind: ['task.created', '%00', 'x'.repeat(600)],
        limit: INTS,
        after: INTS,
        wait: ['-1', 'abc', '50001', '99999999999', '0', '1', '1e3'],
        newest: ['1'],
      })}`,
    role: 'any',
  },
  {
    method: 'GET',
    path: (r) => `/api/events/stream${query(r, { task: HOSTILE_IDS, workflow: HOSTILE_IDS, after: INTS })}`,
    role: 'any',
  },
  { method: 'GET', path: () => '/api/tokens', role: 'admin' },
  { method: 'POST', path: () => '/api/session', role: 'none', body: () => ({ token: 'cns_not-a-token' }) },
  { method: 'DELETE', path: () => '/api/session', role: 'none' },
  {
    method: 'POST',
    path: () => '/api/tasks',
    role: 'supervisor',
    body: (r) => ({
      type: 'fuzz',
      title: `fuzz ${r.int(1000)}`,
      spec: 'spec',
      priority: r.int(10),
      input: { n: 1 },
      metadata: { m: 'x' },
      requires: ['node'],
      maxAttempts: 3,
      review: false,
      dependsOn: r.chance(0.3) ? [1] : [],
    }),
  },
  {
    method: 'POST',
    path: () => '/api/workflows',
    role: 'supervisor',
    body: () => ({
      name: 'fuzz flow',
      review: false,
      metadata: {},
      tasks: [
        { ref: 'a', type: 'fuzz', title: 'a' },
        { ref: 'b', type: 'fuzz', title: 'b', dependsOn: ['a'] },
      ],
    }),
  },
  {
    method: 'POST',
    path: (r) => `/api/tasks/${id(r)}/review`,
    role: 'supervisor',
    body: () => ({ approve: false, feedback: 'do better' }),
  },
  {
    method: 'POST',
    path: (r) => `/api/tasks/${id(r)}/cancel`,
    role: 'supervisor',
    body: () => ({ reason: 'fuzz' }),
  },
  { method: 'POST', path: (r) => `/api/tasks/${id(r)}/retry`, role: 'supervisor' },
  {
    method: 'POST',
    path: (r) => `/api/tasks/${id(r)}/assign`,
    role: 'supervisor',
    body: (r) => ({ agent: r.pick(['alice', 'bob', 'ghost', 1, 2]) }),
  },
  {
    method: 'POST',
    path: (r) => `/api/workflows/${id(r)}/cancel`,
    role: 'supervisor',
    body: () => ({ reason: 'fuzz' }),
  },
  {
    method: 'POST',
    path: () => '/api/tokens',
    role: 'admin',
    body: (r) =>
      r.chance(0.5)
        ? { role: 'supervisor', name: `fuzz-${r.int(1e6)}` }
        : { role: 'agent', name: `fuzz-agent-${r.int(1e6)}`, type: 'fuzz', capabilities: ['x'] },
  },
  {
    method: 'DELETE',
    path: (r) => `/api/tokens/${r.pick(['6', '7', '1%00', ...HOSTILE_IDS])}`,
    role: 'admin',
  },
  {
    method: 'POST',
    path: () => '/api/agent/register',
    role: 'agent',
    body: () => ({ capabilities: ['node'], host: 'fuzz-host', pid: 42, clientInfo: { name: 'fuzz' } }),
  },
  { method: 'POST', path: () => '/api/agent/heartbeat', role: 'agent', body: () => ({}) },
  { method: 'POST', path: () => '/api/agent/deregister', role: 'agent', body: () => ({}) },
  {
    method: 'POST',
    path: () => '/api/agent/claim',
    role: 'agent',
    body: () => ({ waitMs: 0, leaseMs: 60_000 }),
  },
  { method: 'POST', path: () => '/api/agent/wait', role: 'agent', body: () => ({ waitMs: 0 }) },
  ...(['progress', 'complete', 'fail', 'release', 'heartbeat'] as const).map((what): Route => ({
    method: 'POST',
    path: (r) => `/api/tasks/${id(r)}/${what}`,
    role: 'agent',
    body: () => ({
      leaseToken: '0123456789abcdef0123456789abcdef',
      note: 'n',
      percent: 50,
      checkpoint: { step: 1 },
      result: 'r',
      data: { d: 1 },
      error: 'e',
      retryable: true,
      reason: 'x',
    }),
  })),
  { method: 'POST', path: () => '/api/nope', role: 'any' },
  { method: 'PUT', path: () => '/api/tasks', role: 'any' },
  {
    method: 'GET',
    path: (r) => r.pick(['/', '/index.html', '/nope.js', '/%2e%2e/package.json', '/a%00b']),
    role: 'none',
  },
  { method: 'POST', path: () => '/', role: 'none' },
  { method: 'POST', path: () => '/mcp', role: 'agent' },
  { method: 'POST', path: () => '/mcp', role: 'supervisor' },
  { method: 'GET', path: () => '/mcp', role: 'agent' },
  { method: 'DELETE', path: () => '/mcp', role: 'supervisor' },
];

interface FuzzRequest {
  method: string;
  path: string;
  token: keyof Harness['tokens'] | 'none' | 'bogus';
  headers: Record<string, string>;
  body?: string | Buffer;
  what: string;
}

const MCP_BODIES = [
  '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"fuzz","version":"1"}}}',
  '{"jsonrpc":"2.0","id":2,"method":"tools/list"}',
  '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"\\ud800"}}',
  '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"task_get","arguments":{"task_id":9223372036854775807}}}',
  '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"task_get","arguments":{"task_id":"\\u0000"}}}',
  '{"jsonrpc":"2.0","id":5,"method":"nope"}',
  '{"jsonrpc":"1.0","id":6}',
  '[]',
  JSON.stringify(Array.from({ length: 101 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' }))),
  '{not json',
  '',
  'null',
];

const TOKEN_FOR: Record<Route['role'], FuzzRequest['token'][]> = {
  admin: ['admin'],
  supervisor: ['supervisor', 'admin'],
  agent: ['alice', 'bob', 'frontend'],
  any: ['admin', 'supervisor', 'alice'],
  none: ['none'],
};

function fuzzRequest(r: Rng): FuzzRequest {
  const route = r.pick(ROUTES);
  const method = route.method;
  const path = route.path(r);
  let token: FuzzRequest['token'] = r.pick(TOKEN_FOR[route.role]);
  if (r.chance(0.05)) token = r.pick(['none', 'bogus', 'alice', 'supervisor'] as const);
  const headers: Record<string, string> = {};
  let what = 'as generated';
  let body: string | Buffer | undefined;

  if (path === '/mcp') {
    headers['content-type'] = r.chance(0.9)
      ? 'application/json'
      : r.pick(['text/plain', 'application/xml', '']);
    headers.accept = r.pick([
      'application/json, text/event-stream',
      'application/json, text/event-stream',
      'application/json',
      'text/event-stream',
      '*/*',
      'text/html',
    ]);
    if (r.chance(0.3)) headers['mcp-protocol-version'] = r.pick(['2025-06-18', '1999-01-01', '\u00ff']);
    body =
      method === 'POST' ? (r.chance(0.02) ? 'x'.repeat(2 * 1024 * 1024) : r.pick(MCP_BODIES)) : undefined;
    return { method, path, token, headers, body, what: `mcp: ${String(body).slice(0, 60)}` };
  }

  const base = route.body?.(r);
  const spoil = r.int(20);
  if (spoil === 0) {
    body = r.pick([
      '{not json',
      '{"a":',
      '[1,2]',
      '"text"',
      '42',
      'null',
      'true',
      '{"a":1}{"b":2}',
      '\u0000',
    ]);
    what = `malformed: ${JSON.stringify(body)}`;
  } else if (spoil === 1) {
    body = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]); // {"a":"\xff\xfe"}
    what = 'not UTF-8';
  } else if (spoil === 2 && r.chance(0.3)) {
    body = JSON.stringify({ ...base, pad: 'a'.repeat(1024 * 1024 + 10) });
    what = 'over the body limit';
  } else if (spoil === 3) {
    const n = r.pick([99, 101, 5_000, 200_000]);
    body = stringify({ ...base, deep: new Raw(`${'['.repeat(n)}1${']'.repeat(n)}`) });
    what = 'deep nesting';
  } else if (spoil === 4) {
    body = JSON.stringify({ ...base, unknownField: hostileValue(r), another: 1 });
    what = 'unknown fields';
  } else if (base && spoil < 18) {
    // One field (or, one time in four, a field of the task of a workflow) gets a hostile value.
    const spoiled: Record<string, unknown> = { ...base };
    const keys = Object.keys(spoiled);
    const value = hostileValue(r);
    const key =
      keys.length > 0 && r.chance(0.85)
        ? r.pick(keys)
        : r.pick([
            'ref',
            'type',
            'title',
            'priority',
            'runAfter',
            'maxReviewRounds',
            'idempotencyKey',
            'session',
            'agent',
            'workflowId',
          ]);
    if (Array.isArray(spoiled.tasks) && r.chance(0.25)) {
      spoiled.tasks = [
        { ...(spoiled.tasks[0] as object), [r.pick(['title', 'type', 'input', 'priority', 'ref'])]: value },
      ];
    } else {
      spoiled[key] = value;
    }
    body = stringify(spoiled);
    what = `${key} = ${shortly(value)}`;
  } else if (base) {
    body = stringify(base);
  } else if (r.chance(0.3)) {
    body = JSON.stringify({ unexpected: 'body' });
    what = 'a body where none is taken';
  }
  if (body !== undefined) headers['content-type'] = r.chance(0.95) ? 'application/json' : 'text/plain';
  return { method, path, token, headers, body, what };
}

function stringify(value: unknown): string {
  const raw: Record<string, string> = {};
  let n = 0;
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Raw) {
      const marker = `__raw_${n++}__`;
      raw[marker] = v.text;
      return marker;
    }
    return v;
  });
  return withRaw(JSON.parse(text), raw);
}

function shortly(value: unknown): string {
  if (value instanceof Raw) return value.text;
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

/** A refusal's body: a JSON error with a code and a message (cns's shape, or JSON-RPC's at /mcp). */
function checkRefusal(a: Answer, where: string): void {
  expect(a.contentType, where).toMatch(/json/);
  const error = a.body?.error;
  expect(error, where).toBeTruthy();
  expect(typeof error.message, where).toBe('string');
  expect(error.message.length, where).toBeGreaterThan(0);
  expect(['string', 'number'], where).toContain(typeof error.code);
}

describe('fuzz: hostile requests across every route, on both backends', () => {
  const seed = Number(process.env.CNS_FUZZ_SEED ?? 20261206);
  const total = Number(process.env.CNS_FUZZ_REQUESTS ?? 5_200);

  it(`${total} requests per backend (seed ${seed}): no 5xx, JSON refusals, no write on refusal, both backends alike`, async () => {
    const r = generator(seed);
    const statuses: Record<string, Record<number, number>> = { sqlite: {}, postgres: {} };
    const started = Date.now();
    const snaps: Record<string, string> = {
      sqlite: await snapshot(backends.sqlite.server.coordinator),
      postgres: await snapshot(backends.postgres.server.coordinator),
    };
    let previous = '(none)';
    for (let i = 0; i < total; i++) {
      const req = fuzzRequest(r);
      const where = `request ${i} (seed ${seed}): ${req.method} ${req.path.slice(0, 120)} as ${req.token}: ${req.what} (after ${previous})`;
      previous = `${req.method} ${req.path.slice(0, 80)} as ${req.token}: ${req.what}`;
      const answers = await Promise.all(
        (['sqlite', 'postgres'] as const).map(async (backend) => {
          const h = backends[backend];
          const secret =
            req.token === 'none' ? null : req.token === 'bogus' ? 'cns_bogus' : h.tokens[req.token];
          const headers = { ...req.headers, ...(secret ? { authorization: `Bearer ${secret}` } : {}) };
          const answer = await send(h.server.port, req.method, req.path, headers, req.body);
          // An accepted MCP notification is answered (202) before the server has handled it, and
          // its agent's registration may land just after: let it, before the next request.
          const after =
            req.path === '/mcp' && answer.status < 300
              ? await settled(h.server.coordinator)
              : await snapshot(h.server.coordinator);
          const before = snaps[backend]!;
          snaps[backend] = after;
          statuses[backend]![answer.status] = (statuses[backend]![answer.status] ?? 0) + 1;
          return { backend, answer, before, after };
        }),
      );
      for (const { backend, answer, before, after } of answers) {
        const at = `${where} [${backend}] → ${answer.status} ${answer.text.slice(0, 300)}`;
        expect(answer.status, at).toBeLessThan(500);
        if (answer.status >= 400) {
          checkRefusal(answer, at);
          expect(after, `a refused request wrote: ${at}`).toBe(before);
        }
      }
      const [s, p] = answers;
      expect(
        `${p!.answer.status} ${p!.answer.body?.error?.code ?? ''}`,
        `${where}: sqlite ${s!.answer.text.slice(0, 200)} / postgres ${p!.answer.text.slice(0, 200)}`,
      ).toBe(`${s!.answer.status} ${s!.answer.body?.error?.code ?? ''}`);
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `fuzz: ${total} requests per backend in ${seconds.toFixed(1)} s (seed ${seed}); statuses ${JSON.stringify(statuses)}`,
    );
  }, 300_000);
});
