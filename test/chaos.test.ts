/**
 * Chaos: agent processes (AgentSession: background heartbeats, one task at a time) killed with
 * SIGKILL at random and restarted under the same names, with a short lease, on SQLite and on
 * PostgreSQL. Some tasks make their agent stall past its lease and then complete late (a fencing
 * probe). At the end, from the database and the event log: every task completed exactly once, no
 * late write accepted, one claim event per attempt row, attempts within their limit, nothing stuck.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openCoordinator } from '../src/coordinator/open-coordinator.js';
import type { Coordinator } from '../src/coordinator/coordinator.js';
import type { CnsEvent } from '../src/core/types.js';
import { freshPostgresSchema } from './support/postgres.js';

const WORKER = fileURLToPath(new URL('./support/session-worker.ts', import.meta.url));
const TASKS = 120;
const AGENTS = 5;
const LEASE_MS = 2_000;

const dir = mkdtempSync(join(tmpdir(), 'cns-chaos-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Agent {
  name: string;
  child: ChildProcess;
}

interface Outcomes {
  ok: number[];
  staleRefused: number[];
  staleAccepted: number[];
}

function start(db: string, name: string, schema: string | undefined, out: Outcomes): Agent {
  const args = ['--import', 'tsx', WORKER, db, name, ...(schema ? [schema] : [])];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CHAOS_LEASE_MS: String(LEASE_MS), CHAOS_WORK_MS: '80' },
  });
  let buffered = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      const o = JSON.parse(line) as Record<keyof Outcomes, number>;
      for (const k of Object.keys(o) as (keyof Outcomes)[]) out[k].push(o[k]);
    }
  });
  child.stderr!.on('data', () => undefined);
  return { name, child };
}

async function allEvents(cns: Coordinator, kinds: CnsEvent['kind'][]): Promise<CnsEvent[]> {
  const events: CnsEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await cns.listEvents({ after, limit: 1000, kinds });
    events.push(...page);
    if (page.length < 1000) return events;
    after = page[page.length - 1]!.id;
  }
}

async function chaos(db: string, schema?: string): Promise<string> {
  const cns = await openCoordinator({ db, schema, reaperIntervalMs: 100, leaseMs: LEASE_MS });
  try {
    const created = await cns.createTasks({
      actor: 'chaos',
      tasks: Array.from({ length: TASKS }, (_, i) => ({
        type: 'chaos',
        title: `task ${i}`,
        maxAttempts: 40,
        input: { stall: i % 15 === 7 },
      })),
    });
    // An agent stalled on purpose is left alone, so that its late completion probes the fence.
    const stalling = new Set(
      created.tasks.filter((t) => (t.input as { stall: boolean }).stall).map((t) => t.id),
    );
    const out: Outcomes = { ok: [], staleRefused: [], staleAccepted: [] };
    const agents = Array.from({ length: AGENTS }, (_, i) => start(db, `chaos-${i}`, schema, out));
    let seed = 0x5eed;
    const rand = (n: number) => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) % n;
    let kills = 0;
    let holdersKilled = 0;
    const deadline = Date.now() + 150_000;
    let lastCompleted = -1;
    let lastMove = Date.now();
    // Every 100-300 ms (about 200 on average) kill an agent with SIGKILL, most often one that holds
    // a task, and start it again under the same name, until every task is done (or nothing has
    // moved for 20 s: then something is stuck, which the checks below report).
    while (Date.now() < deadline && Date.now() - lastMove < 20_000) {
      const counts = await cns.countTasks();
      if (counts.completed === TASKS) break;
      if (counts.completed !== lastCompleted) {
        lastCompleted = counts.completed;
        lastMove = Date.now();
      }
      await new Promise((r) => setTimeout(r, 100 + rand(200)));
      if (kills >= 40) continue;
      const live = await cns.listAgents();
      const index = (a: (typeof live)[number]) =>
        agents.findIndex((x) => x.name === a.name && x.child.pid === a.pid);
      const spared = live.filter((a) => a.heldTasks.some((id) => stalling.has(id))).map(index);
      const holders = live
        .filter((a) => a.heldTasks.length > 0 && a.status !== 'offline')
        .map(index)
        .filter((i) => i >= 0 && !spared.includes(i));
      const i = holders.length > 0 && rand(10) < 7 ? holders[rand(holders.length)]! : rand(agents.length);
      if (spared.includes(i)) continue;
      if (holders.includes(i)) holdersKilled++;
      agents[i]!.child.kill('SIGKILL');
      kills++;
      agents[i] = start(db, agents[i]!.name, schema, out);
    }
    for (const a of agents) a.child.kill('SIGKILL');

    const counts = await cns.countTasks();
    expect(counts, 'every task completed, none stuck').toMatchObject({
      completed: TASKS,
      pending: 0,
      in_progress: 0,
      failed: 0,
    });
    const completed = await allEvents(cns, ['task.completed']);
    const perTask = new Map<number, number>();
    for (const e of completed) perTask.set(e.taskId!, (perTask.get(e.taskId!) ?? 0) + 1);
    expect(perTask.size).toBe(TASKS);
    expect(
      [...perTask.values()].filter((n) => n !== 1),
      'tasks completed more than once',
    ).toEqual([]);
    expect(out.staleAccepted, 'late completions accepted').toEqual([]);
    // No accepted completion was reported twice for a task (by two holders).
    expect(new Set(out.ok).size).toBe(out.ok.length);

    const claims = await allEvents(cns, ['task.claimed']);
    let attemptRows = 0;
    const tasks = await cns.listTasks({ limit: 500 });
    for (const t of tasks.items) {
      expect(t.attempts).toBeLessThanOrEqual(t.maxAttempts);
      const { attempts } = await cns.getTaskDetail(t.id);
      attemptRows += attempts.length;
      expect(attempts.filter((a) => a.outcome === 'completed')).toHaveLength(1);
      expect(attempts.filter((a) => a.outcome === 'running')).toEqual([]);
    }
    expect(claims.length, 'one claim event per attempt').toBe(attemptRows);
    const expired = await allEvents(cns, ['task.expired']);
    expect(kills).toBeGreaterThan(10);
    expect(holdersKilled).toBeGreaterThan(5);
    expect(expired.length).toBeGreaterThan(0);
    expect(out.staleRefused.length).toBeGreaterThan(0);
    return (
      `${TASKS} tasks, ${AGENTS} agents, ${kills} SIGKILLs (${holdersKilled} of agents holding a task; ` +
      `each restarted under the same name), ` +
      `${attemptRows} attempts, ${expired.length} leases expired, ${out.staleRefused.length} late ` +
      `completions refused, 0 accepted, 0 duplicates, 0 stuck`
    );
  } finally {
    await cns.close();
  }
}

describe('chaos: agents SIGKILLed at random and restarted under the same names', () => {
  it('sqlite: every task completed exactly once, no late write accepted, nothing stuck', async () => {
    const summary = await chaos(join(dir, 'chaos.db'));
    console.log(`chaos (sqlite): ${summary}`);
  }, 200_000);

  it('postgres: every task completed exactly once, no late write accepted, nothing stuck', async () => {
    const s = await freshPostgresSchema();
    try {
      const summary = await chaos(s.url, s.schema);
      console.log(`chaos (postgres): ${summary}`);
    } finally {
      await s.drop();
    }
  }, 200_000);
});
