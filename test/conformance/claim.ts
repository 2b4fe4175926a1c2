import { describe, expect, it } from 'vitest';

import { ConflictError, NotFoundError } from '../../src/core/errors.js';
import { counts, create, createOne, T0, useStore, type BackendHarness } from './fixtures.js';

export function claimTests(h: BackendHarness): void {
  describe('claim', () => {
    const ctx = useStore(h);

    it('one holder: 50 concurrent claims on 20 tasks give 20 distinct tasks and 30 nulls', async () => {
      await create(
        ctx.store,
        Array.from({ length: 20 }, (_, i) => ({ type: 'backend', title: `task ${i}` })),
      );
      const agents = [];
      for (let i = 0; i < 50; i++) agents.push(await ctx.agent(`racer-${i}`));
      const results = await Promise.all(agents.map((a) => ctx.tryClaim(a)));
      const won = results.filter((r) => r !== null);
      expect(won).toHaveLength(20);
      expect(results.filter((r) => r === null)).toHaveLength(30);
      expect(new Set(won.map((r) => r.task.id)).size).toBe(20);
      const tokens = won.map((r) => r.leaseToken);
      for (const t of tokens) expect(t.length).toBeGreaterThanOrEqual(16);
      expect(new Set(tokens).size).toBe(20);

      // Each winner is the recorded holder, and each holder holds exactly one task.
      for (let i = 0; i < agents.length; i++) {
        const r = results[i];
        if (!r) continue;
        const t = await ctx.task(r.task.id);
        expect(t.status).toBe('in_progress');
        expect(t.lease?.agentId).toBe(agents[i]!.id);
        expect(t.lease?.token).toBe(r.leaseToken);
        expect((await ctx.getAgent(agents[i]!.id)).heldTasks).toEqual([r.task.id]);
      }
      expect(await ctx.store.countTasks()).toEqual(counts({ in_progress: 20 }));
      const claimed = await ctx.store.listEvents({ kinds: ['task.claimed'], limit: 1000 });
      expect(claimed).toHaveLength(20);
    });

    it('concurrent claims by agents of different types and capabilities each get a task they may take', async () => {
      // The older task needs git: whichever of the two backend agents claims first, each ends up
      // with the task it alone can or should take.
      await create(ctx.store, [
        { type: 'backend', title: 'needs git', requires: ['git'] },
        { type: 'backend', title: 'plain backend' },
        { type: 'frontend', title: 'frontend' },
      ]);
      const plain = await ctx.agent('plain', 'backend');
      const git = await ctx.agent('git', 'backend', ['git']);
      const fe = await ctx.agent('fe', 'frontend');
      const other = await ctx.agent('other', 'docs');
      const [a, b, c, d] = await Promise.all([git, plain, fe, other].map((agent) => ctx.tryClaim(agent)));
      expect(a?.task.title).toBe('needs git');
      expect(b?.task.title).toBe('plain backend');
      expect(c?.task.title).toBe('frontend');
      expect(d).toBeNull();
      expect(a?.task.lease?.agentId).toBe(git.id);
      expect(b?.task.lease?.agentId).toBe(plain.id);
    });

    it('two concurrent claims by one agent get two different tasks', async () => {
      await create(ctx.store, [
        { type: 'backend', title: 'first' },
        { type: 'backend', title: 'second' },
      ]);
      const a = await ctx.agent('eager');
      const [x, y] = await Promise.all([ctx.tryClaim(a), ctx.tryClaim(a)]);
      expect(x && y).toBeTruthy();
      expect(new Set([x!.task.title, y!.task.title])).toEqual(new Set(['first', 'second']));
      expect(x!.leaseToken).not.toBe(y!.leaseToken);
      expect((await ctx.getAgent(a.id)).heldTasks.sort()).toEqual([x!.task.id, y!.task.id].sort());
    });

    it('a claim sets in_progress, attempts + 1, a lease expiring now + leaseMs, an attempt row and task.claimed', async () => {
      const t = await createOne(ctx.store, { title: 'claim me' });
      const a = await ctx.agent('alice');
      ctx.clock.advance(500);
      const c = await ctx.claim(a);
      const now = T0 + 500;
      expect(c.task.id).toBe(t.id);
      expect(c.leaseExpiresAt).toBe(now + ctx.policy.leaseMs);
      expect(c.dependencies).toEqual([]);
      expect(c.handoff).toEqual([]);
      expect(c.task).toMatchObject({
        status: 'in_progress',
        attempts: 1,
        startedAt: now,
        lease: {
          agentId: a.id,
          agentName: 'alice',
          token: c.leaseToken,
          expiresAt: now + ctx.policy.leaseMs,
        },
      });
      expect(await ctx.task(t.id)).toMatchObject({
        status: 'in_progress',
        attempts: 1,
        lease: {
          agentId: a.id,
          agentName: 'alice',
          token: c.leaseToken,
          expiresAt: now + ctx.policy.leaseMs,
        },
      });
      const attempts = await ctx.store.listAttempts(t.id);
      expect(attempts).toHaveLength(1);
      expect(attempts[0]).toMatchObject({
        taskId: t.id,
        seq: 1,
        agentId: a.id,
        agentName: 'alice',
        startedAt: now,
        endedAt: null,
        outcome: 'running',
      });
      const ev = await ctx.store.listEvents({ taskId: t.id, kinds: ['task.claimed'] });
      expect(ev).toHaveLength(1);
      expect(ev[0]).toMatchObject({
        actor: 'alice',
        agentId: a.id,
        fromStatus: 'pending',
        toStatus: 'in_progress',
      });
    });

    it('a claim with an explicit leaseMs uses it', async () => {
      await createOne(ctx.store);
      const a = await ctx.agent('alice');
      const c = await ctx.claim(a, 3_000);
      expect(c.leaseExpiresAt).toBe(T0 + 3_000);
      expect((await ctx.task(c.task.id)).lease?.expiresAt).toBe(T0 + 3_000);
    });

    it('an empty queue gives null', async () => {
      const a = await ctx.agent('idle');
      expect(await ctx.tryClaim(a)).toBeNull();
    });

    it('type matching: an agent only gets tasks of its type', async () => {
      const t = await createOne(ctx.store, { type: 'backend' });
      const fe = await ctx.agent('fe', 'frontend');
      expect(await ctx.tryClaim(fe)).toBeNull();
      expect((await ctx.task(t.id)).status).toBe('pending');
      const be = await ctx.agent('be', 'backend');
      expect((await ctx.claim(be)).task.id).toBe(t.id);
    });

    it('capability matching: lacking one required capability cannot claim; a superset can', async () => {
      const t = await createOne(ctx.store, { requires: ['git', 'node'] });
      const partial = await ctx.agent('partial', 'backend', ['git']);
      const none = await ctx.agent('none', 'backend', []);
      expect(await ctx.tryClaim(partial)).toBeNull();
      expect(await ctx.tryClaim(none)).toBeNull();
      expect((await ctx.task(t.id)).status).toBe('pending');
      const superset = await ctx.agent('superset', 'backend', ['docker', 'git', 'node']);
      expect((await ctx.claim(superset)).task.id).toBe(t.id);
    });

    it('a task without requirements is claimable by an agent with capabilities', async () => {
      const t = await createOne(ctx.store);
      const a = await ctx.agent('skilled', 'backend', ['git']);
      expect((await ctx.claim(a)).task.id).toBe(t.id);
    });

    it('priority order first, then oldest (lowest id)', async () => {
      const res = await create(ctx.store, [
        { type: 'backend', title: 'p0', priority: 0 },
        { type: 'backend', title: 'p5-old', priority: 5 },
        { type: 'backend', title: 'p5-new', priority: 5 },
        { type: 'backend', title: 'p1', priority: 1 },
        { type: 'backend', title: 'p-neg', priority: -3 },
      ]);
      const later = await createOne(ctx.store, { title: 'p5-later', priority: 5 });
      const a = await ctx.agent('a');
      const order: string[] = [];
      for (let i = 0; i < 6; i++) order.push((await ctx.claim(a)).task.title);
      expect(order).toEqual(['p5-old', 'p5-new', 'p5-later', 'p1', 'p0', 'p-neg']);
      expect(res.tasks[1]!.id).toBeLessThan(res.tasks[2]!.id);
      expect(res.tasks[2]!.id).toBeLessThan(later.id);
      expect(await ctx.tryClaim(a)).toBeNull();
    });

    it('runAfter in the future: not claimable until the clock passes it', async () => {
      const t = await createOne(ctx.store, { runAfter: T0 + 5_000 });
      const a = await ctx.agent('a');
      expect(await ctx.tryClaim(a)).toBeNull();
      ctx.clock.advance(4_999);
      expect(await ctx.tryClaim(a)).toBeNull();
      expect((await ctx.task(t.id)).status).toBe('pending');
      ctx.clock.advance(2);
      expect((await ctx.claim(a)).task.id).toBe(t.id);
    });

    it('a scheduled task does not block a ready one behind it', async () => {
      await createOne(ctx.store, { title: 'later', priority: 9, runAfter: T0 + 60_000 });
      const ready = await createOne(ctx.store, { title: 'ready' });
      const a = await ctx.agent('a');
      expect((await ctx.claim(a)).task.id).toBe(ready.id);
    });

    it('blocked tasks are not claimable', async () => {
      const res = await create(ctx.store, [
        { ref: 'a', type: 'backend', title: 'a' },
        { ref: 'b', type: 'backend', title: 'b', dependsOn: ['a'], priority: 100 },
      ]);
      const agent = await ctx.agent('x');
      expect((await ctx.claim(agent)).task.id).toBe(res.tasks[0]!.id);
      expect(await ctx.tryClaim(agent)).toBeNull();
      expect((await ctx.task(res.tasks[1]!.id)).status).toBe('blocked');
    });

    it('an assigned task goes first to its named agent and to no other', async () => {
      const low = await createOne(ctx.store, { title: 'assigned-low', priority: 0 });
      const a = await ctx.agent('named');
      const b = await ctx.agent('other');
      const assigned = await ctx.cns.assign(low.id, a.id, 'supervisor');
      expect(assigned.status).toBe('assigned');
      expect(assigned.assignedTo).toBe(a.id);
      const high = await createOne(ctx.store, { title: 'open-high', priority: 10 });

      // The other agent gets the open task, then nothing (the assigned one is not for it).
      expect((await ctx.claim(b)).task.id).toBe(high.id);
      expect(await ctx.tryClaim(b)).toBeNull();
      expect((await ctx.task(low.id)).status).toBe('assigned');

      const high2 = await createOne(ctx.store, { title: 'open-high-2', priority: 10 });
      // The named agent gets its assigned task first even though a higher priority one is open.
      const c = await ctx.claim(a);
      expect(c.task.id).toBe(low.id);
      expect(c.task.status).toBe('in_progress');
      expect(c.task.lease?.agentId).toBe(a.id);
      const ev = await ctx.store.listEvents({ taskId: low.id, kinds: ['task.claimed'] });
      expect(ev[0]).toMatchObject({ fromStatus: 'assigned', toStatus: 'in_progress' });
      expect((await ctx.claim(a)).task.id).toBe(high2.id);
    });
  });

  describe('assign', () => {
    const ctx = useStore(h);

    it('assign reserves a pending task (assigned, assignedTo, task.assigned); may re-assign an assigned task', async () => {
      const t = await createOne(ctx.store);
      const a = await ctx.agent('a');
      const b = await ctx.agent('b');
      const r = await ctx.cns.assign(t.id, a.id, 'supervisor');
      expect(r).toMatchObject({ id: t.id, status: 'assigned', assignedTo: a.id });
      expect(await ctx.task(t.id)).toMatchObject({ status: 'assigned', assignedTo: a.id });
      const ev = await ctx.store.listEvents({ taskId: t.id, kinds: ['task.assigned'] });
      expect(ev).toHaveLength(1);
      expect(ev[0]).toMatchObject({ actor: 'supervisor', fromStatus: 'pending', toStatus: 'assigned' });

      const r2 = await ctx.cns.assign(t.id, b.id, 'supervisor');
      expect(r2).toMatchObject({ status: 'assigned', assignedTo: b.id });
      expect(await ctx.tryClaim(a)).toBeNull();
      expect((await ctx.claim(b)).task.id).toBe(t.id);
    });

    it('assigning an in_progress, blocked or final task → ConflictError, unchanged', async () => {
      const res = await create(ctx.store, [
        { ref: 'a', type: 'backend', title: 'a' },
        { ref: 'b', type: 'backend', title: 'b', dependsOn: ['a'] },
      ]);
      const x = await ctx.agent('x');
      const y = await ctx.agent('y');
      const c = await ctx.claim(x);
      await expect(ctx.cns.assign(c.task.id, y.id, 'supervisor')).rejects.toBeInstanceOf(ConflictError);
      expect(await ctx.task(c.task.id)).toMatchObject({ status: 'in_progress', assignedTo: null });
      await expect(ctx.cns.assign(res.tasks[1]!.id, y.id, 'supervisor')).rejects.toBeInstanceOf(
        ConflictError,
      );
      expect((await ctx.task(res.tasks[1]!.id)).status).toBe('blocked');
      await ctx.cns.complete(c.task.id, c.leaseToken, { result: 'ok' });
      await expect(ctx.cns.assign(c.task.id, y.id, 'supervisor')).rejects.toBeInstanceOf(ConflictError);
      expect((await ctx.task(c.task.id)).status).toBe('completed');
    });

    it('assign with an unknown task or agent → NotFoundError', async () => {
      const t = await createOne(ctx.store);
      const a = await ctx.agent('a');
      await expect(ctx.cns.assign(999_999, a.id, 'supervisor')).rejects.toBeInstanceOf(NotFoundError);
      await expect(ctx.cns.assign(t.id, 999_999, 'supervisor')).rejects.toBeInstanceOf(NotFoundError);
      expect(await ctx.task(t.id)).toMatchObject({ status: 'pending', assignedTo: null });
    });
  });
}
