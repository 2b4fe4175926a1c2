/**
 * A seeded, model-based run of the lifecycle (fast-check is not a dependency): ~300 random
 * operations on a few tasks and agents, checked against a simple model of who holds what.
 * After every step: no two agents hold the same task, the store's holders are the model's,
 * every status change is in TRANSITIONS, and every write with a stale token was rejected.
 */
import { describe, expect, it } from 'vitest';

import { ConflictError, LeaseLostError } from '../../src/core/errors.js';
import { canTransition, isFinal, type TaskStatus } from '../../src/core/status.js';
import type { Agent, Task } from '../../src/core/types.js';
import { create, Lcg, useStore, type BackendHarness } from './fixtures.js';
import { checkEventLogTransitions } from './queries.js';

interface Held {
  agent: Agent;
  token: string;
  expiresAt: number;
}

const SEEDS = [0x5eed, 0xc0ffee];
const STEPS = 300;

export function modelTests(h: BackendHarness): void {
  describe('model-based random run', () => {
    const ctx = useStore(h);

    for (const seed of SEEDS) {
      it(`seed ${seed.toString(16)}: ${STEPS} random operations keep one holder, legal transitions and fencing`, async () => {
        const rng = new Lcg(seed);
        const store = ctx.store;
        const cns = ctx.cns;
        const res = await create(store, [
          { ref: 'a', type: 'backend', title: 'a' },
          { ref: 'b', type: 'backend', title: 'b', dependsOn: ['a'] },
          { ref: 'c', type: 'backend', title: 'c', review: true, maxReviewRounds: 2 },
          { ref: 'd', type: 'backend', title: 'd', maxAttempts: 2 },
          { ref: 'e', type: 'backend', title: 'e', dependsOn: ['b', 'c'], priority: 1 },
          { ref: 'f', type: 'backend', title: 'f', priority: 2, maxAttempts: 4 },
        ]);
        const taskIds = res.tasks.map((t) => t.id);
        const agents: Agent[] = [];
        for (const name of ['m1', 'm2', 'm3']) agents.push(await ctx.agent(name));

        const held = new Map<number, Held>();
        const stale: { taskId: number; token: string }[] = [];
        const counters = { staleRejected: 0, claims: 0, completions: 0, expiries: 0, created: 0 };
        const moveToStale = (taskId: number) => {
          const x = held.get(taskId);
          if (x) {
            stale.push({ taskId, token: x.token });
            held.delete(taskId);
          }
        };

        const readAll = async (): Promise<Map<number, Task>> => {
          const m = new Map<number, Task>();
          for (const id of taskIds) {
            const t = await store.getTask(id);
            expect(t).not.toBeNull();
            m.set(id, t!);
          }
          return m;
        };
        const depsDone = (t: Task, all: Map<number, Task>) =>
          t.dependsOn.every((d) => all.get(d)?.status === 'completed');

        let prev = await readAll();
        for (let step = 0; step < STEPS; step++) {
          const where = `seed ${seed.toString(16)} step ${step}`;
          const op = rng.int(100);
          const heldIds = [...held.keys()];
          const task = prev.get(rng.pick(taskIds))!;

          if (op < 24) {
            // claim
            const agent = rng.pick(agents);
            const r = await ctx.tryClaim(agent);
            if (r) {
              counters.claims++;
              expect(held.has(r.task.id), `${where}: claimed a held task`).toBe(false);
              const before = prev.get(r.task.id)!;
              expect(['pending', 'assigned'], `${where}: claimed from ${before.status}`).toContain(
                before.status,
              );
              if (before.status === 'assigned') expect(before.assignedTo).toBe(agent.id);
              expect(r.task.status).toBe('in_progress');
              expect(stale.some((s) => s.token === r.leaseToken)).toBe(false);
              held.set(r.task.id, { agent, token: r.leaseToken, expiresAt: r.leaseExpiresAt });
            } else {
              // Nothing claimable for this agent: no pending task ready, no task assigned to it.
              const now = await store.now();
              for (const t of prev.values()) {
                const claimable =
                  (t.status === 'pending' && t.runAfter <= now - 1) ||
                  (t.status === 'assigned' && t.assignedTo === agent.id);
                expect(
                  claimable,
                  `${where}: task ${t.id} (${t.status}) was claimable but claim gave null`,
                ).toBe(false);
              }
            }
          } else if (op < 36 && heldIds.length > 0) {
            // complete with the current token
            const id = rng.pick(heldIds);
            const x = held.get(id)!;
            const r = await cns.complete(id, x.token, { result: `r${step}` });
            counters.completions++;
            expect(r.status).toBe(prev.get(id)!.review ? 'awaiting_review' : 'completed');
            moveToStale(id);
          } else if (op < 43 && heldIds.length > 0) {
            // fail
            const id = rng.pick(heldIds);
            const x = held.get(id)!;
            const retryable = rng.chance(0.6);
            const before = prev.get(id)!;
            const r = await cns.fail(id, x.token, { error: `e${step}`, retryable });
            const expected: TaskStatus =
              retryable && before.attempts < before.maxAttempts ? 'pending' : 'failed';
            expect(r.status, where).toBe(expected);
            moveToStale(id);
          } else if (op < 48 && heldIds.length > 0) {
            // release
            const id = rng.pick(heldIds);
            const r = await cns.release(id, held.get(id)!.token);
            expect(r.status).toBe('pending');
            expect(r.attempts).toBe(prev.get(id)!.attempts - 1);
            moveToStale(id);
          } else if (op < 53 && heldIds.length > 0) {
            // progress
            const id = rng.pick(heldIds);
            const x = held.get(id)!;
            const r = await cns.progress(id, x.token, { note: `n${step}`, percent: rng.int(101) });
            expect(r.status).toBe('in_progress');
            x.expiresAt = r.lease!.expiresAt;
          } else if (op < 63 && stale.length > 0) {
            // a write with a stale token: must be rejected and change nothing
            const s = rng.pick(stale);
            const before = prev.get(s.taskId)!;
            const kind = rng.int(5);
            const attempt =
              kind === 0
                ? cns.complete(s.taskId, s.token, { result: 'stale' })
                : kind === 1
                  ? cns.fail(s.taskId, s.token, { error: 'stale', retryable: false })
                  : kind === 2
                    ? cns.release(s.taskId, s.token)
                    : kind === 3
                      ? cns.progress(s.taskId, s.token, { note: 'stale' })
                      : cns.heartbeatTask(s.taskId, s.token);
            const err = await attempt.then(
              () => null,
              (e: unknown) => e,
            );
            expect(
              err,
              `${where}: a stale token was accepted (kind ${kind}, task ${s.taskId})`,
            ).toBeInstanceOf(LeaseLostError);
            counters.staleRejected++;
            const after = (await store.getTask(s.taskId))!;
            expect(after.updatedAt).toBe(before.updatedAt);
            expect(after.status).toBe(before.status);
            expect(after.result).toBe(before.result);
            expect(after.lease).toEqual(before.lease);
          } else if (op < 70) {
            // time passes, then the reaper sweeps
            ctx.clock.advance(rng.chance(0.4) ? ctx.policy.leaseMs + 1 + rng.int(5_000) : 1 + rng.int(6_000));
            const now = await store.now();
            const r = await cns.reap();
            const expiredIds = new Set(r.expired.map((t) => t.id));
            for (const [id, x] of held) {
              if (x.expiresAt <= now)
                expect(expiredIds.has(id), `${where}: task ${id} should have expired`).toBe(true);
            }
            for (const t of r.expired) {
              const x = held.get(t.id);
              expect(x, `${where}: reaped task ${t.id} was not held`).toBeDefined();
              expect(x!.expiresAt).toBeLessThanOrEqual(now);
              const before = prev.get(t.id)!;
              expect(t.status).toBe(before.attempts < before.maxAttempts ? 'pending' : 'failed');
              counters.expiries++;
              moveToStale(t.id);
            }
          } else if (op < 74) {
            // an agent heartbeat renews exactly its held leases
            const agent = rng.pick(agents);
            const r = await store.heartbeatAgent(agent.id, agent.session);
            const mine = [...held].filter(([, x]) => x.agent.id === agent.id).map(([id]) => id);
            expect([...r.renewed].sort((p, q) => p - q)).toEqual(mine.sort((p, q) => p - q));
            const now = await store.now();
            for (const id of mine) held.get(id)!.expiresAt = now + ctx.policy.leaseMs;
          } else if (op < 80) {
            // review
            const approve = rng.chance(0.5);
            const p = cns.review(task.id, {
              reviewer: 'supervisor',
              approve,
              feedback: approve ? undefined : 'redo',
            });
            if (task.status === 'awaiting_review') {
              const r = await p;
              const expected: TaskStatus = approve
                ? 'completed'
                : task.reviewRounds + 1 >= task.maxReviewRounds
                  ? 'failed'
                  : 'pending';
              expect(r.status, where).toBe(expected);
            } else {
              await expect(p, where).rejects.toBeInstanceOf(ConflictError);
            }
          } else if (op < 84) {
            // cancel
            const p = cns.cancel(task.id, 'supervisor', 'model');
            if (isFinal(task.status)) {
              await expect(p, where).rejects.toBeInstanceOf(ConflictError);
            } else {
              const changed = await p;
              expect(changed.map((t) => t.id)).toContain(task.id);
              for (const t of changed) {
                expect(t.status).toBe('cancelled');
                moveToStale(t.id);
              }
            }
          } else if (op < 90) {
            // retry
            const p = cns.retry(task.id, 'supervisor');
            if (task.status === 'failed' || task.status === 'cancelled') {
              const r = await p;
              expect(r.status, where).toBe(depsDone(task, prev) ? 'pending' : 'blocked');
              expect(r.attempts).toBe(0);
            } else {
              await expect(p, where).rejects.toBeInstanceOf(ConflictError);
            }
          } else if (op < 94) {
            // assign
            const agent = rng.pick(agents);
            const p = cns.assign(task.id, agent.id, 'supervisor');
            if (task.status === 'pending' || task.status === 'assigned') {
              const r = await p;
              expect(r).toMatchObject({ status: 'assigned', assignedTo: agent.id });
            } else {
              await expect(p, where).rejects.toBeInstanceOf(ConflictError);
            }
          } else {
            // a new task, sometimes depending on an existing one
            const dep = rng.chance(0.5) ? task : null;
            const r = await create(store, [
              {
                type: 'backend',
                title: `new ${step}`,
                review: rng.chance(0.3),
                maxAttempts: 1 + rng.int(3),
                priority: rng.int(3),
                ...(dep ? { dependsOn: [dep.id] } : {}),
              },
            ]);
            const t = r.tasks[0]!;
            expect(t.status).toBe(dep && dep.status !== 'completed' ? 'blocked' : 'pending');
            taskIds.push(t.id);
            counters.created++;
          }

          // ── invariants ──
          const cur = await readAll();
          for (const [id, t] of cur) {
            const before = prev.get(id);
            if (before && before.status !== t.status) {
              expect(
                canTransition(before.status, t.status),
                `${where}: task ${id} went ${before.status} → ${t.status}`,
              ).toBe(true);
            }
            const x = held.get(id);
            if (x) {
              expect(t.status, `${where}: task ${id} held in the model`).toBe('in_progress');
              expect(t.lease?.token).toBe(x.token);
              expect(t.lease?.agentId).toBe(x.agent.id);
              expect(t.lease?.expiresAt).toBe(x.expiresAt);
            } else {
              expect(t.status, `${where}: task ${id} not held in the model`).not.toBe('in_progress');
              expect(t.lease).toBeNull();
            }
            if (t.status === 'blocked') expect(depsDone(t, cur)).toBe(false);
            if (t.status === 'pending')
              expect(depsDone(t, cur), `${where}: pending task ${id} has open deps`).toBe(true);
          }
          const holders = new Map<number, number>();
          for (const agent of agents) {
            const a = (await store.getAgent(agent.id))!;
            for (const id of a.heldTasks) {
              expect(holders.has(id), `${where}: task ${id} held by two agents`).toBe(false);
              holders.set(id, agent.id);
            }
          }
          expect(new Map([...held].map(([id, x]) => [id, x.agent.id]))).toEqual(holders);
          prev = cur;
        }

        await checkEventLogTransitions(store);
        // The run must have exercised the interesting paths, or it proves little.
        expect(counters.claims).toBeGreaterThan(20);
        expect(counters.completions).toBeGreaterThan(5);
        expect(counters.staleRejected).toBeGreaterThan(10);
        expect(counters.expiries).toBeGreaterThan(0);
      });
    }
  });
}
