/**
 * Fuzzing every MCP tool: arguments generated from each tool's input schema (as tools/list gives
 * it) — valid-shaped values, and hostile ones: wrong types, huge strings, NUL, lone surrogates, deep
 * JSON, negative / huge / fractional numbers, extra keys, missing required keys — sent by a real MCP
 * SDK client over stdio (`cns mcp --role both`: every tool) and over Streamable HTTP to a real
 * `cns serve` (a supervisor token and an agent token), on SQLite and on PostgreSQL.
 *
 * For every call: an answer (no protocol error, no hang), and when refused a tool error (isError)
 * whose text is clear and names the argument at fault; no write on refusal (the latest event id is
 * unchanged). At the end the processes are alive and still answer. Together with
 * test/http-fuzz.test.ts (5,200 HTTP requests per backend) this makes over 10,000 hostile inputs per
 * backend.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCoordinator } from '../src/coordinator/open-coordinator.js';
import type { Coordinator } from '../src/coordinator/coordinator.js';
import { startHarness, type Harness } from './support/http-harness.js';
import { startMcp, tempDb, textOf, type McpProcess } from './support/mcp-harness.js';
import { freshPostgresSchema } from './support/postgres.js';

const STDIO_CALLS = Number(process.env.CNS_MCP_FUZZ_STDIO ?? 3000);
const HTTP_CALLS = Number(process.env.CNS_MCP_FUZZ_HTTP ?? 2000);

// ── a small deterministic generator ─────────────────────────────────────────────────────────────

class Rng {
  constructor(private s: number) {}
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
}

function deep(n: number): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < n; i++) v = i % 2 ? [v] : { k: v };
  return v;
}

/** Hostile values: each one wrong for most fields. */
const HOSTILE: ((r: Rng) => unknown)[] = [
  () => null,
  () => true,
  () => [],
  () => ({}),
  () => '',
  () => '7',
  () => -1,
  () => 0,
  () => 1.5,
  () => -0.5,
  () => 2 ** 53,
  () => 2 ** 63,
  () => 1e308,
  () => -1e308,
  () => 'a\u0000b',
  () => '\ud800',
  () => 'x\udfffy',
  (r) => 'é'.repeat(1000 + r.int(100_000)),
  () => 'z'.repeat(1_200_000),
  () => deep(300),
  () => deep(1200),
  () => Array.from({ length: 20_000 }, (_, i) => i),
  () => ({ __proto__: { admin: true }, constructor: 'x' }),
  () => '<script>alert(1)</script>',
  () => '\u001b[2J\u001b]0;pwned\u0007',
  () => ['a\u0000', '\ud800'],
  () => ({ nested: 'a\u0000' }),
];

/** A valid-shaped value for a schema (ids small, so some exist; waits short). */
function valid(s: JsonSchema, r: Rng, key: string): unknown {
  if (s.const !== undefined) return s.const;
  if (s.enum) return r.pick(s.enum);
  const alts = s.anyOf ?? s.oneOf;
  if (alts)
    return valid(
      r.pick(alts.filter((a) => a.type !== 'null').length ? alts.filter((a) => a.type !== 'null') : alts),
      r,
      key,
    );
  const type = Array.isArray(s.type) ? r.pick(s.type.filter((t) => t !== 'null')) : s.type;
  switch (type) {
    case 'string': {
      const min = s.minLength ?? 0;
      const base = r.pick(['fuzz', 'hello world', 'backend', 'supervisor', 'a'.repeat(min + 3)]);
      const v = base.length < min ? base.padEnd(min, 'x') : base;
      return s.maxLength !== undefined ? v.slice(0, s.maxLength) : v;
    }
    case 'integer':
    case 'number': {
      if (/wait|timeout|seconds/i.test(key)) return 0;
      const lo = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : 0);
      const hi = s.maximum ?? Math.max(lo, 0) + 20;
      const start = Math.max(lo, Math.min(hi, 0));
      return start + r.int(Math.min(20, hi - start + 1));
    }
    case 'boolean':
      return r.chance(0.5);
    case 'array': {
      const n = (s.minItems ?? 0) + r.int(3);
      return Array.from({ length: Math.min(n, s.maxItems ?? n) }, () => valid(s.items ?? {}, r, key));
    }
    case 'object': {
      const o: Record<string, unknown> = {};
      for (const [k, p] of Object.entries(s.properties ?? {})) {
        // Waits are always given (0), or a call would wait its default (tens of seconds) for nothing.
        if ((s.required ?? []).includes(k) || /wait|timeout/i.test(k) || r.chance(0.5)) o[k] = valid(p, r, k);
      }
      return o;
    }
    default:
      return r.pick([{ a: 1 }, [1, 2], 'text', 3, null]);
  }
}

