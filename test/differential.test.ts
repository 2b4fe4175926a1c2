/**
 * Both backends, provably identical: the same seeded random command sequence runs through a
 * Coordinator over a fresh SQLite store and over a fresh PostgreSQL store (each with a ManualClock
 * at the same T0, moved by the same amounts; no reaper running — a reap is one of the commands),
 * and everything must come out the same: the outcome of every call (its value, or its error's
 * class, code, message and details), the events each call appended, and at the end every task,
 * attempt, agent and workflow and the whole event stream.
 *
 * The sequence is drawn from the seed alone (an operation and a few random numbers per step); a
 * step resolves its targets (which held task, which stale token, which agent) against what its
 * own run has seen and read, so two runs that agree pick the same targets, and the first step at
 * which they disagree is reported with the path of the first differing field.
 *
 * Normalised before comparing, and only this: lease tokens and agent sessions are random per
 * backend, so each is replaced by an alias in order of first appearance (token#1, session#1, …);
 * event ids are compared by position in the stream. Times come from the ManualClock and are
 * compared as they are, and so are task, agent and workflow ids.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { Coordinator } from '../src/coordinator/coordinator.js';
import type { NewTask } from '../src/core/batch.js';
import { ManualClock } from '../src/core/clock.js';
import { resolveConfig } from '../src/core/config.js';
import { CnsError, LeaseLostError } from '../src/core/errors.js';
import type { TaskStatus } from '../src/core/status.js';
import type { Agent, CnsEvent, Task } from '../src/core/types.js';
import { openPostgresStore } from '../src/store/postgres/postgres-store.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { AgentRef, Store, StoreOptions } from '../src/store/store.js';
import { BOGUS_TOKEN, Lcg, T0, TEST_POLICY } from './conformance/fixtures.js';
import { freshPostgresSchema } from './support/postgres.js';

const SEEDS = [0xd1ff, 0x5eed, 0xc0ffee, 0xbadcafe];
const STEPS = 600;

// ── the backends ────────────────────────────────────────────────────────────────────────────────

interface Backend {
  name: 'sqlite' | 'postgres';
  open(options: StoreOptions): Promise<{ store: Store; cleanup(): Promise<void> }>;
}

const BACKENDS: readonly Backend[] = [
  {
    name: 'sqlite',
    async open(options) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cns-differential-'));
      const store = await openSqliteStore(path.join(dir, 'cns.db'), options);
      return {
        store,
        async cleanup() {
          await store.close();
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'postgres',
    async open(options) {
      const s = await freshPostgresSchema();
      const store = await openPostgresStore(s.url, { ...options, schema: s.schema });
      return {
        store,
        async cleanup() {
          await store.close();
          await s.drop();
        },
      };
    },
  },
];

// ── the command sequence ────────────────────────────────────────────────────────────────────────

const OPS = {
  register: 3,
  create: 8,
  workflow: 3,
  claim: 18,
  progress: 5,
  complete: 10,
  fail: 5,
  release: 3,
  heartbeatTask: 3,
  heartbeat: 4,
  stale: 8,
  review: 8,
  cancel: 3,
  cancelWorkflow: 1,
  retry: 4,
  assign: 4,
  advance: 8,
  deregister: 2,
  inspect: 2,
  ask: 4,
  answer: 4,
} as const;
type Op = keyof typeof OPS;

/** One step: an operation and the random numbers it resolves its choices with. */
interface PlannedStep {
  op: Op;
  r: number[];
}

