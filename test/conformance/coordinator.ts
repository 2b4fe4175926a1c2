/**
 * The coordinator over each backend: explanations ("why is this not moving?"), waiting claims and
 * their wake-ups, the fleet status, and agent sessions. Explanations use the store's (manual)
 * clock; waits use real time with generous bounds (no timing assertions).
 */
import { describe, expect, it } from 'vitest';

import { AgentSession } from '../../src/coordinator/agent-session.js';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { resolveConfig } from '../../src/core/config.js';
import type { BackendHarness } from './fixtures.js';
import { create, createOne, refOf, useStore } from './fixtures.js';

export function coordinatorTests(h: BackendHarness): void {
  describe('coordinator', () => {
    const ctx = useStore(h);
    const coordinator = () =>
      new Coordinator(
        ctx.store,
        resolveConfig(
          { ...ctx.policy, reaperIntervalMs: 50, pollBackstopMs: 200, heartbeatIntervalMs: 1_000 },
          {},
          '/',
        ),
        { reaper: false },
      );

    describe('explain', () => {
      it('names the unfinished dependencies of a blocked task', async () => {
        const res = await create(ctx.store, [
          { ref: 'a', type: 'backend', title: 'design' },
          { ref: 'b', type: 'backend', title: 'build', dependsOn: ['a'] },
        ]);
        const [a, b] = res.tasks;
        const ex = await coordinator().explain(b!.id);
        expect(ex.status).toBe('blocked');
        expect(ex.reasons).toEqual([
          { code: 'blocked_by', tasks: [{ id: a!.id, title: 'design', status: 'pending' }] },
        ]);
        expect(ex.summary).toContain(`blocked by #${a!.id} "design" (pending)`);
      });

      it('says no live agent of the type or with the capabilities, then that agents are busy', async () => {
        const t = await createOne(ctx.store, { type: 'frontend', requires: ['browser'] });
        const c = coordinator();
        let ex = await c.explain(t.id);
        expect(ex.reasons).toContainEqual({
          code: 'no_live_agent',
          type: 'frontend',
          requires: ['browser'],
          agentsOfType: 0,
        });
        await ctx.agent('plain', 'frontend');
        ex = await c.explain(t.id);
        expect(ex.reasons).toContainEqual({
          code: 'no_live_agent',
          type: 'frontend',
          requires: ['browser'],
          agentsOfType: 1,
        });
        expect(ex.summary).toContain('with capabilities browser');
        await ctx.agent('able', 'frontend', ['browser']);
        await createOne(ctx.store, { type: 'frontend', priority: 5 });
        ex = await c.explain(t.id);
        expect(ex.reasons).toEqual([{ code: 'agents_busy', type: 'frontend', liveAgents: 1, ahead: 1 }]);
      });

      it('counts an agent silent past the offline threshold as not live', async () => {
        const t = await createOne(ctx.store);
        await ctx.agent('sleepy');
        ctx.clock.advance(ctx.policy.offlineAfterMs + 1);
        const ex = await coordinator().explain(t.id);
        expect(ex.reasons[0]).toMatchObject({ code: 'no_live_agent', type: 'backend' });
      });

      it('gives the scheduled time of a task that may not run yet', async () => {
        const at = ctx.clock.now() + 60_000;
        const t = await createOne(ctx.store, { runAfter: at });
        await ctx.agent('w');
        const ex = await coordinator().explain(t.id);
        expect(ex.reasons).toContainEqual({ code: 'scheduled', at });
      });

      it('says who holds a task until when, and when that lease has run out', async () => {
        const t = await createOne(ctx.store);
        const w = await ctx.agent('holder');
        const claimed = await ctx.claim(w);
        const c = coordinator();
        let ex = await c.explain(t.id);
        expect(ex.reasons).toEqual([
          {
            code: 'held',
            agent: 'holder',
            until: claimed.leaseExpiresAt,
            agentStatus: 'working',
            expired: false,
          },
        ]);
        ctx.clock.advance(ctx.policy.offlineAfterMs + 1);
        ex = await c.explain(t.id);
        expect(ex.reasons[0]).toMatchObject({ code: 'held', agentStatus: 'offline', expired: true });
        expect(ex.summary).toContain('the reaper will return it to the queue');
        const status = await c.status();
        expect(status.stuck.map((s) => s.taskId)).toContain(t.id);
      });

      it('explains assigned, awaiting review and final tasks', async () => {
        const t = await createOne(ctx.store, { review: true });
        const w = await ctx.agent('author');
        const c = coordinator();
        await c.assign(t.id, 'author', 'supervisor');
        expect((await c.explain(t.id)).reasons).toEqual([
          { code: 'assigned', agent: 'author', agentStatus: 'idle' },
        ]);
        const claimed = await ctx.claim(w);
        await ctx.store.complete(t.id, claimed.leaseToken, { result: 'done' });
        const ex = await c.explain(t.id);
        expect(ex.reasons[0]).toMatchObject({ code: 'awaiting_review', author: 'author' });
        await c.review(t.id, { reviewer: 'supervisor', approve: true });
        expect((await c.explain(t.id)).reasons).toEqual([{ code: 'final', status: 'completed' }]);
      });
    });

    describe('claims with a wait', () => {
      it('returns at once when a task is there', async () => {
        await createOne(ctx.store);
        const w = await ctx.agent('w');
        const out = await coordinator().claimNext(refOf(w), { waitMs: 5_000 });
        expect(out.claimed?.task.title).toBe('a task');
      });

      it('wakes up when a task is created while it waits', async () => {
        const w = await ctx.agent('w');
        const c = coordinator();
        const started = Date.now();
        const waiting = c.claimNext(refOf(w), { waitMs: 10_000 });
        await new Promise((r) => setTimeout(r, 100));
        const t = await createOne(ctx.store);
        const out = await waiting;
        expect(out.claimed?.task.id).toBe(t.id);
        expect(Date.now() - started).toBeLessThan(9_000);
        await c.close();
      });

      it('ends empty with the reason when nothing matches', async () => {
        await createOne(ctx.store, { requires: ['gpu'] });
        const w = await ctx.agent('w');
        const out = await coordinator().claimNext(refOf(w), { waitMs: 150 });
        expect(out.claimed).toBeNull();
        expect(out.reason).toContain('need capabilities this agent lacks: gpu');
        const none = await coordinator().claimNext({ ...refOf(w), type: 'nothing' }, { waitMs: 0 });
        expect(none.reason).toContain('no pending task of type "nothing"');
      });

      it('an aborted wait claims nothing', async () => {
        const w = await ctx.agent('w');
        const c = coordinator();
        const ac = new AbortController();
        const waiting = c.claimNext(refOf(w), { waitMs: 10_000, signal: ac.signal });
        setTimeout(() => ac.abort(), 50);
        const out = await waiting;
        expect(out.claimed).toBeNull();
        const t = await createOne(ctx.store);
        expect((await ctx.task(t.id)).status).toBe('pending');
        await c.close();
      });
    });

    describe('agent sessions', () => {
      it('hold tokens for the model, and release what they hold when they stop', async () => {
        const [t1, t2] = (
          await create(ctx.store, [
            { type: 'backend', title: 'one' },
            { type: 'backend', title: 'two' },
          ])
        ).tasks;
        const c = coordinator();
        const session = await AgentSession.start(c, { name: 'sess', type: 'backend' });
        const first = await session.next();
        expect(first.claimed?.task.id).toBe(t1!.id);
        await session.progress(t1!.id, { note: 'halfway', percent: 50 });
        const done = await session.complete(t1!.id, { result: 'ok' });
        expect(done.status).toBe('completed');
        expect(() => session.tokenFor(t1!.id)).toThrow(/not held/);
        await session.next();
        expect(session.held).toEqual([t2!.id]);
        await session.stop();
        const back = await ctx.task(t2!.id);
        expect(back.status).toBe('pending');
        expect((await ctx.getAgent('sess')).status).toBe('offline');
      });
    });
  });
}