interface Input {
  args: Record<string, unknown>;
  /** The argument the hostile value went to, if one. */
  field: string | null;
  hostile: boolean;
}

function generate(schema: JsonSchema, r: Rng): Input {
  const args = valid({ ...schema, type: 'object' }, r, '') as Record<string, unknown>;
  const keys = Object.keys(schema.properties ?? {});
  const roll = r.int(10);
  if (roll < 3) return { args, field: null, hostile: false };
  if (roll < 8 && keys.length > 0) {
    const field = r.pick(keys);
    return { args: { ...args, [field]: r.pick(HOSTILE)(r) }, field, hostile: true };
  }
  if (roll < 9)
    return { args: { ...args, [`extra_${r.int(5)}`]: r.pick(HOSTILE)(r) }, field: null, hostile: true };
  const required = schema.required ?? [];
  if (required.length > 0) {
    const field = r.pick(required);
    const { [field]: _gone, ...rest } = args;
    return { args: rest, field, hostile: true };
  }
  return { args: { ...args, [`extra_${r.int(5)}`]: 'x' }, field: null, hostile: true };
}

/** Does the refusal name the field? (the argument as sent, or in words: task_id → "task id" / "taskId"). */
function namesField(text: string, field: string): boolean {
  const t = text.toLowerCase();
  const f = field.toLowerCase();
  const camel = f.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()).toLowerCase();
  return t.includes(f) || t.includes(f.replace(/_/g, ' ')) || t.includes(camel);
}

// ── the run ─────────────────────────────────────────────────────────────────────────────────────

interface Tally {
  calls: number;
  /** Refused by the HTTP server's body limit (413) before reaching MCP. */
  tooLarge: number;
  ok: number;
  refused: number;
  problems: string[];
}

/** The tool's argument names, nested ones (a task of a workflow: its ref, title…) included. */
function argNames(schema: JsonSchema | undefined, out: string[] = []): string[] {
  if (!schema) return out;
  for (const [k, p] of Object.entries(schema.properties ?? {})) {
    out.push(k);
    argNames(p, out);
  }
  argNames(schema.items, out);
  for (const a of [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]) argNames(a, out);
  return out;
}