/** Scrambles an LCG output (whose low bits cycle quickly) so that every bit of it is usable. */
function mix(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The sequence for a seed: a few agents and tasks first, then weighted random operations. */
function plan(seed: number, steps: number): PlannedStep[] {
  const rng = new Lcg(seed);
  const ops = Object.entries(OPS) as [Op, number][];
  const total = ops.reduce((n, [, w]) => n + w, 0);
  const out: PlannedStep[] = [];
  for (let i = 0; i < steps; i++) {
    let x = rng.int(total);
    let op: Op = ops[0]![0];
    for (const [name, w] of ops) {
      if (x < w) {
        op = name;
        break;
      }
      x -= w;
    }
    const r = Array.from({ length: 8 }, () => mix(rng.next()));
    if (i < 4) {
      op = 'register';
      r[0] = i;
    } else if (i < 7) op = i === 4 ? 'workflow' : 'create';
    out.push({ op, r });
  }
  return out;
}

const AGENTS: readonly { name: string; type: string; capabilities: readonly string[] }[] = [
  { name: 'w1', type: 'backend', capabilities: ['gpu'] },
  { name: 'w2', type: 'backend', capabilities: [] },
  { name: 'fe1', type: 'frontend', capabilities: ['browser'] },
  { name: 'w3', type: 'backend', capabilities: [] },
  { name: 'rev', type: 'backend', capabilities: [] },
  { name: 'w4', type: 'backend', capabilities: ['gpu', 'browser'] },
];

const pick = <T>(xs: readonly T[], r: number): T | undefined =>
  xs.length === 0 ? undefined : xs[r % xs.length];
/** True with probability pct % (from one random number). */
const chance = (r: number, pct: number) => r % 100 < pct;

// ── normalising ─────────────────────────────────────────────────────────────────────────────────

/** Replaces lease tokens and sessions (random per backend) with aliases in order of first appearance. */
class Aliases {
  private readonly tokens = new Map<string, string>();
  private readonly sessions = new Map<string, string>();

  private alias(map: Map<string, string>, kind: string, value: string): string {
    let a = map.get(value);
    if (a === undefined) map.set(value, (a = `${kind}#${map.size + 1}`));
    return a;
  }

  /** A JSON-like copy with keys sorted, `undefined` properties dropped, tokens and sessions aliased. */
  norm(v: unknown, key?: string): unknown {
    if (typeof v === 'string') {
      if (key === 'token' || key === 'leaseToken') return this.alias(this.tokens, 'token', v);
      if (key === 'session') return this.alias(this.sessions, 'session', v);
      return this.tokens.get(v) ?? this.sessions.get(v) ?? v;
    }
    if (Array.isArray(v)) return v.map((x) => this.norm(x));
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(o)
          .sort()
          .filter((k) => o[k] !== undefined)
          .map((k) => [k, this.norm(o[k], k)]),
      );
    }
    return v;
  }
}

/** An error as compared: its class, code, message and details (or what a foreign error has). */
function errorOutcome(err: unknown): Record<string, unknown> {
  if (err instanceof CnsError)
    return { error: err.constructor.name, code: err.code, message: err.message, details: err.details };
  if (err instanceof Error) return { error: err.constructor.name, foreign: true, message: err.message };
  return { error: 'non-error', value: String(err) };
}

/** The path and both values of the first difference between two normalised values, or null. */
function firstDifference(a: unknown, b: unknown, at = ''): string | null {
  const show = (x: unknown) => (x === undefined ? '(absent)' : JSON.stringify(x));
  if (Object.is(a, b)) return null;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], `${at}[${i}]`);
      if (d) return d;
    }
    return a.length === b.length ? null : `${at}.length: sqlite ${a.length}, postgres ${b.length}`;
  }
  if (
    a !== null &&
    b !== null &&
    typeof a === 'object' &&
    typeof b === 'object' &&
    !Array.isArray(a) &&
    !Array.isArray(b)
  ) {
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    for (const k of [...new Set([...Object.keys(ao), ...Object.keys(bo)])].sort()) {
      const d = firstDifference(ao[k], bo[k], `${at}.${k}`);
      if (d) return d;
    }
    return null;
  }
  return `${at || '(value)'}: sqlite ${show(a)}, postgres ${show(b)}`;
}

// ── one run ─────────────────────────────────────────────────────────────────────────────────────

/**
 * What one step did: the call as resolved, its outcome, the events it appended, and the tasks and
 * agents that changed (whole, as read after the step).
 */
interface StepRecord {
  step: number;
  call: unknown;
  outcome: unknown;
  events: unknown[];
  tasks: unknown[];
  agents: unknown[];
}

interface RunResult {
  steps: StepRecord[];
  tasks: unknown;
  attempts: unknown;
  events: unknown;
  agents: unknown;
  workflows: unknown;
  questions: unknown;
  counts: unknown;
  /** Stale-token writes that were not refused with a LeaseLostError, or changed something (must be none). */
  staleAccepted: string[];
  /** How often each operation succeeded and failed, and a few outcomes that matter. */
  tally: Record<string, number>;
}

async function allEvents(store: Store, after = 0): Promise<CnsEvent[]> {
  const out: CnsEvent[] = [];
  for (;;) {
    const page = await store.listEvents({ after, limit: 1000 });
    out.push(...page);
    if (page.length < 1000) return out;
    after = page[page.length - 1]!.id;
  }
}

async function allTasks(store: Store, filter: { status?: TaskStatus[] } = {}): Promise<Task[]> {
  const out: Task[] = [];
  let after: number | undefined;
  for (;;) {
    const page = await store.listTasks({ ...filter, limit: 500, ...(after === undefined ? {} : { after }) });
    out.push(...page.items);
    if (page.nextCursor === null) return out;
    after = page.nextCursor;
  }
}

async function runSequence(backend: Backend, steps: readonly PlannedStep[]): Promise<RunResult> {
  const policy = { ...TEST_POLICY };
  const clock = new ManualClock(T0);
  const { store, cleanup } = await backend.open({ policy, clock });
  const cns = new Coordinator(
    store,
    resolveConfig(
      { ...policy, pollBackstopMs: 200, claimBackstopMs: 200, heartbeatIntervalMs: 1_000 },
      {},
      '/',
    ),
    { reaper: false },
  );
  const aliases = new Aliases();
  const records: StepRecord[] = [];
  const staleAccepted: string[] = [];
  const tally: Record<string, number> = {};
  const count = (k: string) => (tally[k] = (tally[k] ?? 0) + 1);
  /** Every registration, in order (the latest of a name is its current session). */
  const registrations: Agent[] = [];
  /** Every lease token handed out, with its task. */
  const claims: { taskId: number; token: string }[] = [];
  const workflowIds: number[] = [];
  /** The last state seen of each task and agent (normalised JSON), to record what a step changed. */
  const seenTasks = new Map<number, string>();
  const seenAgents = new Map<number, string>();
  const changed = (seen: Map<number, string>, items: { id: number }[]) =>
    items.filter((x) => {
      const json = JSON.stringify(x);
      if (seen.get(x.id) === json) return false;
      seen.set(x.id, json);
      return true;
    });
  let eventCursor = 0;
  let eventPosition = 0;
  const positioned = (e: CnsEvent) => ({ ...e, id: eventPosition++ });

  const current = (name: string) => [...registrations].reverse().find((a) => a.name === name);
  const refOf = (a: Agent): AgentRef => ({
    id: a.id,
    name: a.name,
    type: a.type,
    capabilities: a.capabilities,
    session: a.session,
  });
  /** An agent registration: mostly a name's current session, sometimes an earlier one. */
  const someRegistration = (r1: number, r2: number): Agent | undefined => {
    const a = pick(registrations, r1);
    if (!a) return undefined;
    return chance(r2, 85) ? current(a.name) : a;
  };

  try {
    for (const [i, { op, r }] of steps.entries()) {
      let call: Record<string, unknown> = { op };
      let stale = false;
      const run = async (): Promise<unknown> => {
        switch (op) {
          case 'register': {
            const spec = AGENTS[r[0]! % AGENTS.length]!;
            // Re-registering may change the capabilities; host and pid fixed (they are data only).
            const capabilities = chance(r[1]!, 80) ? [...spec.capabilities] : [];
            call = { op, name: spec.name, type: spec.type, capabilities };
            const a = await cns.registerAgent({
              name: spec.name,
              type: spec.type,
              capabilities,
              host: 'h',
              pid: 1,
            });
            registrations.push(a);
            return a;
          }
          case 'create': {
            const existing = await allTasks(store);
            // Sometimes a dependency that does not exist: refused, nothing created.
            const missing = chance(r[0]! >>> 16, 8) ? [99_999] : [];
            const deps = chance(r[0]!, 35)
              ? [
                  ...new Set([
                    pick(existing, r[1]!)?.id,
                    chance(r[2]!, 30) ? pick(existing, r[3]!)?.id : undefined,
                  ]),
                ].filter((x): x is number => x !== undefined)
              : [];
            const frontend = chance(r[4]!, 15);
            const task: NewTask & { workflowId?: number } = {
              type: frontend ? 'frontend' : 'backend',
              title: `task ${i}`,
              spec: `do ${i}`,
              priority: r[5]! % 3,
              maxAttempts: 1 + (r[6]! % 3),
              review: chance(r[7]!, 45),
              maxReviewRounds: 1 + ((r[7]! >>> 8) % 3),
              ...(deps.length + missing.length > 0 ? { dependsOn: [...deps, ...missing] } : {}),
              ...(chance(r[1]! >>> 8, 15) ? { requires: [frontend ? 'browser' : 'gpu'] } : {}),
              ...(chance(r[2]! >>> 8, 10) ? { runAfter: clock.now() + 3_000 } : {}),
              ...(chance(r[3]! >>> 8, 10) ? { idempotencyKey: `key-${(r[3]! >>> 16) % 8}` } : {}),
              ...(chance(r[4]! >>> 8, 10)
                ? { input: { n: i, list: [1, 'two'] }, metadata: { step: i } }
                : {}),
            };
            const wf = chance(r[5]! >>> 8, 20) ? pick(workflowIds, r[6]! >>> 8) : undefined;
            if (wf !== undefined) task.workflowId = wf;
            call = { op, task };
            return cns.createTask(task, 'supervisor');
          }
          case 'workflow': {
            const n = 2 + (r[0]! % 3);
            const tasks: NewTask[] = [];
            for (let k = 0; k < n; k++) {
              const rk = r[1 + k]!;
              const deps = k > 0 && chance(rk, 60) ? [`t${rk % k}`] : [];
              tasks.push({
                ref: `t${k}`,
                type: 'backend',
                title: `wf ${i} task ${k}`,
                priority: (rk >>> 8) % 3,
                maxAttempts: 1 + ((rk >>> 12) % 3),
                ...(deps.length > 0 ? { dependsOn: deps } : {}),
              });
            }
            const wf = { name: `workflow ${i}`, review: chance(r[6]!, 40), tasks };
            call = { op, wf };
            const res = await cns.createWorkflow(wf, 'supervisor');
            if (res.workflow) workflowIds.push(res.workflow.id);
            return res;
          }
          case 'claim': {
            const a = someRegistration(r[0]!, r[1]!);
            if (!a) return 'no agent';
            const leaseMs = chance(r[2]!, 20) ? pick([4_000, 25_000], r[3]!) : undefined;
            call = { op, agent: a.name, session: a.session, leaseMs };
            const out = await cns.claimNext(refOf(a), { waitMs: 0, ...(leaseMs ? { leaseMs } : {}) });
            if (out.claimed) claims.push({ taskId: out.claimed.task.id, token: out.claimed.leaseToken });
            return out;
          }
          case 'progress':
          case 'complete':
          case 'fail':
          case 'release':
          case 'heartbeatTask': {
            const t = pick(await allTasks(store, { status: ['in_progress'] }), r[0]!);
            if (!t) return 'nothing held';
            const token = t.lease!.token;
            call = { op, taskId: t.id, token };
            if (op === 'progress') {
              const input = {
                ...(chance(r[1]!, 70) ? { note: `note ${i}` } : {}),
                ...(chance(r[2]!, 60) ? { percent: r[3]! % 101 } : {}),
                ...(chance(r[4]!, 30) ? { checkpoint: { step: i, files: ['a.ts'] } } : {}),
              };
              call.input = input;
              return cns.progress(t.id, token, input);
            }
            if (op === 'complete') {
              const input = {
                result: `result ${i}`,
                ...(chance(r[1]!, 40) ? { data: { step: i, ok: true } } : {}),
              };
              call.input = input;
              return cns.complete(t.id, token, input);
            }
            if (op === 'fail') {
              const input = {
                error: `error ${i}`,
                ...(chance(r[1]!, 80) ? { retryable: chance(r[2]!, 65) } : {}),
              };
              call.input = input;
              return cns.fail(t.id, token, input);
            }
            if (op === 'release') {
              const reason = chance(r[1]!, 50) ? `reason ${i}` : undefined;
              call.reason = reason;
              return cns.release(t.id, token, reason);
            }
            return cns.heartbeatTask(t.id, token);
          }
          case 'stale': {
            // A write with a token that is not the task's lease: a former holder's, one of another
            // task, or one never given out. Must be refused (LeaseLostError), changing nothing.
            const tasks = new Map((await allTasks(store)).map((t) => [t.id, t]));
            const formers = claims.filter((c) => tasks.get(c.taskId)?.lease?.token !== c.token);
            let taskId: number;
            let token: string;
            const kind = r[0]! % 10;
            const former = pick(formers, r[1]!);
            const target = pick([...tasks.keys()], r[2]!);
            if (kind < 7 && former) ({ taskId, token } = former);
            else if (kind < 9 && target !== undefined && claims.length > 0) {
              taskId = target;
              token = pick(claims, r[3]!)!.token;
              if (tasks.get(taskId)?.lease?.token === token) return 'not stale';
            } else if (target !== undefined) {
              taskId = target;
              token = BOGUS_TOKEN;
            } else return 'no task';
            stale = true;
            const write = pick(
              ['complete', 'fail', 'release', 'progress', 'heartbeatTask', 'ask'] as const,
              r[4]!,
            )!;
            call = { op, write, taskId, token };
            if (write === 'complete') return cns.complete(taskId, token, { result: 'stale' });
            if (write === 'fail')
              return cns.fail(taskId, token, { error: 'stale', retryable: chance(r[5]!, 50) });
            if (write === 'release') return cns.release(taskId, token, 'stale');
            if (write === 'progress') return cns.progress(taskId, token, { note: 'stale', percent: 1 });
            if (write === 'ask') return cns.ask(taskId, token, { text: 'stale?' });
            return cns.heartbeatTask(taskId, token);
          }
          case 'review': {
            const all = await allTasks(store);
            const waiting = all.filter((t) => t.status === 'awaiting_review');
            const t = chance(r[0]!, 92) ? (pick(waiting, r[1]!) ?? pick(all, r[1]!)) : pick(all, r[1]!);
            if (!t) return 'no task';
            const author = registrations.find((a) => a.id === t.completedBy);
            const reviewer = pick(registrations, r[3]!);
            const approve = chance(r[4]!, 50);
            const feedback = approve
              ? chance(r[5]!, 30)
                ? 'looks good'
                : undefined
              : chance(r[5]!, 90)
                ? `redo ${i}`
                : ' ';
            // The supervisor, an agent (by name and id, or by name only), or the author (by id under
            // another name, or by name): the author is refused.
            const who = r[2]! % 10;
            const input =
              who < 4 || !reviewer
                ? { reviewer: 'supervisor' }
                : who < 6
                  ? { reviewer: reviewer.name, reviewerAgentId: reviewer.id }
                  : who < 7
                    ? { reviewer: reviewer.name }
                    : who < 9
                      ? { reviewer: 'someone', reviewerAgentId: author?.id ?? reviewer.id }
                      : { reviewer: author?.name ?? reviewer.name };
            const full = { ...input, approve, ...(feedback === undefined ? {} : { feedback }) };
            call = { op, taskId: t.id, ...full };
            return cns.review(t.id, full);
          }
          case 'cancel': {
            const all = await allTasks(store);
            const open = all.filter(
              (t) => t.status !== 'completed' && t.status !== 'failed' && t.status !== 'cancelled',
            );
            const t = chance(r[0]!, 80) ? (pick(open, r[1]!) ?? pick(all, r[1]!)) : pick(all, r[1]!);
            const taskId = chance(r[2]!, 5) || !t ? 99_999 : t.id;
            const reason = chance(r[3]!, 50) ? `cancel ${i}` : undefined;
            call = { op, taskId, reason };
            return cns.cancel(taskId, 'supervisor', reason);
          }
          case 'cancelWorkflow': {
            const wf = chance(r[0]!, 90) ? pick(workflowIds, r[1]!) : undefined;
            const workflowId = wf ?? 99_999;
            call = { op, workflowId };
            return cns.cancelWorkflow(workflowId, 'supervisor', chance(r[2]!, 50) ? 'abandon' : undefined);
          }
          case 'retry': {
            const all = await allTasks(store);
            const ended = all.filter((t) => t.status === 'failed' || t.status === 'cancelled');
            const t = chance(r[0]!, 85) ? (pick(ended, r[1]!) ?? pick(all, r[1]!)) : pick(all, r[1]!);
            if (!t) return 'no task';
            call = { op, taskId: t.id };
            return cns.retry(t.id, 'supervisor');
          }
          case 'assign': {
            const all = await allTasks(store);
            const assignable = all.filter((t) => t.status === 'pending' || t.status === 'assigned');
            const t = chance(r[0]!, 85) ? (pick(assignable, r[1]!) ?? pick(all, r[1]!)) : pick(all, r[1]!);
            const a = pick(registrations, r[2]!);
            if (!t || !a) return 'nothing to assign';
            const agentRef = chance(r[3]!, 50) ? a.id : chance(r[4]!, 90) ? a.name : 'nobody';
            call = { op, taskId: t.id, agentRef };
            return cns.assign(t.id, agentRef, 'supervisor');
          }
          case 'advance': {
            const ms = pick(
              [200, 1_500, policy.retryBaseMs * 3, policy.leaseMs + 1, policy.offlineAfterMs + 1],
              r[0]!,
            )!;
            clock.advance(ms);
            const reap = chance(r[1]!, 75);
            call = { op, ms, reap };
            return reap ? cns.reap() : 'advanced';
          }
          case 'heartbeat': {
            const a = someRegistration(r[0]!, r[1]!);
            if (!a) return 'no agent';
            const session = chance(r[2]!, 10) ? null : a.session;
            call = { op, agentId: a.id, session };
            return cns.heartbeat(a.id, session);
          }
          case 'inspect': {
            // Reads: what a session holds (as its claims handed it out) and why a task is not moving.
            const a = someRegistration(r[0]!, r[1]!);
            const t = pick(await allTasks(store), r[2]!);
            if (!a || !t) return 'nothing to inspect';
            call = { op, agentId: a.id, session: a.session, taskId: t.id };
            return { held: await cns.heldTasks(a), explanation: await cns.explain(t.id) };
          }
          case 'ask': {
            // The holder asks about a task in progress (stale tokens asking: see 'stale').
            const t = pick(await allTasks(store, { status: ['in_progress'] }), r[0]!);
            if (!t) return 'nothing held';
            const token = t.lease!.token;
            const input = {
              text: `question ${i}?`,
              ...(chance(r[2]!, 50) ? { choices: ['yes', 'no'] } : {}),
              ...(chance(r[3]!, 30) ? { context: { step: i } } : {}),
              ...(chance(r[4]!, 30) ? { for: 'dba' } : {}),
            };
            call = { op, taskId: t.id, token, input };
            return cns.ask(t.id, token, input);
          }
          case 'answer': {
            // Mostly an open question; sometimes one already answered or closed (refused).
            const open = chance(r[0]!, 80);
            const questions = await cns.listQuestions({ status: open ? ['open'] : ['answered', 'closed'] });
            const q = pick(questions, r[1]!);
            if (!q) return 'no question';
            const by = chance(r[2]!, 70)
              ? { name: 'supervisor', agentId: null, role: 'supervisor' as const }
              : { name: 'carol', agentId: null, role: 'supervisor' as const };
            call = { op, questionId: q.id, by: by.name };
            return cns.answer(q.id, { answer: chance(r[3]!, 50) ? 'yes' : `answer ${i}`, by });
          }
          case 'deregister': {
            const a = someRegistration(r[0]!, r[1]!);
            if (!a) return 'no agent';
            const session = chance(r[2]!, 15) ? null : a.session;
            const actor = chance(r[3]!, 80) ? a.name : 'admin';
            call = { op, agentId: a.id, session, actor };
            return cns.deregisterAgent(a.id, session, actor);
          }
        }
      };

      let outcome: unknown;
      try {
        const value = await run();
        outcome = { value };
        count(typeof value === 'string' ? `${op}:skipped` : `${op}:ok`);
        if (stale) staleAccepted.push(`step ${i}: ${JSON.stringify(call)}`);
      } catch (err) {
        outcome = errorOutcome(err);
        count(`${op}:${err instanceof CnsError ? err.code : 'foreign'}`);
        if (stale && !(err instanceof LeaseLostError))
          staleAccepted.push(`step ${i}: ${JSON.stringify(call)} → ${String(err)}`);
      }
      const appended = await allEvents(store, eventCursor);
      if (appended.length > 0) eventCursor = appended[appended.length - 1]!.id;
      for (const e of appended) count(e.kind);
      const record = aliases.norm({ step: i, call, outcome, events: appended.map(positioned) }) as StepRecord;
      record.tasks = changed(
        seenTasks,
        (await allTasks(store)).map((t) => aliases.norm(t) as { id: number }),
      );
      record.agents = changed(
        seenAgents,
        (await store.listAgents()).map((a) => aliases.norm(a) as { id: number }),
      );
      if (stale && (record.events.length > 0 || record.tasks.length > 0))
        staleAccepted.push(`step ${i}: ${JSON.stringify(call)} changed something`);
      records.push(record);
    }

    const tasks = await allTasks(store);
    const attempts = [];
    for (const t of tasks) attempts.push(...(await store.listAttempts(t.id)));
    const workflows = [];
    for (let after = 0; ;) {
      const page = await store.listWorkflows({ limit: 500, after });
      workflows.push(...page.items);
      if (page.nextCursor === null) break;
      after = page.nextCursor;
    }
    const events = (await allEvents(store)).map((e, position) => ({ ...e, id: position }));
    return {
      steps: records,
      tasks: aliases.norm(tasks),
      attempts: aliases.norm(attempts),
      events: aliases.norm(events),
      agents: aliases.norm(await store.listAgents()),
      workflows: aliases.norm(workflows),
      questions: aliases.norm(await store.listQuestions({ order: 'oldest', limit: 500 })),
      counts: await store.countTasks(),
      staleAccepted,
      tally,
    };
  } finally {
    cns.changes.close();
    await cleanup();
  }
}