async function fuzz(
  client: Client,
  cns: Coordinator,
  calls: number,
  seed: number,
  alive: () => boolean,
  label: string,
): Promise<Tally> {
  const { tools } = await client.listTools();
  expect(tools.length).toBeGreaterThan(5);
  const r = new Rng(seed);
  const tally: Tally = { calls: 0, tooLarge: 0, ok: 0, refused: 0, problems: [] };
  const problem = (p: string) => {
    if (tally.problems.length < 30) tally.problems.push(`${label}: ${p}`);
  };
  for (let i = 0; i < calls; i++) {
    const tool = r.pick(tools);
    const input = generate(tool.inputSchema as JsonSchema, r);
    const before = await cns.latestEventId();
    tally.calls++;
    let res;
    try {
      res = await client.callTool({ name: tool.name, arguments: input.args }, { timeout: 30_000 });
    } catch (err) {
      // Over HTTP a body beyond the server's limit is refused before MCP sees it: 413, said clearly.
      if (
        /Payload Too Large: Request body must not exceed/.test(String(err)) &&
        JSON.stringify(input.args).length > 1_000_000
      ) {
        tally.refused++;
        tally.tooLarge++;
        continue;
      }
      problem(`${tool.name} (${input.field ?? 'whole'}): a protocol error: ${String(err).slice(0, 300)}`);
      if (!alive()) throw new Error(`${label}: the server died after ${tool.name}: ${String(err)}`);
      continue;
    }
    const text = textOf(res);
    if (res.isError) {
      tally.refused++;
      if (text.trim().length < 10)
        problem(`${tool.name}: a refusal without a message: ${JSON.stringify(text)}`);
      if (/TypeError|ReferenceError|undefined is not|Cannot read prop|at \S+ \(/.test(text))
        problem(`${tool.name}: an internal error leaked: ${text.slice(0, 300)}`);
      // A refusal of the input must name the argument; a refusal for another reason (the task is
      // not held, not found, in another status) need not.
      // (It may refuse another argument first: then that one is named.)
      const names = [input.field, ...argNames(tool.inputSchema as JsonSchema)].filter(
        (n): n is string => !!n,
      );
      if (
        input.hostile &&
        input.field &&
        /invalid|validation|expected|must/i.test(text) &&
        !names.some((n) => namesField(text, n))
      )
        problem(`${tool.name}: the refusal of ${input.field} names no argument: ${text.slice(0, 300)}`);
      const after = await cns.latestEventId();
      if (after !== before) problem(`${tool.name}: refused, yet events ${before + 1}..${after} were written`);
    } else tally.ok++;
  }
  return tally;
}

interface Backend {
  name: 'sqlite' | 'postgres';
  db: string;
  schema?: string;
  cleanup(): Promise<void>;
}

async function backendOf(name: 'sqlite' | 'postgres'): Promise<Backend> {
  if (name === 'sqlite') {
    const t = tempDb();
    return { name, db: t.db, cleanup: async () => t.cleanup() };
  }
  const s = await freshPostgresSchema();
  return { name, db: s.url, schema: s.schema, cleanup: () => s.drop() };
}

const SEEDS = { sqlite: 0xf022, postgres: 0xf023 } as const;

describe.each(['sqlite', 'postgres'] as const)('fuzz: every MCP tool, hostile arguments (%s)', (name) => {
  let b: Backend;
  let cns: Coordinator;
  let stdio: McpProcess;
  let h: Harness;
  const totals = { calls: 0, ok: 0, refused: 0 };

  beforeAll(async () => {
    b = await backendOf(name);
    cns = await openCoordinator({ db: b.db, schema: b.schema, reaper: false, onError: () => undefined });
    // Some tasks, so that valid-shaped ids find something to act on.
    for (let i = 0; i < 20; i++) {
      await cns.createTask(
        { type: i % 2 ? 'fuzz' : 'backend', title: `seed ${i}`, review: i % 3 === 0 },
        'seed',
      );
    }
    stdio = await startMcp(b.db, ['--role', 'both', '--type', 'fuzz', '--name', 'fuzzer'], {
      env: b.schema ? { CNS_PG_SCHEMA: b.schema } : {},
    });
    h = await startHarness({ db: b.db, schema: b.schema });
  });
  afterAll(async () => {
    await stdio?.close().catch(() => undefined);
    await h?.server.close().catch(() => undefined);
    await cns?.close();
    await b?.cleanup();
    console.log(
      `mcp fuzz (${name}): ${totals.calls} tool calls (${totals.ok} accepted, ${totals.refused} refused as tool errors), 0 crashes`,
    );
  });

  const alive = (pid: number) => () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it(`${STDIO_CALLS} calls over stdio (cns mcp --role both): answered, refusals clear and without writes, still alive`, async () => {
    const t = await fuzz(stdio.client, cns, STDIO_CALLS, SEEDS[name], alive(stdio.pid), 'stdio');
    totals.calls += t.calls;
    totals.ok += t.ok;
    totals.refused += t.refused;
    expect(t.problems).toEqual([]);
    expect(t.refused).toBeGreaterThan(STDIO_CALLS / 3);
    expect(t.ok).toBeGreaterThan(STDIO_CALLS / 20);
    expect(alive(stdio.pid)()).toBe(true);
    expect((await stdio.client.listTools()).tools.length).toBeGreaterThan(5);
  }, 300_000);

  it(`${HTTP_CALLS} calls over Streamable HTTP to cns serve (supervisor and agent tokens): the same`, async () => {
    for (const [token, share] of [
      [h.tokens.supervisor, 0.6],
      [h.tokens.alice, 0.4],
    ] as const) {
      const client = new Client({ name: 'cns-fuzz', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL('/mcp', h.url), {
          requestInit: { headers: { authorization: `Bearer ${token}` } },
        }),
      );
      const calls = Math.round(HTTP_CALLS * share);
      const t = await fuzz(
        client,
        cns,
        calls,
        SEEDS[name] + calls,
        () => true,
        `http (${token === h.tokens.alice ? 'agent' : 'supervisor'})`,
      );
      totals.calls += t.calls;
      totals.ok += t.ok;
      totals.refused += t.refused;
      expect(t.problems).toEqual([]);
      expect((await client.listTools()).tools.length).toBeGreaterThan(3);
      await client.close();
    }
    const res = await h.call(h.tokens.supervisor, 'GET', '/api/status');
    expect(res.status).toBe(200);
  }, 300_000);
});