// ── the test ────────────────────────────────────────────────────────────────────────────────────

function describeStep(s: StepRecord | undefined): string {
  return s === undefined ? '(none)' : JSON.stringify(s.call);
}

describe('differential: the same random command sequence on SQLite and PostgreSQL', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed.toString(16)}: ${STEPS} operations, identical outcomes, tasks, attempts and events`, async () => {
      const steps = plan(seed, STEPS);
      const [sqlite, postgres] = [
        await runSequence(BACKENDS[0]!, steps),
        await runSequence(BACKENDS[1]!, steps),
      ];
      const where = `seed ${seed.toString(16)}`;

      // Every stale-token write was refused with a LeaseLostError and changed nothing, on each backend.
      expect(sqlite.staleAccepted, `${where}, sqlite`).toEqual([]);
      expect(postgres.staleAccepted, `${where}, postgres`).toEqual([]);

      // Step by step: the first call whose outcome, events or changes differ, with the field.
      for (let i = 0; i < STEPS; i++) {
        const [a, b] = [sqlite.steps[i], postgres.steps[i]];
        const calls =
          describeStep(a) === describeStep(b)
            ? describeStep(a)
            : `sqlite ${describeStep(a)} / postgres ${describeStep(b)}`;
        for (const part of ['call', 'outcome', 'events', 'tasks', 'agents'] as const) {
          const d = firstDifference(a?.[part], b?.[part], `${part}`);
          expect(d, `${where}, first difference at step ${i} ${calls}: ${d}`).toBeNull();
        }
      }
      // The final state, whole.
      for (const part of ['tasks', 'attempts', 'agents', 'workflows', 'counts', 'events'] as const) {
        const d = firstDifference(sqlite[part], postgres[part], part);
        expect(d, `${where}, at the end: ${d}`).toBeNull();
        expect(postgres[part], `${where}: ${part}`).toEqual(sqlite[part]);
      }
      expect(postgres.steps).toEqual(sqlite.steps);

      // The run exercised what it claims to compare (or it proves little).
      const t = sqlite.tally;
      const at = (k: string) => t[k] ?? 0;
      const summary = JSON.stringify(t);
      const atLeast: [string, number][] = [
        ['task.claimed', 50],
        ['task.progress', 5],
        ['task.failed', 8],
        ['task.released', 3],
        ['task.expired', 8],
        ['task.approved', 1],
        ['task.changes_requested', 2],
        ['task.cancelled', 10],
        ['workflow.cancelled', 1],
        ['task.retried', 8],
        ['task.assigned', 8],
        ['task.unblocked', 2],
        ['agent.registered', 10],
        ['agent.deregistered', 4],
        ['agent.offline', 4],
        ['stale:lease_lost', 20],
        ['review:forbidden', 1],
        ['review:conflict', 1],
        ['create:not_found', 1],
        ['inspect:ok', 3],
        ['task.asked', 5],
        ['task.answered', 3],
        ['answer:conflict', 1],
      ];
      for (const [k, n] of atLeast) expect(at(k), `${k} in ${summary}`).toBeGreaterThanOrEqual(n);
      expect(at('task.completed') + at('task.submitted'), summary).toBeGreaterThanOrEqual(15);
    });
  }
});
